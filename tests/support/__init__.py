"""Helpers shared by the e2e, parity and smoke tiers."""
