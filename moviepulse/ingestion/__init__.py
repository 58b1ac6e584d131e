"""MoviePulse ingestion."""
