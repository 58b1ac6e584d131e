"""Run-time fault injection and per-IP throttling shared by the fake TMDB and OMDb servers.

Both servers wrap their WSGI app in :class:`FaultMiddleware`, which adds two control endpoints:

* ``POST /__faults`` with a JSON object changes the faults (``{"reset": true}`` first clears them);
  ``GET /__faults`` shows them. Keys: ``latency_ms`` (added to every answer), ``status_5xx_rate``
  (0..1, random 5xx), ``status_5xx_code`` (default 503), ``html_5xx`` (a CDN error page instead of
  JSON), ``fail_next`` (the next N requests fail with ``status_5xx_code``), ``timeout`` (hang
  ``hang_seconds`` then drop the connection), ``reset_connection`` (close with a TCP RST),
  ``truncate`` (send half the body of a declared length), ``malformed`` (200 with broken JSON),
  ``rate_limit`` (requests per second per client IP; 0 = off), ``rate_burst``, ``retry_after``
  (send the header, default true), ``daily_quota`` (OMDb: requests per key per day),
  ``reset_quota`` (forget the quota counts), ``seed`` (random generator seed).
* ``GET /__stats`` → counts of requests and of answers per status; ``POST /__stats`` with
  ``{"reset": true}`` zeroes them. Tests use them to prove "no upstream call while open".

(The brief's ``reset`` key means "clear all faults"; connection resets are ``reset_connection``.)
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

DEFAULT_FAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "status_5xx_rate": 0.0,
    "status_5xx_code": 503,
    "html_5xx": False,
    "fail_next": 0,
    "timeout": False,
    "hang_seconds": 5.0,
    "reset_connection": False,
    "truncate": False,
    "malformed": False,
    "rate_limit": 0.0,
    "rate_burst": 0,
    "retry_after": True,
    "daily_quota": 0,
}


class FaultState:
    """Thread-safe fault settings, throttling buckets and request statistics of one server."""

    def __init__(self, defaults: dict[str, Any] | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._base = {**DEFAULT_FAULTS, **(defaults or {})}
        self.faults: dict[str, Any] = dict(self._base)
        self.rng = random.Random(seed)
        self.buckets: dict[str, tuple[float, float]] = {}  # ip -> (tokens, last)
        self.quota: Counter[str] = Counter()  # key -> requests today
        self.quota_day = time.strftime("%Y-%m-%d", time.gmtime())
        self.stats: Counter[str] = Counter()
        self.generation = 0  # bumped on every change: hung requests end when it moves

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if changes.get("reset"):
                self.faults = dict(self._base)
            if changes.get("reset_quota"):
                self.quota.clear()
            if "seed" in changes:
                self.rng.seed(changes["seed"])
            for key, value in changes.items():
                if key in DEFAULT_FAULTS:
                    self.faults[key] = value
                elif key not in ("reset", "reset_quota", "seed"):
                    raise KeyError(key)
            self.buckets.clear()
            self.generation += 1
            return dict(self.faults)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.faults)

    def count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def take_fail_next(self) -> bool:
        with self._lock:
            if self.faults.get("fail_next", 0) > 0:
                self.faults["fail_next"] -= 1
                return True
            return False

    def roll(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self.rng.random() < rate

    def throttle(self, ip: str) -> float | None:
        """Token bucket per client IP. None = allowed; else seconds until a token is free."""
        with self._lock:
            rate = float(self.faults.get("rate_limit") or 0)
            if rate <= 0:
                return None
            burst = float(self.faults.get("rate_burst") or rate)
            now = time.monotonic()
            tokens, last = self.buckets.get(ip, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1:
                self.buckets[ip] = (tokens - 1, now)
                return None
            self.buckets[ip] = (tokens, now)
            return (1 - tokens) / rate

    def quota_hit(self, key: str) -> bool:
        """Count one request against ``key``'s daily quota; True when it is over the quota."""
        with self._lock:
            limit = int(self.faults.get("daily_quota") or 0)
            today = time.strftime("%Y-%m-%d", time.gmtime())
            if today != self.quota_day:
                self.quota.clear()
                self.quota_day = today
            if limit <= 0:
                return False
            if self.quota[key] >= limit:
                return True
            self.quota[key] += 1
            return False


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status, headers=headers,
                    mimetype="application/json")


