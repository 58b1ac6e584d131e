"""Built-in plugin ``reconciliation`` (being built; registers nothing yet)."""
