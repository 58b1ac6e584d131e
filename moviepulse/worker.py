"""Entry point for Huey consumers: ``huey_consumer moviepulse.worker.huey -w 2 -k thread``.

Importing this module builds the app, so every plugin's tasks are registered before the
consumer starts (Huey's import rule).
"""

from moviepulse.app import create_app

app = create_app()
huey = app.extensions["moviepulse"].huey
