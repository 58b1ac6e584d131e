"""Secret redaction for anything that leaves the process: logs, stored URLs, run records.

Query parameters and headers that carry API keys (``api_key``, ``apikey``, ``key``,
``token``, ``Authorization``) are replaced by ``***``; so is any configured secret value
registered with :func:`register_secret`.
"""

from __future__ import annotations

import re
from typing import Any

_PARAM = re.compile(r"(?i)\b(api_key|apikey|access_token|token|key|password)=([^&\s\"']+)")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/=]+")
_SECRETS: set[str] = set()


def register_secret(value: Any) -> None:
    """Remember a secret value (an API key from config) so it is scrubbed wherever it shows."""
    if isinstance(value, str) and len(value) >= 6:
        _SECRETS.add(value)


def redact(text: str) -> str:
    text = _PARAM.sub(lambda m: f"{m.group(1)}=***", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}***", text)
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def redact_mapping(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a mapping (headers, params) with secret-bearing keys masked."""
    masked = {}
    for key, value in data.items():
        if key.lower() in {"api_key", "apikey", "authorization", "token", "key", "password", "x-api-key"}:
            masked[key] = "***"
        elif isinstance(value, str):
            masked[key] = redact(value)
        else:
            masked[key] = value
    return masked
