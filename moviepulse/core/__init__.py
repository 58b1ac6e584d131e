"""The MoviePulse core: hook contract, plugin manager, registries and the ``pulse`` facade."""
