"""Built-in plugin ``playbooks``: remediation steps for the usual SSR problems.

Each playbook names the fingerprint kinds or alerts it fixes (see :mod:`moviepulse.ssr.playbooks`
for the keys); the dashboard's drop widget and ``/admin/api/ssr/fingerprints`` show the match.
"""

from __future__ import annotations

from moviepulse import hookimpl
from moviepulse.ssr.playbooks import Playbook

BUILTIN_PLAYBOOKS: tuple[Playbook, ...] = (
    Playbook("blocking-scripts", "Render-blocking scripts", ("score.blocking_scripts",), (
        "Open the audit sample and list the <script src> tags without defer, async or type=module.",
        "Add defer to scripts that touch the DOM; async to independent ones (analytics, beacons).",
        "Move inline bootstrap code into a deferred file, or keep it tiny and after the content.",
        "Re-run the self-crawl (ssr.self_crawl) and check the route's score is back to passing.",
    ), summary="Scripts without defer/async block rendering until they download and run."),
    Playbook("missing-jsonld", "Missing JSON-LD", ("score.missing_jsonld",), (
        "Render a <script type=\"application/ld+json\"> block (Movie, ItemList or BreadcrumbList).",
        "Keep the nonce attribute anywhere in the tag; the audit reads attributes in any order.",
        "Validate the output with a structured-data tester; escape '</' inside the JSON.",
    ), summary="Search engines get no structured data (Movie, ItemList) for the page."),
    Playbook("thin-opengraph", "Thin OpenGraph", ("score.low_og",), (
        "Emit at least og:title, og:type, og:image and og:url (property=\"og:…\") in <head>.",
        "Use absolute URLs for og:image and og:url; add og:locale and og:locale:alternate per locale.",
        "Check the template's base block is extended by the failing route's template.",
    ), summary="Shared links render without a proper title, image or type."),
    Playbook("oversized-html", "Oversized HTML", ("score.oversized_html",), (
        "Find what grew: inline JSON state, repeated SVG icons, long lists rendered in full.",
        "Paginate or lazy-render long rails; move inline data to a cached JSON endpoint.",
        "Serve icons from a sprite; strip whitespace and comments in templates.",
    ), summary="The HTML is larger than the configured limit; every visitor pays for it."),
    Playbook("too-many-images", "Too many images", ("score.excess_images",), (
        "Cap the cards a rail renders server-side; load the rest on scroll.",
        "Use CSS for decorative images; keep <img> for content, with width, height and loading=lazy.",
    ), summary="More images than the limit; the page is heavy on mobile connections."),
    Playbook("template-error", "Template error", (
        "exception:jinja2.*", "exception:*TemplateNotFound", "exception:*UndefinedError",
        "exception:*TemplateSyntaxError"), (
        "Open the fingerprint's frames: the innermost in-app frame names the view and template.",
        "Undefined variable: pass it from the view or guard it with `is defined` / a default filter.",
        "Missing translation or field: fall back to the source locale instead of failing the page.",
        "Add a view test that renders the route with the missing data case.",
    ), priority=50, summary="A template failed to render (undefined value, missing template, syntax)."),
    Playbook("database-locked", "Database locked (SQLite)", (
        "exception:sqlalchemy.exc.OperationalError", "exception:sqlite3.OperationalError"), (
        "Writers must use write_transaction() (BEGIN IMMEDIATE) so they queue on busy_timeout.",
        "Keep write transactions short: no network calls or rendering inside them.",
        "Check WAL mode is on (PRAGMA journal_mode) and raise SQLITE_BUSY_TIMEOUT_MS if bursts persist.",
        "If several processes write constantly, move to PostgreSQL (DATABASE_URL).",
    ), message_contains=("database is locked", "database table is locked"), priority=10,
        summary="SQLite refused a write because another writer held the lock too long."),
    Playbook("upstream-breaker-open", "Upstream circuit breaker open", (
        "alert.upstream.breaker_open", "exception:*CircuitOpen*", "exception:*BreakerOpen*"), (
        "Check the upstream's status page and the ingestion runs for the first failing call.",
        "Pages keep serving stored metadata; do not lower the breaker threshold to 'fix' it.",
        "Verify the API key and quota (budget_exhausted signals); wait for the half-open probe.",
        "Once closed, re-run the missed ingestion for the affected window.",
    ), summary="Calls to an upstream API are short-circuited after repeated failures."),
    Playbook("retry-storm", "Retry storm", ("alert.upstream.retry_storm",), (
        "Look for 429/5xx in the ingestion HTTP log: rate limit hit or upstream degraded.",
        "Honour Retry-After; make sure backoff has jitter and the retry budget is not per-request.",
        "Reduce concurrency of the ingestion queue until the upstream recovers.",
    ), summary="An upstream is being retried far more than usual."),
    Playbook("slow-route", "Slow route", ("alert.ssr.p95_latency",), (
        "Compare p50 and p95: a high p95 with a normal p50 points to cold caches or lock waits.",
        "Profile the view with the sample request id; look for N+1 queries and uncached rails.",
        "Add or fix indexes for the view's queries; cache the rendered rail per locale and variant.",
    ), summary="The route's p95 server time is above the alert threshold."),
    Playbook("server-errors", "Server errors", ("alert.ssr.error_rate",), (
        "Open /admin/api/ssr/fingerprints for the route: the top exception fingerprint is the cause.",
        "Follow that fingerprint's playbook; add a regression test before closing it.",
    ), summary="The route's share of 5xx responses is above the alert threshold."),
    Playbook("low-score", "Low HTML score", ("alert.ssr.score",), (
        "Open /admin/api/ssr/drops for the failing checks of the route's latest audits.",
        "Apply the playbook of each failing check, then re-run the self-crawl.",
    ), summary="The route's latest HTML score is below passing."),
)


@hookimpl
def register_playbooks() -> list[Playbook]:
    return list(BUILTIN_PLAYBOOKS)
