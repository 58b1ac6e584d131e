"""Fingerprints: stable group keys for exceptions in views and for failing score checks.

* An exception's fingerprint hashes its qualified type, the route template and its *in-app*
  frames as ``module:qualname`` — no line numbers, no file paths — so an edit that moves code, or
  a second ``raise`` of the same type in the same function, keeps the group. A frame is in-app
  when its file lies outside the standard library and the installed packages (site-packages), or
  its module starts with one of ``SSR_IN_APP_MODULES``. With no in-app frame, the innermost frame
  is used.
* A score drop's fingerprint hashes ``score.<check>`` and the route template.

The sample context keeps the request id, method, path (never the query string), locale and a
redacted, truncated exception message — no headers, cookies or bodies.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sysconfig
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Any

from moviepulse.core.redact import redact
from moviepulse.ssr.buffer import FingerprintHit

_LIBRARY_DIRS = tuple(
    os.path.realpath(p) + os.sep
    for p in {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")} if p
)
CHECK_TITLES = {
    "blocking_scripts": "Render-blocking scripts",
    "missing_jsonld": "Missing JSON-LD",
    "low_og": "Thin OpenGraph tags",
    "oversized_html": "Oversized HTML",
    "excess_images": "Too many images",
}


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def qualified_type(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"


def _is_library(filename: str) -> bool:
    if not filename or filename.startswith("<"):
        return True
    real = os.path.realpath(filename)
    return real.startswith(_LIBRARY_DIRS) or f"{os.sep}site-packages{os.sep}" in real


def frames_of(tb: TracebackType | None, in_app_modules: Iterable[str] = ()) -> list[str]:
    """``module:qualname`` of the in-app frames, outermost first (innermost frame if none)."""
    prefixes = tuple(in_app_modules)
    frames: list[str] = []
    last = None
    while tb is not None:
        frame = tb.tb_frame
        code = frame.f_code
        module = frame.f_globals.get("__name__", "?")
        name = f"{module}:{getattr(code, 'co_qualname', code.co_name)}"
        last = name
        if (prefixes and module.startswith(prefixes)) or not _is_library(code.co_filename):
            frames.append(name)
        tb = tb.tb_next
    if not frames and last is not None:
        frames.append(last)
    return frames


def exception_hit(exc: BaseException, route: str, at: datetime, context: dict[str, Any],
                  in_app_modules: Iterable[str] = ()) -> FingerprintHit:
    """A one-occurrence :class:`FingerprintHit` for an exception raised while serving ``route``."""
    exc_type = qualified_type(exc)
    frames = frames_of(exc.__traceback__, in_app_modules)
    fp = _digest("exception", exc_type, route, *frames)
    message = redact(str(exc))[:500]
    hit = FingerprintHit(fingerprint=fp, kind="exception", route=route,
                         title=f"{exc_type}: {message}"[:255] if message else exc_type,
                         exc_type=exc_type, frames=frames)
    hit.seen(at, {**context, "message": message})
    return hit


@functools.lru_cache(maxsize=4096)
def check_fingerprint(check: str, route: str) -> str:
    """The fingerprint of a failing score check on a route template (memoised)."""
    return _digest(f"score.{check}", route)


def new_check_hit(check: str, route: str) -> FingerprintHit:
    """An empty :class:`FingerprintHit` for a failing score check (add occurrences with ``seen``)."""
    return FingerprintHit(fingerprint=check_fingerprint(check, route), kind=f"score.{check}", route=route,
                          title=f"{CHECK_TITLES.get(check, check)} on {route}")


def check_hit(check: str, route: str, at: datetime, context: dict[str, Any]) -> FingerprintHit:
    """A one-occurrence :class:`FingerprintHit` for a failing score check on ``route``."""
    hit = new_check_hit(check, route)
    hit.seen(at, context)
    return hit


def match_key(kind: str, exc_type: str | None = None) -> str:
    """What playbooks match against: ``exception:<type>`` for exceptions, the kind otherwise."""
    return f"exception:{exc_type}" if kind == "exception" and exc_type else kind


def is_repeat_offender(days_seen: int, count: int, min_days: int, min_count: int) -> bool:
    return days_seen >= min_days or count >= min_count
