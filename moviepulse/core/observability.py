"""Prometheus metrics (one registry per app) and structured JSON logging with the request id."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, has_request_context
from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Prom:
    """The Prometheus collectors of one app (a registry per app keeps tests independent)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("moviepulse_http_requests", "HTTP requests by route template and status",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("moviepulse_http_request_seconds", "Server time by route template",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.events = Counter("moviepulse_events", "Tracking events by outcome",
                              ["outcome"], registry=self.registry)
        self.upstream = Counter("moviepulse_upstream_signals", "Upstream client signals",
                                ["upstream", "kind"], registry=self.registry)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)


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
