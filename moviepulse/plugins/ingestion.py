"""Built-in plugin ``ingestion`` (being built; registers nothing yet)."""
