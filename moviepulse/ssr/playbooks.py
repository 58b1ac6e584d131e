"""Remediation playbooks: concrete steps matched to fingerprint kinds and alerts.

A playbook matches a *key* with fnmatch patterns (``kinds``) and, optionally, a substring of the
sample message (``message_contains``, case-insensitive). Keys are:

* ``score.<check>`` for a failing HTML check (``score.blocking_scripts``, ``score.missing_jsonld``,
  ``score.low_og``, ``score.oversized_html``, ``score.excess_images``);
* ``exception:<module.Type>`` for an exception (``exception:jinja2.exceptions.UndefinedError``);
* ``alert.<rule slug>`` for an alert that is not ok (``alert.ssr.p95_latency``).

Plugins add playbooks through the ``register_playbooks`` hook; ``moviepulse.Playbook`` is this class.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Playbook:
    """Steps to fix one kind of problem. Lower ``priority`` wins when several match."""

    slug: str
    title: str
    kinds: tuple[str, ...]
    steps: tuple[str, ...]
    message_contains: tuple[str, ...] = ()
    priority: int = 100
    docs_url: str = ""
    summary: str = ""

    def matches(self, key: str, message: str = "") -> bool:
        if not any(fnmatch.fnmatchcase(key, pattern) for pattern in self.kinds):
            return False
        if not self.message_contains:
            return True
        lowered = message.lower()
        return any(s.lower() in lowered for s in self.message_contains)

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "title": self.title, "summary": self.summary, "kinds": list(self.kinds),
                "steps": list(self.steps), "docs_url": self.docs_url}


def matching(playbooks: Iterable[Playbook], key: str, message: str = "") -> list[Playbook]:
    """Every playbook matching ``key``, best (lowest priority, then most specific) first."""
    found = [p for p in playbooks if p.matches(key, message)]
    return sorted(found, key=lambda p: (p.priority, -len(p.message_contains), p.slug))


def best(playbooks: Iterable[Playbook], key: str, message: str = "") -> Playbook | None:
    found = matching(playbooks, key, message)
    return found[0] if found else None
