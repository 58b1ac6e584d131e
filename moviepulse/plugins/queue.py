"""Built-in plugin ``queue`` (being built; registers nothing yet)."""
