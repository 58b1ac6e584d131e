"""The fake OMDb: string formats, "N/A", errors inside HTTP 200, 401 for keys and the daily quota."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from moviepulse.upstreams.fixtures import fixture_catalogue
from moviepulse.upstreams.omdb_server import make_omdb_app


@pytest.fixture
def omdb():
    app = make_omdb_app(fixture_catalogue(), daily_quota=1000)
    return Client(app), app


def q(client, **params):
    return client.get("/", query_string={"apikey": "demo-omdb-key", **params})


def test_key_errors_are_401(omdb):
    client, _ = omdb
    missing = client.get("/", query_string={"i": "tt0133093"})
    assert missing.status_code == 401 and missing.json == {"Response": "False", "Error": "No API key provided."}
    wrong = client.get("/", query_string={"i": "tt0133093", "apikey": "x"})
    assert wrong.status_code == 401 and wrong.json["Error"] == "Invalid API key!"


def test_title_record_formats(omdb):
    client, _ = omdb
    body = q(client, i="tt0133093").json
    assert body["Response"] == "True" and body["Runtime"] == "136 min" and body["Released"] == "31 Mar 1999"
    assert body["imdbVotes"] == "2,100,000" and body["BoxOffice"] == "$172,076,928" and body["Year"] == "1999"
    assert body["Ratings"][0] == {"Source": "Internet Movie Database", "Value": "8.7/10"}
    assert all(isinstance(v, str) for k, v in body.items() if k != "Ratings")
    sparse = q(client, i="tt9000003").json
    assert sparse["Plot"] == "N/A" and sparse["imdbRating"] == "N/A" and sparse["Ratings"] == []
    assert q(client, i="tt9000001").json["Runtime"] == "N/A"  # runtime 0 upstream


def test_not_found_errors_come_with_200(omdb):
    client, _ = omdb
    for params, error in (({"i": "tt9000002"}, "Incorrect IMDb ID."),  # no OMDb record
                          ({"i": "nonsense"}, "Incorrect IMDb ID."),
                          ({"t": "No Such Film"}, "Movie not found!"),
                          ({"s": "ab"}, "Too many results."),
                          ({"s": "zzzzzz"}, "Movie not found!")):
        response = q(client, **params)
        assert response.status_code == 200
        assert response.json == {"Response": "False", "Error": error}


def test_title_and_search(omdb):
    client, _ = omdb
    assert q(client, t="the matrix").json["imdbID"] == "tt0133093"
    assert q(client, t="The Matrix", y="2001").json["Response"] == "False"
    found = q(client, s="the").json
    assert found["Response"] == "True" and found["totalResults"] == "3"
    # substring match: "The Matrix", "The Long Road" and "Nor-the-rn Lights"
    assert {r["imdbID"] for r in found["Search"]} == {"tt0133093", "tt9000003", "tt9000004"}
    assert set(found["Search"][0]) == {"Title", "Year", "imdbID", "Type", "Poster"}
    assert q(client, s="the", page="2").json["Error"] == "Movie not found!"
    full = q(client, i="tt0133093", plot="full").json["Plot"]
    assert full == "A hacker learns the truth about his reality."


def test_daily_quota_answers_request_limit_reached():
    app = make_omdb_app(fixture_catalogue(), daily_quota=2)
    client = Client(app)
    assert [q(client, i="tt0133093").status_code for _ in range(2)] == [200, 200]
    over = q(client, i="tt0133093")
    assert over.status_code == 401 and over.json == {"Response": "False", "Error": "Request limit reached!"}
    app.state.update({"reset_quota": True})
    assert q(client, i="tt0133093").status_code == 200


def test_injected_5xx_has_no_json_body(omdb):
    client, app = omdb
    app.state.update({"fail_next": 1, "status_5xx_code": 503})
    response = q(client, i="tt0133093")
    assert response.status_code == 503 and response.mimetype == "text/html"
