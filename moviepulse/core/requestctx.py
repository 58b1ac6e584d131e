"""Per-request attributes every part of MoviePulse reads: request id, route template.

``X-Request-ID`` is reused when the client sent a sane one, minted otherwise (time-ordered,
so ids sort by arrival), and echoed on the response.
"""

from __future__ import annotations

import os
import re
import time
import uuid

from flask import Flask, Response, g, request

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,64}$")


def mint_request_id() -> str:
    """A UUIDv7-style id: 48-bit millisecond timestamp, then randomness."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    return g.get("request_id")


def route_template() -> str:
    """The matched URL rule (``/<locale>/movies/<int:movie_id>``), ``404`` when nothing matched."""
    rule = request.url_rule
    return rule.rule if rule is not None else "404"


def init_request_context(app: Flask) -> None:
    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _SAFE_ID.match(incoming) else mint_request_id()

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers["X-Request-ID"] = rid
        return response
