"""MoviePulse dash_app."""
