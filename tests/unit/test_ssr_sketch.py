"""Latency sketch: percentiles within 1 % of exact, exact merges, compact bytes."""

from __future__ import annotations

import math
import random

import pytest

from moviepulse.ssr.sketch import ALPHA, GAMMA, MAX_MS, MIN_MS, LatencySketch


def exact(sorted_values, q):
    return sorted_values[math.floor(q * (len(sorted_values) - 1))]


@pytest.mark.parametrize("dist", ["lognormal", "uniform", "bimodal"])
def test_percentiles_within_one_percent_of_exact(dist):
    rng = random.Random(42)
    n = 40_000
    if dist == "lognormal":
        values = [rng.lognormvariate(3.0, 1.2) for _ in range(n)]
    elif dist == "uniform":
        values = [rng.uniform(0.5, 3000.0) for _ in range(n)]
    else:
        values = [rng.gauss(12, 2) if rng.random() < 0.9 else rng.gauss(900, 50) for _ in range(n)]
        values = [max(v, 0.01) for v in values]
    sketch = LatencySketch()
    sketch.extend(values)
    ordered = sorted(values)
    qs = [0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]
    for q, got in zip(qs, sketch.quantiles(qs), strict=True):
        want = exact(ordered, q)
        assert abs(got - want) / want <= 0.01, (q, got, want)
        assert got == sketch.quantile(q)
    assert ALPHA <= 0.01


def test_known_small_distribution_exactly_bucketed():
    sketch = LatencySketch()
    sketch.extend([10.0] * 50 + [100.0] * 45 + [1000.0] * 5)
    p50, p51, p95, p99 = sketch.quantiles([0.5, 0.51, 0.95, 0.99])
    # lower rank rule: p50 is sorted[floor(0.5 * 99)] = sorted[49] = 10; p51 is sorted[50] = 100
    assert p50 == pytest.approx(10.0, rel=ALPHA) and p51 == pytest.approx(100.0, rel=ALPHA)
    assert p95 == pytest.approx(100.0, rel=ALPHA) and p99 == pytest.approx(1000.0, rel=ALPHA)  # [94], [98]
    assert sketch.count == 100


def test_merge_equals_one_sketch_over_everything():
    rng = random.Random(7)
    values = [rng.expovariate(1 / 40) for _ in range(20_000)]
    whole = LatencySketch()
    whole.extend(values)
    parts = [LatencySketch() for _ in range(4)]
    for i, v in enumerate(values):
        parts[i % 4].add(v)
    merged = LatencySketch()
    for p in parts:
        merged.merge(p)
    assert merged == whole
    assert merged.quantiles([0.5, 0.99]) == whole.quantiles([0.5, 0.99])


def test_zero_negative_and_huge_values():
    sketch = LatencySketch()
    sketch.extend([0.0, -1.0, MIN_MS / 2, 5.0, MAX_MS * 10])
    assert sketch.zero == 3 and sketch.count == 5
    assert sketch.quantile(0.0) == 0.0
    assert sketch.quantile(1.0) == pytest.approx(MAX_MS, rel=ALPHA)
    assert LatencySketch().quantile(0.5) is None
    assert LatencySketch().quantiles([0.5, 0.9]) == [None, None]
    with pytest.raises(ValueError):
        sketch.quantile(1.5)


def test_bytes_round_trip_and_size_bounds():
    rng = random.Random(3)
    sketch = LatencySketch()
    sketch.extend(rng.lognormvariate(4, 1.5) for _ in range(50_000))
    data = sketch.to_bytes()
    assert LatencySketch.from_bytes(data) == sketch
    assert len(data) <= 4096
    # worst case: every bucket of the clamped range used, with large counts
    full = LatencySketch()
    lo = math.ceil(math.log(MIN_MS * 1.0001) / math.log(GAMMA))
    hi = math.ceil(math.log(MAX_MS) / math.log(GAMMA))
    full.buckets = {i: rng.randint(1, 100_000) for i in range(lo, hi + 1)}
    full.zero = 12345
    packed = full.to_bytes()
    assert len(packed) <= 4096 and LatencySketch.from_bytes(packed) == full
    assert LatencySketch.from_bytes(b"") == LatencySketch()
    with pytest.raises(ValueError):
        LatencySketch.from_bytes(b"\x09abc")
