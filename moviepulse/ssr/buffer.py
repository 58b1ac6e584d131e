"""The in-process telemetry buffer: what the hot path writes to instead of the database.

Everything is aggregated as it arrives: per (route template, minute) one :class:`RouteAgg` with a
latency sketch; per fingerprint one :class:`FingerprintHit`; per (upstream, minute) counters.
Only sampled audits are kept as rows. :meth:`TelemetryBuffer.take` swaps the contents out under
the lock, so the flush writes a consistent snapshot while requests keep recording; a failed flush
gives the snapshot back with :meth:`TelemetryBuffer.restore` (nothing is lost, aggregates merge).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from moviepulse.ssr.audit import ScoreRules, audit_html
from moviepulse.ssr.sketch import LatencySketch

UPSTREAM_COUNTERS = ("requests", "retries", "rate_limited", "budget_exhausted", "breaker_opened")
#: Columns of a buffered audit (``ssr_audits`` without its id), in the order of the hot path's tuples.
AUDIT_COLUMNS = ("recorded_at", "route", "path", "method", "status", "server_ms", "locale", "variant",
                 "request_id", "self_crawl", "html_bytes", "meta_count", "og_count", "ldjson_count",
                 "img_count", "blocking_scripts", "score", "failing")
_EPOCH = date(1970, 1, 1)


class RouteAgg:
    """One route template's requests within one minute."""

    __slots__ = ("sketch", "requests", "errors", "satisfied", "tolerating", "latency_sum", "latency_max",
                 "score_count", "score_sum", "score_min", "score_max")

    def __init__(self) -> None:
        self.sketch = LatencySketch()
        self.requests = 0
        self.errors = 0
        self.satisfied = 0
        self.tolerating = 0
        self.latency_sum = 0.0
        self.latency_max = 0.0
        self.score_count = 0
        self.score_sum = 0
        self.score_min: int | None = None
        self.score_max: int | None = None

    def add(self, ms: float, status: int, apdex_t_ms: float) -> None:
        self.sketch.add(ms)
        self.requests += 1
        self.latency_sum += ms
        if ms > self.latency_max:
            self.latency_max = ms
        if status >= 500:
            self.errors += 1  # an error is frustrated whatever its time
        elif ms <= apdex_t_ms:
            self.satisfied += 1
        elif ms <= 4 * apdex_t_ms:
            self.tolerating += 1

    def add_score(self, score: int) -> None:
        self.score_count += 1
        self.score_sum += score
        self.score_min = score if self.score_min is None else min(self.score_min, score)
        self.score_max = score if self.score_max is None else max(self.score_max, score)

    def merge(self, other: RouteAgg) -> RouteAgg:
        self.sketch.merge(other.sketch)
        self.requests += other.requests
        self.errors += other.errors
        self.satisfied += other.satisfied
        self.tolerating += other.tolerating
        self.latency_sum += other.latency_sum
        self.latency_max = max(self.latency_max, other.latency_max)
        self.score_count += other.score_count
        self.score_sum += other.score_sum
        for value in (other.score_min, other.score_max):
            if value is not None:
                self.score_min = value if self.score_min is None else min(self.score_min, value)
                self.score_max = value if self.score_max is None else max(self.score_max, value)
        return self


@dataclass
class FingerprintHit:
    """Occurrences of one fingerprint since the last flush."""

    fingerprint: str
    kind: str
    route: str
    title: str
    exc_type: str | None = None
    frames: list[str] = field(default_factory=list)
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    days: set[date] = field(default_factory=set)
    sample: dict[str, Any] = field(default_factory=dict)

    def seen(self, at: datetime, sample: dict[str, Any], n: int = 1) -> None:
        self.count += n
        self.first_seen = at if self.first_seen is None else min(self.first_seen, at)
        if self.last_seen is None or at >= self.last_seen:
            self.last_seen = at
            self.sample = sample
        self.days.add(at.date())

    def merge(self, other: FingerprintHit) -> None:
        self.count += other.count
        if other.first_seen is not None:
            mine = self.first_seen
            self.first_seen = other.first_seen if mine is None else min(mine, other.first_seen)
        if other.last_seen is not None and (self.last_seen is None or other.last_seen >= self.last_seen):
            self.last_seen = other.last_seen
            self.sample = other.sample
        self.days |= other.days


