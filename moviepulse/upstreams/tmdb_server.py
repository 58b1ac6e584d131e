"""A fake TMDB v3 API over the bundled catalogue, with the real API's shapes and quirks.

Reproduced: ``api_key`` or ``Authorization: Bearer`` auth (401 / status_code 7, a short key sent
as Bearer fails too); 404 / status_code 34; ``language`` with no cross-language fallback (missing
``overview``/``tagline``/``homepage`` come back ``""`` and ``title`` falls back to
``original_title``, switchable to English); partial translations; ``pt-BR`` ≠ ``pt-PT``;
``append_to_response`` (``translations``, ``external_ids``; more than 20 items → 400 / 27);
``/movie/{id}/translations``; ``/find/{imdb}?external_source=imdb_id`` (always 200, five arrays);
``/movie/popular``, ``/discover/movie``, ``/search/movie`` with 20 per page and pages 1..500
(else 422 ``{"errors": [...]}``); ``/configuration``, ``/configuration/languages``,
``/configuration/primary_translations``, ``/genre/movie/list``; ``ETag``/``Last-Modified`` with
``304`` on a matching ``If-None-Match``; a per-IP limit answering 429 / status_code 25 with
``Retry-After`` (see :mod:`moviepulse.upstreams.faults` for run-time faults).
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from moviepulse.upstreams.faults import FaultMiddleware, FaultState, json_response

DEFAULT_API_KEYS = ("demo-tmdb-key",)
DEFAULT_BEARER_TOKENS = ("demo-tmdb-read-access-token-0123456789abcdef",)
PAGE_SIZE = 20
MAX_PAGE = 500
MAX_APPEND = 20
LAST_MODIFIED = "Mon, 02 Nov 2026 10:00:00 GMT"

GENRE_IDS = {
    "Action": 28, "Adventure": 12, "Animation": 16, "Comedy": 35, "Crime": 80, "Documentary": 99,
    "Drama": 18, "Family": 10751, "Fantasy": 14, "History": 36, "Horror": 27, "Music": 10402,
    "Mystery": 9648, "Romance": 10749, "Science Fiction": 878, "TV Movie": 10770, "Thriller": 53,
    "War": 10752, "Western": 37,
}

#: catalogue translation key -> (iso_639_1, iso_3166_1, english_name, native name)
LOCALE_TAGS: dict[str, tuple[str, str, str, str]] = {
    "en": ("en", "US", "English", "English"),
    "de": ("de", "DE", "German", "Deutsch"),
    "fr": ("fr", "FR", "French", "Français"),
    "es": ("es", "ES", "Spanish", "Español"),
    "pt-BR": ("pt", "BR", "Portuguese", "Português"),
    "pt-PT": ("pt", "PT", "Portuguese", "Português"),
    "it": ("it", "IT", "Italian", "Italiano"),
    "ja": ("ja", "JP", "Japanese", "日本語"),
}

LANGUAGES = [
    {"iso_639_1": "en", "english_name": "English", "name": "English"},
    {"iso_639_1": "de", "english_name": "German", "name": "Deutsch"},
    {"iso_639_1": "fr", "english_name": "French", "name": "Français"},
    {"iso_639_1": "es", "english_name": "Spanish", "name": "Español"},
    {"iso_639_1": "pt", "english_name": "Portuguese", "name": "Português"},
    {"iso_639_1": "it", "english_name": "Italian", "name": "Italiano"},
    {"iso_639_1": "ja", "english_name": "Japanese", "name": "日本語"},
    {"iso_639_1": "ko", "english_name": "Korean", "name": "한국어/조선말"},
    {"iso_639_1": "xx", "english_name": "No Language", "name": ""},
]

ERRORS = {
    7: (401, "Invalid API key: You must be granted a valid key."),
    9: (503, "Service offline - This service is temporarily offline, try again later."),
    11: (500, "Internal error: Something went wrong, contact TMDB."),
    24: (504, "Your request to the backend server timed out. Try again."),
    27: (400, "Too many append to response objects: The maximum number of remote calls is 20."),
    34: (404, "The resource you requested could not be found."),
    43: (502, "Couldn't connect to the backend server."),
    5: (422, "Invalid parameters: Your request parameters are incorrect."),
}
STATUS_TO_CODE = {500: 11, 502: 43, 503: 9, 504: 24}


def error_body(code: int) -> dict[str, Any]:
    return {"success": False, "status_code": code, "status_message": ERRORS[code][1]}


def error_response(code: int) -> Response:
    return json_response(error_body(code), ERRORS[code][0])


def injected_error_body(http_status: int) -> dict[str, Any]:
    return error_body(STATUS_TO_CODE.get(http_status, 11))


def throttle_body(limit: float) -> dict[str, Any]:
    return {"success": False, "status_code": 25,
            "status_message": f"Your request count (#) is over the allowed limit of ({int(limit)})."}


class TmdbCatalogue:
    """The catalogue indexed for the fake API."""

    def __init__(self, films: list[dict[str, Any]], title_fallback: str = "original") -> None:
        self.films = films
        self.by_id = {int(f["tmdb_id"]): f for f in films}
        self.by_imdb = {f["imdb_id"]: f for f in films if f.get("imdb_id")}
        self.title_fallback = title_fallback

    # -- translations -----------------------------------------------------------------------
    def translations(self, film: dict[str, Any]) -> list[dict[str, Any]]:
        out = [self._entry("en", {"title": film.get("title") or "", "overview": film.get("overview") or "",
                                  "tagline": film.get("tagline") or ""}, film)]
        for key, data in (film.get("translations") or {}).items():
            if key == "en" or key not in LOCALE_TAGS:
                continue
            out.append(self._entry(key, data or {}, film))
        return out

    @staticmethod
    def _entry(key: str, data: dict[str, Any], film: dict[str, Any]) -> dict[str, Any]:
        lang, region, english, native = LOCALE_TAGS[key]
        return {"iso_3166_1": region, "iso_639_1": lang, "name": native, "english_name": english,
                "data": {"title": data.get("title") or "", "overview": data.get("overview") or "",
                         "homepage": "", "tagline": data.get("tagline") or "",
                         "runtime": int(film.get("runtime") or 0) if data else 0}}

    def pick(self, film: dict[str, Any], language: str | None) -> dict[str, Any] | None:
        """The translation ``data`` for ``language`` (``xx`` or ``xx-YY``), or None. No fallback."""
        lang, _, region = (language or "en-US").partition("-")
        candidates = [t for t in self.translations(film) if t["iso_639_1"] == lang.lower()]
        if region:
            exact = [t for t in candidates if t["iso_3166_1"] == region.upper()]
            return exact[0]["data"] if exact else None
        return candidates[0]["data"] if candidates else None

    def localised(self, film: dict[str, Any], language: str | None) -> dict[str, str]:
        data = self.pick(film, language) or {}
        title = data.get("title") or ""
        if not title:
            title = film["original_title"] if self.title_fallback == "original" else film.get("title") or ""
        return {"title": title, "overview": data.get("overview") or "", "tagline": data.get("tagline") or "",
                "homepage": data.get("homepage") or ""}

    # -- shapes ---------------------------------------------------------------------------------
    def short(self, film: dict[str, Any], language: str | None) -> dict[str, Any]:
        loc = self.localised(film, language)
        return {
            "adult": False, "backdrop_path": film.get("backdrop_path"),
            "genre_ids": [GENRE_IDS.get(g, 18) for g in film.get("genres") or []],
            "id": int(film["tmdb_id"]), "original_language": film.get("original_language") or "en",
            "original_title": film["original_title"], "overview": loc["overview"],
            "popularity": float(film.get("popularity") or 0), "poster_path": film.get("poster_path"),
            "release_date": film.get("release_date") or "", "title": loc["title"], "video": False,
            "vote_average": float(film.get("vote_average") or 0), "vote_count": int(film.get("vote_count") or 0),
        }

    def details(self, film: dict[str, Any], language: str | None) -> dict[str, Any]:
        loc = self.localised(film, language)
        lang = film.get("original_language") or "en"
        return {
            "adult": False, "backdrop_path": film.get("backdrop_path"), "belongs_to_collection": None,
            "budget": 0, "genres": [{"id": GENRE_IDS.get(g, 18), "name": g} for g in film.get("genres") or []],
            "homepage": loc["homepage"], "id": int(film["tmdb_id"]), "imdb_id": film.get("imdb_id"),
            "origin_country": [], "original_language": lang, "original_title": film["original_title"],
            "overview": loc["overview"], "popularity": float(film.get("popularity") or 0),
            "poster_path": film.get("poster_path"), "production_companies": [], "production_countries": [],
            "release_date": film.get("release_date") or "", "revenue": 0,
            "runtime": int(film.get("runtime") or 0),
            "spoken_languages": [{"english_name": lang, "iso_639_1": lang, "name": ""}],
            "status": "Released", "tagline": loc["tagline"], "title": loc["title"], "video": False,
            "vote_average": float(film.get("vote_average") or 0), "vote_count": int(film.get("vote_count") or 0),
        }


def _page(args: Any) -> int | Response:
    raw = args.get("page", "1")
    try:
        page = int(raw)
    except ValueError:
        return json_response({"errors": ["page must be a number"]}, 422)
    if page > MAX_PAGE:
        return json_response({"errors": [f"page must be less than or equal to {MAX_PAGE}"]}, 422)
    if page < 1:
        return json_response({"errors": ["page must be greater than 0"]}, 422)
    return page


def _paged(items: list[dict[str, Any]], page: int) -> dict[str, Any]:
    start = (page - 1) * PAGE_SIZE
    return {"page": page, "results": items[start:start + PAGE_SIZE],
            "total_pages": max(1, math.ceil(len(items) / PAGE_SIZE)) if items else 0,
            "total_results": len(items)}


class TmdbApp:
    """The WSGI application (without faults; :func:`make_tmdb_app` wraps it)."""

    url_map = Map([
        Rule("/3/configuration", endpoint="configuration"),
        Rule("/3/configuration/languages", endpoint="languages"),
        Rule("/3/configuration/primary_translations", endpoint="primary_translations"),
        Rule("/3/genre/movie/list", endpoint="genres"),
        Rule("/3/movie/popular", endpoint="popular"),
        Rule("/3/movie/changes", endpoint="changes"),
        Rule("/3/discover/movie", endpoint="discover"),
        Rule("/3/search/movie", endpoint="search"),
        Rule("/3/find/<external_id>", endpoint="find"),
        Rule("/3/movie/<int:movie_id>", endpoint="details"),
        Rule("/3/movie/<int:movie_id>/translations", endpoint="translations"),
        Rule("/3/movie/<int:movie_id>/external_ids", endpoint="external_ids"),
    ])

    def __init__(self, catalogue: TmdbCatalogue, api_keys: tuple[str, ...] = DEFAULT_API_KEYS,
                 bearer_tokens: tuple[str, ...] = DEFAULT_BEARER_TOKENS, image_base: str = "http://127.0.0.1/t/p/") -> None:
        self.catalogue = catalogue
        self.api_keys = set(api_keys)
        self.bearer_tokens = set(bearer_tokens)
        self.image_base = image_base

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, values = self.url_map.bind_to_environ(environ).match()
        except NotFound:
            return error_response(34)(environ, start_response)
        except HTTPException as exc:
            return exc(environ, start_response)
        if not self._authorised(request):
            return error_response(7)(environ, start_response)
        response = getattr(self, f"on_{endpoint}")(request, **values)
        return self._conditional(request, response)(environ, start_response)

    def _authorised(self, request: Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:].strip() in self.bearer_tokens
        return request.args.get("api_key", "") in self.api_keys

    @staticmethod
    def _conditional(request: Request, response: Response) -> Response:
        if response.status_code != 200:
            return response
        body = response.get_data()
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        response.headers["ETag"] = etag
        response.headers["Last-Modified"] = LAST_MODIFIED
        response.headers["Cache-Control"] = "public, max-age=60"
        if request.headers.get("If-None-Match") == etag:
            not_modified = Response(status=304)
            not_modified.headers["ETag"] = etag
            not_modified.headers["Last-Modified"] = LAST_MODIFIED
            return not_modified
        return response

    def _film(self, movie_id: int) -> dict[str, Any] | None:
        return self.catalogue.by_id.get(int(movie_id))

    # -- configuration --------------------------------------------------------------------------
    def on_configuration(self, request: Request) -> Response:
        return json_response({
            "images": {
                "base_url": self.image_base, "secure_base_url": self.image_base.replace("http://", "https://"),
                "backdrop_sizes": ["w300", "w780", "w1280", "original"],
                "logo_sizes": ["w45", "w92", "w154", "w185", "w300", "w500", "original"],
                "poster_sizes": ["w92", "w154", "w185", "w342", "w500", "w780", "original"],
                "profile_sizes": ["w45", "w185", "h632", "original"],
                "still_sizes": ["w92", "w185", "w300", "original"],
            },
            "change_keys": ["overview", "runtime", "tagline", "title", "translations"],
        })

    def on_languages(self, request: Request) -> Response:
        return json_response(LANGUAGES)

    def on_primary_translations(self, request: Request) -> Response:
        return json_response(sorted({f"{t[0]}-{t[1]}" for t in LOCALE_TAGS.values()}))

    def on_genres(self, request: Request) -> Response:
        return json_response({"genres": [{"id": i, "name": n} for n, i in sorted(GENRE_IDS.items(), key=lambda x: x[1])]})

    # -- lists ------------------------------------------------------------------------------------
    def on_popular(self, request: Request) -> Response:
        page = _page(request.args)
        if isinstance(page, Response):
            return page
        films = sorted(self.catalogue.films, key=lambda f: (-float(f.get("popularity") or 0), int(f["tmdb_id"])))
        language = request.args.get("language")
        return json_response(_paged([self.catalogue.short(f, language) for f in films], page))

    def on_discover(self, request: Request) -> Response:
        page = _page(request.args)
        if isinstance(page, Response):
            return page
        args = request.args
        films = list(self.catalogue.films)
        if args.get("with_genres"):
            raw = args["with_genres"]
            groups = [g for g in raw.split(",") if g]
            for group in groups:  # comma = AND, pipe = OR
                wanted = {int(x) for x in group.split("|") if x.strip().isdigit()}
                films = [f for f in films if wanted & {GENRE_IDS.get(g, 18) for g in f.get("genres") or []}]
        if args.get("primary_release_year"):
            films = [f for f in films if (f.get("release_date") or "")[:4] == args["primary_release_year"]]
        for name, op in (("primary_release_date.gte", "ge"), ("release_date.gte", "ge"),
                         ("primary_release_date.lte", "le"), ("release_date.lte", "le")):
            if args.get(name):
                bound = args[name]
                films = [f for f in films if f.get("release_date") and
                         (f["release_date"] >= bound if op == "ge" else f["release_date"] <= bound)]
        if args.get("vote_count.gte"):
            films = [f for f in films if int(f.get("vote_count") or 0) >= float(args["vote_count.gte"])]
        if args.get("vote_average.gte"):
            films = [f for f in films if float(f.get("vote_average") or 0) >= float(args["vote_average.gte"])]
        if args.get("with_original_language"):
            films = [f for f in films if f.get("original_language") == args["with_original_language"]]
        field, _, direction = (args.get("sort_by") or "popularity.desc").partition(".")
        keys = {"popularity": lambda f: float(f.get("popularity") or 0),
                "vote_average": lambda f: float(f.get("vote_average") or 0),
                "vote_count": lambda f: int(f.get("vote_count") or 0),
                "primary_release_date": lambda f: f.get("release_date") or "",
                "release_date": lambda f: f.get("release_date") or "",
                "title": lambda f: f.get("title") or "", "original_title": lambda f: f.get("original_title") or "",
                "revenue": lambda f: 0}
        key = keys.get(field, keys["popularity"])
        films.sort(key=lambda f: (key(f), -int(f["tmdb_id"])), reverse=direction != "asc")
        language = args.get("language")
        return json_response(_paged([self.catalogue.short(f, language) for f in films], page))

    def on_search(self, request: Request) -> Response:
        query = (request.args.get("query") or "").strip().lower()
        if not query:
            return json_response({"errors": ["query must be provided"]}, 422)
        page = _page(request.args)
        if isinstance(page, Response):
            return page
        year = request.args.get("year") or request.args.get("primary_release_year")
        hits = []
        for film in self.catalogue.films:
            titles = [film.get("title") or "", film.get("original_title") or ""]
            titles += [(t or {}).get("title") or "" for t in (film.get("translations") or {}).values()]
            if any(query in t.lower() for t in titles) and (not year or (film.get("release_date") or "")[:4] == year):
                hits.append(film)
        hits.sort(key=lambda f: -float(f.get("popularity") or 0))
        language = request.args.get("language")
        return json_response(_paged([self.catalogue.short(f, language) for f in hits], page))

    def on_changes(self, request: Request) -> Response:
        start = request.args.get("start_date")
        end = request.args.get("end_date")
        try:
            d0 = date.fromisoformat(start) if start else None
            d1 = date.fromisoformat(end) if end else None
        except ValueError:
            return json_response({"success": False, "status_code": 23, "status_message": "Invalid date format."}, 400)
        if d0 and d1 and (d1 - d0).days > 14:
            return json_response({"success": False, "status_code": 20,
                                  "status_message": "Invalid date range: Should be a range no longer than 14 days."}, 422)
        page = _page(request.args)
        if isinstance(page, Response):
            return page
        items = [{"id": int(f["tmdb_id"]), "adult": False} for f in self.catalogue.films]
        start_i = (page - 1) * 100
        return json_response({"results": items[start_i:start_i + 100], "page": page,
                              "total_pages": max(1, math.ceil(len(items) / 100)), "total_results": len(items)})

    def on_find(self, request: Request, external_id: str) -> Response:
        source = request.args.get("external_source")
        if not source:
            return error_response(5)
        film = self.catalogue.by_imdb.get(external_id.lower()) if source == "imdb_id" else None
        movie_results = []
        if film is not None:
            movie_results = [{**self.catalogue.short(film, request.args.get("language")), "media_type": "movie"}]
        return json_response({"movie_results": movie_results, "person_results": [], "tv_results": [],
                              "tv_episode_results": [], "tv_season_results": []})

    # -- one movie --------------------------------------------------------------------------------
    def on_details(self, request: Request, movie_id: int) -> Response:
        film = self._film(movie_id)
        if film is None:
            return error_response(34)
        appends = [a.strip() for a in (request.args.get("append_to_response") or "").split(",") if a.strip()]
        if len(appends) > MAX_APPEND:
            return error_response(27)
        body = self.catalogue.details(film, request.args.get("language"))
        if "translations" in appends:
            body["translations"] = {"translations": self.catalogue.translations(film)}
        if "external_ids" in appends:
            body["external_ids"] = self._external_ids(film)
        if film.get("synthetic"):
            body["x_moviepulse_synthetic"] = True  # fake-server extension: the demo's made-up films
        return json_response(body)

    def on_translations(self, request: Request, movie_id: int) -> Response:
        film = self._film(movie_id)
        if film is None:
            return error_response(34)
        return json_response({"id": int(film["tmdb_id"]), "translations": self.catalogue.translations(film)})

    def on_external_ids(self, request: Request, movie_id: int) -> Response:
        film = self._film(movie_id)
        if film is None:
            return error_response(34)
        return json_response(self._external_ids(film))

    @staticmethod
    def _external_ids(film: dict[str, Any]) -> dict[str, Any]:
        return {"id": int(film["tmdb_id"]), "imdb_id": film.get("imdb_id"), "wikidata_id": None,
                "facebook_id": None, "instagram_id": None, "twitter_id": None}


def make_tmdb_app(catalogue: list[dict[str, Any]] | None = None, *, api_keys: tuple[str, ...] = DEFAULT_API_KEYS,
                  bearer_tokens: tuple[str, ...] = DEFAULT_BEARER_TOKENS, title_fallback: str = "original",
                  rate_limit: float = 40.0, faults: dict[str, Any] | None = None, seed: int | None = None) -> FaultMiddleware:
    """The fake TMDB as a WSGI app; ``app.state`` is its :class:`FaultState`."""
    if catalogue is None:
        from moviepulse.upstreams.fixtures import default_catalogue

        catalogue = default_catalogue()
    inner = TmdbApp(TmdbCatalogue(catalogue, title_fallback=title_fallback), api_keys, bearer_tokens)
    state = FaultState({"rate_limit": rate_limit, **(faults or {})}, seed=seed)
    app = FaultMiddleware(inner, state, injected_error_body, throttle_body)
    app.inner = inner  # type: ignore[attr-defined]
    return app


__all__ = ["make_tmdb_app", "TmdbApp", "TmdbCatalogue", "GENRE_IDS", "LOCALE_TAGS"]
