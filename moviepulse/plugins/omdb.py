"""Built-in plugin ``omdb`` (being built; registers nothing yet)."""
