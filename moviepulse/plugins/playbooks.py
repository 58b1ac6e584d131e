"""Built-in plugin ``playbooks`` (being built; registers nothing yet)."""
