"""Built-in plugin ``events_api`` (being built; registers nothing yet)."""
