"""``docs/openapi.yaml`` matches the code: paths, status codes, field rules, reasons, response shapes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from moviepulse.models.events import EVENT_TYPES, PLACEMENTS
from moviepulse.site import beacon

yaml = pytest.importorskip("yaml")
SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(SPEC_PATH.read_text())


def test_spec_documents_the_endpoints_and_codes(spec):
    assert spec["openapi"].startswith("3.1")
    post = spec["paths"]["/api/events"]["post"]
    assert set(post["responses"]) == {"200", "400", "413", "415", "422"}
    assert "application/json" in post["requestBody"]["content"]
    search = spec["paths"]["/{locale}/search"]["get"]
    assert {p["name"] for p in search["parameters"]} == {"locale", "q", "type", "genre", "yf", "yt", "per"}
    locale = next(p for p in search["parameters"] if p["name"] == "locale")
    assert locale["schema"]["enum"] == ["en", "de", "fr", "es", "pt-BR"]


def test_event_schema_matches_the_validator(spec):
    event = spec["components"]["schemas"]["Event"]
    assert tuple(event["required"]) == beacon.REQUIRED_FIELDS
    assert event["properties"]["type"]["enum"] == list(EVENT_TYPES)
    assert [p for p in event["properties"]["placement"]["enum"] if p] == list(PLACEMENTS)
    assert event["properties"]["event_id"]["pattern"] == beacon.EVENT_ID_PATTERN.pattern
    assert event["properties"]["position"]["maximum"] == beacon.MAX_POSITION
    source = Path(beacon.__file__).read_text()
    reasons = set(re.findall(r'Rejection\("([a-z_]+)"', source)) | {"unknown_movie"}
    assert set(spec["components"]["schemas"]["Rejection"]["properties"]["reason"]["enum"]) == reasons


def test_real_answers_conform_to_the_schemas(spec, make_app):
    jsonschema_rs = pytest.importorskip("jsonschema_rs")  # comes with schemathesis
    from moviepulse.extensions import db
    from moviepulse.models.movie import Movie

    app = make_app()
    with app.app_context():
        db.session.add(Movie(id=1, title="Film", original_title="Film"))
        db.session.commit()
    schemas = spec["components"]["schemas"]

    def check(instance, name):
        resolver_schema = {**schemas[name], "$defs": schemas}
        text = yaml.safe_dump(resolver_schema).replace("#/components/schemas/", "#/$defs/")
        jsonschema_rs.Draft202012Validator(yaml.safe_load(text)).validate(instance)

    client = app.test_client()
    body = client.post("/api/events", json={"events": [{"event_id": "x"}, 5]}).get_json()
    check(body, "BatchResult")
    check(client.post("/api/events", json=[]).get_json(), "Error")
    found = client.get("/en/search?q=film", headers={"Accept": "application/json"}).get_json()
    assert found["count"] == 1
    check(found, "SearchResult")
