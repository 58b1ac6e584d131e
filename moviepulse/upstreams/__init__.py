"""MoviePulse upstreams."""
