"""MoviePulse site."""
