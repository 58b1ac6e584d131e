"""SSR telemetry: what the public pages cost to render and how healthy their HTML is.

Modules, one job each:

* :mod:`~moviepulse.ssr.middleware` — timing, Prometheus, sampled HTML audit, access log, exceptions;
* :mod:`~moviepulse.ssr.audit` — one-pass HTML counts and the score (penalties from settings);
* :mod:`~moviepulse.ssr.sketch` — mergeable log-bucket latency sketch (≤ 1 % relative error);
* :mod:`~moviepulse.ssr.buffer` / :mod:`~moviepulse.ssr.runtime` / :mod:`~moviepulse.ssr.store` —
  in-process aggregation, flushing (thread, size, time, exit), one transaction per flush;
* :mod:`~moviepulse.ssr.queries` — percentiles, Apdex, score trend, drops, fingerprints, alerts;
* :mod:`~moviepulse.ssr.fingerprints`, :mod:`~moviepulse.ssr.playbooks`, :mod:`~moviepulse.ssr.alerts`;
* :mod:`~moviepulse.ssr.upstream` — ingestion signals to per-minute counts and breaker states;
* :mod:`~moviepulse.ssr.tasks` — evaluate alerts, self-crawl, compact (:mod:`~moviepulse.ssr.compact`),
  prune; :mod:`~moviepulse.ssr.api` — admin API;
* :mod:`~moviepulse.ssr.settings` — every ``SSR_*`` setting.

Nothing here is imported by ``import moviepulse``; ``moviepulse.Playbook`` and
``moviepulse.AlertRule`` resolve lazily to :class:`~moviepulse.ssr.playbooks.Playbook` and
:class:`~moviepulse.ssr.alerts.AlertRule`.
"""
