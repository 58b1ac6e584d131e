"""The Huey instance built from config, and Huey tasks built from plugins' ``TaskSpec`` values.

Backends: ``sqlite`` (single host, ``instance/huey.db``), ``redis`` (staging/production,
several consumers) and ``memory`` (tests; immediate mode). Every task runs inside the
Flask application context. Consumers start with ``huey_consumer moviepulse.worker.huey``.

Payloads are pickles, so every message is signed with an HMAC keyed by ``SECRET_KEY``
(:class:`huey.serializer.SignedSerializer`): a message written to Redis or ``huey.db`` by anyone
without the key is refused by the consumer instead of being unpickled.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.serializer import SignedSerializer

from moviepulse.core.errors import StartupError

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask
    from huey import Huey

    from moviepulse.core.pulse import MoviePulse
    from moviepulse.core.types import TaskSpec


def make_huey(app: Flask) -> Huey:
    cfg = app.config
    common: dict[str, Any] = {"name": cfg["HUEY_NAME"], "utc": True, "store_intermediate_errors": False,
                              "serializer": huey_serializer(cfg)}
    backend = cfg["HUEY_BACKEND"]
    if backend == "memory":
        return MemoryHuey(immediate=bool(cfg.get("HUEY_IMMEDIATE", True)), **common)
    if backend == "redis":
        huey: Huey = RedisHuey(url=cfg["REDIS_URL"], immediate=bool(cfg.get("HUEY_IMMEDIATE")), **common)
        return huey
    if backend == "sqlite":
        path = cfg.get("HUEY_SQLITE_PATH") or os.path.join(app.instance_path, "huey.db")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return SqliteHuey(filename=path, immediate=bool(cfg.get("HUEY_IMMEDIATE")), **common)
    raise StartupError(f"HUEY_BACKEND={backend!r} is not one of sqlite, redis, memory")


HUEY_SIGNING_SALT = "moviepulse.huey.v1"


def huey_serializer(cfg: Any) -> SignedSerializer:
    """The HMAC-signing serializer of every Huey message (key: ``SECRET_KEY``)."""
    return SignedSerializer(secret=str(cfg["SECRET_KEY"]), salt=HUEY_SIGNING_SALT)


def interval_schedule(app: Flask, key: str) -> Callable[[datetime], bool]:
    """A Huey ``validate_datetime`` that fires every ``app.config[key]`` seconds (minute granularity)."""

    def validate(dt: datetime) -> bool:
        seconds = max(60, int(app.config[key]))
        minutes = seconds // 60
        return (dt.hour * 60 + dt.minute) % minutes == 0 if minutes <= 1440 else dt.hour == dt.minute == 0

    validate.__name__ = f"every_{key.lower()}"
    return validate


#: Suffix of the on-demand twin of a periodic task (Huey stores no results for periodic tasks).
ON_DEMAND_SUFFIX = ":now"


def build_tasks(app: Flask, pulse: MoviePulse) -> None:
    """Turn every registered ``TaskSpec`` into Huey tasks on ``pulse.huey``.

    A plain spec becomes one task named ``spec.name``. A scheduled spec becomes a periodic task
    named ``spec.name`` plus an on-demand twin ``spec.name + ":now"`` (same function and retry
    policy) so that ``pulse.enqueue(name)`` — a manual run, a retry — returns a result.
    ``pulse.tasks[name]`` is always the task that ``enqueue`` calls.
    """
    assert pulse.huey is not None
    for spec in pulse.task_specs:
        if spec.schedule is None:
            pulse.tasks[spec.name] = _make_task(app, pulse.huey, spec, spec.name)
            continue
        schedule = interval_schedule(app, spec.schedule) if isinstance(spec.schedule, str) else spec.schedule
        pulse.periodic_tasks[spec.name] = _make_task(app, pulse.huey, spec, spec.name, schedule)
        pulse.tasks[spec.name] = _make_task(app, pulse.huey, spec, spec.name + ON_DEMAND_SUFFIX)


def _make_task(app: Flask, huey: Huey, spec: TaskSpec, name: str, schedule: Any = None) -> Any:
    @functools.wraps(spec.func)
    def run(*args: Any, **kwargs: Any) -> Any:
        with app.app_context():
            return spec.func(*args, **kwargs)

    options: dict[str, Any] = {
        "retries": spec.retries,
        "retry_delay": spec.retry_delay,
        "retry_backoff": spec.retry_backoff,
        "priority": spec.priority,
        "name": name,
        "expires": spec.expires,
        "timeout": spec.timeout,
    }
    if schedule is None:
        return huey.task(**options)(run)
    return huey.periodic_task(schedule, **options)(run)
