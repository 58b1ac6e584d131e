"""The TMDB source: identity, facts and every translation in one request per movie.

``lookup`` asks ``/movie/{id}?language=en-US&append_to_response=translations`` (plus
``/find/{imdb}`` first when only an IMDb id is known), so all locales come from one call. It reads
localised text from the ``translations`` list, never from the top-level ``title`` (which TMDB
fills with the original title when a translation is missing).
"""

from __future__ import annotations

from typing import Any

from moviepulse.ingestion.errors import UpstreamNotFound
from moviepulse.ingestion.source import MovieRef, Source, SourceRecord, normalise_imdb_id

MAX_PAGE = 500
PAGE_SIZE = 20
LIST_ENDPOINTS = {"popular": "/movie/popular", "discover": "/discover/movie", "search": "/search/movie",
                  "top_rated": "/movie/top_rated"}


def _tag(entry: dict[str, Any]) -> str:
    lang = (entry.get("iso_639_1") or "").lower()
    region = (entry.get("iso_3166_1") or "").upper()
    return f"{lang}-{region}" if region else lang


class TmdbSource(Source):
    slug = "tmdb"
    label = "TMDB"
    role = "primary"
    priority = 10
    client_defaults = {"key_param": "api_key"}

    def details_params(self) -> dict[str, str]:
        return {"language": "en-US", "append_to_response": "translations"}

    def validator_key(self, ref: MovieRef) -> str | None:
        if ref.tmdb_id is None:
            return None
        return f"tmdb:/movie/{ref.tmdb_id}?language=en-US&append_to_response=translations"

    def find_tmdb_id(self, imdb_id: str) -> int | None:
        response = self.client.get(f"/find/{imdb_id}", {"external_source": "imdb_id"})
        results = (response.data or {}).get("movie_results") or []
        return int(results[0]["id"]) if results else None

    def lookup(self, ref: MovieRef, *, validators: dict[str, str | None] | None = None) -> SourceRecord | None:
        requests = 0
        tmdb_id = ref.tmdb_id
        if tmdb_id is None:
            imdb = normalise_imdb_id(ref.imdb_id)
            if imdb is None:
                return None
            tmdb_id = self.find_tmdb_id(imdb)
            requests += 1
            if tmdb_id is None:
                return None
            validators = None
        validators = validators or {}
        try:
            response = self.client.get(f"/movie/{tmdb_id}", self.details_params(),
                                       etag=validators.get("etag"), last_modified=validators.get("last_modified"))
        except UpstreamNotFound:
            return None
        requests += 1
        if response.not_modified:
            return SourceRecord(source=self.slug, tmdb_id=tmdb_id, imdb_id=ref.imdb_id, not_modified=True,
                                validators={"etag": response.etag or validators.get("etag"),
                                            "last_modified": response.last_modified or validators.get("last_modified")},
                                requests=requests)
        return self.record_from_details(response.data, requests=requests,
                                        validators={"etag": response.etag, "last_modified": response.last_modified})

    def record_from_details(self, data: dict[str, Any], *, requests: int = 1,
                            validators: dict[str, str | None] | None = None) -> SourceRecord:
        localized: dict[str, dict[str, str]] = {}
        for entry in ((data.get("translations") or {}).get("translations") or []):
            payload = entry.get("data") or {}
            localized[_tag(entry)] = {"title": payload.get("title") or payload.get("name") or "",
                                      "overview": payload.get("overview") or "",
                                      "tagline": payload.get("tagline") or ""}
        runtime = data.get("runtime")
        facts = {
            "original_title": data.get("original_title") or None,
            "release_date": data.get("release_date") or None,
            "runtime": int(runtime) if runtime else None,
            "genres": [g.get("name") for g in data.get("genres") or [] if g.get("name")] or None,
            "popularity": data.get("popularity"),
            "vote_average": data.get("vote_average") if data.get("vote_count") else None,
            "vote_count": data.get("vote_count") or None,
            "poster_path": data.get("poster_path") or None,
            "backdrop_path": data.get("backdrop_path") or None,
            "status": data.get("status") or None,
            "is_synthetic": bool(data.get("x_moviepulse_synthetic")),
        }
        return SourceRecord(source=self.slug, tmdb_id=int(data["id"]), imdb_id=normalise_imdb_id(data.get("imdb_id")),
                            original_language=data.get("original_language") or None, facts=facts,
                            localized=localized, validators=validators or {}, requests=requests)

    def discover(self, kind: str = "popular", limit: int = 20, **filters: Any) -> list[MovieRef]:
        path = LIST_ENDPOINTS.get(kind)
        if path is None:
            raise ValueError(f"unknown TMDB list {kind!r}; known: {sorted(LIST_ENDPOINTS)}")
        refs: list[MovieRef] = []
        seen: set[int] = set()
        page = 1
        while len(refs) < limit and page <= MAX_PAGE:
            params = {"page": page, "language": "en-US", **{k: v for k, v in filters.items() if v is not None}}
            data = self.client.get(path, params).data or {}
            results = data.get("results") or []
            for item in results:
                movie_id = int(item["id"])
                if movie_id not in seen:
                    seen.add(movie_id)
                    year = (item.get("release_date") or "")[:4]
                    refs.append(MovieRef(tmdb_id=movie_id, title=item.get("title"),
                                         year=int(year) if year.isdigit() else None))
            total_pages = min(MAX_PAGE, int(data.get("total_pages") or 0))
            if not results or page >= total_pages:
                break
            page += 1
        return refs[:limit]
