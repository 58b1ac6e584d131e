"""MoviePulse demo."""
