"""The per-app, per-process SSR runtime: settings snapshot, route decisions, buffer and flushing.

It lives at ``app.extensions["moviepulse.ssr"]``. Flushing happens

* from a daemon thread every ``SSR_FLUSH_INTERVAL_SECONDS`` (or sooner, when
  ``SSR_FLUSH_MAX_ITEMS`` requests are buffered) — started lazily in the process that records, so
  every gunicorn worker flushes its own buffer;
* inline on the recording request when there is no thread (tests, ``SSR_FLUSH_THREAD`` off);
* at interpreter exit (``atexit``) and from :func:`gunicorn_worker_exit`, so a worker that shuts
  down does not lose its samples;
* explicitly with :func:`flush_now` (tests, tasks).

Each flush is one transaction on its own session, never the request's ``db.session``.
"""

from __future__ import annotations

import atexit
import fnmatch
import logging
import os
import threading
import time
import weakref
import zlib
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from moviepulse.ssr.audit import ScoreRules
from moviepulse.ssr.buffer import TelemetryBuffer

log = logging.getLogger("moviepulse.ssr")
EXTENSION_KEY = "moviepulse.ssr"
_RUNTIMES: weakref.WeakSet[SsrRuntime] = weakref.WeakSet()


@dataclass(frozen=True)
class RouteDecision:
    monitored: bool
    sample_rate: float


def sampled(request_id: str | None, rate: float) -> bool:
    """Deterministic by request id: crc32(id) / 2^32 < rate (0 never, 1 always)."""
    if rate >= 1.0:
        return True
    if rate <= 0.0 or not request_id:
        return False
    return zlib.crc32(request_id.encode()) < rate * 4294967296.0


