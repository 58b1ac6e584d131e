"""Built-in plugin ``funnel`` (being built; registers nothing yet)."""
