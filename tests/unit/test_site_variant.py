"""Variant assignment, User-Agent classification and Accept-Language negotiation."""

from __future__ import annotations

import zlib

import pytest

from moviepulse.site import i18n, useragent
from moviepulse.site.variant import assign_variant, split_weights, variant_draw


def test_draw_is_crc32_over_max_uint32():
    expected = zlib.crc32(b"seed-1|d_abc") / 4294967295
    assert variant_draw("seed-1", "d_abc") == expected
    assert 0 <= expected <= 1


def test_assignment_compares_draw_with_split_threshold():
    devices = [f"d_{i:04d}" for i in range(400)]
    for device in devices:
        r = zlib.crc32(f"s|{device}".encode()) / 4294967295
        assert assign_variant(device, "s", {"A": 30, "B": 70}) == ("A" if r < 0.3 else "B")
    share_a = sum(assign_variant(d, "s", {"A": 30, "B": 70}) == "A" for d in devices) / len(devices)
    assert 0.2 < share_a < 0.4


def test_cookie_is_sticky_only_when_exactly_a_or_b():
    device = next(d for d in (f"d_{i}" for i in range(100)) if assign_variant(d, "s", {"A": 50, "B": 50}) == "A")
    assert assign_variant(device, "s", {"A": 50, "B": 50}, cookie_value="B") == "B"
    assert assign_variant(device, "s", {"A": 50, "B": 50}, cookie_value="b") == "A"
    assert assign_variant(device, "s", {"A": 50, "B": 50}, cookie_value="AB") == "A"


@pytest.mark.parametrize("split", [{"A": 0, "B": 0}, {"A": -5, "B": -1}, {}, None, {"A": "x", "B": None}])
def test_non_positive_split_gives_a(split):
    assert all(assign_variant(f"d_{i}", "s", split) == "A" for i in range(50))


def test_split_extremes_and_junk():
    assert all(assign_variant(f"d_{i}", "s", {"A": 0, "B": 1}) == "B" for i in range(50))
    assert all(assign_variant(f"d_{i}", "s", {"A": 1, "B": 0}) == "A" for i in range(50))
    assert split_weights({"A": "50", "B": -3}) == (50.0, 0.0)


@pytest.mark.parametrize("ua,kind", [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126 Safari/537.36", "desktop"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148 Safari/604.1", "mobile"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/126.0 Mobile Safari/537.36", "mobile"),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) Chrome/126.0 Safari/537.36", "tablet"),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) Mobile/15E148", "tablet"),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
    ("curl/8.5.0", "bot"),
    ("python-requests/2.32", "bot"),
    ("", "desktop"),
])
def test_device_type(ua, kind):
    assert useragent.device_type(ua) == kind
    assert useragent.is_bot(ua) == (kind == "bot")


@pytest.mark.parametrize("header,expected", [
    ("de-AT,de;q=0.9,en;q=0.5", "de"),
    ("pt-br", "pt-BR"),
    ("pt-PT,pt;q=0.9", "pt-BR"),
    ("ja,fr;q=0.4", "fr"),
    ("ja", "en"),
    ("", "en"),
    (None, "en"),
    ("en;q=0.1,es;q=0.8", "es"),
    ("fr;q=abc,es", "es"),
    ("*", "en"),
])
def test_accept_language_negotiation(header, expected):
    assert i18n.negotiate(header, ["en", "de", "fr", "es", "pt-BR"]) == expected


def test_og_locale_and_strings():
    assert i18n.og_locale("pt-BR") == "pt_BR"
    assert i18n.og_locale("de") == "de_DE"
    assert i18n.og_locale("en") == "en_US"
    assert i18n.translate("de", "similar") == "Ähnliche Titel"
    assert i18n.translate("xx", "similar") == "Similar titles"
    assert set(i18n.STRINGS["en"]) == set(i18n.STRINGS["pt-BR"]) == set(i18n.STRINGS["de"])
