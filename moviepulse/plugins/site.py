"""Built-in plugin ``site`` (being built; registers nothing yet)."""
