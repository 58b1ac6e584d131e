"""Built-in plugin ``tmdb`` (being built; registers nothing yet)."""
