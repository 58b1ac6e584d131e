"""Fuzzing the public JSON API: schemathesis against ``docs/openapi.yaml`` (positive and negative
data, every default check) on SQLite and on PostgreSQL (NUL bytes and surrogates are the classic
SQLite-passes/PostgreSQL-500s defect), and hypothesis property tests on the event validator and
the timestamp normaliser with hostile inputs (NUL bytes, lone surrogates, NaN/Infinity, huge
numbers, deep nesting, duplicate keys, bool-as-int, extreme dates)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from moviepulse.site.beacon import Limits, parse_timestamp, validate_events
from tests.reliability.conftest import LiveServer

REPO = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.openapi.from_path(REPO / "docs" / "openapi.yaml")
FUZZ_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))
RECEIVED = datetime(2026, 11, 27, 9, 0, 0)
LIMITS = Limits()


def _backends() -> list[str]:
    from tests.support.services import PG_HOST, PG_PORT, port_open

    return ["sqlite"] + (["postgresql"] if port_open(PG_HOST, PG_PORT) else [])


@pytest.fixture(scope="module", params=_backends())
def api_url(request, tmp_path_factory):
    from moviepulse.app import create_app
    from moviepulse.extensions import db
    from moviepulse.models.movie import Movie

    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    pg_name = None
    if request.param == "postgresql":
        from tests.support.services import fresh_postgres_database

        pg_name, uri = fresh_postgres_database("mp_fuzz")
    else:
        uri = f"sqlite:///{tmp / 'fuzz.db'}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=uri, INSTANCE_PATH=str(tmp / "instance"),
                     PROPAGATE_EXCEPTIONS=False, BLOCKED_PLUGINS=["ssr"])  # no SSR flush at exit into a dropped db
    with app.app_context():
        db.create_all()
        db.session.add_all([Movie(id=i, title=f"M{i}", original_title=f"M{i}", year=2000 + i) for i in (1, 2, 3)])
        db.session.commit()
    server = LiveServer(app)
    yield server.url
    server.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if pg_name:
        from tests.support.services import drop_postgres_database

        drop_postgres_database(pg_name)


@pytest.mark.slow
@SCHEMA.parametrize()
@FUZZ_SETTINGS
def test_public_api_conforms_to_its_openapi_document(case, api_url):
    case.call_and_validate(base_url=api_url)


# -- hypothesis on the validator and the normaliser ---------------------------------------------
NASTY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "é", "😀", "a", "-", "_"])),
    st.sampled_from(["", "\x00", "evt-\x00-00000", "\ud800" * 10, "NaN", "Infinity", "9" * 5000,
                     "0000-00-00T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
                     "1970-01-01T00:00:00Z", "2026-11-27T09:00:00+14:00", "2026-13-01T00:00:00Z"]),
)
NASTY_NUMBER = st.one_of(st.integers(), st.integers(min_value=10**300, max_value=10**301), st.floats(),
                         st.just(math.nan), st.just(math.inf), st.booleans())


def deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"x": [value]}
    return value


NASTY_VALUE = st.one_of(st.none(), NASTY_TEXT, NASTY_NUMBER, st.just(deep(200)), st.just([]), st.just({}))
FIELDS = ["event_id", "type", "ts", "device_id", "movie_id", "placement", "variant", "position", "locale"]


def good_event(i: int) -> dict:
    return {"event_id": f"fuzz-{i:08d}", "type": "impression", "ts": "2026-11-27T08:59:00Z",
            "device_id": "dev_fuzz_0001", "movie_id": 1, "placement": "home", "variant": "A", "position": 1,
            "locale": "en"}


@st.composite
def hostile_events(draw):
    events = []
    for i in range(draw(st.integers(0, 8))):
        e = good_event(i)
        for name in draw(st.lists(st.sampled_from(FIELDS + ["extra"]), max_size=3)):
            e[name] = draw(NASTY_VALUE)
        if draw(st.booleans()):
            e = draw(st.one_of(NASTY_VALUE, st.just(e)))
        events.append(e)
    return events


@given(events=hostile_events(), sent_at=st.one_of(st.none(), st.datetimes()))
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_hostile_event_is_a_row_or_a_listed_rejection(events, sent_at):
    out = validate_events(events, sent_at=sent_at, received_at=RECEIVED, limits=LIMITS, locales=["en", "de"],
                          movie_exists=lambda ids: {i for i in ids if i in (1, 2, 3)})
    rejected = [r["index"] for r in out.rejected]
    assert len(out.rows) + len(rejected) == len(events) and len(set(rejected)) == len(rejected)
    for row in out.rows:  # what is stored is clean: no NUL, encodable, bounded, sane time
        for key in ("event_id", "device_id", "locale", "type"):
            assert "\x00" not in row[key] and row[key].encode("utf-8")
        assert isinstance(row["movie_id"], int) and not isinstance(row["movie_id"], bool)
        assert RECEIVED - LIMITS.max_age <= row["event_time"] <= RECEIVED + LIMITS.max_future


@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       offset=st.integers(-14 * 60, 14 * 60))
@settings(max_examples=200, deadline=None)
def test_timestamp_normalisation_is_idempotent_and_zone_correct(moment, offset):
    from datetime import timezone

    tz = timezone(timedelta(minutes=offset))
    try:
        text = moment.replace(tzinfo=tz).isoformat()
        expected = moment - timedelta(minutes=offset)
    except OverflowError:
        return
    parsed = parse_timestamp(text)
    if parsed is None:  # only out-of-range instants may be refused
        assert not (datetime(1, 1, 1) <= expected <= datetime(9999, 12, 31, 23, 59, 59))
        return
    assert parsed == expected and parsed.tzinfo is None
    assert parse_timestamp(parsed.isoformat() + "Z") == parsed  # normalising twice == once


@given(text=NASTY_TEXT)
@settings(max_examples=200, deadline=None)
def test_timestamp_parser_never_raises(text):
    result = parse_timestamp(text)
    assert result is None or isinstance(result, datetime)


RAW_BODIES = [
    b'{"events": [{"event_id": "a", "event_id": "b"}]}',  # duplicate keys: the last wins, still validated
    b'{"events": [NaN]}', b'{"events": [Infinity]}', b'{"events": [-Infinity]}',
    b'{"events": [' + b"9" * 5000 + b"]}",  # int above Python's 4300-digit limit
    b'{"events": ' + b"[" * 20000 + b"]" * 20000 + b"}",  # nesting beyond the recursion limit
    b'{"events": ["\\ud800"]}', b'{"events": [{"device_id": "\\u0000"}]}', b'\xff\xfe{"events": []}',
    b'{"sent_at": 1e309, "events": []}', b'{"sent_at": "\\u0000", "events": []}', b"", b"null", b"[]",
    b'{"events": [true, 1, 1.5, "x", null]}',
]


@pytest.mark.parametrize("body", RAW_BODIES, ids=range(len(RAW_BODIES)))
def test_raw_hostile_bodies_never_5xx_and_results_add_up(api_url, body):
    import requests

    r = requests.post(api_url + "/api/events", data=body, headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code < 500, r.text[:300]
    if r.status_code == 200:
        out = r.json()
        sent = len(json.loads(body)["events"]) if body.startswith(b"{") else 0
        assert out["accepted"] + out["duplicates"] + len(out["rejected"]) == sent
    else:
        assert r.status_code in (400, 413, 415, 422) and r.json()["error"]


# -- the admin API: anonymous callers always 401, token callers never 5xx ---------------------------
# ``/admin/api/metrics/{slug}`` is skipped: the fragment does not declare its ``slug`` parameter
# (reported to the analytics owner); the anonymous url_map walk in test_admin_security covers it.
ADMIN_SCHEMA = schemathesis.openapi.from_path(REPO / "moviepulse" / "analytics" / "openapi.yaml")


@pytest.fixture(scope="module")
def admin_api(tmp_path_factory):
    from moviepulse.app import create_app
    from moviepulse.core.auth import create_token
    from moviepulse.extensions import db

    tmp = tmp_path_factory.mktemp("fuzz-admin")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp / 'admin.db'}",
                     INSTANCE_PATH=str(tmp / "instance"), PROPAGATE_EXCEPTIONS=False)
    with app.app_context():
        db.create_all()
        token = create_token("fuzz")
    server = LiveServer(app)
    yield server.url, token
    server.stop()


@pytest.mark.slow
@ADMIN_SCHEMA.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_admin_api_refuses_anonymous_and_never_fails_a_token_holder(case, admin_api):
    url, token = admin_api
    anonymous = case.call(base_url=url, allow_redirects=False)
    if anonymous.status_code == 302:  # an undeclared method on an admin URL falls to the dashboard's page guard
        location = {k.lower(): v for k, v in anonymous.headers.items()}["location"]
        assert (location[0] if isinstance(location, list) else location).startswith("/admin/login?next=")
    else:
        assert anonymous.status_code == 401, (case.method, case.path, anonymous.status_code)
    authed = case.call(base_url=url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False)
    if case.method.upper() in ("GET", "HEAD"):
        assert authed.status_code < 500, (case.path, authed.status_code, authed.text[:300])
    else:  # tokens are read-only: a write (or an undeclared method) never reaches a handler
        assert authed.status_code in (302, 401, 403, 405), (case.method, case.path, authed.status_code)
