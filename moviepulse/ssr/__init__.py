"""MoviePulse ssr."""
