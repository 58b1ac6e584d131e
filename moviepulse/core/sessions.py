"""Flask's signed-cookie sessions with the signing serializer built once, not on every request.

Flask's ``SecureCookieSessionInterface.get_signing_serializer`` builds a new itsdangerous
``URLSafeTimedSerializer`` on every ``open_session`` and ``save_session`` — two per request, each
probing its JSON serializer with a ``dumps({})`` — although the keys and salt only change when the
configuration does. This interface keeps the serializer per (secret key, fallbacks) and builds a
new one when either changes; cookies, signatures and expiry are Flask's own, byte for byte.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._cached: tuple[Any, Any] | None = None  # ((secret, fallbacks), serializer)

    def get_signing_serializer(self, app: Flask) -> Any:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        self._cached = (key, serializer)
        return serializer
