"""Movie metadata ingestion: sources as plugins, resilient HTTP, provenance, runs, backfill.

Modules: ``source`` (the ``Source`` interface), ``http`` (retrying, rate-limited, breaker-guarded
client), ``breaker``/``limits``/``state`` (shared resilience state), ``tmdb``/``omdb`` (the built-in
sources), ``provenance`` (field resolution), ``pipeline`` (import entry points), ``runs``,
``queueing`` (dedupe + task bodies), ``backfill``, ``queries`` (funnel, health), ``api``, ``cli``.
"""
