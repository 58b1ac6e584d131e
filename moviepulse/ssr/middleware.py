"""The request-timing and HTML-audit middleware; works on any Flask app.

:func:`install` adds three small pieces, none of which touches the response:

* a WSGI wrapper that stamps ``environ["moviepulse.ssr.t0"]`` on entry (so server time includes
  every ``before_request`` hook);
* an ``after_request`` hook (registered first, so it runs after the other hooks have shaped the
  response) that observes Prometheus, records the route-minute aggregate for HTML responses on
  monitored routes, hands the body of sampled 2xx ones to the buffer, which audits such pages in
  batches of ``SSR_AUDIT_BATCH`` (redirect and error pages are timed, not scored; when the access
  log is on, the page is audited at once so that its line carries the score), and writes the
  access-log line;
* a ``got_request_exception`` receiver that fingerprints an unhandled exception — Flask re-raises
  or turns it into a 500 exactly as without the middleware.

Streaming responses (``response.is_streamed``, ``direct_passthrough``) are never read or audited
(their time is the handler's, up to the first byte). Non-HTML responses are never read and get
Prometheus and the log line only.

Views and other code may call :func:`request_info` for the request's attributes.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, got_request_exception, has_request_context, request

from moviepulse.core.observability import prom
from moviepulse.core.requestctx import REQUEST_ID_KEY
from moviepulse.models.base import utcnow
from moviepulse.ssr.audit import audit_html
from moviepulse.ssr.fingerprints import exception_hit
from moviepulse.ssr.runtime import SsrRuntime, runtime, sampled

T0_KEY = "moviepulse.ssr.t0"
SELF_CRAWL_KEY = "moviepulse.self_crawl"
DONE_KEY = "moviepulse.ssr.done"
access_log = logging.getLogger("moviepulse.access")

#: Field names of the access-log line (the message is "request"); stable, documented, tested.
ACCESS_LOG_FIELDS = ("request_id", "method", "path", "route", "status", "duration_ms", "locale", "variant",
                     "monitored", "audited", "score", "bytes", "self_crawl")

_perf = time.perf_counter
_crc32 = zlib.crc32
_time = time.time
_request_object = request._get_current_object  # type: ignore[attr-defined]
_g_object = g._get_current_object  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RequestInfo:
    """What the middleware knows about the current request."""

    request_id: str | None
    route: str
    method: str
    path: str
    locale: str | None
    variant: str | None
    monitored: bool
    sampled: bool
    self_crawl: bool
    started: float | None  # perf_counter() at WSGI entry

    def elapsed_ms(self) -> float | None:
        return None if self.started is None else (_perf() - self.started) * 1000.0


def route_label() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "404"


def _locale(gd: dict[str, Any], view_args: dict[str, Any] | None) -> str | None:
    value = gd.get("mp_locale") or gd.get("locale")
    if value is None and view_args:
        value = view_args.get("locale")
    return value


def _variant(gd: dict[str, Any]) -> str | None:
    value = gd.get("variant")
    if value is None:
        value = getattr(gd.get("mp_visitor"), "variant", None)
    return value


def request_locale() -> str | None:
    return _locale(_g_object().__dict__, request.view_args)


def request_variant() -> str | None:
    return _variant(_g_object().__dict__)


def request_info() -> RequestInfo | None:
    """The current request's attributes (None outside a request or without the middleware)."""
    if not has_request_context():
        return None
    from flask import current_app

    rt = current_app.extensions.get("moviepulse.ssr")
    route = route_label()
    decision = rt.decision(route) if rt is not None else None
    rid = g.get("request_id")
    self_crawl = bool(request.environ.get(SELF_CRAWL_KEY))
    monitored = bool(decision and decision.monitored)
    return RequestInfo(
        request_id=rid, route=route, method=request.method, path=request.path, locale=request_locale(),
        variant=request_variant(), monitored=monitored,
        sampled=monitored and (self_crawl or sampled(rid, decision.sample_rate)),  # type: ignore[union-attr]
        self_crawl=self_crawl, started=request.environ.get(T0_KEY))


class _Stamp:
    """WSGI wrapper: remember when the request entered the app."""

    __slots__ = ("inner",)

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ[T0_KEY] = _perf()
        return self.inner(environ, start_response)


