"""gunicorn settings shared by `make run`, the parity tests and production: every worker flushes
its own SSR telemetry buffer when it exits, so no sample is lost on restart or shutdown."""

from moviepulse.ssr.runtime import gunicorn_worker_exit

worker_exit = gunicorn_worker_exit
graceful_timeout = 15
