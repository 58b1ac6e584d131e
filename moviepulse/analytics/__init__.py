"""MoviePulse analytics."""
