"""Field resolution with provenance (pure) and OMDb's string formats."""

from __future__ import annotations

import pytest

from moviepulse.ingestion.omdb import OmdbSource, parse_int, parse_released, parse_runtime, parse_year
from moviepulse.ingestion.provenance import pick_locale, resolve_facts, resolve_localized
from moviepulse.ingestion.source import MovieRef, SourceRecord, normalise_imdb_id

LOCALES = ["en", "de", "fr", "es", "pt-BR"]


def tmdb_record(localized, original_language="fr", original_title="Le Titre", **facts):
    return SourceRecord(source="tmdb", tmdb_id=1, original_language=original_language,
                        facts={"original_title": original_title, **facts}, localized=localized)


def omdb(title="The Title", plot="An English plot.", **facts):
    return (OmdbSource, SourceRecord(source="omdb", localized={"en": {"title": title, "overview": plot, "tagline": ""}},
                                     facts=facts))


def test_pick_locale_exact_then_main_region_never_other_region():
    loc = {"en-US": {"title": "E"}, "de-AT": {"title": "AT"}, "de-DE": {"title": "DE"}, "pt-PT": {"title": "PT"}}
    assert pick_locale(loc, "de") == {"title": "DE"}
    assert pick_locale(loc, "de-AT") == {"title": "AT"}
    assert pick_locale(loc, "pt-BR") == {}
    assert pick_locale(loc, "pt") == {"title": "PT"}
    assert pick_locale({"fr-CA": {"title": "CA"}}, "fr") == {"title": "CA"}  # the only French entry


def test_complete_translation_is_tmdb_translation():
    rec = tmdb_record({"en-US": {"title": "T", "overview": "O", "tagline": "G"},
                       "de-DE": {"title": "DT", "overview": "DO", "tagline": "DG"}})
    out = resolve_localized(rec, [], ["de"])
    assert {f: (r.value, r.source, r.source_locale) for (_, f), r in out.items()} == {
        "title": ("DT", "tmdb_translation", "de"), "overview": ("DO", "tmdb_translation", "de"),
        "tagline": ("DG", "tmdb_translation", "de")}


def test_partial_translation_falls_back_field_by_field():
    rec = tmdb_record({"en-US": {"title": "T", "overview": "O", "tagline": ""},
                       "de-DE": {"title": "DT", "overview": "", "tagline": ""}})
    out = resolve_localized(rec, [omdb()], ["de"])
    assert out[("de", "title")].source == "tmdb_translation"
    assert (out[("de", "overview")].value, out[("de", "overview")].source, out[("de", "overview")].source_locale) == (
        "O", "tmdb_fallback_locale", "en")
    assert out[("de", "tagline")].source == "missing" and out[("de", "tagline")].value is None


def test_pt_br_chain_uses_pt_pt_before_english():
    rec = tmdb_record({"en-US": {"title": "T", "overview": "O", "tagline": ""},
                       "pt-PT": {"title": "PT", "overview": "", "tagline": ""}})
    out = resolve_localized(rec, [], ["pt-BR"], {"pt-BR": ["pt-PT", "en"], "*": ["en"]})
    assert (out[("pt-BR", "title")].value, out[("pt-BR", "title")].source_locale) == ("PT", "pt-PT")
    assert (out[("pt-BR", "overview")].value, out[("pt-BR", "overview")].source_locale) == ("O", "en")


def test_original_in_chain_and_omdb_after_chain():
    rec = tmdb_record({"fr-FR": {"title": "Le Titre", "overview": "Résumé", "tagline": ""},
                       "en-US": {"title": "", "overview": "", "tagline": ""}})
    out = resolve_localized(rec, [omdb()], ["es", "en"], {"es": ["original"], "en": []})
    assert (out[("es", "overview")].value, out[("es", "overview")].source, out[("es", "overview")].source_locale) == (
        "Résumé", "tmdb_original", "fr")
    assert (out[("en", "overview")].value, out[("en", "overview")].source) == ("An English plot.", "omdb_fallback")
    assert (out[("en", "title")].value, out[("en", "title")].source) == ("The Title", "omdb_fallback")


