"""Queue widgets: queue statistics (backlog, failures, retries, wait/run percentiles, long-wait
alert, backfill notifications, drift warnings) and the failed-task list with a retry button.

Data: ``moviepulse.analytics.queries`` queue statistics, failed tasks and the retry action;
backfill notifications from the ingestion queries when they exist.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from dash import ALL, MATCH, Input, Output, State, ctx, html, no_update

from moviepulse.dash_app import data, theme
from moviepulse.dash_app.components import badge, banner, stat, stat_row, table
from moviepulse.dash_app.data import field, rows
from moviepulse.dash_app.widget import Empty, Rendered, Unavailable, Widget, WidgetIds
from moviepulse.dash_app.widgets.ctr import drifted_days

QUEUE_STATS = ("queue", "queue_stats")
FAILED = ("failed", "failed_jobs", "failed_tasks")
RETRY = ("retry_job", "retry_task", "retry_failed")
BACKFILL = ("notifications", "backfill_notifications")
BACKFILL_MODULES = ("moviepulse.ingestion.backfill", "moviepulse.ingestion.queries")


class QueueStatsWidget(Widget):
    slug = "queue-stats"
    title = "Queue"
    page = "queue"
    also_on = ("overview",)
    size = "half"
    order = 10
    height = 260
    description = "Tasks per hour, backlog, retries, wait and run time percentiles, alerts."

    def render(self, filters: Any) -> Rendered:
        stats = data.query(data.ANALYTICS, QUEUE_STATS, filters)
        data.check_unavailable(stats)
        snapshot = field(stats, "snapshot", default={}) or {}
        window = field(stats, "window", default={}) or {}
        notices: list[Any] = []
        long_wait = field(stats, "long_wait", default={}) or {}
        if field(long_wait, "alert"):
            waiting = ", ".join(f"{field(t, 'task')} ({field(t, 'pending')})" for t in field(long_wait, "tasks",
                                                                                              default=[]) or [])
            notices.append(banner(
                f"Long wait: the oldest pending task has waited "
                f"{theme.fmt_duration(field(long_wait, 'oldest_pending_seconds'))} "
                f"(alert above {theme.fmt_duration(field(long_wait, 'threshold_seconds'))})"
                + (f": {waiting}" if waiting else "") + ".", "warning"))
        days = drifted_days(filters)
        if days:
            notices.append(banner(f"Drift warning: reconciliation flagged {', '.join(sorted(days))}.", "warning"))
        if data.available(BACKFILL_MODULES, *BACKFILL):
            for note in data.smart(BACKFILL_MODULES, BACKFILL, limit=3) or []:
                counts = field(note, "status_counts", default={}) or {}
                notices.append(banner(
                    f"Backfill {str(field(note, 'created_at', default=''))[:16].replace('T', ' ')}: "
                    f"{field(note, 'enqueued', default=0)} enqueued of {field(note, 'needing', default=0)} needing"
                    + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})" if counts else "")
                    + (f"; limited by {field(note, 'limited_by')}" if field(note, "limited_by") else ""),
                    "warning" if field(note, "limited_by") else "ok"))
        tiles = [stat("Pending", theme.fmt_number(field(snapshot, "pending"))),
                 stat("Scheduled", theme.fmt_number(field(snapshot, "scheduled"))),
                 stat("Running", theme.fmt_number(field(snapshot, "running"))),
                 stat("Completed", theme.fmt_number(field(window, "completed"))),
                 stat("Failed", theme.fmt_number(field(window, "failed"))),
                 stat("Retries", theme.fmt_number(field(window, "retries")))]
        wait, run = field(stats, "wait_seconds", default={}) or {}, field(stats, "run_seconds", default={}) or {}
        pct_rows = [[label, *[theme.fmt_duration(field(values, p)) for p in ("p50", "p90", "p95", "p99")]]
                    for label, values in (("Wait", wait), ("Run", run))]
        hourly = field(stats, "per_hour", default=[]) or []
        fig: Any
        if hourly and data.state_of(stats) != "no_data":
            fig = theme.figure(self.height, barmode="stack")
            hours = [str(field(h, "hour", default="")) for h in hourly]
            for key, label in (("completed", "Completed"), ("failed", "Failed")):
                color = theme.STATUS_COLORS["critical"] if key == "failed" else theme.category_color(0)
                fig.add_bar(x=hours, y=[field(h, key, default=0) for h in hourly], name=label, marker_color=color,
                            hovertemplate="%{x}: %{y:,d}<extra>" + label + "</extra>")
            theme.hour_axis(fig)
            theme.count_axis(fig, title="tasks")
        else:
            fig = Empty()
        extra = [*notices, stat_row(tiles), table(["Time", "p50", "p90", "p95", "p99"], pct_rows)]
        status = "all tasks (the queue has no audiences)" if filters.audience != "global" else ""
        return Rendered(fig, extra=extra, status=status)


def _task_id(task: Any) -> str:
    return str(field(task, "id", "job_id", "task_id", default=""))


def call_retry(task_id: str) -> Any:
    """Call the analytics retry action with whatever argument names it uses."""
    func: Callable[..., Any] = data.resolve(data.ANALYTICS, *RETRY)
    kwargs: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.name in ("session", "db_session"):
            kwargs[param.name] = data.session()
        elif param.name == "pulse":
            from moviepulse.core.pulse import current_pulse

            kwargs[param.name] = current_pulse()
        elif "id" in param.name:
            value: Any = int(task_id) if task_id.isdigit() else task_id
            kwargs[param.name] = value
    return func(**kwargs)


class QueueFailedWidget(Widget):
    slug = "queue-failed"
    title = "Failed tasks"
    page = "queue"
    size = "half"
    order = 20
    has_graph = False
    description = "Tasks that failed in the range, with their error; Retry re-enqueues one."

    def extra_controls(self, ids: WidgetIds, instance: str) -> list[Any]:
        return [html.Div(id=ids.part("retry-result", instance), className="mt-2", role="status",
                         **{"aria-live": "polite"})]

    def render(self, filters: Any) -> Rendered:
        return Rendered(Empty(), extra=self.failed_list(filters))

    def outputs(self, rendered: Rendered) -> tuple[Any, Any, Any]:
        if isinstance(rendered.figure, Unavailable):
            return super().outputs(rendered)
        return None, rendered.status, rendered.extra

    def failed_list(self, filters: Any) -> Any:
        try:
            tasks = rows(data.smart(data.ANALYTICS, FAILED, filters), "jobs", "tasks", "rows")
        except data.QueryUnavailable as exc:
            return html.Div(str(exc), className="mp-empty mp-unavailable", role="status",
                            **{"data-state": "unavailable"})
        if not tasks:
            return html.Div("No failed tasks for this range.", className="mp-empty", role="status",
                            **{"data-state": "empty"})
        instance = self.current_instance()
        body = []
        for t in tasks:
            tid = _task_id(t)
            retried = field(t, "retried_as", "retried", default=None)
            retryable = field(t, "retryable", default=True)
            button = html.Button(
                "Retry", type="button", n_clicks=0, className="btn btn-sm btn-outline-dark",
                id={"widget": self.slug, "part": "retry", "instance": instance, "task": tid},
                disabled=bool(retried) or not retryable, **{"aria-label": f"Retry task {field(t, 'name', 'task', default=tid)}"},
            )
            body.append([str(field(t, "task", "name", default="")),
                         str(field(t, "error", "exception", "message", default="") or "")[:200],
                         str(field(t, "finished_at", "failed_at", default="") or "")[:16].replace("T", " "),
                         theme.fmt_number(field(t, "attempts", default=None)),
                         badge("retried", "ok") if retried else button])
        return table(["Task", "Error", "Failed at", "Attempts", ""], body, row_ids=[_task_id(t) for t in tasks])

    def register_callbacks(self, dash_app: Any, ids: WidgetIds) -> None:
        super().register_callbacks(dash_app, ids)
        widget = self

        @dash_app.callback(
            Output(ids.part("retry-result"), "children"),
            Output(ids.extra(), "children", allow_duplicate=True),
            Input({"widget": self.slug, "part": "retry", "instance": MATCH, "task": ALL}, "n_clicks"),
            State("mp-filters", "data"),
            prevent_initial_call=True,
        )
        def retry(clicks: list[int | None], filter_data: dict[str, Any] | None) -> tuple[Any, Any]:
            from moviepulse.dash_app.filters import Filters
            from moviepulse.dash_app.widget import _INSTANCE

            trigger = ctx.triggered_id
            if not isinstance(trigger, dict) or not any(clicks or []):
                return no_update, no_update
            task_id = str(trigger.get("task"))
            try:
                result = call_retry(task_id)
                new_id = field(result, "new_task_id", default=None) if isinstance(result, dict) else None
                message = badge(f"Job {task_id} re-enqueued" + (f" as {new_id}" if new_id else ""), "ok")
            except data.QueryUnavailable as exc:
                return html.Div(str(exc), className="mp-empty"), no_update
            except Exception as exc:  # noqa: BLE001 - show the reason, keep the page
                return badge(f"Retry failed: {type(exc).__name__}: {exc}", "critical"), no_update
            token = _INSTANCE.set(str(trigger.get("instance", "")))
            try:
                with data.fresh():  # the retried job's new state, not the cached list
                    listing = widget.failed_list(Filters.from_store(filter_data))
            finally:
                _INSTANCE.reset(token)
            return message, listing
