"""Errors raised by the core while starting up or configuring plugins."""

from __future__ import annotations


class StartupError(RuntimeError):
    """MoviePulse cannot start: a plugin or a setting is wrong. The message says what to fix."""


class ConfigurationError(StartupError):
    """One or more settings are missing or unsafe for the chosen environment."""
