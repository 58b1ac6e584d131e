"""Dashboard widgets over HTTP as an admin: figures match the query functions called directly,
audience changes, empty and unavailable states, filters in the URL, pages, refresh, retry."""

from __future__ import annotations

import json
import types
from datetime import date, datetime, timedelta

import pytest

from moviepulse import hookimpl
from moviepulse.core.types import PageSpec, TaskSpec
from moviepulse.dash_app import theme
from moviepulse.dash_app.testing import (
    dependencies,
    find_callback,
    post_callback,
    post_widget,
    response_parts,
)
from moviepulse.dash_app.widget import NO_DATA, Rendered, Widget
from moviepulse.testing import admin_client

START = date(2026, 11, 2)
DAYS = 5
FILTERS = {"start": START.isoformat(), "end": (START + timedelta(days=DAYS - 1)).isoformat(), "audience": "global"}
RETRIED: list[int] = []


def _bump(n: int = 1) -> int:
    RETRIED.append(n)
    return n


class EchoWidget(Widget):
    """A test widget that shows the filter state it received."""

    slug = "echo"
    title = "Echo"
    page = "twice"

    def render(self, filters):
        fig = theme.figure(self.height)
        fig.add_bar(x=[filters.audience], y=[(filters.end - filters.start).days + 1])
        return Rendered(fig, status=filters.audience)


class BrokenWidget(Widget):
    slug = "broken"
    title = "Broken"
    page = "twice"

    def render(self, filters):
        from moviepulse.dash_app import data

        return Rendered(data.query(("moviepulse.no_such_module",), "ctr_daily", filters))


