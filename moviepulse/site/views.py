"""The public site blueprint: home, movie pages, trends leaderboard and search.

Views are thin: they resolve the visitor and locale, read through :mod:`moviepulse.site.catalog`
(cached), rank with :mod:`moviepulse.site.recommender`, record impressions/clicks/views through
:func:`moviepulse.site.tracking.record_events` and render Jinja templates.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import BaseConverter

from moviepulse.extensions import db
from moviepulse.models.base import utcnow
from moviepulse.models.events import PLACEMENTS, VARIANTS
from moviepulse.site import catalog, i18n
from moviepulse.site.device import current_visitor, set_visitor_cookies
from moviepulse.site.rails import Card, Rail, build_rail, card_from_candidate, movie_path, render_rail
from moviepulse.site.recommender import recommend
from moviepulse.site.security import apply_security_headers, csp_nonce
from moviepulse.site.tracking import record_events

log = logging.getLogger("moviepulse.site")

MOVIE_TYPES = ("movie", "series", "animation")
MAX_POSITION = 100
POSITION_PATTERN = re.compile(r"^[0-9]{1,3}$")
YEAR_MIN, YEAR_MAX = 1870, 2100

bp = Blueprint("site", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/site")


class LocaleConverter(BaseConverter):
    """A locale-shaped path segment (``en``, ``pt-BR``); whether it is configured is checked in the view."""

    regex = r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?"


def locales() -> list[str]:
    return list(current_app.config.get("LOCALES") or ["en"])


@bp.after_request
def _after(response: Response) -> Response:
    set_visitor_cookies(response)
    apply_security_headers(response)
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "private, no-store")
    return response


@bp.app_template_global("csp_nonce")
def _csp_nonce() -> str:
    return csp_nonce()


@bp.app_template_global("rail_html")
def _rail_html(rail: Rail, heading: str, element_id: str) -> Any:
    from flask import g

    return render_rail(rail, heading, element_id, i18n.translate(g.get("mp_locale") or "en", "clicks"))


def _resolve_locale(locale: str) -> str:
    """The configured locale; a differently-cased one redirects, an unknown one is a 404."""
    from flask import g

    configured = locales()
    if locale in configured:
        g.mp_locale = locale
        return locale
    canonical = i18n.canonical_locale(locale, configured)
    if canonical:
        path = request.full_path if request.query_string else request.path
        abort(redirect(canonical.join(path.split(locale, 1)), 301))
    abort(404)


def _track(rows: list[dict[str, Any]]) -> None:
    """Record page events; a failing write is logged, never a failed page."""
    visitor = current_visitor()
    if not rows or not visitor.tracking_allowed:
        return
    now = utcnow()
    for r in rows:
        r.setdefault("event_time", now)
        r.update(device_id=visitor.device_id, device_type=visitor.device_type, is_bot=visitor.is_bot,
                 origin="server")
    try:
        record_events(db.session, rows)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not record %d page events", len(rows))


def _impressions(rail: Rail, locale: str) -> list[dict[str, Any]]:
    return [{"type": "impression", "movie_id": c.movie_id, "placement": rail.placement, "variant": rail.variant,
             "position": c.position, "locale": locale} for c in rail.cards]


def _absolute(path: str) -> str:
    base = (current_app.config.get("SITE_BASE_URL") or request.host_url).rstrip("/")
    return base + path


PAGE_PATHS = {"site.home": "/{locale}/", "site.trends": "/{locale}/trends", "site.search": "/{locale}/search",
              "site.movie": "/{locale}/movies/{movie_id}"}


def _path(endpoint: str, locale: str, values: dict[str, Any]) -> str:
    return request.script_root + PAGE_PATHS[endpoint].format(locale=locale, **values)


def _urls(locale: str) -> dict[str, str]:
    root = request.script_root
    return {"home": f"{root}/{locale}/", "trends": f"{root}/{locale}/trends", "search": f"{root}/{locale}/search",
            "css": f"{root}/static/site/site.css"}


def _page(template: str, locale: str, endpoint: str, values: dict[str, Any], **context: Any) -> str:
    return render_template(
        template, locale=locale, locales=locales(), language_names=i18n.LANGUAGE_NAMES,
        s=i18n.strings(locale), urls=_urls(locale),
        site_name=current_app.config.get("SITE_NAME", "MoviePulse"),
        canonical=_absolute(_path(endpoint, locale, values)),
        alternates=[{"locale": loc, "href": _absolute(_path(endpoint, loc, values))} for loc in locales()],
        x_default=_absolute(_path(endpoint, locales()[0], values)),
        og_locale=i18n.og_locale(locale),
        og_locale_alternates=[i18n.og_locale(x) for x in locales() if x != locale],
        **context)


# -- routes ------------------------------------------------------------------------------------

@bp.get("/")
def root() -> Response:
    """Negotiate Accept-Language and redirect to that locale's home page."""
    locale = i18n.negotiate(request.headers.get("Accept-Language"), locales())
    response = redirect(url_for("site.home", locale=locale), 302)
    response.headers["Vary"] = "Accept-Language"
    return response


