"""Serving the fake upstreams: threaded Werkzeug servers on 127.0.0.1, in this process or another.

``start_fake_upstreams(tmdb_port=0, omdb_port=0)`` returns a :class:`FakeUpstreams` handle with
``.tmdb_url`` (``http://127.0.0.1:<port>/3``), ``.omdb_url`` (``http://127.0.0.1:<port>/``) and
``.stop()``. With ``subprocess=True`` the servers run in a child Python process (what the smoke
suite and the demo use), started as ``python -m moviepulse.upstreams --ready-json``.
"""

from __future__ import annotations

import json
import os
import subprocess as sp
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from moviepulse.upstreams.omdb_server import make_omdb_app
from moviepulse.upstreams.tmdb_server import make_tmdb_app

HOST = "127.0.0.1"


class QuietHandler(WSGIRequestHandler):
    """No access log: request lines carry API keys in their query strings."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        pass


@dataclass
class FakeUpstreams:
    tmdb_url: str
    omdb_url: str
    _servers: list[Any] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _process: sp.Popen[str] | None = None
    apps: dict[str, Any] = field(default_factory=dict)

    @property
    def tmdb_root(self) -> str:
        return self.tmdb_url.rsplit("/3", 1)[0]

    @property
    def omdb_root(self) -> str:
        return self.omdb_url.rstrip("/")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except sp.TimeoutExpired:  # pragma: no cover
                self._process.kill()
        self._process = None

    def __enter__(self) -> FakeUpstreams:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_in_threads(tmdb_port: int = 0, omdb_port: int = 0, *, catalogue: list[dict[str, Any]] | None = None,
                     host: str = HOST, tmdb_options: dict[str, Any] | None = None,
                     omdb_options: dict[str, Any] | None = None) -> FakeUpstreams:
    tmdb_app = make_tmdb_app(catalogue, **(tmdb_options or {}))
    omdb_app = make_omdb_app(catalogue, **(omdb_options or {}))
    servers = []
    for app, port in ((tmdb_app, tmdb_port), (omdb_app, omdb_port)):
        server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
        server.daemon_threads = True
        servers.append(server)
    threads = [threading.Thread(target=s.serve_forever, name=f"fake-upstream-{s.server_port}", daemon=True)
               for s in servers]
    for thread in threads:
        thread.start()
    return FakeUpstreams(
        tmdb_url=f"http://{host}:{servers[0].server_port}/3",
        omdb_url=f"http://{host}:{servers[1].server_port}/",
        _servers=servers, _threads=threads, apps={"tmdb": tmdb_app, "omdb": omdb_app},
    )


def start_fake_upstreams(tmdb_port: int = 0, omdb_port: int = 0, *, subprocess: bool = False,
                         catalogue: list[dict[str, Any]] | None = None, host: str = HOST,
                         fixture: bool = False, tmdb_rate_limit: float | None = None,
                         omdb_daily_quota: int | None = None, timeout: float = 15.0) -> FakeUpstreams:
    """Start both fake servers; port 0 picks a free port. ``fixture=True`` serves the small test catalogue."""
    if fixture and catalogue is None:
        from moviepulse.upstreams.fixtures import fixture_catalogue

        catalogue = fixture_catalogue()
    tmdb_options = {"rate_limit": tmdb_rate_limit} if tmdb_rate_limit is not None else {}
    omdb_options = {"daily_quota": omdb_daily_quota} if omdb_daily_quota is not None else {}
    if not subprocess:
        return serve_in_threads(tmdb_port, omdb_port, catalogue=catalogue, host=host,
                                tmdb_options=tmdb_options, omdb_options=omdb_options)
    if catalogue is not None and not fixture:
        raise ValueError("a custom catalogue cannot be passed to a subprocess; use fixture=True or the bundled one")
    cmd = [sys.executable, "-m", "moviepulse.upstreams", "--host", host, "--tmdb-port", str(tmdb_port),
           "--omdb-port", str(omdb_port), "--ready-json"]
    if fixture:
        cmd.append("--fixture")
    if tmdb_rate_limit is not None:
        cmd += ["--tmdb-rate-limit", str(tmdb_rate_limit)]
    if omdb_daily_quota is not None:
        cmd += ["--omdb-daily-quota", str(omdb_daily_quota)]
    proc = sp.Popen(cmd, stdout=sp.PIPE, stderr=sp.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    ready: dict[str, Any] = {}
    result: list[str] = []

    def read_line() -> None:
        assert proc.stdout is not None
        result.append(proc.stdout.readline())

    reader = threading.Thread(target=read_line, daemon=True)
    reader.start()
    reader.join(timeout)
    if result and result[0].strip():
        ready = json.loads(result[0])
    if not ready:
        proc.kill()
        raise RuntimeError("fake upstreams did not start")
    return FakeUpstreams(tmdb_url=ready["tmdb_url"], omdb_url=ready["omdb_url"], _process=proc)


def serve_forever(tmdb_port: int = 8701, omdb_port: int = 8702, *, host: str = HOST, fixture: bool = False,
                  ready_json: bool = False, tmdb_rate_limit: float | None = None,
                  omdb_daily_quota: int | None = None, echo: Any = print) -> None:
    """Run until interrupted (``moviepulse upstreams`` and ``python -m moviepulse.upstreams``)."""
    import signal
    import time

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the fake upstreams only listen on the loopback interface")
    handle = start_fake_upstreams(tmdb_port, omdb_port, host=host, fixture=fixture,
                                  tmdb_rate_limit=tmdb_rate_limit, omdb_daily_quota=omdb_daily_quota)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if ready_json:
        echo(json.dumps({"tmdb_url": handle.tmdb_url, "omdb_url": handle.omdb_url, "pid": os.getpid()}))
        sys.stdout.flush()
    else:
        echo(f"fake TMDB  {handle.tmdb_url}   (key demo-tmdb-key; faults: POST {handle.tmdb_root}/__faults)")
        echo(f"fake OMDb  {handle.omdb_url}   (key demo-omdb-key; faults: POST {handle.omdb_root}/__faults)")
        echo("Ctrl-C to stop.")
    try:
        while not stop.is_set():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
