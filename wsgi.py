"""WSGI entry point: ``gunicorn wsgi:app``."""

from moviepulse.app import create_app

app = create_app()
