"""Fixtures of the reliability tier: real Huey consumers, a real threaded HTTP server, Redis servers.

Everything runs on a loaded 2-core machine, so waits are generous and assertions are about
counts, never about speed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from moviepulse.config import child_environ
from tests.support.stack import free_port, wait_until  # noqa: F401  (wait_until: re-exported for the tier)

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SECRET = "reliability-tier-secret-key-0123456789abcdef"
WORKER_PLUGINS = ["core", "queue", "site", "events_api"]


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Every test under tests/reliability carries the ``reliability`` marker."""
    for item in items:
        if "tests/reliability/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.reliability)


class Consumer:
    """One ``huey_consumer`` process of ``tests.reliability.worker_app`` in its own process group."""

    def __init__(self, environ: dict[str, str], log: Path, workers: int = 4) -> None:
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "huey_consumer"), "tests.reliability.worker_app.huey", "-w", str(workers), "-k",
             "thread", "-d", "0.05", "-m", "0.2", "-b", "1.1", "-n"],
            env=environ, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.signal(signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class QueueEnv:
    """A SQLite database + a Huey backend shared by the test process app and real consumers."""

    def __init__(self, tmp: Path, huey_backend: str = "sqlite", redis_url: str | None = None,
                 plugins: list[str] | None = None, **overrides: Any) -> None:
        from moviepulse.app import create_app
        from moviepulse.extensions import db
        from tests.reliability import relplugin

        self.tmp = tmp
        self.db_path = tmp / "rel.db"
        self.settings: dict[str, Any] = {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{self.db_path}", "HUEY_BACKEND": huey_backend,
            "HUEY_SQLITE_PATH": str(tmp / "huey.db"), "SECRET_KEY": SECRET, "HUEY_NAME": f"rel{os.getpid()}",
            "QUEUE_STATS_FLUSH_SECONDS": 0.2, **overrides,
        }
        if redis_url:
            self.settings["REDIS_URL"] = redis_url
        self.plugins = plugins or WORKER_PLUGINS
        self.app = create_app("local", only_plugins=self.plugins, extra_plugins=[("reltest", relplugin)],
                              INSTANCE_PATH=str(tmp / "instance"), QUEUE_STATS_SYNC=True, **self.settings)
        self.pulse = self.app.extensions["moviepulse"]
        with self.app.app_context():
            db.create_all()
            relplugin.create_tables(db.session)
        self.consumers: list[Consumer] = []

    def environ(self) -> dict[str, str]:
        env = child_environ("local", self.settings)
        env.update({"MOVIEPULSE_INSTANCE_PATH": str(self.tmp / "instance"), "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": str(REPO), "RELIABILITY_PLUGINS": ",".join(self.plugins)})
        return env

    def start_consumer(self, workers: int = 4) -> Consumer:
        consumer = Consumer(self.environ(), self.tmp / f"consumer{len(self.consumers)}.log", workers)
        self.consumers.append(consumer)
        return consumer

    def scalar(self, sql: str, **params: Any) -> Any:
        from moviepulse.extensions import db

        with self.app.app_context():
            value = db.session.execute(text(sql), params).scalar()
            db.session.remove()
            return value

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        from moviepulse.extensions import db

        with self.app.app_context():
            out = [tuple(r) for r in db.session.execute(text(sql), params)]
            db.session.remove()
            return out

    def done(self) -> set[int]:
        return {n for (n,) in self.rows("SELECT n FROM rel_done")}

    def enqueue(self, name: str, *args: Any) -> Any:
        with self.app.app_context():
            return self.pulse.enqueue(name, *args)

    def close(self) -> None:
        from moviepulse.extensions import db

        for consumer in self.consumers:
            consumer.stop()
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def queue_env(tmp_path: Path) -> Iterator[Callable[..., QueueEnv]]:
    made: list[QueueEnv] = []

    def factory(**kwargs: Any) -> QueueEnv:
        workdir = tmp_path / f"q{len(made)}"
        workdir.mkdir()
        env = QueueEnv(workdir, **kwargs)
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()


class RedisServer:
    """A private ``redis-server`` on a free port (never the shared one on 6379)."""

    def __init__(self, workdir: Path, *, appendonly: bool) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.appendonly = appendonly
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
                "--save", "", "--daemonize", "no", "--protected-mode", "yes"]
        if self.appendonly:
            argv += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            argv += ["--appendonly", "no"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=self.port)
        wait_until(lambda: _ping(client), 20, f"redis-server on {self.port}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def _ping(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    made: list[RedisServer] = []

    def factory(appendonly: bool) -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(made)}", appendonly=appendonly)
        made.append(server)
        return server

    yield factory
    for server in made:
        server.stop()


class LiveServer:
    """The app behind a real threaded Werkzeug server (real sockets, one thread per request)."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], LiveServer]]:
    made: list[LiveServer] = []

    def factory(app: Any) -> LiveServer:
        server = LiveServer(app)
        made.append(server)
        return server

    yield factory
    for server in made:
        server.stop()
