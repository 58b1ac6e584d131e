"""Where a login may send the browser afterwards: a local path, never another host.

``safe_next(value)`` returns ``value`` only when it is a plain absolute path on this site
(``/admin/ctr?audience=mobile``); anything with a scheme, a host, ``//``, a backslash,
control characters or whitespace tricks (``//evil``, ``/\\evil``, ``http:/evil``,
``javascript:…``) yields the default.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

DEFAULT_NEXT = "/admin/"


def _local(value: str) -> bool:
    if value != value.strip() or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        return False
    if "\\" in value or not value.startswith("/") or value.startswith("//"):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return not (parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"))


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """``value`` when it is a local absolute path (also once percent-decoded), else ``default``."""
    if not value or not isinstance(value, str) or len(value) > 2000:
        return default
    path = value.split("?", 1)[0]
    return value if _local(value) and _local(unquote(path)) else default
