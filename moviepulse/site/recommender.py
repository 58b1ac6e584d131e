"""The A/B recommender (reference §4, quirks fixed): score = w_pop·pop + w_recent·recent + w_pref·pref.

* weights per variant from ``REC_WEIGHTS``; a missing key takes the component default
  (pop 0.5, recent 0.2, pref 0.3), negatives are clamped to 0, and the three are normalised to
  sum to 1 (a sum ≤ 0 gives the component defaults);
* ``pop`` = weighted_score / 10, clamped to [0, 1];
* ``recent`` = max(0, 5 − (current_year − year)) / 5, **clamped to [0, 1]** (a future year is 1,
  not > 1); 0 without a year;
* ``pref`` = the device's visits of a movie / all its visits, where a visit is counted **once**
  even though a rail click writes both a click and a view (visit key: the request id, else the
  event id);
* candidates: the top ``REC_CANDIDATES`` (200) movies by weighted_score, then votes; a stable
  descending sort, so ties keep the candidate order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from moviepulse.site.dbutil import raw_fetch

COMPONENTS = ("pop", "recent", "pref")
COMPONENT_DEFAULTS: dict[str, float] = {"pop": 0.5, "recent": 0.2, "pref": 0.3}
DEFAULT_REC_WEIGHTS: dict[str, dict[str, float]] = {
    "A": {"pop": 0.55, "recent": 0.20, "pref": 0.25},
    "B": {"pop": 0.35, "recent": 0.15, "pref": 0.50},
}


@dataclass(frozen=True)
class Candidate:
    """What a rail card needs of a movie (cached in memory, never an ORM object)."""

    id: int
    title: str
    year: int | None
    type: str
    genres: tuple[str, ...]
    poster_path: str | None
    imdb_rating: float | None
    imdb_votes: int | None
    weighted_score: float


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number == number else default  # NaN


def normalise_weights(raw: Mapping[str, Any] | None) -> dict[str, float]:
    """Defaults for missing keys, negatives to 0, then scaled to sum 1 (defaults if the sum ≤ 0)."""
    raw = raw or {}
    clamped = {k: max(0.0, _number(raw.get(k, COMPONENT_DEFAULTS[k]), COMPONENT_DEFAULTS[k])) for k in COMPONENTS}
    total = sum(clamped.values())
    if total <= 0:
        return dict(COMPONENT_DEFAULTS)
    return {k: v / total for k, v in clamped.items()}


def variant_weights(setting: Mapping[str, Any] | None, variant: str) -> dict[str, float]:
    """The normalised weights of ``variant`` from a ``REC_WEIGHTS`` mapping."""
    setting = setting or DEFAULT_REC_WEIGHTS
    raw = setting.get(variant)
    if raw is None:
        raw = DEFAULT_REC_WEIGHTS.get(variant, COMPONENT_DEFAULTS)
    return normalise_weights(raw)


def popularity(weighted_score: float | None) -> float:
    return min(1.0, max(0.0, (weighted_score or 0.0) / 10.0))


def recency(year: int | None, current_year: int) -> float:
    if not year:
        return 0.0
    return min(1.0, max(0.0, 5 - (current_year - int(year))) / 5)


def pref_shares(visits: Mapping[int, int]) -> dict[int, float]:
    """Each movie's share of the device's visits (shares sum to 1; empty without visits)."""
    total = sum(v for v in visits.values() if v > 0)
    if total <= 0:
        return {}
    return {movie_id: count / total for movie_id, count in visits.items() if count > 0}


VISITS_SQL = ("SELECT movie_id, COUNT(DISTINCT COALESCE(request_id, event_id)) FROM events "
              "WHERE device_id = ? AND type IN ('click', 'view') AND movie_id IS NOT NULL GROUP BY movie_id")


def device_visits(session: Session, device_id: str) -> dict[int, int]:
    """Visits per movie of one device: click and view events, each visit counted once.

    A rail click and the view of the page it opens share the request id, so counting distinct
    ``coalesce(request_id, event_id)`` counts the visit once. Uses ``ix_events_device_type``;
    plain DBAPI (it runs on every home page).
    """
    rows = raw_fetch(session, VISITS_SQL, (device_id,))
    return {int(movie_id): int(count) for movie_id, count in rows}


def score(candidate: Candidate, weights: Mapping[str, float], pref: Mapping[int, float], current_year: int) -> float:
    return (weights["pop"] * popularity(candidate.weighted_score)
            + weights["recent"] * recency(candidate.year, current_year)
            + weights["pref"] * pref.get(candidate.id, 0.0))


_BASE_CACHE: dict[tuple[Any, ...], tuple[Sequence[Candidate], list[float]]] = {}


def _base_scores(candidates: Sequence[Candidate], w_pop: float, w_recent: float, current_year: int) -> list[float]:
    """``w_pop·pop + w_recent·recent`` per candidate, cached per candidate list, weights and year."""
    key = (id(candidates), len(candidates), w_pop, w_recent, current_year)
    hit = _BASE_CACHE.get(key)
    if hit is not None and hit[0] is candidates:
        return hit[1]
    base = [w_pop * popularity(c.weighted_score) + w_recent * recency(c.year, current_year) for c in candidates]
    if len(_BASE_CACHE) > 64:
        _BASE_CACHE.clear()
    _BASE_CACHE[key] = (candidates, base)
    return base


def rank(candidates: Sequence[Candidate], weights: Mapping[str, float], pref: Mapping[int, float],
         current_year: int, limit: int = 12) -> list[tuple[Candidate, float]]:
    """The top ``limit`` candidates by :func:`score` (stable: ties keep the candidates' order)."""
    base = _base_scores(candidates, weights["pop"], weights["recent"], current_year)
    w_pref = weights["pref"]
    if pref and w_pref:
        scored = [(c, b + w_pref * pref[c.id]) if c.id in pref else (c, b) for c, b in zip(candidates, base, strict=True)]
    else:
        scored = list(zip(candidates, base, strict=True))
    scored.sort(key=lambda cs: cs[1], reverse=True)  # list.sort is stable, also with reverse=True
    return scored[:limit]


def recommend(session: Session, device_id: str, variant: str, candidates: Sequence[Candidate], *,
              weights_setting: Mapping[str, Any] | None, current_year: int, limit: int = 12) -> list[Candidate]:
    """The recommendation rail of one device for its variant."""
    weights = variant_weights(weights_setting, variant)
    pref = pref_shares(device_visits(session, device_id)) if weights["pref"] > 0 else {}
    return [c for c, _ in rank(candidates, weights, pref, current_year, limit)]
