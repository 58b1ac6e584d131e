"""Latency sketch: add cost, stored size and p50/p95/p99 error vs exact, on 1,000,000 samples (issue 4).

Baseline: a plain log-bucket histogram (dict of bucket -> count, γ = 1.02, i.e. 1% relative
error), the cheapest mergeable structure with bounded relative error. Candidate: MoviePulse's
sketch from ``moviepulse.ssr`` (when it exists). Samples: a log-normal latency mix with a slow
tail, in milliseconds, identical for both; each sample of the benchmark adds all of them to a
fresh sketch. Errors are measured against ``numpy.percentile`` (method "inverted_cdf", i.e. the
exact order statistic).
"""

from __future__ import annotations

import inspect
import math
import pickle
import time
from typing import Any

import numpy as np

from bench.common import optional
from bench.harness import Case, Context, Plan, Target, Variant, benchmark

QUANTILES = (0.50, 0.95, 0.99)


class LogHistogram:
    """The baseline: bucket k holds values in (γ^(k-1), γ^k]; quantile = bucket midpoint estimate."""

    def __init__(self, relative_accuracy: float = 0.01) -> None:
        self.gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self.inv_log_gamma = 1.0 / math.log(self.gamma)
        self.counts: dict[int, int] = {}
        self.n = 0

    def add(self, x: float) -> None:
        k = math.ceil(math.log(x) * self.inv_log_gamma)
        self.counts[k] = self.counts.get(k, 0) + 1
        self.n += 1

    def quantile(self, q: float) -> float:
        rank = q * (self.n - 1)
        seen = 0
        for k in sorted(self.counts):
            seen += self.counts[k]
            if seen > rank:
                return 2 * self.gamma ** k / (self.gamma + 1)
        return float("nan")


def latency_samples(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    fast = rng.lognormal(math.log(8.0), 0.5, size=n)
    slow = rng.lognormal(math.log(120.0), 0.8, size=n)
    mix = np.where(rng.random(n) < 0.05, slow, fast)
    return np.clip(mix, 0.05, 60_000).tolist()


def find_sketch() -> tuple[Any, str] | None:
    """MoviePulse's sketch class and its module, or None while it does not exist."""
    for module in ("moviepulse.ssr.sketch", "moviepulse.ssr.sketches", "moviepulse.ssr.latency"):
        mod = optional(module)
        if mod is None:
            continue
        for name in ("LatencySketch", "Sketch", "LogSketch", "DDSketch", "LogHistogram", "Histogram"):
            cls = getattr(mod, name, None)
            if inspect.isclass(cls) and hasattr(cls, "add"):
                return cls, f"{module}.{name}"
    return None


def sketch_quantile(sk: Any, q: float) -> float:
    for meth, arg in (("quantile", q), ("get_quantile_value", q), ("percentile", q * 100)):
        f = getattr(sk, meth, None)
        if f is not None:
            return float(f(arg))
    raise AttributeError("sketch has no quantile method")


def stored_size(sk: Any) -> int:
    for meth in ("to_bytes", "serialize", "dumps", "encode"):
        f = getattr(sk, meth, None)
        if f is not None:
            out = f()
            return len(out if isinstance(out, bytes | str) else pickle.dumps(out))
    for meth in ("to_dict", "as_dict", "to_json"):
        f = getattr(sk, meth, None)
        if f is not None:
            import json

            out = f()
            return len(out if isinstance(out, str) else json.dumps(out, default=str))
    return len(pickle.dumps(sk))


@benchmark("sketch", title="Latency sketch: add cost, size, percentile error vs exact", issue="issue 4")
def build(ctx: Context) -> Plan:
    n = ctx.pick(200_000, 1_000_000)
    samples = latency_samples(n, ctx.seed)
    arr = np.array(samples)
    exact = {q: float(np.percentile(arr, q * 100, method="inverted_cdf")) for q in QUANTILES}
    notes: list[str] = []

    def variant(name: str, factory, baseline: bool = False) -> Variant:
        v = Variant(name, lambda: 0.0, baseline=baseline)

        def run() -> float:
            sk = factory()
            add = sk.add
            t = time.perf_counter()
            for x in samples:
                add(x)
            dt = time.perf_counter() - t
            errs = {f"p{int(q * 100)}_err_%": abs(sketch_quantile(sk, q) - exact[q]) / exact[q] * 100
                    for q in QUANTILES}
            v.info.update({k: round(e, 3) for k, e in errs.items()})
            v.info["max_err_%"] = round(max(errs.values()), 3)
            v.info["stored_bytes"] = stored_size(sk)
            return dt / n * 1e9

        v.run = run
        return v

    variants = [variant("log-bucket histogram (dict)", LogHistogram, baseline=True)]
    found = find_sketch()
    mp_name = "moviepulse sketch"
    if found is None:
        notes.append("not available: MoviePulse latency sketch (moviepulse.ssr.sketch)")
    else:
        cls, where = found
        variants.append(variant(mp_name, cls))
        notes.append(f"moviepulse sketch = {where}")
    case = Case(f"{n:,} latency samples (ms, log-normal + 5% slow tail)", "ns/add", variants,
                rounds=ctx.rounds or ctx.pick(3, 5))
    targets = [
        Target("moviepulse sketch add / log-bucket histogram add", lambda r: r[case.name][mp_name].ratio, 2.0,
               "<=", "issue 4"),
        Target("moviepulse sketch max p50/p95/p99 relative error (%)",
               lambda r: r[case.name][mp_name].info["max_err_%"], 1.0, "<=", "issue 4"),
        Target("moviepulse sketch stored size for the whole run (bytes; per route-minute holds fewer)",
               lambda r: r[case.name][mp_name].info["stored_bytes"], 4096, "<=", "issue 4"),
    ]
    return Plan(cases=[case], targets=targets, notes=notes, params={"samples": n, "exact": exact})