@bp.get("/<locale:locale>/", strict_slashes=False)
def home(locale: str) -> str:
    locale = _resolve_locale(locale)
    visitor = current_visitor()
    session = db.session
    snap = catalog.snapshot(session)
    cfg = current_app.config
    recs = recommend(session, visitor.device_id, visitor.variant, snap.candidates,
                     weights_setting=cfg.get("REC_WEIGHTS"), current_year=utcnow().year,
                     limit=int(cfg.get("SITE_HOME_RAIL_SIZE", 12))) or snap.by_votes[:12]
    trending_items = catalog.leaderboard(session, days=7, limit=int(cfg.get("SITE_TRENDING_RAIL_SIZE", 8)))
    trending = [snap.movies.get(item["movie_id"]) for item in trending_items]
    clicks = {item["movie_id"]: item.get("clicks") for item in trending_items}
    ids = [c.id for c in recs] + [c.id for c in trending if c is not None]
    titles = catalog.localised_titles(session, ids, locale)
    rec_rail = build_rail("home", visitor.variant, locale, [card_from_candidate(c, titles) for c in recs])
    trend_rail = build_rail("trends", visitor.variant, locale,
                            [card_from_candidate(c, titles, clicks=clicks.get(c.id)) for c in trending if c])
    _track(_impressions(rec_rail, locale) + _impressions(trend_rail, locale))
    return _page("site/home.html", locale, "site.home", {}, rails=[rec_rail, trend_rail],
                 title=current_app.config.get("SITE_NAME", "MoviePulse"))


def parse_click(args: Any) -> tuple[str, str, int] | None:
    """``(placement, variant, position)`` from a rail link's query, or None when any is invalid."""
    placement, variant, pos = args.get("placement"), args.get("variant"), args.get("pos")
    if placement not in PLACEMENTS or variant not in VARIANTS or not POSITION_PATTERN.match(pos or ""):
        return None
    if not 1 <= int(pos) <= MAX_POSITION:
        return None
    return str(placement), str(variant), int(pos)