def test_without_any_source_title_is_original_and_the_rest_missing():
    rec = tmdb_record({}, original_language="ko", original_title="기생충")
    out = resolve_localized(rec, [], LOCALES)
    assert all(out[(loc, "title")].value == "기생충" and out[(loc, "title")].source == "tmdb_original"
               for loc in LOCALES)
    assert all(out[(loc, f)].source == "missing" for loc in LOCALES for f in ("overview", "tagline"))
    assert len(out) == len(LOCALES) * 3


def test_fallback_source_only_fills_its_declared_fields():
    class PlotOnly:
        fallback_fields = ("overview",)
        fallback_locale = "en"

    rec = tmdb_record({}, original_title="X")
    fb = SourceRecord(source="mydb", localized={"en": {"title": "Y", "overview": "P", "tagline": "Q"}})
    out = resolve_localized(rec, [(PlotOnly, fb)], ["de"], {"*": []})
    assert out[("de", "overview")].source == "mydb_fallback"
    assert out[("de", "title")].source == "tmdb_original"
    assert out[("de", "tagline")].source == "missing"


def test_facts_prefer_primary_then_fallback_then_primary_votes():
    rec = tmdb_record({}, runtime=None, genres=["Drama"], vote_average=7.1, vote_count=321, popularity=3.5)
    _, fb = omdb(runtime=95, imdb_rating=None, imdb_votes=None, director="A. B.")
    facts = resolve_facts(rec, [(OmdbSource, fb)])
    assert (facts["runtime"].value, facts["runtime"].source) == ("95", "omdb_fallback")
    assert (facts["genres"].value, facts["genres"].source) == ('["Drama"]', "tmdb")
    assert (facts["imdb_rating"].value, facts["imdb_rating"].source) == ("7.1", "tmdb")
    assert (facts["imdb_votes"].value, facts["imdb_votes"].source) == ("321", "tmdb")
    assert facts["director"].source == "omdb_fallback" and facts["awards"].source == "missing"


@pytest.mark.parametrize("text,minutes", [("136 min", 136), ("1 h 34 min", 94), ("1 h", 60), ("2h 5min", 125),
                                          ("N/A", None), ("", None), ("-1 min", None), ("0 min", None),
                                          ("soon", None)])
def test_parse_runtime(text, minutes):
    assert parse_runtime(text) == minutes


def test_parse_numbers_years_dates():
    assert parse_int("1,234") == 1234 and parse_int("$12,345,678") == 12345678 and parse_int("N/A") is None
    assert parse_int("&pound;1,000") == 1000
    assert parse_year("2008–2013") == 2008 and parse_year("2016–") == 2016 and parse_year("2008-2013") == 2008
    assert parse_year("N/A") is None
    assert parse_released("07 Nov 2014") == "2014-11-07" and parse_released("N/A") is None


def test_omdb_payload_maps_na_to_none():
    rec = OmdbSource(pulse=None).record_from_payload({  # type: ignore[arg-type]
        "Title": "X", "Year": "2019", "Runtime": "N/A", "imdbRating": "N/A", "imdbVotes": "N/A", "Plot": "N/A",
        "Genre": "Drama, War", "imdbID": "tt0000042", "Response": "True"})
    assert rec.facts["runtime"] is None and rec.facts["imdb_rating"] is None and rec.facts["genres"] == ["Drama", "War"]
    assert rec.localized["en"] == {"title": "X", "overview": "", "tagline": ""}
    assert rec.imdb_id == "tt0000042"


def test_refs_and_imdb_normalisation():
    assert MovieRef.parse("603") == MovieRef(tmdb_id=603)
    assert MovieRef.parse("tmdb:603").key == "tmdb:603"
    assert MovieRef.parse("tt133093") == MovieRef(imdb_id="tt0133093")
    assert MovieRef.parse("imdb:TT0133093").key == "imdb:tt0133093"
    assert normalise_imdb_id("12345678") == "tt12345678" and normalise_imdb_id("x1") is None
    with pytest.raises(ValueError):
        MovieRef.parse("not-an-id")
