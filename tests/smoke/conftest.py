"""Smoke fixtures: one fake-upstreams subprocess per session; faults and stats reset per test."""

from __future__ import annotations

import pytest

from moviepulse.upstreams import reset_faults, set_faults, start_fake_upstreams, upstream_stats


@pytest.fixture(scope="session")
def upstreams():
    handle = start_fake_upstreams(subprocess=True)  # the bundled catalogue, TMDB limited to 40 req/s per IP
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def clean_upstreams(upstreams):
    for url in (upstreams.tmdb_url, upstreams.omdb_url):
        reset_faults(url)
        upstream_stats(url, reset=True)
    set_faults(upstreams.omdb_url, reset_quota=True)
    yield
