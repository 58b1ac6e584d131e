"""A/B variant assignment: sticky cookie, else CRC32 of ``"{seed}|{device}"`` against the split.

``r = crc32(f"{seed}|{device_id}") / 4294967295``; the variant is ``A`` when
``r < wA / (wA + wB)``, else ``B``; a split whose weights sum to ≤ 0 gives ``A``. With an
empty seed the draw is random (sticky only through the cookie), as in the reference.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from typing import Any

VARIANTS = ("A", "B")


def split_weights(split: Mapping[str, Any] | None) -> tuple[float, float]:
    """``(wA, wB)`` from a ``{"A": 50, "B": 50}`` mapping; negatives and junk count as 0."""
    def weight(key: str) -> float:
        try:
            value = float((split or {}).get(key, 0))
        except (TypeError, ValueError):
            return 0.0
        return value if value > 0 and value == value else 0.0

    return weight("A"), weight("B")


def variant_draw(seed: str, device_id: str) -> float:
    """The deterministic draw in [0, 1] for one device."""
    return zlib.crc32(f"{seed}|{device_id}".encode()) / 4294967295


def assign_variant(device_id: str, seed: str | None, split: Mapping[str, Any] | None,
                   cookie_value: str | None = None) -> str:
    """The variant of a device: the cookie when it is exactly ``A``/``B``, else the split draw."""
    if cookie_value in VARIANTS:
        return str(cookie_value)
    w_a, w_b = split_weights(split)
    if w_a + w_b <= 0:
        return "A"
    threshold = w_a / (w_a + w_b)
    r = variant_draw(str(seed), device_id) if seed else random.randint(0, 10000) / 10000
    return "A" if r < threshold else "B"
