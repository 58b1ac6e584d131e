"""Client helpers for the fake servers' control endpoints (tests, the demo, the bench).

    set_faults(handle.tmdb_url, status_5xx_rate=1.0)     # stage an outage
    reset_faults(handle.tmdb_url)                        # recover
    upstream_stats(handle.tmdb_url)["requests"]          # what the server actually received

Any URL of the server works (``…/3`` included): the control endpoints live at its root.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests


def _root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def set_faults(url: str, reset: bool = False, **faults: Any) -> dict[str, Any]:
    """Change faults at run time (``reset=True`` clears previous ones first); returns the new set."""
    body = {**faults, "reset": True} if reset else dict(faults)
    response = requests.post(_root(url) + "/__faults", json=body, timeout=5)
    response.raise_for_status()
    return response.json()["faults"]


def reset_faults(url: str) -> dict[str, Any]:
    return set_faults(url, reset=True)


def get_faults(url: str) -> dict[str, Any]:
    return requests.get(_root(url) + "/__faults", timeout=5).json()["faults"]


def upstream_stats(url: str, reset: bool = False) -> dict[str, int]:
    """Requests received and answers per status (``status_200`` …); ``reset=True`` zeroes them after reading."""
    if reset:
        return requests.post(_root(url) + "/__stats", json={"reset": True}, timeout=5).json()["stats"]
    return requests.get(_root(url) + "/__stats", timeout=5).json()["stats"]


class FaultController:
    """The same helpers bound to one server URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def set(self, reset: bool = False, **faults: Any) -> dict[str, Any]:
        return set_faults(self.url, reset=reset, **faults)

    def reset(self) -> dict[str, Any]:
        return reset_faults(self.url)

    def stats(self, reset: bool = False) -> dict[str, int]:
        return upstream_stats(self.url, reset=reset)
