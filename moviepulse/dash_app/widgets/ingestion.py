"""Ingestion health: circuit-breaker state per upstream, today's retries, OMDb budget left, the
last runs and the last backfill pass.

Data: ``moviepulse.ingestion.queries.ingestion_health(session)`` (current state, not a range).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import html

from moviepulse.dash_app import data, theme
from moviepulse.dash_app.components import badge, stat, stat_row, table
from moviepulse.dash_app.data import field
from moviepulse.dash_app.widget import Empty, Rendered, Widget

HEALTH = ("ingestion_health",)

BREAKER_STATUS = {"closed": "ok", "half_open": "warning", "half-open": "warning", "open": "critical"}


def when(value: Any) -> str:
    """ISO strings, datetimes and epoch seconds (breaker timestamps) as ``YYYY-MM-DD HH:MM`` UTC."""
    if value is None or value == "":
        return "–"
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M")
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)[:16].replace("T", " ")


class IngestionHealthWidget(Widget):
    slug = "ingestion-health"
    title = "Ingestion health"
    page = "ingestion"
    also_on = ("overview",)
    size = "full"
    order = 20
    has_graph = False
    description = "Circuit breakers, retries today, OMDb budget left, the last runs and backfill."

    def render(self, filters: Any) -> Rendered:
        health = data.call(data.INGESTION, HEALTH, data.session())
        data.check_unavailable(health)
        upstreams = field(health, "upstreams", default={}) or {}
        badges, tiles, rows = [], [], []
        for slug, up in sorted(upstreams.items()):
            if field(up, "error"):
                badges.append(badge(f"{slug}: health unavailable ({field(up, 'error')})", "unknown"))
                continue
            breaker = field(up, "breaker", default={}) or {}
            state = str(field(breaker, "state", default="unknown"))
            since = field(breaker, "changed_at", "opened_at")
            badges.append(badge(f"{field(up, 'label', default=slug)}: breaker {state.replace('_', '-')}"
                                + (f" since {when(since)}" if since and state != "closed" else ""),
                                BREAKER_STATUS.get(state.lower(), "unknown")))
            today = field(up, "today", default={}) or {}
            rows.append([slug, theme.fmt_number(field(today, "requests")), theme.fmt_number(field(today, "retries")),
                         theme.fmt_number(field(today, "rate_limited")), theme.fmt_number(field(today, "errors")),
                         theme.fmt_number(field(breaker, "opens"))])
            budget = field(up, "budget", default=None)
            if budget:
                tiles.append(stat(f"{field(up, 'label', default=slug)} budget left",
                                  f"{theme.fmt_number(field(budget, 'left'))} / {theme.fmt_number(field(budget, 'limit'))}",
                                  hint=f"resets {when(field(budget, 'resets_at'))}"
                                       + (" · exhausted" if field(budget, "exhausted") else "")))
        tiles.append(stat("Pending imports", theme.fmt_number(field(health, "pending_imports"))))
        runs = field(health, "last_runs", default=[]) or []
        if not upstreams and not runs:
            return Rendered(Empty("No ingestion sources or runs yet."))
        run_rows = [[str(field(r, "id", default="")), str(field(r, "kind", default="")),
                     str(field(r, "trigger", default="")),
                     badge(str(field(r, "status", default="")), _run_status(str(field(r, "status", default="")))),
                     when(field(r, "started_at")), when(field(r, "finished_at")),
                     theme.fmt_number(field(r, "error_count"))] for r in runs]
        extra: list[Any] = [html.Div(badges or [badge("No upstreams registered", "unknown")],
                                     className="d-flex flex-wrap gap-2 mb-2", **{"data-part": "breakers"}),
                            stat_row(tiles)]
        if rows:
            extra.append(table(["Upstream", "Requests today", "Retries", "Rate limited", "Errors", "Breaker opens"],
                               rows))
        extra.append(html.H3("Last runs", className="h6 mt-3"))
        extra.append(table(["Run", "Kind", "Trigger", "Status", "Started", "Finished", "Errors"], run_rows)
                     if run_rows else html.Div("No ingestion runs yet.", className="mp-empty"))
        backfill = field(health, "last_backfill", default=None)
        if backfill:
            extra.append(html.P(f"Last backfill {when(field(backfill, 'created_at'))}: "
                                f"{theme.fmt_number(field(backfill, 'enqueued'))} enqueued of "
                                f"{theme.fmt_number(field(backfill, 'needing'))} needing.", className="mt-2 mb-0"))
        return Rendered(Empty(), extra=extra)

    def outputs(self, rendered: Rendered) -> tuple[Any, Any, Any]:
        if rendered.extra is None:
            return super().outputs(rendered)
        return None, rendered.status, rendered.extra


def _run_status(status: str) -> str:
    return {"ok": "ok", "success": "ok", "completed": "ok", "partial": "warning", "running": "unknown",
            "failed": "critical", "error": "critical"}.get(status.lower(), "unknown")
