"""Huey consumer entry point of the reliability tier:
``huey_consumer tests.reliability.worker_app.huey`` (configured through ``MOVIEPULSE_*`` variables)."""

from moviepulse.app import create_app
from tests.reliability import relplugin

PLUGINS = ["core", "queue", "site", "events_api"]

app = create_app(only_plugins=PLUGINS, extra_plugins=[("reltest", relplugin)])
huey = app.extensions["moviepulse"].huey
