"""Built-in plugins. Each module is registered by name in ``moviepulse.core.plugins.DEFAULT_PLUGINS``, exactly as a third-party plugin would be through the ``moviepulse`` entry-point group."""
