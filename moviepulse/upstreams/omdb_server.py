"""A fake OMDb API over the bundled catalogue, with OMDb's string formats and error habits.

Reproduced: ``apikey`` checks (401 ``No API key provided.`` / ``Invalid API key!``); a daily quota
per key (401 ``Request limit reached!``, default 1,000); ``i=`` (``Incorrect IMDb ID.``), ``t=``
(``Movie not found!``) and ``s=`` (10 per page, pages 1..100, ``totalResults`` as a string,
``Too many results.`` for 1–2 letter queries) answered with HTTP 200 and ``Response: "False"``;
every scalar a string with ``"N/A"`` for missing values; ``Runtime: "136 min"``,
``imdbVotes: "1,234"``, ``Released: "07 Nov 2014"``, ``Ratings`` (possibly ``[]``);
``plot=short|full`` and ``type=`` filters. Injected 5xx come as HTML pages (no JSON body).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from werkzeug.wrappers import Request, Response

from moviepulse.upstreams.faults import FaultMiddleware, FaultState, json_response

DEFAULT_API_KEYS = ("demo-omdb-key",)
IMDB_ID = re.compile(r"^tt\d{7,8}$")
SEARCH_PAGE = 10
MAX_SEARCH_PAGE = 100
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _false(error: str, status: int = 200) -> Response:
    return json_response({"Response": "False", "Error": error}, status)


def released(iso: str | None) -> str:
    try:
        d = date.fromisoformat(iso or "")
    except ValueError:
        return "N/A"
    return f"{d.day:02d} {MONTHS[d.month - 1]} {d.year}"


def na(value: Any) -> str:
    if value is None or value == "" or value == 0:
        return "N/A"
    return str(value)


class OmdbApp:
    def __init__(self, films: list[dict[str, Any]], api_keys: tuple[str, ...], state: FaultState) -> None:
        self.films = [f for f in films if f.get("omdb")]
        self.by_imdb = {f["imdb_id"]: f for f in self.films if f.get("imdb_id")}
        self.api_keys = set(api_keys)
        self.state = state

    def record(self, film: dict[str, Any], plot: str = "short") -> dict[str, Any]:
        o = film["omdb"]
        year = (film.get("release_date") or "")[:4] or "N/A"
        runtime = f"{int(film['runtime'])} min" if film.get("runtime") else "N/A"
        ratings = []
        if o.get("imdbRating") not in (None, "", "N/A"):
            ratings.append({"Source": "Internet Movie Database", "Value": f"{o['imdbRating']}/10"})
        if o.get("Metascore") not in (None, "", "N/A"):
            ratings.append({"Source": "Metacritic", "Value": f"{o['Metascore']}/100"})
        short_plot = o.get("Plot") or "N/A"
        full_plot = film.get("overview") or short_plot
        if plot == "full" and short_plot != "N/A" and full_plot and len(full_plot) > len(short_plot):
            text = full_plot
        else:
            text = short_plot
        return {
            "Title": film.get("title") or film.get("original_title"), "Year": year, "Rated": na(o.get("Rated")),
            "Released": released(film.get("release_date")), "Runtime": runtime,
            "Genre": ", ".join(film.get("genres") or []) or "N/A", "Director": na(o.get("Director")),
            "Writer": na(o.get("Writer")), "Actors": na(o.get("Actors")), "Plot": text,
            "Language": na(o.get("Language")), "Country": na(o.get("Country")), "Awards": na(o.get("Awards")),
            "Poster": (f"https://m.media-amazon.com/images/M/{film['imdb_id']}.jpg"
                       if film.get("poster_path") else "N/A"),
            "Ratings": ratings, "Metascore": na(o.get("Metascore")), "imdbRating": na(o.get("imdbRating")),
            "imdbVotes": na(o.get("imdbVotes")), "imdbID": film["imdb_id"], "Type": o.get("Type") or "movie",
            "DVD": "N/A", "BoxOffice": na(o.get("BoxOffice")), "Production": "N/A", "Website": "N/A",
            "Response": "True",
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.handle(request)(environ, start_response)

    def handle(self, request: Request) -> Response:
        if request.path not in ("/", ""):
            return Response("<html><body>Not Found</body></html>", 404, mimetype="text/html")
        args = request.args
        key = args.get("apikey")
        if not key:
            return _false("No API key provided.", 401)
        if key not in self.api_keys:
            return _false("Invalid API key!", 401)
        if self.state.quota_hit(key):
            return _false("Request limit reached!", 401)
        kind = args.get("type")
        if args.get("i") is not None:
            imdb = args["i"].strip().lower()
            film = self.by_imdb.get(imdb) if IMDB_ID.match(imdb) else None
            if film is None or (kind and film["omdb"].get("Type", "movie") != kind):
                return _false("Incorrect IMDb ID.")
            return json_response(self.record(film, args.get("plot", "short")))
        if args.get("t") is not None:
            title = args["t"].strip().lower()
            year = args.get("y")
            for film in self.films:
                if title in ((film.get("title") or "").lower(), (film.get("original_title") or "").lower()):
                    if year and (film.get("release_date") or "")[:4] != year:
                        continue
                    if kind and film["omdb"].get("Type", "movie") != kind:
                        continue
                    return json_response(self.record(film, args.get("plot", "short")))
            return _false("Movie not found!")
        if args.get("s") is not None:
            return self.search(args)
        return _false("Something went wrong.")

    def search(self, args: Any) -> Response:
        query = args["s"].strip().lower()
        if len(query) < 3:
            return _false("Too many results.")
        try:
            page = int(args.get("page", "1"))
        except ValueError:
            page = 1
        if page < 1 or page > MAX_SEARCH_PAGE:
            return _false("The offset specified in a OFFSET clause may not be negative." if page < 1
                          else "Movie not found!")
        kind = args.get("type")
        year = args.get("y")
        hits = [f for f in self.films
                if query in (f.get("title") or "").lower() or query in (f.get("original_title") or "").lower()]
        if kind:
            hits = [f for f in hits if f["omdb"].get("Type", "movie") == kind]
        if year:
            hits = [f for f in hits if (f.get("release_date") or "")[:4] == year]
        start = (page - 1) * SEARCH_PAGE
        chunk = hits[start:start + SEARCH_PAGE]
        if not chunk:
            return _false("Movie not found!")
        return json_response({
            "Search": [{"Title": f.get("title"), "Year": (f.get("release_date") or "")[:4] or "N/A",
                        "imdbID": f["imdb_id"], "Type": f["omdb"].get("Type", "movie"),
                        "Poster": self.record(f)["Poster"]} for f in chunk],
            "totalResults": str(len(hits)), "Response": "True",
        })


def injected_error_page(code: int) -> str:
    return f"<html><head><title>{code}</title></head><body>Service Unavailable</body></html>"


def throttle_body(limit: float) -> dict[str, Any]:
    return {"Response": "False", "Error": "Too many requests."}


def make_omdb_app(catalogue: list[dict[str, Any]] | None = None, *, api_keys: tuple[str, ...] = DEFAULT_API_KEYS,
                  daily_quota: int = 1000, faults: dict[str, Any] | None = None, seed: int | None = None) -> FaultMiddleware:
    """The fake OMDb as a WSGI app; ``app.state`` is its :class:`FaultState`."""
    if catalogue is None:
        from moviepulse.upstreams.fixtures import default_catalogue

        catalogue = default_catalogue()
    state = FaultState({"daily_quota": daily_quota, **(faults or {})}, seed=seed)
    inner = OmdbApp(catalogue, api_keys, state)
    app = FaultMiddleware(inner, state, injected_error_page, throttle_body)
    app.inner = inner  # type: ignore[attr-defined]
    return app
