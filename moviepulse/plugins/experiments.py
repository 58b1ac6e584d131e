"""Built-in plugin ``experiments`` (being built; registers nothing yet)."""