CDN_ERROR_PAGE = "<html><head><title>{code}</title></head><body><h1>{code} Service Unavailable</h1></body></html>"


class FaultMiddleware:
    """Wraps a server's WSGI app: control endpoints, latency, throttling and injected failures.

    ``error_body(code)`` gives the server's JSON error envelope for an injected 5xx;
    ``throttle_body(limit)`` its 429 body.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], state: FaultState,
                 error_body: Callable[[int], Any], throttle_body: Callable[[float], Any]) -> None:
        self.app = app
        self.state = state
        self.error_body = error_body
        self.throttle_body = throttle_body

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path == "/__faults":
            return self._control(request)(environ, start_response)
        if request.path == "/__stats":
            return self._stats(request)(environ, start_response)
        state = self.state
        state.count("requests")
        faults = state.snapshot()
        if faults.get("latency_ms"):
            time.sleep(float(faults["latency_ms"]) / 1000.0)
        ip = request.remote_addr or "?"
        wait = state.throttle(ip)
        if wait is not None:
            state.count("status_429")
            headers = {}
            if faults.get("retry_after", True):
                headers["Retry-After"] = str(max(1, int(wait + 0.999)))
            return json_response(self.throttle_body(float(faults.get("rate_limit") or 0)), 429,
                                 headers)(environ, start_response)
        if faults.get("timeout"):
            state.count("hung")
            self._hang(float(faults.get("hang_seconds", 5.0)))
            self._reset(environ)
            return []
        if faults.get("reset_connection"):
            state.count("reset")
            self._reset(environ)
            return []
        if state.take_fail_next() or state.roll(float(faults.get("status_5xx_rate") or 0)):
            code = int(faults.get("status_5xx_code") or 503)
            state.count(f"status_{code}")
            body = self.error_body(code)
            if faults.get("html_5xx") or isinstance(body, str):
                text = body if isinstance(body, str) else CDN_ERROR_PAGE.format(code=code)
                response = Response(text, status=code, mimetype="text/html")
            else:
                response = json_response(body, code)
            return response(environ, start_response)
        if faults.get("malformed"):
            state.count("malformed")
            return Response('{"id": 1, "title": "Broken', status=200,
                            mimetype="application/json")(environ, start_response)
        if faults.get("truncate"):
            state.count("truncated")
            return self._truncated(environ, start_response)
        return self._counted(environ, start_response)

    def _counted(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def counting_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            self.state.count(f"status_{status.split(' ', 1)[0]}")
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, counting_start)

    def _truncated(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        headers = [(k, v) for k, v in captured.get("headers", []) if k.lower() not in ("content-length", "connection")]
        headers += [("Content-Length", str(len(body))), ("Connection", "close")]
        start_response(captured.get("status", "200 OK"), headers)
        return [body[: max(1, len(body) // 2)]]

    def _hang(self, seconds: float) -> None:
        generation = self.state.generation
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.state.generation == generation:
            time.sleep(0.02)

    @staticmethod
    def _reset(environ: dict[str, Any]) -> None:
        sock = environ.get("werkzeug.socket")
        if sock is None:
            return
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _control(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = request.get_json(force=True) or {}
                if not isinstance(changes, dict):
                    raise ValueError("expected an object")
                return json_response({"faults": self.state.update(changes)})
            except KeyError as exc:
                return json_response({"error": f"unknown fault {exc.args[0]!r}", "known": sorted(DEFAULT_FAULTS)}, 400)
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
        return json_response({"faults": self.state.snapshot()})

    def _stats(self, request: Request) -> Response:
        if request.method == "POST":
            body = request.get_json(force=True, silent=True) or {}
            if body.get("reset"):
                with self.state._lock:
                    self.state.stats.clear()
        with self.state._lock:
            return json_response({"stats": dict(self.state.stats)})
