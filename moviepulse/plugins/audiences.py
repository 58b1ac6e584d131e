"""Built-in plugin ``audiences`` (being built; registers nothing yet)."""
