"""Built-in plugin ``ctr`` (being built; registers nothing yet)."""
