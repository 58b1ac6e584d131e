"""The visitor of the current request: device id (``did`` cookie), variant, device type.

Resolved once per request and memoised on ``flask.g`` so a first visit mints exactly one id.
Cookies are written by :func:`set_visitor_cookies` (an ``after_request`` of the site blueprint):
HttpOnly, SameSite=Lax, Secure when ``COOKIE_SECURE``. The ``devices`` row itself is upserted
by :func:`moviepulse.site.tracking.record_events` in the same transaction as the events.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from flask import current_app, g, request
from werkzeug.wrappers import Response

from moviepulse.site import useragent
from moviepulse.site.variant import VARIANTS, assign_variant

DEVICE_COOKIE = "did"
VARIANT_COOKIE = "ab_variant"
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass
class Visitor:
    device_id: str
    variant: str
    device_type: str
    is_bot: bool
    new_device_cookie: bool
    new_variant_cookie: bool
    tracking_allowed: bool


def mint_device_id() -> str:
    """``d_`` + 32 hex digits of a random UUID."""
    return "d_" + uuid.uuid4().hex


def valid_device_id(value: object) -> bool:
    return isinstance(value, str) and DEVICE_ID_PATTERN.match(value) is not None


def current_visitor() -> Visitor:
    """The visitor of this request (resolved on first call, then memoised on ``g``)."""
    visitor = g.get("mp_visitor")
    if visitor is not None:
        return visitor
    cfg = current_app.config
    cookie_id = request.cookies.get(DEVICE_COOKIE)
    new_device = not valid_device_id(cookie_id)
    device_id = mint_device_id() if new_device else str(cookie_id)
    cookie_variant = request.cookies.get(VARIANT_COOKIE)
    variant = assign_variant(device_id, cfg.get("AB_SEED"), cfg.get("AB_SPLIT"), cookie_variant)
    ua = request.headers.get("User-Agent", "")
    dtype = useragent.device_type(ua)
    gpc = request.headers.get("Sec-GPC", "").strip() == "1"
    visitor = Visitor(
        device_id=device_id,
        variant=variant,
        device_type=dtype,
        is_bot=dtype == "bot",
        new_device_cookie=new_device,
        new_variant_cookie=cookie_variant not in VARIANTS,
        tracking_allowed=not (gpc and cfg.get("SITE_HONOUR_GPC", True)),
    )
    g.mp_visitor = visitor
    return visitor


def set_visitor_cookies(response: Response) -> Response:
    """Write the ``did``/``ab_variant`` cookies when this request minted or assigned them."""
    visitor: Visitor | None = g.get("mp_visitor")
    if visitor is None:
        return response
    cfg = current_app.config
    max_age = int(cfg.get("DEVICE_COOKIE_DAYS", 1825)) * 86400
    common = {"max_age": max_age, "httponly": True, "samesite": "Lax", "secure": bool(cfg.get("COOKIE_SECURE")),
              "path": "/"}
    if visitor.new_device_cookie:
        response.set_cookie(DEVICE_COOKIE, visitor.device_id, **common)
    if visitor.new_variant_cookie:
        response.set_cookie(VARIANT_COOKIE, visitor.variant, **common)
    return response