class CheckTally:
    """Occurrences of one failing score check on one route, counted from the buffered audits
    (epoch seconds, day numbers, the latest audit tuple as the sample) and turned into a
    :class:`FingerprintHit`."""

    __slots__ = ("check", "route", "count", "first_ts", "last_ts", "days", "sample")

    def __init__(self, check: str, route: str) -> None:
        self.check = check
        self.route = route
        self.count = 0
        self.first_ts = 0.0
        self.last_ts = 0.0
        self.days: set[int] = set()
        self.sample: tuple = ()

    def seen(self, ts: float, sample: tuple) -> None:
        if not self.count or ts < self.first_ts:
            self.first_ts = ts
        if ts >= self.last_ts:
            self.last_ts = ts
            self.sample = sample
        self.count += 1
        self.days.add(int(ts // 86400))

    def to_hit(self, hit: FingerprintHit) -> FingerprintHit:
        """Fill the empty ``hit`` with these occurrences."""
        _ts, _route, path, _m, _s, _ms, locale, _v, rid, _sc, size, meta, og, ld, img, blocking, score, _f = self.sample
        hit.count = self.count
        hit.first_seen = _naive_utc(self.first_ts)
        hit.last_seen = _naive_utc(self.last_ts)
        hit.days = {_EPOCH + timedelta(days=d) for d in self.days}
        hit.sample = {"request_id": rid, "path": path, "locale": locale, "score": score,
                      "counts": {"html_bytes": size, "meta_count": meta, "og_count": og, "ldjson_count": ld,
                                 "img_count": img, "blocking_scripts": blocking}}
        return hit


def _naive_utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


@dataclass
class Snapshot:
    routes: dict[tuple[str, int], RouteAgg] = field(default_factory=dict)
    audits: list[tuple | dict[str, Any]] = field(default_factory=list)  # AUDIT_COLUMNS tuples or dicts
    fingerprints: dict[str, FingerprintHit] = field(default_factory=dict)
    upstream: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)
    breakers: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # upstream -> (state, at)

    def __bool__(self) -> bool:
        return bool(self.routes or self.audits or self.fingerprints or self.upstream or self.breakers)


class TelemetryBuffer:
    """Thread-safe accumulation between flushes (one per process and app).

    The request path only appends plain tuples (a request; a sampled audit) under an uncontended
    lock; :meth:`take` folds them into per-route-minute aggregates and score-check fingerprints in
    one tight loop, off the request path. Same results, a fraction of the per-request cost: the
    folding code stays hot in the CPU caches instead of being re-entered cold between two pages.
    """

    def __init__(self, max_audits: int = 10_000) -> None:
        self.lock = threading.Lock()
        self.snap = Snapshot()
        self.requests: list[tuple[str, int, float, int, float, int | None]] = []  # not folded yet
        self.audits: list[tuple | dict[str, Any]] = []  # sampled audits whose failing checks are not counted yet
        self.pages: list[tuple[tuple, bytes]] = []  # sampled pages not audited yet: (row head, body)
        self.page_bytes = 0
        self.rules: ScoreRules | None = None  # the runtime sets this (the score rules of the deferred audits)
        self.audit_batch = 32  # the runtime sets these from SSR_AUDIT_BATCH and SSR_AUDIT_BATCH_BYTES
        self.audit_batch_bytes = 4 << 20
        self.signals = 0  # exceptions and upstream signals recorded since the last take()
        self.last_take = time.monotonic()
        self.max_audits = max_audits
        self.dropped_audits = 0
        self.due_items = 5000  # the runtime sets these from SSR_FLUSH_MAX_ITEMS and SSR_FLUSH_INTERVAL_SECONDS
        self.due_seconds = 10.0

    @property
    def pending(self) -> int:
        """Requests, exceptions and signals recorded since the last take() (audits ride along)."""
        return len(self.requests) + self.signals

    def has_data(self) -> bool:
        """Anything recorded and not yet taken (what exit hooks check before flushing)."""
        return bool(self.requests or self.audits or self.pages or self.signals or self.snap)

    # -- recording (hot path) --------------------------------------------------------
    def record_request(self, route: str, epoch_minute: int, ms: float, status: int, apdex_t_ms: float,
                       score: int | None = None) -> bool:
        """Count one request. True when the runtime should look at flushing: the first request since
        the last flush (the flusher may need starting), ``due_items`` pending, or ``due_seconds`` passed."""
        with self.lock:
            requests = self.requests
            requests.append((route, epoch_minute, ms, status, apdex_t_ms, score))
            pending = len(requests) + self.signals
        return pending >= self.due_items or pending == 1 or time.monotonic() - self.last_take >= self.due_seconds

    def record_audit(self, row: tuple | dict[str, Any]) -> None:
        """One sampled audit: a tuple in ``AUDIT_COLUMNS`` order (``recorded_at`` as epoch seconds,
        ``failing`` a sequence of check names; its failing checks become fingerprint occurrences when
        the buffer is taken), or a dict of the same columns (defaults may be left out; no fingerprints)."""
        if self.pages:
            self.audit_pages()  # keep the rows in the order they were recorded
        with self.lock:
            self.audits.append(row)  # rides along with its request: not counted towards a size flush

    def record_page(self, head: tuple, body: bytes) -> bool:
        """One sampled page whose audit is deferred: ``head`` is the audit row's first ten columns
        (``recorded_at`` … ``self_crawl``), ``body`` the response bytes (kept by reference, no copy).
        True when ``audit_batch`` pages or ``audit_batch_bytes`` are waiting: the caller should then
        run :meth:`audit_pages` (pages are audited in batches, where the scanner's code and data stay
        in the CPU caches, instead of one cold audit between two requests)."""
        with self.lock:
            pages = self.pages
            pages.append((head, body))
            self.page_bytes += len(body)
            return len(pages) >= self.audit_batch or self.page_bytes >= self.audit_batch_bytes

    def audit_pages(self) -> None:
        """Audit the waiting pages and buffer their rows (each with its score and failing checks)."""
        with self.lock:
            pages, self.pages = self.pages, []
            self.page_bytes = 0
        if not pages:
            return
        rows = audit_rows(pages, self.rules or ScoreRules())
        with self.lock:
            self.audits.extend(rows)

    def record_fingerprint(self, hit: FingerprintHit) -> None:
        with self.lock:
            existing = self.snap.fingerprints.get(hit.fingerprint)
            if existing is None:
                self.snap.fingerprints[hit.fingerprint] = hit
            else:
                existing.merge(hit)
            self.signals += 1

    def record_upstream(self, upstream: str, epoch_minute: int, counter: str, n: int = 1) -> None:
        with self.lock:
            counts = self.snap.upstream.get((upstream, epoch_minute))
            if counts is None:
                counts = self.snap.upstream[(upstream, epoch_minute)] = dict.fromkeys(UPSTREAM_COUNTERS, 0)
            counts[counter] += n
            self.signals += 1

    def record_breaker(self, upstream: str, state: str, at: datetime) -> None:
        with self.lock:
            self.snap.breakers[upstream] = (state, at)
            self.signals += 1

    # -- flushing --------------------------------------------------------------------
    def due(self, max_items: int, interval_s: float) -> bool:
        pending = self.pending
        return pending >= max_items or (pending > 0 and time.monotonic() - self.last_take >= interval_s)

    def take(self) -> Snapshot:
        self.audit_pages()  # the pages recorded since the last batch ride along with their requests
        with self.lock:
            snap, self.snap = self.snap, Snapshot()
            requests, self.requests = self.requests, []
            audits, self.audits = self.audits, []
            self.signals = 0
            self.last_take = time.monotonic()
        # Outside the lock: requests keep recording into the new snapshot meanwhile.
        _fold_requests(snap.routes, requests)
        _fold_audit_scores(snap.routes, audits)
        _fold_checks(snap, audits)  # only the new ones: a restored snapshot's audits were counted already
        snap.audits.extend(audits)
        if len(snap.audits) > self.max_audits:
            self.dropped_audits += len(snap.audits) - self.max_audits
            del snap.audits[self.max_audits:]
        return snap

    def restore(self, snap: Snapshot) -> None:
        """Merge a snapshot that could not be written back in (older data first)."""
        with self.lock:
            current, self.snap = self.snap, snap
            for key, agg in current.routes.items():
                mine = snap.routes.get(key)
                if mine is None:
                    snap.routes[key] = agg
                else:
                    mine.merge(agg)
            room = max(0, self.max_audits - len(snap.audits))
            self.dropped_audits += max(0, len(current.audits) - room)
            snap.audits.extend(current.audits[:room])
            for fp, hit in current.fingerprints.items():
                mine_hit = snap.fingerprints.get(fp)
                if mine_hit is None:
                    snap.fingerprints[fp] = hit
                else:
                    mine_hit.merge(hit)
            for key, counts in current.upstream.items():
                mine_counts = snap.upstream.setdefault(key, dict.fromkeys(UPSTREAM_COUNTERS, 0))
                for name, n in counts.items():
                    mine_counts[name] += n
            snap.breakers.update(current.breakers)  # newer state wins
            self.signals += len(snap.routes) + len(snap.audits) + len(snap.fingerprints)


def _fold_requests(routes: dict[tuple[str, int], RouteAgg], requests: list[tuple]) -> None:
    """Aggregate buffered requests into ``routes`` (per route template and minute)."""
    for route, minute, ms, status, apdex_t_ms, score in requests:
        key = (route, minute)
        agg = routes.get(key)
        if agg is None:
            agg = routes[key] = RouteAgg()
        agg.add(ms, status, apdex_t_ms)
        if score is not None:
            agg.add_score(score)


def audit_rows(pages: list[tuple[tuple, bytes]], rules: ScoreRules) -> list[tuple]:
    """Audit deferred pages: each ``(head, body)`` becomes a full ``AUDIT_COLUMNS`` tuple whose
    ``failing`` is a :class:`DeferredChecks` (so that its score is folded into the route aggregate
    exactly once, when the buffer is taken)."""
    rows = []
    for head, body in pages:
        audit = audit_html(body, rules)
        c = audit.counts
        rows.append(head + (c.html_bytes, c.meta, c.og, c.ldjson, c.img, c.blocking, audit.score,
                            DeferredChecks(audit.penalties)))
    return rows


class DeferredChecks(tuple):
    """The failing checks of a deferred audit: a plain tuple of check names whose type says that
    the audit's score still has to be added to its route-minute aggregate (an inline audit's score
    rides on its request tuple instead)."""

    __slots__ = ()


def _fold_audit_scores(routes: dict[tuple[str, int], RouteAgg], audits: list) -> None:
    """Add the scores of deferred audits to their route-minute aggregates (the request itself was
    counted without a score)."""
    for row in audits:
        if type(row) is tuple and type(row[-1]) is DeferredChecks:
            key = (row[1], int(row[0] // 60))
            agg = routes.get(key)
            if agg is None:
                agg = routes[key] = RouteAgg()
            agg.add_score(row[-2])


def _fold_checks(snap: Snapshot, audits: list) -> None:
    """Each failing check of each audit tuple is one occurrence of its score fingerprint."""
    from moviepulse.ssr.fingerprints import check_fingerprint, new_check_hit

    tallies: dict[str, CheckTally] = {}
    for row in audits:
        if isinstance(row, dict) or not row[-1]:
            continue
        ts, route = row[0], row[1]
        for check in row[-1]:
            fp = check_fingerprint(check, route)
            tally = tallies.get(fp)
            if tally is None:
                tally = tallies[fp] = CheckTally(check, route)
            tally.seen(ts, row)
    for fp, tally in tallies.items():
        hit = tally.to_hit(new_check_hit(tally.check, tally.route))
        existing = snap.fingerprints.get(fp)
        if existing is None:
            snap.fingerprints[fp] = hit
        else:
            existing.merge(hit)
