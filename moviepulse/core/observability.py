"""Prometheus metrics (one registry per app) and structured JSON logging with the request id."""

from __future__ import annotations

import json
import logging
import sys
import threading
from bisect import bisect_left
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Flask, has_request_context
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RequestMetrics:
    """HTTP request count and latency histogram, exposed exactly as ``prometheus_client``'s
    ``Counter`` and ``Histogram`` would expose them, but cheap on the request path: ``observe``
    appends one tuple under an uncontended lock; the tuples are folded into the cumulative
    counters in one tight loop when Prometheus scrapes (or every ``FOLD_EVERY`` requests, which
    bounds memory) — no label look-up and no lock per bucket per request.

    Registered as a custom collector: ``moviepulse_http_requests_total{route,method,status}`` and
    ``moviepulse_http_request_seconds{route}`` (buckets ``le`` cumulative, ``_count``, ``_sum``).
    """

    FOLD_EVERY = 4096

    def __init__(self, buckets: tuple[float, ...] = (), registry: CollectorRegistry | None = None) -> None:
        self.buckets = tuple(sorted(buckets or LATENCY_BUCKETS))
        self.lock = threading.Lock()
        self.pending: list[tuple[str, str, int, float]] = []
        self.counts: dict[tuple[str, str, int], int] = {}
        self.hist: dict[str, list[float]] = {}  # route -> per-bucket counts (+Inf last), then the sum
        if registry is not None:
            registry.register(self)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self.lock:
            pending = self.pending
            pending.append((route, method, status, seconds))
            if len(pending) < self.FOLD_EVERY:
                return
            self.pending = []
        self._fold(pending)

    def _fold(self, observations: list[tuple[str, str, int, float]]) -> None:
        buckets, n_slots = self.buckets, len(self.buckets) + 2
        folded_counts: dict[tuple[str, str, int], int] = {}
        folded_hist: dict[str, list[float]] = {}
        for route, method, status, seconds in observations:
            key = (route, method, status)
            folded_counts[key] = folded_counts.get(key, 0) + 1
            row = folded_hist.get(route)
            if row is None:
                row = folded_hist[route] = [0] * n_slots
            row[bisect_left(buckets, seconds)] += 1  # first bound >= seconds: Prometheus' "le"
            row[-1] += seconds
        with self.lock:
            for key, n in folded_counts.items():
                self.counts[key] = self.counts.get(key, 0) + n
            for route, add in folded_hist.items():
                row = self.hist.get(route)
                if row is None:
                    self.hist[route] = add
                else:
                    for i, n in enumerate(add):
                        row[i] += n

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily("moviepulse_http_requests", REQUESTS_DOC, labels=["route", "method", "status"])
        yield HistogramMetricFamily("moviepulse_http_request_seconds", LATENCY_DOC, labels=["route"])

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            pending, self.pending = self.pending, []
        self._fold(pending)
        with self.lock:
            counts = dict(self.counts)
            hist = {route: list(row) for route, row in self.hist.items()}
        requests = CounterMetricFamily("moviepulse_http_requests", REQUESTS_DOC, labels=["route", "method", "status"])
        for (route, method, status), n in sorted(counts.items()):
            requests.add_metric([route, method, str(status)], n)
        yield requests
        latency = HistogramMetricFamily("moviepulse_http_request_seconds", LATENCY_DOC, labels=["route"])
        bounds = [repr(float(b)) for b in self.buckets] + ["+Inf"]
        for route, row in sorted(hist.items()):
            cumulative, total = [], 0
            for bound, n in zip(bounds, row[:-1], strict=True):
                total += n
                cumulative.append((bound, total))
            latency.add_metric([route], cumulative, sum_value=row[-1])
        yield latency


REQUESTS_DOC = "HTTP requests by route template and status"
LATENCY_DOC = "Server time by route template"


class Prom:
    """The Prometheus collectors of one app (a registry per app keeps tests independent)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http = RequestMetrics(LATENCY_BUCKETS, self.registry)
        self.events = Counter("moviepulse_events", "Tracking events by outcome",
                              ["outcome"], registry=self.registry)
        self.upstream = Counter("moviepulse_upstream_signals", "Upstream client signals",
                                ["upstream", "kind"], registry=self.registry)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.http.observe(route, method, status, seconds)


def prom(app: Flask) -> Prom:
    return app.extensions["moviepulse.prom"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, and any ``extra`` fields."""

    RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context():
            from flask import g

            rid = g.get("request_id")
            if rid:
                payload["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in self.RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        from moviepulse.core.redact import redact

        return redact(json.dumps(payload, default=str, ensure_ascii=False))


class RedactingFormatter(logging.Formatter):
    """Plain-text lines (``LOG_JSON`` off) with the same secret redaction as the JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        from moviepulse.core.redact import redact

        return redact(super().format(record))


def configure_logging(app: Flask) -> None:
    """JSON lines on stderr for the ``moviepulse`` loggers (plain text when LOG_JSON is off)."""
    logger = logging.getLogger("moviepulse")
    logger.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    if any(getattr(h, "_moviepulse", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._moviepulse = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if app.config.get("LOG_JSON", True) else RedactingFormatter())
    logger.addHandler(handler)
    logger.propagate = not app.config.get("LOG_JSON", True)
