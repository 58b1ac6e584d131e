"""Built-in plugin ``ssr`` (being built; registers nothing yet)."""