@bp.get("/<locale:locale>/movies/<int:movie_id>")
def movie(locale: str, movie_id: int) -> str:
    locale = _resolve_locale(locale)
    session = db.session
    film = catalog.movie_detail(session, movie_id)
    if film is None:
        abort(404)
    visitor = current_visitor()
    fields = catalog.localised_fields(session, movie_id, locale)
    title = fields.get("title") or film.title
    overview = fields.get("overview") or film.overview or ""
    tagline = fields.get("tagline") or ""
    snap = catalog.snapshot(session)
    similar = catalog.similar(snap, movie_id, film.genres or (), int(current_app.config.get("SITE_SIMILAR_RAIL_SIZE", 12)))
    titles = catalog.localised_titles(session, [c.id for c in similar], locale)
    similar_rail = build_rail("show", visitor.variant, locale, [card_from_candidate(c, titles) for c in similar])
    click = parse_click(request.args)
    rows: list[dict[str, Any]] = []
    if click:
        rows.append({"type": "click", "movie_id": movie_id, "placement": click[0], "variant": click[1],
                     "position": click[2], "locale": locale})
    rows.append({"type": "view", "movie_id": movie_id, "placement": click[0] if click else None,
                 "variant": visitor.variant, "position": click[2] if click else None, "locale": locale})
    _track(rows + _impressions(similar_rail, locale))
    canonical = _absolute(movie_path(locale, movie_id))
    poster = Card.poster_url_of(film.poster_path)
    image = _absolute(poster) if poster and poster.startswith("/") else (
        poster or _absolute(url_for("site.static", filename="og-default.svg")))
    jsonld: dict[str, Any] = {"@context": "https://schema.org", "@type": "Movie", "name": title, "url": canonical,
                              "image": image, "inLanguage": locale}
    if overview:
        jsonld["description"] = overview[:500]
    if film.genres:
        jsonld["genre"] = list(film.genres)
    if film.runtime_min:
        jsonld["duration"] = f"PT{int(film.runtime_min)}M"
    if film.release_date:
        jsonld["datePublished"] = film.release_date.isoformat()
    elif film.year:
        jsonld["datePublished"] = str(film.year)
    if film.imdb_rating and film.imdb_votes:
        jsonld["aggregateRating"] = {"@type": "AggregateRating", "ratingValue": film.imdb_rating,
                                     "ratingCount": film.imdb_votes, "bestRating": 10, "worstRating": 1}
    if film.imdb_id:
        jsonld["sameAs"] = f"https://www.imdb.com/title/{film.imdb_id}/"
    return _page("site/movie.html", locale, "site.movie", {"movie_id": movie_id}, film=film, title=title,
                 overview=overview, tagline=tagline, poster=poster, og_image=image, rail=similar_rail,
                 jsonld=jsonld, description=(overview or title)[:160], og_description=(overview or title)[:200])


