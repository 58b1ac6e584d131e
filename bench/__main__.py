"""``python -m bench [NAME …] [--quick] [--strict] [--rounds N] [--events N] [--list]``.

Runs the named benchmarks (all when none is named), prints one table per benchmark and writes
``bench/results/<name>-<timestamp>.json``. Targets from the issues print as PASS / FAIL / N/A;
they only change the exit status with ``--strict`` (1 when a target fails or a benchmark errors).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("MOVIEPULSE_ENV", "testing")


def main(argv: list[str] | None = None) -> int:
    from bench import benchmarks  # noqa: F401  (registers)
    from bench.harness import REGISTRY, Context, format_result, machine_info, run_benchmark, write_json

    ap = argparse.ArgumentParser(prog="python -m bench", description="MoviePulse benchmarks")
    ap.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    ap.add_argument("--quick", action="store_true", help="reduced sizes and rounds (< 60 s in total)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target fails or a benchmark errors")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds per case")
    ap.add_argument("--events", type=int, default=None, help="data-set size for query/rollup/memory benchmarks")
    ap.add_argument("--data-dir", default=None, help="where generated data sets are cached (default bench/.data)")
    ap.add_argument("--no-save", action="store_true", help="do not write JSON results")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args(argv)

    from bench.benchmarks import ORDER

    regs = sorted(REGISTRY.values(), key=lambda r: (ORDER.index(r.name) if r.name in ORDER else len(ORDER), r.order))
    if args.list:
        for r in regs:
            print(f"{r.name:<18} {r.title}" + (f"  [{r.issue}]" if r.issue else ""))
        return 0
    unknown = [n for n in args.names if n not in REGISTRY]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(r.name for r in regs)}",
              file=sys.stderr)
        return 2
    selected = [REGISTRY[n] for n in args.names] if args.names else regs
    ctx = Context(quick=args.quick, rounds=args.rounds, events=args.events, data_dir=args.data_dir)
    machine = machine_info()
    print(f"MoviePulse benchmarks on {machine.get('cpu', '?')} × {machine.get('nproc')}, "
          f"{machine.get('mem_gb', '?')} GB, Python {machine['python']}, SQLite {machine.get('sqlite')}"
          + ("  [quick]" if args.quick else ""), flush=True)
    t0 = time.perf_counter()
    failed = errored = 0
    for reg in selected:
        result = run_benchmark(reg, ctx)
        print(format_result(result), flush=True)
        if not args.no_save and result.status != "not available":
            path = write_json(result, ctx, machine)
            print(f"   -> {os.path.relpath(path)}", flush=True)
        failed += sum(t["status"] == "FAIL" for t in result.targets)
        errored += result.status == "error"
    print(f"\n{len(selected)} benchmark(s) in {time.perf_counter() - t0:.1f} s; "
          f"{failed} target(s) failed, {errored} error(s)")
    if args.strict and (failed or errored):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