def install(app: Flask) -> SsrRuntime:
    """Install the middleware on ``app`` (idempotent)."""
    rt = runtime(app)
    if app.extensions.get("moviepulse.ssr.installed"):
        return rt
    app.extensions["moviepulse.ssr.installed"] = True
    app.wsgi_app = _Stamp(app.wsgi_app)  # type: ignore[method-assign]
    observe = prom(app).http.observe if "moviepulse.prom" in app.extensions else None
    decisions = rt._decisions

    def after(response: Response) -> Response:
        req = _request_object()
        environ = req.environ
        t0 = environ.get(T0_KEY)
        if t0 is None or DONE_KEY in environ:
            return response
        seconds = _perf() - t0
        rule = req.url_rule
        route = rule.rule if rule is not None else "404"
        status = response.status_code
        method = req.method
        if observe is not None:
            observe(route, method, status, seconds)
        decision = decisions.get(route) or rt.decision(route)
        ms = seconds * 1000.0
        monitored = decision.monitored and _is_html(response)
        audited = False
        score = None
        self_crawl = SELF_CRAWL_KEY in environ
        if monitored:
            now = _time()
            rate = decision.sample_rate
            if (rate > 0.0 or self_crawl) and 200 <= status < 300 and not (
                    response.direct_passthrough or response.is_streamed):
                rid = environ.get(REQUEST_ID_KEY) or g.get("request_id")
                # sampled(rid, rate), inlined
                if self_crawl or (rid and (rate >= 1.0 or _crc32(rid.encode()) < rate * 4294967296.0)):
                    audited = True
                    if rt.access_log and access_log.isEnabledFor(logging.INFO):
                        score = _audit(rt, req, response, route, ms, status, rid, self_crawl, now)  # for the line
                    elif rt.buffer.record_page(_audit_head(req, route, ms, status, rid, self_crawl, now),
                                               _body(response)):
                        rt.buffer.audit_pages()
            if rt.buffer.record_request(route, int(now // 60), ms, status, rt.apdex_t_ms, score):
                rt.flush_due()
        if rt.access_log and access_log.isEnabledFor(logging.INFO):
            _log_line(method, route, status, ms, monitored, audited, score, response, self_crawl)
        return response

    def on_exception(sender: Flask, exception: BaseException, **_: Any) -> None:
        try:
            _fingerprint_exception(sender, rt, exception)
        except Exception:  # noqa: BLE001 - never replace the view's exception with ours
            logging.getLogger("moviepulse.ssr").exception("could not fingerprint an exception")

    app.after_request_funcs.setdefault(None, []).insert(0, after)
    got_request_exception.connect(on_exception, app, weak=False)
    app.extensions["moviepulse.ssr.receiver"] = on_exception
    return rt


def _is_html(response: Response) -> bool:
    """``response.mimetype == "text/html"`` without parsing the header in the common case
    (``text/html`` or ``text/html; charset=…`` exactly); anything else takes the exact property.
    The headers are walked directly: ``Content-Type`` is set first, so this is one comparison."""
    for key, value in response.headers:
        if key == "Content-Type" or key.lower() == "content-type":
            if value.startswith("text/html") and (len(value) == 9 or value[9] == ";"):
                return True
            break
    return response.mimetype == "text/html"


def _body(response: Response) -> bytes:
    """The body bytes, without the copy ``get_data()`` makes when it is one bytes chunk already."""
    chunks = response.response
    if type(chunks) is list and len(chunks) == 1 and type(chunks[0]) is bytes:
        return chunks[0]
    return response.get_data()


def _audit_head(req: Any, route: str, ms: float, status: int, rid: str | None, self_crawl: bool,
                now: float) -> tuple:
    """The request's part of its audit row: ``AUDIT_COLUMNS`` up to ``self_crawl``."""
    gd = _g_object().__dict__
    return (now, route, req.path[:512], req.method, status, round(ms, 3), _locale(gd, req.view_args),
            _variant(gd), rid, self_crawl)


def _audit(rt: SsrRuntime, req: Any, response: Response, route: str, ms: float, status: int, rid: str | None,
           self_crawl: bool, now: float) -> int:
    """Audit the body now (the access-log line wants its score) and buffer the result as one tuple
    (its row and the fingerprints of its failing checks are built when the buffer is taken)."""
    audit = audit_html(_body(response), rt.rules)
    c = audit.counts
    rt.buffer.record_audit(_audit_head(req, route, ms, status, rid, self_crawl, now)
                           + (c.html_bytes, c.meta, c.og, c.ldjson, c.img, c.blocking, audit.score,
                              tuple(audit.penalties)))
    return audit.score


def _fingerprint_exception(app: Flask, rt: SsrRuntime, exception: BaseException) -> None:
    route = route_label()
    rid = g.get("request_id")
    context = {"request_id": rid, "method": request.method, "path": request.path, "locale": request_locale()}
    rt.buffer.record_fingerprint(exception_hit(exception, route, utcnow(), context, rt.in_app_modules))
    propagate = app.config.get("PROPAGATE_EXCEPTIONS")
    if propagate is None:
        propagate = app.testing or app.debug
    if propagate:
        # after_request will not run: record the failed request here (as the 500 it becomes).
        t0 = request.environ.get(T0_KEY)
        if t0 is not None:
            seconds = _perf() - t0
            request.environ[DONE_KEY] = True
            if "moviepulse.prom" in app.extensions:
                prom(app).observe_request(route, request.method, 500, seconds)
            if rt.decision(route).monitored:
                rt.buffer.record_request(route, int(time.time() // 60), seconds * 1000.0, 500, rt.apdex_t_ms)
            if rt.access_log and access_log.isEnabledFor(logging.INFO):
                _log_line(request.method, route, 500, seconds * 1000.0, rt.decision(route).monitored, False,
                          None, None, SELF_CRAWL_KEY in request.environ)
    rt.after_record()


def _log_line(method: str, route: str, status: int, ms: float, monitored: bool, audited: bool,
              score: int | None, response: Response | None, self_crawl: bool) -> None:
    access_log.info("request", extra={
        "request_id": g.get("request_id"), "method": method, "path": request.path, "route": route,
        "status": status, "duration_ms": round(ms, 3), "locale": request_locale(),
        "variant": request_variant(),
        "monitored": monitored, "audited": audited, "score": score,
        "bytes": _length(response),
        "self_crawl": self_crawl,
    })


def _length(response: Response | None) -> int | None:
    """Body length without ever consuming a streamed body (``calculate_content_length`` would)."""
    if response is None:
        return None
    header = response.headers.get("Content-Length")
    if header is not None and header.isdigit():
        return int(header)
    body = response.response
    if isinstance(body, (list, tuple)) and not response.direct_passthrough:
        return sum(len(chunk) for chunk in body)
    return None