def _int_arg(args: Any, name: str, low: int, high: int) -> int | None:
    raw = (args.get(name) or "").strip()
    if not re.fullmatch(r"-?[0-9]{1,6}", raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def _filters(args: Any) -> dict[str, Any]:
    """type / genre / yf / yt, lenient: invalid values are ignored, an inverted year range swapped."""
    type_ = args.get("type") if args.get("type") in MOVIE_TYPES else None
    genre = (args.get("genre") or "").replace("\x00", "").strip().lower()[:50] or None
    yf, yt = _int_arg(args, "yf", YEAR_MIN, YEAR_MAX), _int_arg(args, "yt", YEAR_MIN, YEAR_MAX)
    if yf and yt and yf > yt:
        yf, yt = yt, yf
    return {"type": type_, "genre": genre, "year_from": yf, "year_to": yt}


@bp.get("/<locale:locale>/trends")
def trends(locale: str) -> str:
    locale = _resolve_locale(locale)
    visitor = current_visitor()
    session = db.session
    days = _int_arg(request.args, "days", 1, 30) or 7
    filters = _filters(request.args)
    items = catalog.leaderboard(session, days=days, limit=40, **filters)
    snap = catalog.snapshot(session)
    titles = catalog.localised_titles(session, [i["movie_id"] for i in items], locale)
    cards = []
    for item in items:
        cand = snap.movies.get(item["movie_id"])
        if cand is not None:
            cards.append(card_from_candidate(cand, titles, clicks=item.get("clicks")))
    rail = build_rail("trends", visitor.variant, locale, cards)
    _track(_impressions(rail, locale))
    return _page("site/trends.html", locale, "site.trends", {}, rail=rail, days=days, filters=filters,
                 genres=sorted(snap.genre_index), types=MOVIE_TYPES, day_choices=(1, 3, 7, 14, 30),
                 title=i18n.translate(locale, "leaderboard"))


class SearchParams:
    """Search parameters; ``errors`` lists what a strict (JSON) caller got wrong."""

    def __init__(self, args: Any) -> None:
        self.errors: list[str] = []
        self.q = (args.get("q") or "").replace("\x00", "").strip()  # NUL: PostgreSQL refuses it in text
        if len(self.q) > 200:
            self.errors.append("'q' may be at most 200 characters")
            self.q = self.q[:200]
        raw_type = args.get("type") or ""
        self.type = raw_type if raw_type in MOVIE_TYPES else None
        if raw_type and self.type is None:
            self.errors.append(f"'type' must be one of {', '.join(MOVIE_TYPES)}")
        self.genre = (args.get("genre") or "").replace("\x00", "").strip().lower() or None
        if self.genre and len(self.genre) > 50:
            self.errors.append("'genre' may be at most 50 characters")
            self.genre = None
        self.year_from = self._int(args, "yf", 0, YEAR_MAX)
        self.year_to = self._int(args, "yt", 0, YEAR_MAX)
        self.year_from = self.year_from if self.year_from and self.year_from >= YEAR_MIN else None
        self.year_to = self.year_to if self.year_to and self.year_to >= YEAR_MIN else None
        if self.year_from and self.year_to and self.year_from > self.year_to:
            self.year_from, self.year_to = self.year_to, self.year_from
        self.per = self._int(args, "per", 1, 50) or 20

    def _int(self, args: Any, name: str, low: int, high: int) -> int | None:
        raw = args.get(name)
        if raw in (None, ""):
            return None
        text = str(raw).strip()
        if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 6 or not low <= int(text) <= high:
            self.errors.append(f"'{name}' must be an integer from {low} to {high}")
            return None
        return int(text)

    @property
    def active(self) -> bool:
        return bool(self.q or self.type or self.genre or self.year_from or self.year_to)

    def as_dict(self) -> dict[str, Any]:
        return {"q": self.q, "type": self.type, "genre": self.genre, "yf": self.year_from, "yt": self.year_to,
                "per": self.per}


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"], default="text/html")
    return best == "application/json"


@bp.get("/<locale:locale>/search")
def search(locale: str) -> Any:
    locale = _resolve_locale(locale)
    params = SearchParams(request.args)
    as_json = wants_json()
    if as_json and params.errors:
        return jsonify({"error": "bad_request", "reason": "; ".join(params.errors)}), 400
    if params.errors:
        html = _page("site/search.html", locale, "site.search", {}, rail=build_rail("search", "A", locale, []),
                     params=params, types=MOVIE_TYPES, title=i18n.translate(locale, "search"))
        return Response(html, 400, mimetype="text/html")
    session = db.session
    films = catalog.search(session, q=params.q, type=params.type, genre=params.genre, year_from=params.year_from,
                           year_to=params.year_to, locale=locale, limit=params.per) if params.active else []
    titles = catalog.localised_titles(session, [m.id for m in films], locale)
    if as_json:
        items = [{"id": m.id, "title": titles.get(m.id) or m.title, "original_title": m.original_title,
                  "year": m.year, "type": m.type, "genres": list(m.genres or []), "imdb_id": m.imdb_id,
                  "imdb_rating": m.imdb_rating, "imdb_votes": m.imdb_votes, "weighted_score": m.weighted_score,
                  "poster_url": Card.poster_url_of(m.poster_path),
                  "url": movie_path(locale, m.id)} for m in films]
        return jsonify({"locale": locale, "query": params.as_dict(), "count": len(items), "items": items})
    visitor = current_visitor()
    cards = [Card.from_movie(m, titles) for m in films]
    rail = build_rail("search", visitor.variant, locale, cards)
    _track(_impressions(rail, locale))
    return _page("site/search.html", locale, "site.search", {}, rail=rail, params=params, types=MOVIE_TYPES,
                 title=i18n.translate(locale, "search"))


@bp.errorhandler(404)
def not_found(_error: Any) -> Any:
    """404 raised by a site view (unknown locale, movie): a localised page, or JSON when asked for."""
    from flask import g

    if wants_json():
        return jsonify({"error": "not_found", "reason": "no such resource"}), 404
    locale = g.get("mp_locale") or locales()[0]
    g.mp_locale = locale
    html = render_template("site/404.html", locale=locale, locales=locales(), language_names=i18n.LANGUAGE_NAMES,
                           s=i18n.strings(locale), urls=_urls(locale),
                           site_name=current_app.config.get("SITE_NAME", "MoviePulse"), alternates=[],
                           title=i18n.translate(locale, "not_found"))
    return Response(html, 404, mimetype="text/html")
