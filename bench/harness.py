"""The benchmark harness: interleaved rounds, per-variant statistics, ratios, targets, JSON results.

A benchmark is a function registered with :func:`benchmark`; given a :class:`Context` it returns a
:class:`Plan` — one or more :class:`Case` s (each a baseline and candidates measured in the same
unit), the :class:`Target` s from the issues, and a cleanup. It raises :class:`NotAvailable` when
the piece it measures does not exist yet. A case runs every variant once untimed (warm-up), then
``rounds`` times in the same order (A B C, A B C, …), so that all variants see the same machine
noise; each ``Variant.run()`` call is one sample and returns the value in the case's unit.
Ratios are medians over the baseline's median from the same run.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


class NotAvailable(Exception):
    """What the benchmark measures is missing (message: what is missing)."""


@dataclass
class Variant:
    name: str
    run: Callable[[], float]  # one sample, in the case's unit
    baseline: bool = False
    note: str = ""
    info: dict[str, Any] = field(default_factory=dict)  # untimed facts: sizes, errors, counts


@dataclass
class Case:
    name: str
    unit: str
    variants: list[Variant]
    higher_is_better: bool = False
    rounds: int | None = None  # None: the context's rounds
    warmup: int = 1
    note: str = ""


@dataclass
class Target:
    """A target from an issue. ``value(result)`` computes the number compared with ``limit``."""

    label: str
    value: Callable[[BenchResult], float | None]
    limit: float
    op: str = "<="  # or ">="
    source: str = ""

    def check(self, result: BenchResult) -> dict[str, Any]:
        try:
            value = self.value(result)
        except (KeyError, ZeroDivisionError, TypeError, ValueError) as exc:
            return {"label": self.label, "source": self.source, "limit": self.limit, "op": self.op,
                    "value": None, "status": "N/A", "reason": f"{type(exc).__name__}: {exc}"}
        if value is None or (isinstance(value, float) and math.isnan(value)):
            status = "N/A"
        elif self.op == "<=":
            status = "PASS" if value <= self.limit else "FAIL"
        else:
            status = "PASS" if value >= self.limit else "FAIL"
        return {"label": self.label, "source": self.source, "limit": self.limit, "op": self.op,
                "value": value, "status": status}


@dataclass
class Plan:
    cases: list[Case]
    targets: list[Target] = field(default_factory=list)
    cleanup: Callable[[], None] | None = None
    notes: list[str] = field(default_factory=list)  # printed under the table (missing pieces, caveats)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    quick: bool = False
    rounds: int | None = None
    events: int | None = None  # data-set size override for the query benchmarks
    data_dir: str | None = None
    seed: int = 20261127
    verbose: bool = True
    cache: dict[str, Any] = field(default_factory=dict)  # shared between benchmarks of one run

    def pick(self, quick: Any, full: Any) -> Any:
        return quick if self.quick else full

    def default_rounds(self, full: int = 15, quick: int = 5) -> int:
        return self.rounds or (quick if self.quick else full)

    def log(self, message: str) -> None:
        if self.verbose:
            print(f"  · {message}", flush=True)


@dataclass
class Registered:
    name: str
    title: str
    issue: str
    func: Callable[[Context], Plan]
    order: int


REGISTRY: dict[str, Registered] = {}


def benchmark(name: str, *, title: str, issue: str = "") -> Callable:
    """Decorator: register ``func(ctx) -> Plan`` as the benchmark ``name``."""

    def wrap(func: Callable[[Context], Plan]) -> Callable[[Context], Plan]:
        if name in REGISTRY:
            raise ValueError(f"benchmark {name!r} registered twice")
        REGISTRY[name] = Registered(name, title, issue, func, len(REGISTRY))
        return func

    return wrap


# --------------------------------------------------------------------------- statistics

def summarise(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    n = len(s)
    p95 = s[max(0, math.ceil(0.95 * n) - 1)]
    return {"n": n, "median": statistics.median(s), "min": s[0], "max": s[-1], "p95": p95,
            "mean": statistics.fmean(s)}


@dataclass
class VariantResult:
    name: str
    baseline: bool
    samples: list[float]
    stats: dict[str, float]
    ratio: float | None
    note: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return self.stats["median"]

    @property
    def p95(self) -> float:
        return self.stats["p95"]


@dataclass
class CaseResult:
    name: str
    unit: str
    higher_is_better: bool
    rounds: int
    variants: dict[str, VariantResult]
    note: str = ""

    def __getitem__(self, name: str) -> VariantResult:
        return self.variants[name]

    @property
    def baseline(self) -> VariantResult:
        return next(v for v in self.variants.values() if v.baseline)


@dataclass
class BenchResult:
    name: str
    title: str
    issue: str
    status: str  # ok | not available | error
    cases: dict[str, CaseResult] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    seconds: float = 0.0

    def __getitem__(self, name: str) -> CaseResult:
        return self.cases[name]

    def to_json(self, ctx: Context, machine: dict[str, Any]) -> dict[str, Any]:
        return {
            "benchmark": self.name, "title": self.title, "issue": self.issue, "status": self.status,
            "reason": self.reason, "quick": ctx.quick, "seconds": round(self.seconds, 3),
            "written_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": machine,
            "params": self.params, "notes": self.notes, "targets": self.targets,
            "cases": [
                {"name": c.name, "unit": c.unit, "higher_is_better": c.higher_is_better, "rounds": c.rounds,
                 "note": c.note,
                 "variants": [{"name": v.name, "baseline": v.baseline, "ratio": v.ratio, "note": v.note,
                               **v.stats, "samples": v.samples, "info": v.info} for v in c.variants.values()]}
                for c in self.cases.values()
            ],
        }


# --------------------------------------------------------------------------- running

def run_case(case: Case, ctx: Context) -> CaseResult:
    rounds = case.rounds or ctx.default_rounds()
    if sum(v.baseline for v in case.variants) != 1:
        raise ValueError(f"case {case.name!r} needs exactly one baseline")
    for _ in range(case.warmup):
        for v in case.variants:
            v.run()
    samples: dict[str, list[float]] = {v.name: [] for v in case.variants}
    for _ in range(rounds):  # interleaved: A B C, A B C, …
        for v in case.variants:
            samples[v.name].append(float(v.run()))
    base = next(v for v in case.variants if v.baseline)
    base_median = statistics.median(samples[base.name])
    out: dict[str, VariantResult] = {}
    for v in case.variants:
        st = summarise(samples[v.name])
        ratio = st["median"] / base_median if base_median else None
        out[v.name] = VariantResult(v.name, v.baseline, samples[v.name], st, ratio, v.note, v.info)
    return CaseResult(case.name, case.unit, case.higher_is_better, rounds, out, case.note)


def run_benchmark(reg: Registered, ctx: Context) -> BenchResult:
    result = BenchResult(reg.name, reg.title, reg.issue, status="ok")
    load_start = _loadavg()
    t0 = time.perf_counter()
    plan: Plan | None = None
    try:
        plan = reg.func(ctx)
        result.notes = plan.notes  # the same list: cleanup may still add to it
        result.params = dict(plan.params)
        for case in plan.cases:
            ctx.log(f"{reg.name}: {case.name} ({len(case.variants)} variants)")
            result.cases[case.name] = run_case(case, ctx)
        result.targets = [t.check(result) for t in plan.targets]
    except NotAvailable as exc:
        result.status, result.reason = "not available", str(exc)
    except Exception as exc:  # a broken piece is reported, the other benchmarks still run
        result.status = "error"
        result.reason = f"{type(exc).__name__}: {exc}"
        result.notes.append(traceback.format_exc(limit=6))
        if plan is not None and result.cases:
            result.targets = [t.check(result) for t in plan.targets]
    finally:
        if plan is not None and plan.cleanup is not None:
            try:
                plan.cleanup()
            except Exception as exc:  # pragma: no cover - reported, not raised
                result.notes.append(f"cleanup failed: {exc}")
    result.seconds = time.perf_counter() - t0
    result.params["loadavg_start"], result.params["loadavg_end"] = load_start, _loadavg()
    return result


def _loadavg() -> list[float] | None:
    """1/5/15-minute load averages: how busy the shared machine was (absolute numbers depend on it)."""
    import os

    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


# --------------------------------------------------------------------------- output

def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    ax = abs(x)
    if ax >= 100_000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.4f}"


def format_result(result: BenchResult) -> str:
    lines = [f"== {result.name}: {result.title}" + (f"  [{result.issue}]" if result.issue else "")]
    if result.status == "not available":
        lines.append(f"   not available: {result.reason}")
        return "\n".join(lines)
    for case in result.cases.values():
        better = "higher is better" if case.higher_is_better else "lower is better"
        lines.append(f"   {case.name}  ({case.unit}, {better}, {case.rounds} rounds interleaved)")
        width = max(28, *(len(v.name) + 11 for v in case.variants.values()))
        lines.append(f"   {'variant':<{width}} {'median':>12} {'min':>12} {'max':>12} {'p95':>12} {'ratio':>7}")
        for v in case.variants.values():
            name = v.name + (" (baseline)" if v.baseline else "")
            lines.append(f"   {name:<{width}} {_fmt(v.median):>12} {_fmt(v.stats['min']):>12} "
                         f"{_fmt(v.stats['max']):>12} {_fmt(v.p95):>12} {_fmt(v.ratio):>7}")
            if v.info:
                facts = ", ".join(f"{k}={_fmt(val) if isinstance(val, float) else val}" for k, val in v.info.items())
                lines.append(f"   {'':<{width}}   {facts}")
        if case.note:
            lines.append(f"   note: {case.note}")
    if result.targets:
        lines.append("   targets:")
        for t in result.targets:
            value = "-" if t["value"] is None else _fmt(float(t["value"]))
            lines.append(f"     {t['status']:<4} {t['label']}: {value} (target {t['op']} {_fmt(t['limit'])})"
                         + (f" [{t['source']}]" if t.get("source") else ""))
    if result.status == "error":
        lines.append(f"   ERROR: {result.reason}")
    for note in result.notes:
        for i, line in enumerate(note.rstrip().splitlines()):
            lines.append(("   note: " if i == 0 else "         ") + line)
    lines.append(f"   ({result.seconds:.1f} s)")
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    import os

    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    info["mem_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    try:
        import sqlite3

        info["sqlite"] = sqlite3.sqlite_version
    except Exception:  # pragma: no cover
        pass
    try:
        info["loadavg_at_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def write_json(result: BenchResult, ctx: Context, machine: dict[str, Any], results_dir: Path | None = None) -> Path:
    root = results_dir or RESULTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = root / f"{result.name}-{stamp}.json"
    path.write_text(json.dumps(result.to_json(ctx, machine), indent=2, default=str))
    return path


# --------------------------------------------------------------------------- helpers for benchmarks

def timed_per_op(func: Callable[[], Any], ops: int, scale: float = 1e6) -> Callable[[], float]:
    """A Variant.run that calls ``func`` once and returns seconds per op × ``scale`` (µs by default)."""

    def run() -> float:
        t = time.perf_counter()
        func()
        return (time.perf_counter() - t) / ops * scale

    return run


def timed_rate(func: Callable[[], Any], ops: int) -> Callable[[], float]:
    """A Variant.run that calls ``func`` once and returns ops per second."""

    def run() -> float:
        t = time.perf_counter()
        func()
        return ops / (time.perf_counter() - t)

    return run
