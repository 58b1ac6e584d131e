"""The fake TMDB reproduces the real API's shapes and quirks (werkzeug test client, no sockets)."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from moviepulse.upstreams.fixtures import fixture_catalogue
from moviepulse.upstreams.tmdb_server import make_tmdb_app

KEY = {"api_key": "demo-tmdb-key"}


@pytest.fixture
def tmdb():
    app = make_tmdb_app(fixture_catalogue(), rate_limit=0)
    return Client(app), app


def get(client, path, **params):
    return client.get(path, query_string={**KEY, **params})


def test_auth_errors_use_status_code_7(tmdb):
    client, _ = tmdb
    for response in (client.get("/3/movie/603"), client.get("/3/movie/603", query_string={"api_key": "nope"}),
                     client.get("/3/movie/603", headers={"Authorization": "Bearer demo-tmdb-key"})):
        assert response.status_code == 401
        assert response.json == {"success": False, "status_code": 7,
                                 "status_message": "Invalid API key: You must be granted a valid key."}
    ok = client.get("/3/movie/603", headers={"Authorization": "Bearer demo-tmdb-read-access-token-0123456789abcdef"})
    assert ok.status_code == 200


def test_unknown_movie_is_404_code_34_on_every_subresource(tmdb):
    client, _ = tmdb
    for path in ("/3/movie/1", "/3/movie/1/translations", "/3/movie/1/external_ids", "/3/nothing/here"):
        response = get(client, path)
        assert response.status_code == 404 and response.json["status_code"] == 34


def test_missing_translation_gives_empty_strings_and_original_title(tmdb):
    client, _ = tmdb
    body = get(client, "/3/movie/194", language="es-ES").json  # Amélie has no Spanish translation
    assert body["title"] == "Le Fabuleux Destin d'Amélie Poulain"
    assert body["overview"] == "" and body["tagline"] == "" and body["homepage"] == ""
    partial = get(client, "/3/movie/194", language="de-DE").json  # German: title only
    assert partial["title"] == "Die fabelhafte Welt der Amélie" and partial["overview"] == ""
    unknown = get(client, "/3/movie/603", language="xx-XX")
    assert unknown.status_code == 200 and unknown.json["overview"] == ""


def test_title_fallback_is_switchable_to_english():
    client = Client(make_tmdb_app(fixture_catalogue(), rate_limit=0, title_fallback="english"))
    assert get(client, "/3/movie/194", language="es-ES").json["title"] == "Amélie"


def test_regional_variants_stay_separate(tmdb):
    client, _ = tmdb
    br = get(client, "/3/movie/603", language="pt-BR").json
    pt = get(client, "/3/movie/603", language="pt-PT").json
    assert br["overview"] == "Um hacker descobre a verdade."
    assert pt["overview"] == "Um pirata informático descobre a verdade."
    assert get(client, "/3/movie/194", language="pt-BR").json["overview"] == ""  # only pt-PT exists


def test_translations_endpoint_and_append_have_the_same_shape(tmdb):
    client, _ = tmdb
    direct = get(client, "/3/movie/9002/translations").json
    appended = get(client, "/3/movie/9002", append_to_response="translations").json["translations"]
    assert direct["id"] == 9002
    assert direct["translations"] == appended["translations"]
    de = next(t for t in direct["translations"] if t["iso_639_1"] == "de")
    assert de["iso_3166_1"] == "DE" and de["english_name"] == "German"
    assert de["data"]["title"] == "" and de["data"]["overview"].startswith("Zwei Kinder")
    assert set(de["data"]) == {"title", "overview", "homepage", "tagline", "runtime"}
    too_many = get(client, "/3/movie/603", append_to_response=",".join(f"x{i}" for i in range(21)))
    assert too_many.status_code == 400 and too_many.json["status_code"] == 27


def test_paging_limits(tmdb):
    client, _ = tmdb
    first = get(client, "/3/movie/popular").json
    assert first["page"] == 1 and first["total_results"] == 6 and first["total_pages"] == 1
    assert [m["id"] for m in first["results"]][:2] == [603, 9004]  # by popularity
    assert set(first["results"][0]) >= {"adult", "genre_ids", "id", "original_title", "title", "vote_count"}
    assert get(client, "/3/movie/popular", page=2).json["results"] == []
    over = get(client, "/3/movie/popular", page=501)
    assert over.status_code == 422 and over.json == {"errors": ["page must be less than or equal to 500"]}
    assert get(client, "/3/discover/movie", page=0).status_code == 422


def test_twenty_per_page_on_a_bigger_catalogue():
    films = []
    for i in range(45):
        film = fixture_catalogue()[0]
        film.update(tmdb_id=10_000 + i, imdb_id=f"tt99{i:05d}", popularity=float(i))
        films.append(film)
    client = Client(make_tmdb_app(films, rate_limit=0))
    pages = [get(client, "/3/movie/popular", page=p).json for p in (1, 2, 3)]
    assert [len(p["results"]) for p in pages] == [20, 20, 5]
    assert pages[0]["total_pages"] == 3
    ids = [m["id"] for p in pages for m in p["results"]]
    assert len(set(ids)) == 45 and ids[0] == 10_044


def test_discover_filters_and_search(tmdb):
    client, _ = tmdb
    animation = get(client, "/3/discover/movie", with_genres="16").json
    assert [m["id"] for m in animation["results"]] == [9002]
    either = get(client, "/3/discover/movie", with_genres="16|99", sort_by="popularity.asc").json
    assert [m["id"] for m in either["results"]] == [9002, 9004]
    both = get(client, "/3/discover/movie", with_genres="28,878").json
    assert [m["id"] for m in both["results"]] == [603]
    assert get(client, "/3/search/movie", query="matrix").json["results"][0]["id"] == 603
    assert get(client, "/3/search/movie", query="Fabuleux").json["total_results"] == 1  # original titles match
    missing = get(client, "/3/search/movie")
    assert missing.status_code == 422 and missing.json == {"errors": ["query must be provided"]}


def test_find_by_imdb_always_has_five_arrays(tmdb):
    client, _ = tmdb
    hit = get(client, "/3/find/tt0133093", external_source="imdb_id").json
    assert hit["movie_results"][0]["id"] == 603 and hit["movie_results"][0]["media_type"] == "movie"
    miss = get(client, "/3/find/tt0000001", external_source="imdb_id")
    assert miss.status_code == 200
    assert miss.json == {"movie_results": [], "person_results": [], "tv_results": [],
                         "tv_episode_results": [], "tv_season_results": []}


def test_configuration_and_languages(tmdb):
    client, _ = tmdb
    config = get(client, "/3/configuration").json
    assert "w500" in config["images"]["poster_sizes"] and config["images"]["secure_base_url"].startswith("https://")
    languages = get(client, "/3/configuration/languages").json
    assert isinstance(languages, list) and {"iso_639_1", "english_name", "name"} == set(languages[0])
    assert "pt-BR" in get(client, "/3/configuration/primary_translations").json


def test_etag_gives_304(tmdb):
    client, _ = tmdb
    first = get(client, "/3/movie/603", language="en-US")
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    again = client.get("/3/movie/603", query_string={**KEY, "language": "en-US"}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/3/movie/603", query_string={**KEY, "language": "de-DE"}, headers={"If-None-Match": etag})
    assert other.status_code == 200


def test_rate_limit_answers_429_with_retry_after_and_code_25():
    app = make_tmdb_app(fixture_catalogue(), rate_limit=2)
    client = Client(app)
    statuses = [get(client, "/3/configuration").status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    response = get(client, "/3/configuration")
    assert response.headers["Retry-After"] == "1"
    assert response.json["status_code"] == 25
    app.state.update({"retry_after": False, "rate_limit": 1, "rate_burst": 1})
    get(client, "/3/configuration")
    quiet = get(client, "/3/movie/603")
    assert quiet.status_code == 429 and "Retry-After" not in quiet.headers


def test_faults_switch_at_run_time(tmdb):
    client, app = tmdb
    bad = client.post("/__faults", json={"nonsense": 1})
    assert bad.status_code == 400
    assert client.post("/__faults", json={"fail_next": 2, "status_5xx_code": 503}).status_code == 200
    statuses = [get(client, "/3/movie/603").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    client.post("/__faults", json={"status_5xx_rate": 1.0, "status_5xx_code": 502, "html_5xx": True})
    page = get(client, "/3/movie/603")
    assert page.status_code == 502 and page.mimetype == "text/html"
    client.post("/__faults", json={"reset": True, "malformed": True})
    broken = get(client, "/3/movie/603")
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.get_json(force=True)
    client.post("/__faults", json={"reset": True})
    assert get(client, "/3/movie/603").status_code == 200
    stats = client.get("/__stats").json["stats"]
    assert stats["requests"] == 6 and stats["status_503"] == 2 and stats["status_502"] == 1
    assert client.get("/__faults").json["faults"]["status_5xx_rate"] == 0.0