test_plugin = types.SimpleNamespace(
    register_widgets=hookimpl(lambda: [EchoWidget, BrokenWidget]),
    register_pages=hookimpl(lambda: [PageSpec("twice", "Twice", 95, extra={"widgets": ["echo", "echo", "broken"]})]),
    register_tasks=hookimpl(lambda: [TaskSpec("dashtest.bump", _bump)]),
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """One app for the module (read-only tests), with a deterministic week of events."""
    from moviepulse.analytics.seed import generate_events, insert_events
    from moviepulse.extensions import db
    from moviepulse.testing import make_app

    app = make_app(plugins=[("dashtest", test_plugin)], tmp_path=tmp_path_factory.mktemp("dash"))
    events, devices = generate_events(START, DAYS, impressions_per_day=400, seed=11)
    with app.app_context():
        insert_events(db.session, events, devices)
        db.session.commit()
    return app


@pytest.fixture(scope="module")
def admin(seeded):
    return admin_client(seeded)


def figure(admin, slug, instance, filters=FILTERS):
    response = post_widget(admin, slug, instance, filters)
    assert response.status_code == 200, response.data[:500]
    return response_parts(response)


def query(app, name, filters=FILTERS, module="moviepulse.analytics.queries"):
    import importlib

    from moviepulse.extensions import db

    with app.test_request_context():
        func = getattr(importlib.import_module(module), name)
        return func(db.session, date.fromisoformat(filters["start"]), date.fromisoformat(filters["end"]),
                    filters["audience"])


def text_of(component) -> str:
    """All text in a serialised Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list):
        return " ".join(text_of(c) for c in component)
    if isinstance(component, dict):
        return text_of(component.get("props", {}).get("children"))
    return ""


# -- numbers match the queries ------------------------------------------------------------------
def test_ctr_line_matches_ctr_daily(seeded, admin):
    parts = figure(admin, "ctr-line", "ctr")
    expected = query(seeded, "ctr_daily")
    assert expected["state"] == "ok"
    traces = {t["name"]: t for t in parts["graph.figure"]["data"]}
    for variant in ("A", "B"):
        rows = [r for r in expected["rows"] if r["variant"] == variant]
        assert traces[f"Variant {variant}"]["x"] == [r["day"] for r in rows]
        assert traces[f"Variant {variant}"]["y"] == [r["ctr"] for r in rows]
        assert traces[f"Variant {variant}"]["line"]["color"] == theme.VARIANT_COLORS[variant]
    # and independently of the query: clicks / impressions from the raw events of one day
    from moviepulse.analytics.seed import generate_events

    events, _ = generate_events(START, DAYS, impressions_per_day=400, seed=11)
    day0 = [e for e in events if e["event_time"].date() == START and not e["is_bot"] and e["variant"] == "A"]
    impressions = sum(1 for e in day0 if e["type"] == "impression")
    clicks = sum(1 for e in day0 if e["type"] == "click")
    assert traces["Variant A"]["y"][0] == pytest.approx(100 * clicks / impressions, abs=0.005)
    assert parts["graph.figure"]["layout"]["height"] == 320


def test_ctr_bars_and_funnel_match_queries(seeded, admin):
    bars = figure(admin, "ctr-bars", "ctr")
    expected = query(seeded, "ctr_by_placement")
    for trace in bars["graph.figure"]["data"]:
        variant = trace["name"].split()[-1]
        rows = {r["placement"]: r["ctr"] for r in expected["rows"] if r["variant"] == variant}
        assert trace["y"] == [rows[p] for p in trace["x"]]
    funnel = figure(admin, "placement-funnel", "ctr")
    expected = query(seeded, "placement_funnel")
    by_stage = {t["name"].lower(): dict(zip(t["x"], t["y"], strict=True)) for t in funnel["graph.figure"]["data"]}
    for row in expected["rows"]:
        for stage in ("impressions", "clicks", "views"):
            assert by_stage[stage][row["placement"]] == row[stage]
    text = text_of(funnel["extra.children"])
    home = next(r for r in expected["rows"] if r["placement"] == "home")
    assert theme.fmt_points(home["ctr"]) in text and theme.fmt_points(home["view_rate"]) in text


def test_experiment_shows_the_querys_statistics(seeded, admin):
    parts = figure(admin, "experiment-ztest", "experiments")
    expected = query(seeded, "experiment")
    bars = parts["graph.figure"]["data"]
    assert [b["y"][0] for b in bars] == [expected["variants"]["A"]["ctr"], expected["variants"]["B"]["ctr"]]
    text = text_of(parts["extra.children"])
    z = expected["ztest"]
    if z["state"] == "ok":
        assert f"{z['z']:.3f}" in text
    else:
        assert "Sample guard: not enough data" in text
    assert "SRM:" in text and "Sequential:" in text


def test_audience_change_updates_the_numbers(seeded, admin):
    mobile = {**FILTERS, "audience": "device:mobile"}
    parts = figure(admin, "ctr-line", "ctr", mobile)
    expected = query(seeded, "ctr_daily", mobile)
    trace = next(t for t in parts["graph.figure"]["data"] if t["name"] == "Variant A")
    assert trace["y"] == [r["ctr"] for r in expected["rows"] if r["variant"] == "A"]
    global_trace = next(t for t in figure(admin, "ctr-line", "ctr")["graph.figure"]["data"] if t["name"] == "Variant A")
    assert trace["y"] != global_trace["y"]


def test_every_widget_listens_to_the_filter_store_and_refresh(seeded, admin):
    deps = dependencies(admin)
    pulse = seeded.extensions["moviepulse"]
    for cls in pulse.widgets:
        dep = find_callback(deps, lambda ident, prop, s=cls.slug: isinstance(ident, dict) and ident["widget"] == s
                            and ident["part"] == "status")
        inputs = {(i["id"], i["property"]) for i in dep["inputs"]}
        assert ("mp-filters", "data") in inputs and ("mp-refresh", "n_intervals") in inputs, cls.slug


def test_empty_state_for_an_audience_without_data(seeded, admin):
    empty = {**FILTERS, "audience": "cohort:2020-W01"}
    for slug, instance in (("ctr-line", "ctr"), ("ctr-bars", "ctr"), ("placement-funnel", "ctr"),
                           ("experiment-ztest", "experiments")):
        parts = figure(admin, slug, instance, empty)
        assert NO_DATA in text_of(parts["extra.children"]), slug
        assert parts["graph.figure"]["layout"]["annotations"][0]["text"] == NO_DATA


def test_every_builtin_widget_answers_without_error(seeded, admin):
    from moviepulse.dash_app.pages import widgets_for

    pulse = seeded.extensions["moviepulse"]
    for spec in pulse.pages:
        with seeded.app_context():
            items = widgets_for(pulse, spec.slug)
        for widget, instance in items:
            parts = figure(admin, widget.slug, instance)
            text = text_of(parts.get("extra.children"))
            assert "failed to load" not in text, widget.slug
            if widget.slug != "broken":
                assert "Data unavailable" not in text, (widget.slug, text)


def test_unavailable_query_shows_a_clear_state(seeded, admin):
    parts = figure(admin, "broken", "twice-3")
    text = text_of(parts["extra.children"])
    assert "Data unavailable" in text
    assert parts["status.children"] == "unavailable"


# -- widget instances --------------------------------------------------------------------------
def test_a_widget_can_appear_twice_with_namespaced_ids(seeded, admin):
    deps = dependencies(admin)
    route = find_callback(deps, lambda ident, prop: ident == "mp-page" and prop == "children")
    page = post_callback(admin, route, {("mp-url", "pathname"): "/admin/twice"}).get_json()
    layout = json.dumps(page)
    for instance in ("twice", "twice-2"):
        assert f'"id": "w-echo--{instance}"' in layout
        assert json.dumps({"widget": "echo", "part": "graph", "instance": instance}) in layout
    a = figure(admin, "echo", "twice")
    b = figure(admin, "echo", "twice-2", {**FILTERS, "audience": "device:tablet"})
    assert a["graph.figure"]["data"][0]["x"] == ["global"]
    assert b["graph.figure"]["data"][0]["x"] == ["device:tablet"]
    assert b["graph.figure"]["data"][0]["y"] == [DAYS]


def test_callbacks_live_on_each_app_not_globally(seeded, make_app):
    import dash

    other = make_app(only_plugins=["core", "audiences", "dashboard"])
    for app in (seeded, other):
        callbacks = app.extensions["moviepulse.dash"].callback_map
        assert any("mp-page.children" in key for key in callbacks)
    assert not any("mp-" in str(cb.get("output")) for cb in getattr(dash._callback, "GLOBAL_CALLBACK_LIST", []))


# -- shell: pages, filters, refresh, plugins ------------------------------------------------
def test_pages_and_navigation(seeded, admin):
    deps = dependencies(admin)
    route = find_callback(deps, lambda ident, prop: ident == "mp-page" and prop == "children")
    for path, title in (("/admin/", "Overview"), ("/admin/ctr", "CTR"), ("/admin/experiments", "Experiments"),
                        ("/admin/ssr", "SSR"), ("/admin/ingestion", "Ingestion"), ("/admin/queue", "Queue"),
                        ("/admin/plugins", "Plugins")):
        body = post_callback(admin, route, {("mp-url", "pathname"): path}).get_json()
        assert title in json.dumps(body), path
    overview = json.dumps(post_callback(admin, route, {("mp-url", "pathname"): "/admin/"}).get_json())
    for slug in ("ctr-line", "experiment-ztest", "ssr-insights", "queue-stats", "ingestion-health"):
        assert f"w-{slug}--overview" in overview


def test_plugins_page_lists_every_plugin(seeded, admin):
    deps = dependencies(admin)
    route = find_callback(deps, lambda ident, prop: ident == "mp-page" and prop == "children")
    body = json.dumps(post_callback(admin, route, {("mp-url", "pathname"): "/admin/plugins"}).get_json())
    for plugin in seeded.extensions["moviepulse"].describe_plugins():
        assert f"mp-plugin-{plugin['name']}" in body
    assert "echo" in body and "dashtest.bump" in body


def _sync(admin, values, trigger):
    deps = dependencies(admin)
    dep = find_callback(deps, lambda ident, prop: ident == "mp-filters" and prop == "data")
    base = {("mp-url", "search"): "", ("mp-filter-range", "start_date"): None,
            ("mp-filter-range", "end_date"): None, ("mp-filter-preset", "value"): None,
            ("mp-filter-audience", "value"): None, ("mp-filters", "data"): None}
    base.update(values)
    response = post_callback(admin, dep, base, triggered=[trigger])
    assert response.status_code == 200, response.data[:300]
    return response.get_json()["response"]


def test_filters_from_url_fill_controls_and_store(admin):
    out = _sync(admin, {("mp-url", "search"): "?start=2026-11-01&end=2026-11-07&audience=device:mobile"},
                "mp-url.search")
    assert out["mp-filters"]["data"] == {"start": "2026-11-01", "end": "2026-11-07", "audience": "device:mobile"}
    assert out["mp-filter-audience"]["value"] == "device:mobile"
    assert out["mp-filter-range"]["start_date"] == "2026-11-01"
    assert out["mp-filter-preset"]["value"] == "7"


def test_control_change_writes_the_url(admin):
    out = _sync(admin, {("mp-url", "search"): "?start=2026-11-01&end=2026-11-07&audience=global",
                        ("mp-filter-range", "start_date"): "2026-11-01", ("mp-filter-range", "end_date"): "2026-11-07",
                        ("mp-filter-audience", "value"): "cohort:2026-W45"}, "mp-filter-audience.value")
    assert out["mp-url"]["search"] == "?start=2026-11-01&end=2026-11-07&audience=cohort%3A2026-W45"
    assert out["mp-filters"]["data"]["audience"] == "cohort:2026-W45"


def test_invalid_url_filters_fall_back_to_defaults(admin):
    from moviepulse.dash_app.filters import Filters

    out = _sync(admin, {("mp-url", "search"): "?start=2026-13-01&end=x&audience=<script>"}, "mp-url.search")
    default = Filters.default(14)
    assert out["mp-filters"]["data"] == default.to_store()
    assert out["mp-url"]["search"] == default.to_query()
    reversed_range = Filters.from_query("?start=2026-11-09&end=2026-11-01")
    assert reversed_range == default


def test_refresh_interval_from_settings_and_pause(make_app):
    app = make_app(only_plugins=["core", "audiences", "dashboard"], DASHBOARD_REFRESH_SECONDS=30)
    client = admin_client(app)
    layout = json.dumps(client.get("/admin/_dash-layout").get_json())
    assert '"id": "mp-refresh", "interval": 30000' in layout or '"interval": 30000' in layout
    deps = dependencies(client)
    dep = find_callback(deps, lambda ident, prop: ident == "mp-refresh" and prop == "disabled")
    out = post_callback(client, dep, {("mp-refresh-toggle", "n_clicks"): 1, ("mp-refresh", "disabled"): False})
    body = out.get_json()["response"]
    assert body["mp-refresh"]["disabled"] is True
    assert body["mp-refresh-toggle"]["aria-pressed"] == "true"
    assert body["mp-refresh-toggle"]["children"] == "Resume auto-refresh"


def test_filter_controls_are_labelled(admin):
    layout = json.dumps(admin.get("/admin/_dash-layout").get_json())
    for control in ("mp-filter-preset", "mp-filter-start", "mp-filter-end", "mp-filter-audience"):
        assert f'"htmlFor": "{control}"' in layout


# -- queue retry -------------------------------------------------------------------------------
def test_retry_button_re_enqueues_a_failed_task(seeded, admin):
    from moviepulse.extensions import db
    from moviepulse.models.jobs import JobRecord

    with seeded.app_context():
        rec = JobRecord(task_id="t-failed-1", name="dashtest.bump", args={"args": [7], "kwargs": {}}, state="error",
                        attempts=1, error="ValueError: boom", enqueued_at=datetime(2026, 11, 3, 10),
                        finished_at=datetime(2026, 11, 3, 10, 1))
        db.session.add(rec)
        db.session.commit()
        job_id = rec.id
    listing = figure(admin, "queue-failed", "queue")
    assert "ValueError: boom" in text_of(listing["extra.children"])
    deps = dependencies(admin)
    dep = find_callback(deps, lambda ident, prop: isinstance(ident, dict) and ident.get("part") == "retry-result")
    button = {"widget": "queue-failed", "part": "retry", "instance": "queue", "task": str(job_id)}
    body = {
        "output": dep["output"],
        "outputs": [{"id": {"widget": "queue-failed", "part": "retry-result", "instance": "queue"},
                     "property": "children"},
                    {"id": {"widget": "queue-failed", "part": "extra", "instance": "queue"}, "property": "children"}],
        "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]],
        "state": [{"id": "mp-filters", "property": "data", "value": FILTERS}],
        "changedPropIds": [json.dumps(button, sort_keys=True, separators=(",", ":")) + ".n_clicks"],
    }
    before = len(RETRIED)
    response = admin.post("/admin/_dash-update-component", json=body)
    assert response.status_code == 200, response.data[:500]
    assert RETRIED[before:] == [7]  # immediate Huey ran the re-enqueued task with its stored args
    assert "re-enqueued" in json.dumps(response.get_json())
    with seeded.app_context():
        assert db.session.get(JobRecord, job_id).retried_as


def test_prepare_figure_hook_restyles_widget_figures(make_app):
    def prepare_figure(figure, widget):
        if widget.slug == "echo":
            figure.update_layout(title_text="prepared by a plugin")

    plugin = types.SimpleNamespace(register_widgets=hookimpl(lambda: [EchoWidget]),
                                   register_pages=hookimpl(lambda: [PageSpec("twice", "Twice", 95)]),
                                   prepare_figure=hookimpl(prepare_figure))
    app = make_app(only_plugins=["core", "audiences", "dashboard"], extra_plugins=[("restyle", plugin)])
    parts = figure(admin_client(app), "echo", "twice")
    assert parts["graph.figure"]["layout"]["title"]["text"] == "prepared by a plugin"
    assert parts["graph.figure"]["layout"]["height"] == EchoWidget.height


def test_widget_base_is_public_api():
    import moviepulse

    assert moviepulse.Widget is Widget


def test_ssr_insights_match_route_stats(seeded, admin):
    from moviepulse.ssr.queries import route_stats
    from moviepulse.ssr.runtime import flush_now

    client = seeded.test_client()
    for _ in range(12):
        client.get("/")
        client.get("/no-such-page")
    flush_now(seeded)
    from moviepulse.models.base import utcnow

    today = utcnow().date()
    window = {"start": (today - timedelta(days=1)).isoformat(), "end": today.isoformat(), "audience": "global"}
    parts = figure(admin, "ssr-insights", "ssr", window)
    from moviepulse.extensions import db

    with seeded.app_context():
        expected = route_stats(db.session, datetime.combine(today - timedelta(days=1), datetime.min.time()),
                               datetime.combine(today + timedelta(days=1), datetime.min.time()))
    assert expected, "the site middleware recorded samples"
    traces = {t["name"]: t for t in parts["graph.figure"]["data"]}
    for pct in ("p50", "p95", "p99"):
        assert traces[pct]["x"] == [r["route"] for r in expected]
        assert traces[pct]["y"] == [r[pct] for r in expected]
    assert parts["graph.figure"]["layout"]["xaxis"]["type"] == "category"  # route "404" stays a label
    text = text_of(parts["extra.children"])
    assert f"{expected[0]['apdex']:.3f}" in text


def test_queue_stats_and_ingestion_funnel_match_queries(seeded, admin):
    from moviepulse.extensions import db
    from moviepulse.models.ingestion import IngestionRun
    from moviepulse.models.jobs import JobRecord

    day = START + timedelta(days=1)
    with seeded.app_context():
        for i, state in enumerate(("complete", "complete", "error")):
            t0 = datetime.combine(day, datetime.min.time()) + timedelta(hours=9, minutes=i)
            db.session.add(JobRecord(task_id=f"q-{i}", name="dashtest.bump", args={"args": [], "kwargs": {}},
                                     state=state, attempts=1, enqueued_at=t0, started_at=t0 + timedelta(seconds=2),
                                     finished_at=t0 + timedelta(seconds=5), wait_seconds=2.0, run_seconds=3.0,
                                     error="RuntimeError: x" if state == "error" else None))
        db.session.add(IngestionRun(kind="list", trigger="test", status="ok",
                                    started_at=datetime.combine(day, datetime.min.time()) + timedelta(hours=3),
                                    counts={"movies": {"requested": 4, "fetched": 4, "stored": 4},
                                            "locales": {"de": {"requested": 8, "tmdb_translation": 5,
                                                               "omdb_fallback": 2, "missing": 1, "stored": 8},
                                                        "fr": {"requested": 8, "tmdb_translation": 8, "stored": 8}},
                                            "sources": {"tmdb": {"requests": 12, "ok": 12}}}))
        db.session.commit()
    queue = figure(admin, "queue-stats", "queue")
    expected = query(seeded, "queue")
    traces = {t["name"]: t for t in queue["graph.figure"]["data"]}
    assert traces["Completed"]["y"] == [h["completed"] for h in expected["per_hour"]]
    assert traces["Failed"]["y"] == [h["failed"] for h in expected["per_hour"]]
    assert sum(traces["Failed"]["y"]) >= 1
    text = text_of(queue["extra.children"])
    assert theme.fmt_duration(expected["wait_seconds"]["p50"]) in text

    funnel = figure(admin, "ingestion-funnel", "ingestion")
    from moviepulse.ingestion.queries import ingestion_funnel

    with seeded.app_context():
        expected = ingestion_funnel(db.session, START, START + timedelta(days=DAYS - 1))
    traces = {t["name"]: dict(zip(t["x"], t["y"], strict=True)) for t in funnel["graph.figure"]["data"]}
    assert traces["TMDB translation"] == {"de": 5, "fr": 8}
    assert traces["OMDb fallback"] == {"de": expected["locales"]["de"]["omdb_fallback"], "fr": 0} == {"de": 2, "fr": 0}
    assert traces["Missing"]["de"] == 1


def test_drifted_days_are_marked_and_warned(seeded, admin):
    from moviepulse.extensions import db
    from moviepulse.models.analytics import DriftRow, ReconcileRun

    drift_day = START + timedelta(days=2)
    with seeded.app_context():
        run = ReconcileRun(start_day=START, end_day=START + timedelta(days=DAYS - 1), threshold=0.005,
                           flagged_days=[drift_day.isoformat()])
        db.session.add(run)
        db.session.flush()
        db.session.add(DriftRow(run_id=run.id, day=drift_day, dimension="*", metric="clicks", stored=90, raw=100,
                                abs_diff=10, rel_diff=0.1, flagged=True))
        db.session.add(DriftRow(run_id=run.id, day=START, dimension="*", metric="clicks", stored=100, raw=100,
                                abs_diff=0, rel_diff=0.0, flagged=False))
        db.session.commit()
    line = figure(admin, "ctr-line", "ctr")
    marks = next(t for t in line["graph.figure"]["data"] if t["name"] == "Drift flagged")
    assert set(marks["x"]) == {drift_day.isoformat()}
    assert marks["marker"]["symbol"] == theme.DRIFT_MARKER["symbol"]
    assert line["status.children"] == "1 drifted day(s)"
    experiment = text_of(figure(admin, "experiment-ztest", "experiments")["extra.children"])
    assert f"reconciliation flagged {drift_day.isoformat()}" in experiment
    queue = text_of(figure(admin, "queue-stats", "queue")["extra.children"])
    assert f"Drift warning: reconciliation flagged {drift_day.isoformat()}" in queue


def test_ssr_drops_repeat_offenders_and_playbook_detail(seeded, admin):
    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow
    from moviepulse.models.ssr import SsrFingerprint

    now = utcnow()
    with seeded.app_context():
        fp = SsrFingerprint(fingerprint="f" * 40, kind="score.blocking_scripts", route="/movie/<int:id>",
                            title="blocking script in head", count=25, days_seen=4, last_day=now.date(),
                            first_seen=now - timedelta(days=4), last_seen=now, status="ongoing",
                            sample={"request_id": "req-123", "message": "script without defer"})
        db.session.add(fp)
        db.session.commit()
        fp_id = fp.id
    today = now.date()
    window = {"start": (today - timedelta(days=2)).isoformat(), "end": today.isoformat(), "audience": "global"}
    parts = figure(admin, "ssr-drops", "ssr", window)
    options = parts["fingerprint.options"]
    assert [o["value"] for o in options] == [str(fp_id)]
    assert options[0]["label"].startswith("★ repeat")
    text = text_of(parts["extra.children"])
    assert "Repeat offenders" in text and "blocking script in head" in text and "blocking-scripts" in text

    deps = dependencies(admin)
    dep = find_callback(deps, lambda ident, prop: isinstance(ident, dict) and ident.get("part") == "detail")
    selector = json.dumps({"instance": "ssr", "part": "fingerprint", "widget": "ssr-drops"}, separators=(",", ":"))
    response = post_callback(admin, dep, {(json.dumps({"instance": "ssr", "part": "fingerprint",
                                                       "widget": "ssr-drops"}, sort_keys=True), "value"): str(fp_id),
                                          ("mp-filters", "data"): window}, "ssr",
                             triggered=[selector + ".value"])
    assert response.status_code == 200, response.data[:300]
    detail = text_of(list(response.get_json()["response"].values())[0]["children"])
    assert "Playbook: Render-blocking scripts" in detail
    assert "req-123" in detail


def test_layout_starts_from_the_page_url_filters(admin):
    referer = "http://localhost/admin/ctr?start=2026-11-01&end=2026-11-03&audience=device:mobile"
    layout = admin.get("/admin/_dash-layout", headers={"Referer": referer}).get_json()
    store = json.dumps(layout)
    assert '"data": {"start": "2026-11-01", "end": "2026-11-03", "audience": "device:mobile"}' in store


def test_preset_sets_the_range_ending_on_the_current_end(admin):
    out = _sync(admin, {("mp-url", "search"): "?start=2026-11-01&end=2026-11-14&audience=global",
                        ("mp-filter-range", "start_date"): "2026-11-01", ("mp-filter-range", "end_date"): "2026-11-14",
                        ("mp-filter-preset", "value"): "7", ("mp-filter-audience", "value"): "global"},
                "mp-filter-preset.value")
    assert out["mp-filters"]["data"] == {"start": "2026-11-08", "end": "2026-11-14", "audience": "global"}
    assert out["mp-url"]["search"] == "?start=2026-11-08&end=2026-11-14&audience=global"


def test_long_wait_alert_and_backfill_notice_on_the_queue_widget(make_app):
    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow
    from moviepulse.models.ingestion import BackfillNotification
    from moviepulse.models.jobs import JobRecord

    app = make_app(QUEUE_LONG_WAIT_SECONDS=60)
    now = utcnow()
    with app.app_context():
        db.session.add(JobRecord(task_id="slow-1", name="ingestion.backfill", args=None, state="pending",
                                 enqueued_at=now - timedelta(minutes=10)))
        db.session.add(BackfillNotification(created_at=now - timedelta(minutes=5), considered=40, needing=12,
                                            enqueued=5, limited_by="budget"))
        db.session.commit()
    window = {"start": (now.date() - timedelta(days=1)).isoformat(), "end": now.date().isoformat(),
              "audience": "global"}
    text = text_of(figure(admin_client(app), "queue-stats", "queue", window)["extra.children"])
    import re

    assert re.search(r"Long wait: the oldest pending task has waited 10\.\d min \(alert above 60\.0 s\)", text), text
    assert "ingestion.backfill (1)" in text
    assert "5 enqueued of 12 needing; limited by budget" in text


def test_ingestion_health_shows_breakers_and_budget_from_the_query(seeded, admin):
    from moviepulse.extensions import db
    from moviepulse.ingestion.queries import ingestion_health

    parts = figure(admin, "ingestion-health", "ingestion")
    with seeded.test_request_context():
        expected = ingestion_health(db.session)
    text = text_of(parts["extra.children"])
    assert expected["upstreams"], "tmdb and omdb are registered sources"
    for slug, up in expected["upstreams"].items():
        assert f"{up.get('label', slug)}: breaker {up['breaker']['state'].replace('_', '-')}" in text
        if up.get("budget"):
            assert f"{theme.fmt_number(up['budget']['left'])} / {theme.fmt_number(up['budget']['limit'])}" in text
    assert "graph.figure" not in parts  # a card, not a chart
