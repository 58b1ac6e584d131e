"""Security headers of the admin dashboard (``/admin/…``) and HSTS in production.

The Content-Security-Policy is one the Dash app runs under with zero violations in Chromium
(tests/reliability/test_admin_csp_browser.py): scripts only from this origin plus the hashes of
Dash's inline renderer script (``Dash.csp_hashes()``, no ``'unsafe-eval'``, no inline script),
``style-src 'unsafe-inline'`` because Dash components and plotly.js set inline styles, nothing
embeddable, no ``<base>``, no framing, forms only to this origin.

``Strict-Transport-Security`` (one year, sub-domains) is sent on every response when the app runs
with Secure cookies (production), since browsers ignore it over plain HTTP anyway.
"""

from __future__ import annotations

from typing import Any

from flask import request

ADMIN_PREFIX = "/admin"
HSTS = "max-age=31536000; includeSubDomains"


def admin_csp(script_hashes: list[str]) -> str:
    return ("default-src 'self'; "
            f"script-src 'self' {' '.join(script_hashes)}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def install_security_headers(app: Any, dash_app: Any) -> None:
    """Register the ``after_request`` that adds the headers (called once by ``init_dashboard``)."""
    cache: dict[str, str] = {}

    def policy() -> str:
        if "csp" not in cache:
            cache["csp"] = admin_csp(list(dash_app.csp_hashes()))
        return cache["csp"]

    @app.after_request
    def _security_headers(response: Any) -> Any:
        if request.path == ADMIN_PREFIX or request.path.startswith(ADMIN_PREFIX + "/"):
            response.headers["Content-Security-Policy"] = policy()
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
