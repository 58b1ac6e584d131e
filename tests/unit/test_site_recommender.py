"""Recommender formulas against hand-computed values, and the per-device history query."""

from __future__ import annotations

import pytest

from moviepulse.site.recommender import (
    COMPONENT_DEFAULTS,
    Candidate,
    device_visits,
    normalise_weights,
    pref_shares,
    rank,
    recency,
    score,
    variant_weights,
)
from moviepulse.site.tracking import record_events


def cand(i, ws, year, votes=1000):
    return Candidate(i, f"M{i}", year, "movie", ("drama",), None, 7.0, votes, ws)


def test_default_variant_weights_are_already_normalised():
    assert variant_weights(None, "A") == pytest.approx({"pop": 0.55, "recent": 0.20, "pref": 0.25})
    assert variant_weights(None, "B") == pytest.approx({"pop": 0.35, "recent": 0.15, "pref": 0.50})


def test_weights_missing_keys_negative_and_scaling():
    # pop 2, recent missing -> 0.2 default, pref -1 -> 0: total 2.2
    w = normalise_weights({"pop": 2, "pref": -1})
    assert w == pytest.approx({"pop": 2 / 2.2, "recent": 0.2 / 2.2, "pref": 0.0})
    assert normalise_weights({"pop": 0, "recent": 0, "pref": 0}) == COMPONENT_DEFAULTS
    assert normalise_weights({"pop": -3, "recent": -1, "pref": "x"}) == pytest.approx(
        {"pop": 0.0, "recent": 0.0, "pref": 1.0})  # junk pref takes its default 0.3, alone in the sum
    assert sum(normalise_weights({"pop": 5, "recent": 3, "pref": 2}).values()) == pytest.approx(1.0)


@pytest.mark.parametrize("year,expected", [(2026, 1.0), (2025, 0.8), (2024, 0.6), (2022, 0.2), (2021, 0.0),
                                           (1990, 0.0), (2027, 1.0), (2040, 1.0), (None, 0.0)])
def test_recency_is_clamped_to_unit_interval(year, expected):
    assert recency(year, 2026) == pytest.approx(expected)


def test_pref_shares_sum_to_one():
    shares = pref_shares({10: 3, 11: 1, 12: 0})
    assert shares == pytest.approx({10: 0.75, 11: 0.25})
    assert pref_shares({}) == {}


def test_score_by_hand():
    # weights A = .55/.20/.25; movie ws 8.0 -> pop .8; year 2025 in 2026 -> recent .8; pref .5
    # 0.55*0.8 + 0.20*0.8 + 0.25*0.5 = 0.44 + 0.16 + 0.125 = 0.725
    assert score(cand(1, 8.0, 2025), variant_weights(None, "A"), {1: 0.5}, 2026) == pytest.approx(0.725)
    # B: 0.35*0.8 + 0.15*0.8 + 0.5*0.5 = 0.28 + 0.12 + 0.25 = 0.65
    assert score(cand(1, 8.0, 2025), variant_weights(None, "B"), {1: 0.5}, 2026) == pytest.approx(0.65)


def test_rank_orders_by_score_and_keeps_ties_stable():
    cands = [cand(1, 7.0, 2000), cand(2, 9.0, 2000), cand(3, 7.0, 2000), cand(4, 5.0, 2026)]
    w = variant_weights(None, "A")
    # scores: 1 -> .385, 2 -> .495, 3 -> .385, 4 -> .275+.2 = .475
    ranked = rank(cands, w, {}, 2026, limit=4)
    assert [c.id for c, _ in ranked] == [2, 4, 1, 3]
    assert [s for _, s in ranked] == pytest.approx([0.495, 0.475, 0.385, 0.385])
    # a strong preference lifts movie 3 above the popular one under B (pref weight .5)
    # B: 3 -> .35*.7 + .5*1 = .745 ; 4 -> .35*.5 + .15*1 = .325 ; 2 -> .35*.9 = .315 ; 1 -> .245
    ranked_b = rank(cands, variant_weights(None, "B"), {3: 1.0}, 2026, limit=3)
    assert [c.id for c, _ in ranked_b] == [3, 4, 2]
    assert [s for _, s in ranked_b] == pytest.approx([0.745, 0.325, 0.315])


def test_device_visits_counts_each_visit_once(app_ctx):
    from moviepulse.extensions import db
    from moviepulse.models.movie import Movie

    db.session.add_all([Movie(id=i, title=f"M{i}", original_title=f"M{i}") for i in (1, 2)])
    db.session.commit()
    dev = "d_visitor_0001"
    rows = [
        # visit 1 of movie 1 through a rail: click + view in one request -> 1 visit
        {"type": "click", "device_id": dev, "movie_id": 1, "request_id": "req-aaaaaaaa"},
        {"type": "view", "device_id": dev, "movie_id": 1, "request_id": "req-aaaaaaaa"},
        # visit 2 of movie 1, direct: view only
        {"type": "view", "device_id": dev, "movie_id": 1, "request_id": "req-bbbbbbbb"},
        # movie 2 once; an impression never counts; another device never counts
        {"type": "view", "device_id": dev, "movie_id": 2, "request_id": "req-cccccccc"},
        {"type": "impression", "device_id": dev, "movie_id": 2, "request_id": "req-dddddddd"},
        {"type": "view", "device_id": "d_someone_else", "movie_id": 2, "request_id": "req-eeeeeeee"},
    ]
    record_events(db.session, rows)
    assert device_visits(db.session, dev) == {1: 2, 2: 1}
    assert pref_shares(device_visits(db.session, dev)) == pytest.approx({1: 2 / 3, 2: 1 / 3})
