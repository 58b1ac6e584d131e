"""End to end: the example plugin ``examples/moviepulse-watchtime``, installed as a plugin author would.

The package is pip-installed (editable) into the running venv when it is not there yet. Every
check then runs in a fresh interpreter, as a deployment would: the plugin is found through
its ``moviepulse`` entry point (not passed in by the test), ``moviepulse plugins --json`` lists
it, its periodic task runs through Huey, and its widget is laid out and answers on the
dashboard for a logged-in admin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "moviepulse-watchtime"
BIN = Path(sys.executable).parent


def _run(args: list[str], env: dict[str, str] | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)


def _installed() -> bool:
    probe = "import importlib.metadata as m, moviepulse_watchtime; m.distribution('moviepulse-watchtime')"
    return _run([sys.executable, "-c", probe]).returncode == 0


@pytest.fixture(scope="module")
def installed() -> None:
    if not _installed():
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(EXAMPLE)]
        result = _run(pip, timeout=300)
        if result.returncode != 0:  # no index reachable for the build backend: use the venv's setuptools
            result = _run([*pip, "--no-build-isolation"], timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    assert _installed()


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A testing app that loads installed plugins, on its own SQLite file."""
    return {
        **os.environ,
        "MOVIEPULSE_ENV": "testing",
        "MOVIEPULSE_LOAD_ENTRYPOINT_PLUGINS": "true",
        "MOVIEPULSE_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
    }


def test_discovered_through_its_entry_point(installed):
    probe = ("import importlib.metadata as m, json; "
             "print(json.dumps({e.name: e.value for e in m.entry_points(group='moviepulse')}))")
    result = _run([sys.executable, "-c", probe])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["watchtime"] == "moviepulse_watchtime"


