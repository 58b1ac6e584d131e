"""Security headers of the public site: a CSP with a per-request nonce, framing and sniffing off.

The nonce is minted lazily (``csp_nonce()`` in templates) and always present in the header, so
the inline JSON-LD ``<script nonce="…" type="application/ld+json">`` validates.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import current_app, g
from werkzeug.wrappers import Response


def csp_nonce() -> str:
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def content_security_policy(nonce: str, image_origin: str | None = None) -> str:
    img = "'self' data:" + (f" {image_origin}" if image_origin else "")
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; "
            f"img-src {img}; "
            "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'")


def poster_origin() -> str | None:
    base = current_app.config.get("POSTER_BASE_URL") or ""
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def apply_security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), poster_origin())
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response
