"""A whole MoviePulse deployment as real processes: migrations, Huey consumers, gunicorn, CLI.

Used by the environment-parity tier: the same scenario runs under ``local`` (SQLite + SQLite
Huey with a real consumer), ``staging`` and ``production`` (PostgreSQL + Redis Huey with two
consumers, gunicorn with two workers). Every process is stopped by ``close()``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from moviepulse.config import child_environ

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, env: str, workdir: Path, settings: dict[str, str]) -> None:
        self.env_name = env
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.environ = child_environ(env, {})  # settings: already environment variables
        self.environ.update({"MOVIEPULSE_INSTANCE_PATH": str(workdir / "instance"), "PYTHONUNBUFFERED": "1",
                             **settings})
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.web_url: str | None = None
        self._web: subprocess.Popen[bytes] | None = None

    # -- commands ----------------------------------------------------------------------------
    def cli(self, *args: str, stdin: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(VENV_BIN / "moviepulse"), *args], env=self.environ, cwd=self.workdir,
                                input=stdin, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"[{self.env_name}] moviepulse {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(argv, env=self.environ, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.processes.append((name, proc))
        return proc

    def start_consumers(self, count: int) -> None:
        for i in range(count):
            self._spawn(f"consumer{i}", [str(VENV_BIN / "huey_consumer"), "moviepulse.worker.huey",
                                         "-w", "2", "-k", "thread", "-d", "0.05", "-m", "0.2", "-n"])

    def start_web(self, workers: int = 2) -> str:
        port = free_port()
        self._web = self._spawn("web", [str(VENV_BIN / "gunicorn"), "--workers", str(workers), "--threads", "2",
                                        "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "10",
                                        "--chdir", str(REPO), "--config", str(REPO / "gunicorn.conf.py"), "wsgi:app"])
        self.web_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._web.poll() is not None:
                raise AssertionError(f"[{self.env_name}] gunicorn exited:\n{self.log('web')[-3000:]}")
            try:
                if requests.get(self.web_url + "/healthz", timeout=2).status_code == 200:
                    return self.web_url
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"[{self.env_name}] gunicorn did not become healthy:\n{self.log('web')[-3000:]}")

    def stop_web(self) -> None:
        """SIGTERM: gunicorn workers finish their requests and flush their telemetry buffers."""
        if self._web is not None:
            self._stop(self._web, signal.SIGTERM, 30)
            self._web = None

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _stop(self, proc: subprocess.Popen[Any], sig: int, timeout: float) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def close(self) -> None:
        for _name, proc in reversed(self.processes):
            self._stop(proc, signal.SIGINT, 20)
        self.processes.clear()


def wait_until(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