def test_listed_by_moviepulse_plugins_json(installed, env):
    result = _run([str(BIN / "moviepulse"), "plugins", "--json"], env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    watchtime = plugins["watchtime"]
    assert watchtime["version"] == "0.1.0" and watchtime["builtin"] is False
    assert watchtime["module"] == "moviepulse_watchtime"
    assert watchtime["registered"]["widgets"] == ["watchtime-daily"]
    assert watchtime["registered"]["tasks"] == ["watchtime.rollup"]
    assert watchtime["registered"]["metrics"] == ["watch-time"]
    assert watchtime["registered"]["pages"] == ["watchtime"]
    assert "watchtime-rollup" in watchtime["registered"]["commands"]
    assert "core" in plugins and plugins["core"]["builtin"] is True

    table = _run([str(BIN / "moviepulse"), "plugins"], env=env)
    assert table.returncode == 0 and "watchtime" in table.stdout and "watchtime-daily" in table.stdout


SCRIPT = textwrap.dedent("""
    import json
    from datetime import timedelta

    from moviepulse.app import create_app
    from moviepulse.dash_app.testing import post_widget
    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow
    from moviepulse.models.events import Event
    from moviepulse.models.movie import Movie
    from moviepulse.testing import admin_client

    app = create_app()  # everything from the environment: testing + installed entry points
    pulse = app.extensions["moviepulse"]
    now = utcnow()
    with app.app_context():
        db.create_all()
        db.session.add_all([Movie(id=1, original_title="Heat", title="Heat", runtime_min=170),
                            Movie(id=2, original_title="Alien", title="Alien", runtime_min=117)])
        db.session.add_all([Event(event_id=f"v{i}", type="view", event_time=now - timedelta(minutes=i),
                                  device_id=f"d{i}", movie_id=1 + i % 2) for i in range(3)])
        db.session.commit()

    pulse.enqueue("watchtime.rollup")  # immediate Huey: the task runs now
    with app.app_context():
        from moviepulse_watchtime.rollup import last_rollup
        rollup = last_rollup()

    client = admin_client(app)
    page = client.get("/admin/watchtime")
    today = now.date()
    filters = {"start": (today - timedelta(days=6)).isoformat(), "end": today.isoformat(), "audience": "global"}
    answer = post_widget(client, "watchtime-daily", "watchtime", filters)
    anonymous = app.test_client().get("/admin/watchtime")
    print(json.dumps({
        "plugin": next(p for p in pulse.describe_plugins() if p["name"] == "watchtime")["module"],
        "rollup": rollup,
        "page_status": page.status_code,
        "anonymous_status": anonymous.status_code,
        "widget_status": answer.status_code,
        "widget": answer.get_json(),
    }, default=str))
""")


def test_task_runs_and_widget_shows_on_the_dashboard(installed, env):
    result = _run([sys.executable, "-c", SCRIPT], env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["plugin"] == "moviepulse_watchtime"
    # the task: 3 watches (d0 Heat, d1 Alien, d2 Heat) = 170 + 117 + 170 minutes
    assert out["rollup"]["total_minutes"] == 457 and out["rollup"]["total_watches"] == 3
    # the widget: the page answers for an admin, not for an anonymous visitor; its callback draws the bars
    assert out["page_status"] == 200
    assert out["anonymous_status"] in (302, 401)
    assert out["widget_status"] == 200
    response = out["widget"]["response"]
    graph = next(v for k, v in response.items() if '"part":"graph"' in k.replace(" ", ""))
    assert sum(graph["figure"]["data"][0]["y"]) == 457
    status = next(v for k, v in response.items() if '"part":"status"' in k.replace(" ", ""))
    assert status["children"] == "457 min in 3 watches"


def test_new_plugin_package_passes_its_own_tests(tmp_path, env):
    """``moviepulse new-plugin`` as a new author runs it: the generated package's pytest passes.

    (Not installed: an editable install pointing into a temporary folder would outlive it.)
    """
    result = _run([str(BIN / "moviepulse"), "new-plugin", "night owls", "--directory", str(tmp_path)], env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    root = tmp_path / "moviepulse-night-owls"
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=root, capture_output=True, text=True,
                           timeout=300, env={k: v for k, v in env.items() if k != "MOVIEPULSE_LOAD_ENTRYPOINT_PLUGINS"})
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "6 passed" in tests.stdout


GUIDE_SCRIPT = textwrap.dedent("""
    import json
    from datetime import datetime, timedelta

    from moviepulse.app import create_app
    from moviepulse.dash_app.testing import post_widget
    from moviepulse.extensions import db
    from moviepulse.models.base import utcnow
    from moviepulse.models.events import Event
    from moviepulse.testing import admin_client

    app = create_app()
    pulse = app.extensions["moviepulse"]
    yesterday = utcnow().date() - timedelta(days=1)
    midnight = datetime.combine(yesterday, datetime.min.time())
    with app.app_context():
        db.create_all()
        db.session.add_all([Event(event_id=f"e{h}", type="view", event_time=midnight + timedelta(hours=h),
                                  device_id=f"d{h}", movie_id=1) for h in (1, 5, 12, 23)])
        db.session.commit()
    pulse.enqueue("latenight.count_last_night")
    stored = pulse.huey.get("latenight:last-night", peek=True)
    day = yesterday.isoformat()
    answer = post_widget(admin_client(app), "latenight-views", "overview",
                         {"start": day, "end": day, "audience": "global"})
    plugin = next(p for p in pulse.describe_plugins() if p["name"] == "latenight")
    print(json.dumps({"stored": stored, "widget": answer.get_json(), "plugin": plugin}, default=str))
""")


def test_guide_walkthrough_installs_and_works(tmp_path, env):
    """The guide's "From an empty folder" package, built and installed the normal way (into a
    private target folder, so the shared environment is untouched), then used by a fresh app."""
    guide = (ROOT / "docs" / "plugins" / "guide.md").read_text()
    for lang_body in guide.split("```")[1::2]:
        _lang, _, body = lang_body.partition("\n")
        first, _, rest = body.partition("\n")
        if first.startswith("# file: "):
            target = tmp_path / "src" / first[len("# file: "):].strip()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rest)
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
           str(tmp_path / "src" / "moviepulse-latenight")]
    result = _run(pip, timeout=300)
    if result.returncode != 0:
        result = _run([*pip, "--no-build-isolation"], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    env = {**env, "PYTHONPATH": str(site)}
    listed = _run([str(BIN / "moviepulse"), "plugins", "--json"], env=env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    latenight = {p["name"]: p for p in json.loads(listed.stdout)}["latenight"]
    assert latenight["registered"]["widgets"] == ["latenight-views"]
    assert latenight["registered"]["tasks"] == ["latenight.count_last_night"]

    result = _run([sys.executable, "-c", GUIDE_SCRIPT], env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["stored"]["late"] == 3 and out["stored"]["all"] == 4  # 01:00, 05:00, 23:00 of four
    graph = next(v for k, v in out["widget"]["response"].items() if '"part":"graph"' in k.replace(" ", ""))
    assert graph["figure"]["data"][0]["y"] == [3]
