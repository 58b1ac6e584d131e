"""Settings the public site reads (declared by the ``site`` plugin)."""

from __future__ import annotations

from moviepulse.core.types import Setting
from moviepulse.site.recommender import DEFAULT_REC_WEIGHTS

SITE_SETTINGS = [
    Setting("AB_SPLIT", {"A": 50, "B": 50}, "A/B traffic split (relative weights of variants A and B)."),
    Setting("AB_SEED", "moviepulse-ab-1",
            "Seed of the deterministic variant draw CRC32('seed|device'); empty = random, sticky by cookie."),
    Setting("REC_WEIGHTS", DEFAULT_REC_WEIGHTS,
            "Recommender weights per variant: {variant: {pop, recent, pref}} (clamped ≥ 0, normalised)."),
    Setting("REC_CANDIDATES", 200, "Recommender candidates: the top N movies by weighted score, then votes."),
    Setting("COOKIE_SECURE", False, "Mark the did/ab_variant cookies Secure (on in production)."),
    Setting("DEVICE_COOKIE_DAYS", 1825, "Lifetime of the did and ab_variant cookies, in days."),
    Setting("SITE_BASE_URL", "", "Absolute base URL for canonical/hreflang/OpenGraph links (default: request host)."),
    Setting("POSTER_BASE_URL", "",
            "Prefix for poster paths, e.g. https://image.tmdb.org/t/p/w342 (empty: drawn placeholders)."),
    Setting("SITE_CACHE_SECONDS", 300, "How long the in-memory catalogue cache (candidates, genres) lives."),
    Setting("SITE_TRENDS_CACHE_SECONDS", 60, "How long a trends leaderboard is cached in memory."),
    Setting("SITE_HONOUR_GPC", True, "Record no page events for requests sending 'Sec-GPC: 1'."),
    Setting("SITE_HOME_RAIL_SIZE", 12, "Cards in the home recommendation rail."),
    Setting("SITE_TRENDING_RAIL_SIZE", 8, "Cards in the home trending rail."),
    Setting("SITE_SIMILAR_RAIL_SIZE", 12, "Cards in the movie page 'similar titles' rail."),
]
