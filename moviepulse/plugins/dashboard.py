"""Built-in plugin ``dashboard`` (being built; registers nothing yet)."""
