"""``python -m bench.report`` — the latest result of every benchmark as Markdown (for docs/performance.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.harness import RESULTS_DIR, _fmt


def latest(results_dir: Path, quick: bool | None = None) -> dict[str, dict]:
    """The newest JSON result per benchmark name (optionally only quick or only full runs)."""
    out: dict[str, dict] = {}
    for path in sorted(results_dir.glob("*.json")):
        data = json.loads(path.read_text())
        if quick is not None and bool(data.get("quick")) != quick:
            continue
        name = data["benchmark"]
        if name not in out or data["written_at"] >= out[name]["written_at"]:
            out[name] = {**data, "_file": path.name}
    return out


def markdown(data: dict) -> str:
    lines = [f"### `{data['benchmark']}` — {data['title']}", ""]
    m = data.get("machine", {})
    load = data.get("params", {}).get("loadavg_start") or m.get("loadavg_at_start") or []
    lines.append(f"{data['written_at']}, {'quick' if data.get('quick') else 'full'} run, "
                 f"load average {', '.join(f'{x:.1f}' for x in load)} (2 vCPUs); "
                 f"`bench/results/{data['_file']}`")
    lines.append("")
    if data["status"] != "ok":
        lines.append(f"**{data['status']}**: {data.get('reason', '')}")
        lines.append("")
    for case in data["cases"]:
        better = "higher is better" if case["higher_is_better"] else "lower is better"
        lines.append(f"*{case['name']}* — {case['unit']}, {better}, {case['rounds']} interleaved rounds")
        lines.append("")
        lines.append("| variant | median | min | max | p95 | ratio |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for v in case["variants"]:
            name = v["name"] + (" **(baseline)**" if v["baseline"] else "")
            lines.append(f"| {name} | {_fmt(v['median'])} | {_fmt(v['min'])} | {_fmt(v['max'])} | "
                         f"{_fmt(v['p95'])} | {_fmt(v['ratio'])} |")
        facts = [f"{v['name']}: " + ", ".join(f"{k}={val}" for k, val in v["info"].items())
                 for v in case["variants"] if v.get("info")]
        if facts:
            lines.append("")
            lines.extend(f"- {f}" for f in facts)
        lines.append("")
    if data.get("targets"):
        lines.append("| target | value | limit | verdict |")
        lines.append("|---|---:|---:|---|")
        for t in data["targets"]:
            value = "-" if t["value"] is None else _fmt(float(t["value"]))
            lines.append(f"| {t['label']} ({t.get('source', '')}) | {value} | {t['op']} {_fmt(t['limit'])} | "
                         f"**{t['status']}** |")
        lines.append("")
    return "\n".join(lines)


def summary(found: dict[str, dict], order: list[str]) -> str:
    """One table: every target of every benchmark with its value and verdict."""
    lines = ["| benchmark | target | value | limit | verdict |", "|---|---|---:|---:|---|"]
    for name in order:
        data = found[name]
        if data["status"] == "not available":
            lines.append(f"| `{name}` | not available: {data.get('reason', '')} | | | N/A |")
        for t in data.get("targets", []):
            value = "-" if t["value"] is None else _fmt(float(t["value"]))
            lines.append(f"| `{name}` | {t['label']} | {value} | {t['op']} {_fmt(t['limit'])} | **{t['status']}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    ap.add_argument("--results-dir", default=str(RESULTS_DIR))
    ap.add_argument("--quick", action="store_true", help="report quick runs instead of full ones")
    ap.add_argument("--summary", action="store_true", help="only the table of targets and verdicts")
    args = ap.parse_args(argv)
    from bench.benchmarks import ORDER

    found = latest(Path(args.results_dir), quick=args.quick)
    order = [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]
    if args.summary:
        print(summary(found, order))
        return 0
    for name in order:
        print(markdown(found[name]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
