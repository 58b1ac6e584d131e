"""User-Agent classification: ``desktop``, ``mobile``, ``tablet`` or ``bot``.

Pattern based and deliberately simple: known crawlers, monitoring tools, HTTP libraries and
headless browsers are bots (stored with ``is_bot=True``, never dropped); tablets before
phones because Android tablets omit ``Mobile``.
"""

from __future__ import annotations

import re

BOT_PATTERN = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|mediapartners|facebookexternalhit|embedly|preview|"
    r"curl/|wget/|python-requests|python-urllib|httpx|aiohttp|go-http-client|java/|okhttp|libwww|"
    r"scrapy|headlesschrome|phantomjs|lighthouse|pingdom|uptimerobot|statuscake|monitor",
    re.IGNORECASE,
)
TABLET_PATTERN = re.compile(r"ipad|tablet|kindle|silk/|playbook|nexus (7|9|10)|sm-t\d", re.IGNORECASE)
MOBILE_PATTERN = re.compile(r"mobi|iphone|ipod|windows phone|blackberry|opera mini", re.IGNORECASE)
DEVICE_TYPES = ("desktop", "mobile", "tablet", "bot")


def is_bot(user_agent: str | None) -> bool:
    return bool(user_agent) and BOT_PATTERN.search(user_agent or "") is not None


def device_type(user_agent: str | None) -> str:
    """The device class of a User-Agent string (an empty one counts as desktop)."""
    ua = user_agent or ""
    if is_bot(ua):
        return "bot"
    if TABLET_PATTERN.search(ua) or ("android" in ua.lower() and "mobile" not in ua.lower()):
        return "tablet"
    if MOBILE_PATTERN.search(ua):
        return "mobile"
    return "desktop"
