"""HTML audit of a 50 KB page: MoviePulse's audit vs a one-pass regex count vs selectolax (issue 4).

Baseline: one compiled regex over the page bytes, counting the tags the audit looks at (meta,
OpenGraph meta, JSON-LD scripts, images, scripts) in a single ``finditer`` pass. It is the
floor: it reads every byte once and understands nothing. selectolax (a C HTML5 parser) and
``html.parser`` give the cost of really parsing. Candidate: ``moviepulse.ssr`` audit (when it exists).
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

from bench.common import optional, page_50kb
from bench.harness import Case, Context, Plan, Target, Variant, benchmark

TAG_RE = re.compile(rb"<(meta|img|script|link)\b([^>]*)>", re.I)


def regex_count(body: bytes) -> dict[str, int]:
    counts = {"meta": 0, "og": 0, "img": 0, "script": 0, "jsonld": 0, "blocking": 0}
    for m in TAG_RE.finditer(body):
        tag = m.group(1).lower()
        if tag == b"meta":
            counts["meta"] += 1
            if b'property="og:' in m.group(2):
                counts["og"] += 1
        elif tag == b"img":
            counts["img"] += 1
        elif tag == b"script":
            counts["script"] += 1
            attrs = m.group(2)
            if b"ld+json" in attrs:
                counts["jsonld"] += 1
            elif b"defer" not in attrs and b"async" not in attrs and b"module" not in attrs:
                counts["blocking"] += 1
    return counts


def selectolax_count(body: bytes) -> dict[str, int]:
    from selectolax.lexbor import LexborHTMLParser as Lax

    tree = Lax(body)
    scripts = tree.css("script")
    jsonld = [s for s in scripts if (s.attributes.get("type") or "").lower() == "application/ld+json"]
    blocking = [s for s in scripts if s.attributes.get("src") is not None and "defer" not in s.attributes
                and "async" not in s.attributes and (s.attributes.get("type") or "") != "module"]
    return {"meta": len(tree.css("meta")), "og": len(tree.css('meta[property^="og:"]')),
            "img": len(tree.css("img")), "script": len(scripts), "jsonld": len(jsonld), "blocking": len(blocking)}


class _Counter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.counts = {"meta": 0, "og": 0, "img": 0, "script": 0, "jsonld": 0, "blocking": 0}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta":
            self.counts["meta"] += 1
            self.counts["og"] += (a.get("property") or "").startswith("og:")
        elif tag == "img":
            self.counts["img"] += 1
        elif tag == "script":
            self.counts["script"] += 1
            if (a.get("type") or "") == "application/ld+json":
                self.counts["jsonld"] += 1
            elif "src" in a and "defer" not in a and "async" not in a and a.get("type") != "module":
                self.counts["blocking"] += 1


def htmlparser_count(body: bytes) -> dict[str, int]:
    p = _Counter()
    p.feed(body.decode("utf-8"))
    p.close()
    return p.counts


def find_audit():
    """MoviePulse's audit function ``f(html) -> result`` or None."""
    for module in ("moviepulse.ssr.audit", "moviepulse.ssr.html_audit"):
        for name in ("audit_html", "audit", "run_audit", "score_html"):
            f = optional(module, name)
            if callable(f):
                return f, f"{module}.{name}"
    return None


@benchmark("audit", title="HTML audit of a 50 KB page: MoviePulse vs regex vs selectolax", issue="issue 4")
def build(ctx: Context) -> Plan:
    html = page_50kb()
    body = html.encode()
    reps = ctx.pick(20, 200)
    notes = [f"page: {len(body):,} bytes"]
    expected = selectolax_count(body)
    got = regex_count(body)
    notes.append(f"selectolax counts {expected}; regex counts {'agree' if got == expected else got}")

    def per_page(func, arg):
        def run() -> float:
            t = time.perf_counter()
            for _ in range(reps):
                func(arg)
            return (time.perf_counter() - t) / reps * 1e6
        return run

    variants = [Variant("one-pass regex count (bytes)", per_page(regex_count, body), baseline=True),
                Variant("selectolax (lexbor) parse + css", per_page(selectolax_count, body)),
                Variant("html.parser (stdlib)", per_page(htmlparser_count, body))]
    found = find_audit()
    mp = "moviepulse audit"
    if found is None:
        notes.append("not available: MoviePulse HTML audit (moviepulse.ssr.audit)")
    else:
        func, where = found
        notes.append(f"moviepulse audit = {where}")
        arg = _audit_arg(func, html, body)
        variants.insert(1, Variant(mp, per_page(func, arg)))
        from moviepulse.ssr import audit as audit_mod

        notes.append(f"moviepulse audit tokenizer: {audit_mod.SCANNER} (moviepulse/ssr/_scan.c; the pure-Python "
                     "scanner is the specification and the fallback without a compiler)")
        if audit_mod.SCANNER == "c":
            def python_audit(data: bytes):
                return audit_mod.score_counts(audit_mod.counts_from_scan(len(data), *audit_mod.scan_python(data)))

            variants.insert(2, Variant("moviepulse audit, pure-Python scanner", per_page(python_audit, body)))
    case = Case(f"{len(body) // 1024} KB movie page", "µs/page", variants, rounds=ctx.rounds or ctx.pick(5, 15))
    targets = [Target("moviepulse audit / one-pass regex", lambda r: r[case.name][mp].ratio, 1.5, "<=", "issue 4")]
    return Plan(cases=[case], targets=targets, notes=notes, params={"page_bytes": len(body), "reps": reps})


def _audit_arg(func, html: str, body: bytes):
    """The audit takes bytes or str; try bytes first (what a WSGI body is)."""
    try:
        func(body)
        return body
    except (TypeError, AttributeError):
        func(html)
        return html
