"""Huey consumer entry point of the reliability tier:
``huey_consumer tests.reliability.worker_app.huey`` (configured through ``MOVIEPULSE_*`` variables;
``RELIABILITY_PLUGINS`` lists the built-in plugins to load, comma-separated)."""

import os

from moviepulse.app import create_app
from tests.reliability import relplugin

PLUGINS = os.environ.get("RELIABILITY_PLUGINS", "core,queue,site,events_api").split(",")

app = create_app(only_plugins=PLUGINS, extra_plugins=[("reltest", relplugin)])
huey = app.extensions["moviepulse"].huey
