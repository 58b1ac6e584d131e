"""Every configuration key the SSR telemetry reads, with its default and meaning."""

from __future__ import annotations

from moviepulse.core.types import Setting

SETTINGS: list[Setting] = [
    Setting("SSR_ENABLED", True, "Record SSR telemetry (timings, HTML audits) for monitored routes."),
    Setting("SSR_INCLUDE_ROUTES", ["*"],
            "Route templates (fnmatch patterns, e.g. '/<locale>/movies/*') monitored; default every route."),
    Setting("SSR_EXCLUDE_ROUTES",
            ["/admin*", "/api*", "/healthz", "/metrics", "/static*", "/dash*", "/events*"],
            "Route templates (fnmatch patterns) never monitored; wins over SSR_INCLUDE_ROUTES."),
    Setting("SSR_SAMPLE_RATE", 0.1, "Fraction of monitored HTML responses whose HTML is audited (0..1)."),
    Setting("SSR_ROUTE_SAMPLE_RATES", {}, "Per-route-template audit sample rates, e.g. {'/<locale>/': 0.5}."),
    Setting("SSR_ACCESS_LOG", True, "Write one JSON line per request on the 'moviepulse.access' logger."),
    Setting("SSR_APDEX_T_MS", 500, "Apdex T in ms: satisfied ≤ T, tolerating ≤ 4T, frustrated above or 5xx."),
    # score
    Setting("SSR_PENALTY_BLOCKING_EACH", 5, "Score points taken per render-blocking script."),
    Setting("SSR_PENALTY_BLOCKING_MAX", 30, "Cap on the blocking-scripts penalty."),
    Setting("SSR_PENALTY_MISSING_JSONLD", 10, "Penalty when the page has no JSON-LD script."),
    Setting("SSR_PENALTY_LOW_OG", 10, "Penalty when the page has fewer than SSR_OG_MIN_TAGS OpenGraph tags."),
    Setting("SSR_OG_MIN_TAGS", 3, "OpenGraph tags a page needs to avoid the thin-OpenGraph penalty."),
    Setting("SSR_PENALTY_OVERSIZED_HTML", 20, "Penalty when the HTML exceeds SSR_MAX_HTML_BYTES."),
    Setting("SSR_MAX_HTML_BYTES", 921_600, "HTML size above which the oversized penalty applies (900 KiB)."),
    Setting("SSR_PENALTY_EXCESS_IMAGES", 10, "Penalty when the page has more than SSR_MAX_IMAGES images."),
    Setting("SSR_MAX_IMAGES", 60, "Images a page may have before the excess-images penalty applies."),
    Setting("SSR_SCORE_PASSING", 80, "Scores at or above this pass."),
    Setting("SSR_SCORE_WARNING", 65, "Scores at or above this (and below passing) warn; lower ones fail."),
    # buffer and retention
    Setting("SSR_FLUSH_INTERVAL_SECONDS", 10, "Flush the in-process buffer at least this often."),
    Setting("SSR_FLUSH_MAX_ITEMS", 5000, "Flush the buffer once it holds this many requests (sampled audits ride "
            "along; the interval bounds the delay, this bounds memory and the per-request flush share)."),
    Setting("SSR_AUDIT_BATCH", 32, "Sampled pages audited together, off the request that sampled them (their "
            "bodies wait in memory until then, or until the flush)."),
    Setting("SSR_AUDIT_BATCH_BYTES", 4 << 20, "Audit the waiting pages earlier once their bodies hold this many "
            "bytes."),
    Setting("SSR_BUFFER_MAX_AUDITS", 10_000, "Raw audits kept in memory while the database is unreachable."),
    Setting("SSR_FLUSH_THREAD", True, "Flush from a background thread (never under TESTING)."),
    Setting("SSR_RAW_RETENTION_DAYS", 14, "Days raw sampled audits are kept."),
    Setting("SSR_AGGREGATE_RETENTION_DAYS", 90, "Days per-minute aggregates and upstream counts are kept."),
    Setting("SSR_PRUNE_INTERVAL_SECONDS", 86_400, "How often the prune task runs."),
    Setting("SSR_COMPACT_AFTER_HOURS", 2, "Hours after which per-minute rows are merged into hour rows."),
    Setting("SSR_COMPACT_INTERVAL_SECONDS", 3600, "How often the compaction task runs."),
    # fingerprints and drops
    Setting("SSR_REPEAT_MIN_DAYS", 3, "A fingerprint seen on at least this many days is a repeat offender."),
    Setting("SSR_REPEAT_MIN_COUNT", 10, "A fingerprint seen at least this many times is a repeat offender."),
    Setting("SSR_RESOLVE_AFTER_DAYS", 7, "Fingerprints quiet this many days are resolved."),
    Setting("SSR_DROP_MIN_POINTS", 0.0, "A day-over-day score fall larger than this is a drop."),
    Setting("SSR_IN_APP_MODULES", [], "Module prefixes counted as in-app frames besides non-library code."),
    # alerts
    Setting("SSR_ALERT_INTERVAL_SECONDS", 60, "How often alert rules are evaluated."),
    Setting("SSR_ALERT_WINDOW_MINUTES", 15, "Window of the latency and error-rate rules."),
    Setting("SSR_ALERT_MIN_REQUESTS", 20, "Requests a route needs before latency/error rules judge it."),
    Setting("SSR_ALERT_P95_WARNING_MS", 800, "p95 above this (ms) warns."),
    Setting("SSR_ALERT_P95_CRITICAL_MS", 2000, "p95 above this (ms) is critical."),
    Setting("SSR_ALERT_ERROR_RATE_WARNING", 0.02, "Error rate (5xx share) above this warns."),
    Setting("SSR_ALERT_ERROR_RATE_CRITICAL", 0.05, "Error rate above this is critical."),
    Setting("SSR_ALERT_SCORE_WINDOW_MINUTES", 1440, "Window of the score rule (audits are sampled)."),
    Setting("SSR_ALERT_RETRY_WINDOW_MINUTES", 5, "Window of the retry-storm rule."),
    Setting("SSR_ALERT_RETRY_WARNING", 20, "Retries of one upstream in the window that warn."),
    Setting("SSR_ALERT_RETRY_CRITICAL", 100, "Retries of one upstream in the window that are critical."),
    # self-crawl
    Setting("SSR_SELF_CRAWL_PATHS", ["/en/", "/en/trends"], "Paths the self-crawl requests through the app."),
    Setting("SSR_SELF_CRAWL_INTERVAL_SECONDS", 3600, "How often the self-crawl runs."),
]