class SsrRuntime:
    def __init__(self, app: Flask) -> None:
        cfg = app.config
        self.app = app
        self.enabled = bool(cfg.get("SSR_ENABLED", True))
        self.include = [str(p) for p in cfg.get("SSR_INCLUDE_ROUTES") or ["*"]]
        self.exclude = [str(p) for p in cfg.get("SSR_EXCLUDE_ROUTES") or []]
        self.sample_rate = float(cfg.get("SSR_SAMPLE_RATE", 0.1))
        self.route_rates = {str(k): float(v) for k, v in (cfg.get("SSR_ROUTE_SAMPLE_RATES") or {}).items()}
        self.apdex_t_ms = float(cfg.get("SSR_APDEX_T_MS", 500))
        self.access_log = bool(cfg.get("SSR_ACCESS_LOG", True))
        self.rules = ScoreRules.from_config(cfg)
        self.in_app_modules = tuple(cfg.get("SSR_IN_APP_MODULES") or ())
        self.use_thread = bool(cfg.get("SSR_FLUSH_THREAD", True)) and not app.testing
        self.buffer = TelemetryBuffer(int(cfg.get("SSR_BUFFER_MAX_AUDITS", 10_000)))
        self.buffer.rules = self.rules
        self.buffer.audit_batch = max(1, int(cfg.get("SSR_AUDIT_BATCH", 32)))
        self.buffer.audit_batch_bytes = max(1, int(cfg.get("SSR_AUDIT_BATCH_BYTES", 4 << 20)))
        self.flush_interval = float(cfg.get("SSR_FLUSH_INTERVAL_SECONDS", 10))
        self.flush_max_items = int(cfg.get("SSR_FLUSH_MAX_ITEMS", 5000))
        self._decisions: dict[str, RouteDecision] = {}
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = False
        self._pid = os.getpid()
        _RUNTIMES.add(self)

    @property
    def flush_max_items(self) -> int:
        return self.buffer.due_items

    @flush_max_items.setter
    def flush_max_items(self, value: int) -> None:
        self.buffer.due_items = value

    @property
    def flush_interval(self) -> float:
        return self.buffer.due_seconds

    @flush_interval.setter
    def flush_interval(self, value: float) -> None:
        self.buffer.due_seconds = value

    # -- decisions -------------------------------------------------------------------
    def decision(self, route: str) -> RouteDecision:
        found = self._decisions.get(route)
        if found is None:
            monitored = self.enabled and any(fnmatch.fnmatchcase(route, p) for p in self.include) and not any(
                fnmatch.fnmatchcase(route, p) for p in self.exclude)
            rate = self.route_rates.get(route, self.sample_rate)
            found = self._decisions[route] = RouteDecision(monitored, max(0.0, min(1.0, rate)))
        return found

    # -- flushing --------------------------------------------------------------------
    def after_record(self) -> None:
        """Called after each recording: wake the flusher, or flush inline when there is none."""
        if not self.buffer.due(self.flush_max_items, self.flush_interval):
            return
        if self.use_thread:
            self._ensure_thread()
            self._wake.set()
        else:
            self.flush()

    def flush_due(self) -> None:
        """The request path's check (when ``record_request`` says to look): keep the flusher thread
        alive and wake it for a size flush (it wakes by itself every interval); without a thread,
        flush inline when due."""
        if self.use_thread:
            self._ensure_thread()
            if self.buffer.pending >= self.flush_max_items:
                self._wake.set()
        elif self.buffer.due(self.flush_max_items, self.flush_interval):
            self.flush()

    def request_flush(self) -> None:
        """Flush soon: wake the flusher thread, or flush inline when there is none."""
        if self.use_thread:
            self._ensure_thread()
            self._wake.set()
        else:
            self.flush()

    def flush(self) -> dict[str, int]:
        """Write the buffer in one transaction; on failure the data goes back into the buffer."""
        if "sqlalchemy" not in self.app.extensions:  # a bare Flask app: nowhere to write (yet)
            return {}
        with self._flush_lock:
            snap = self.buffer.take()
            if not snap:
                return {}
            try:
                from moviepulse.extensions import db
                from moviepulse.ssr.store import write_snapshot

                with self.app.app_context():
                    with Session(db.engine) as session:
                        return write_snapshot(session, snap)
            except Exception:  # noqa: BLE001 - telemetry must not break the app; keep the data
                log.exception("ssr flush failed; keeping %d route-minutes in memory", len(snap.routes))
                self.buffer.restore(snap)
                return {}

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="moviepulse-ssr-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self.buffer.has_data():
                self.flush()
            time.sleep(0)

    def stop(self, flush: bool = True) -> None:
        """Stop the flusher thread (and flush what is left)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._stopping = False
        if flush:
            self.flush()

    def _after_fork(self) -> None:
        self._pid = os.getpid()
        old = self.buffer
        self.buffer = TelemetryBuffer(old.max_audits)
        for name in ("due_items", "due_seconds", "rules", "audit_batch", "audit_batch_bytes"):
            setattr(self.buffer, name, getattr(old, name))
        self._thread = None
        self._wake = threading.Event()
        self._flush_lock = threading.Lock()


def runtime(app: Flask) -> SsrRuntime:
    """The app's runtime, created on first use."""
    rt = app.extensions.get(EXTENSION_KEY)
    if rt is None:
        rt = app.extensions[EXTENSION_KEY] = SsrRuntime(app)
        ref = weakref.ref(rt)
        atexit.register(_flush_ref_at_exit, ref)
    return rt


def flush_now(app: Flask) -> dict[str, int]:
    """Flush this process's buffer for ``app`` now; returns what was written (tests, tasks)."""
    return runtime(app).flush()


def flush_all() -> None:
    """Flush every live runtime in this process (exit hooks)."""
    for rt in list(_RUNTIMES):
        if rt.buffer.has_data():
            rt.flush()


def gunicorn_worker_exit(server: Any = None, worker: Any = None) -> None:
    """For ``gunicorn.conf.py``: ``worker_exit = moviepulse.ssr.runtime.gunicorn_worker_exit``."""
    flush_all()


def _flush_ref_at_exit(ref: weakref.ref[SsrRuntime]) -> None:
    rt = ref()
    if rt is not None and rt.buffer.has_data():
        rt.flush()


def _reset_children() -> None:
    for rt in list(_RUNTIMES):
        rt._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_children)
