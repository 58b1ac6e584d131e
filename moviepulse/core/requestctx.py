"""Per-request attributes every part of MoviePulse reads: request id, route template.

``X-Request-ID`` is reused when the client sent a sane one, minted otherwise (time-ordered,
so ids sort by arrival), and echoed on the response.
"""

from __future__ import annotations

import itertools
import os
import re
import time

from flask import Flask, Response, g, request

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,64}$")
_RAND_BITS = 74  # 12 bits of rand_a + 62 bits of rand_b
_RAND_MASK = (1 << _RAND_BITS) - 1
_VERSION_VARIANT = (0x7 << 76) | (0b10 << 62)
_time_ns = time.time_ns
#: The request id is also kept in the WSGI environ under this key (cheaper to read than ``g``).
REQUEST_ID_KEY = "moviepulse.request_id"


class _Sequence:
    """A per-process random 74-bit start and a counter (re-drawn in a forked child), so that an id
    costs one clock read, one addition and one format instead of ``os.urandom`` and ``uuid.UUID``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.base = int.from_bytes(os.urandom(10), "big") & _RAND_MASK
        self.counter = itertools.count()


_sequence = _Sequence()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_sequence.reset)


def mint_request_id() -> str:
    """A UUIDv7 (RFC 9562) string: 48-bit millisecond timestamp, version 7, variant ``10``, and 74
    bits of per-process random start + counter in ``rand_a``/``rand_b`` (unique within a process,
    unguessable across processes)."""
    rand = (_sequence.base + next(_sequence.counter)) & _RAND_MASK
    value = ((_time_ns() // 1_000_000) << 80) | _VERSION_VARIANT | ((rand >> 62) << 64) | (rand & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
        environ = request.environ
        incoming = environ.get("HTTP_X_REQUEST_ID")  # = headers.get("X-Request-ID"), minus the lookup
        g.request_id = environ[REQUEST_ID_KEY] = (
            incoming if incoming and _SAFE_ID.match(incoming) else mint_request_id())

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers["X-Request-ID"] = rid
        return response
