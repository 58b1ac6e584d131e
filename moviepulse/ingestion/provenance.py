"""Field resolution with provenance: which value each (locale, field) gets, and from where.

For a localised field ``f`` in locale ``L`` (pure functions, no I/O):

1. the primary source's translation for ``L`` → ``<primary>_translation`` (e.g. ``tmdb_translation``);
2. else each locale of the fallback chain for ``L`` (``INGESTION_FALLBACK_CHAIN``, e.g.
   ``{"pt-BR": ["pt-PT", "en"], "*": ["en"]}``) → ``<primary>_fallback_locale``; the chain entry
   ``"original"`` means the film's original-language text → ``<primary>_original``;
3. else each fallback source that can fill ``f`` → ``<fallback>_fallback`` (e.g. ``omdb_fallback``);
4. else, for ``title`` only, the primary's ``original_title`` → ``<primary>_original``;
5. else ``missing`` (value ``None``).

``source_locale`` records the locale actually used (``L``, the chain entry, the original
language, or the fallback source's locale). Locale matching: an exact tag first (``pt-BR``); a
bare language (``de``) takes that language's main region (``de-DE``), else its only entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moviepulse.ingestion.source import SourceRecord

LOCALIZED_FIELDS = ("title", "overview", "tagline")
MISSING = "missing"
MAIN_REGION = {"en": "US", "de": "DE", "fr": "FR", "es": "ES", "pt": "PT", "it": "IT", "ja": "JP", "ko": "KR",
               "zh": "CN", "nl": "NL", "sv": "SE", "da": "DK", "ru": "RU", "pl": "PL", "tr": "TR"}
DEFAULT_CHAINS: dict[str, list[str]] = {"en": [], "pt-BR": ["pt-PT", "en"], "pt-PT": ["pt-BR", "en"], "*": ["en"]}


@dataclass(frozen=True)
class Resolved:
    value: str | None
    source: str
    source_locale: str | None


def pick_locale(localized: dict[str, dict[str, str]], locale: str) -> dict[str, str]:
    """The entry of ``localized`` (keys like ``de-DE``, ``pt-BR``, ``en``) that serves ``locale``."""
    if not localized or not locale:
        return {}
    by_lower = {k.lower(): v for k, v in localized.items()}
    exact = by_lower.get(locale.lower())
    if exact is not None:
        return exact
    lang, _, region = locale.partition("-")
    lang = lang.lower()
    if region:
        return {}  # pt-BR never borrows pt-PT silently: that is the fallback chain's job
    main = by_lower.get(f"{lang}-{MAIN_REGION.get(lang, lang.upper())}".lower())
    if main is not None:
        return main
    same = [v for k, v in sorted(by_lower.items()) if k.split("-", 1)[0] == lang]
    return same[0] if same else {}


def chain_for(chains: dict[str, list[str]] | None, locale: str) -> list[str]:
    chains = chains if chains is not None else DEFAULT_CHAINS
    if locale in chains:
        return list(chains[locale])
    return [c for c in chains.get("*", ["en"]) if c != locale]


def resolve_localized(primary: SourceRecord, fallbacks: list[tuple[Any, SourceRecord]], locales: list[str],
                      chains: dict[str, list[str]] | None = None,
                      fields: tuple[str, ...] = LOCALIZED_FIELDS) -> dict[tuple[str, str], Resolved]:
    """``{(locale, field): Resolved}`` for every configured locale and localised field.

    ``fallbacks``: ``(source, record)`` pairs; a source's ``fallback_fields`` and
    ``fallback_locale`` say what it may fill.
    """
    out: dict[tuple[str, str], Resolved] = {}
    p = primary.source
    original = primary.original_language
    for locale in locales:
        own = pick_locale(primary.localized, locale)
        for field in fields:
            value = (own.get(field) or "").strip()
            if value:
                out[(locale, field)] = Resolved(value, f"{p}_translation", locale)
                continue
            resolved = None
            for step in chain_for(chains, locale):
                if step == locale:
                    continue
                if step == "original":
                    if field == "title" and primary.facts.get("original_title"):
                        resolved = Resolved(primary.facts["original_title"], f"{p}_original", original)
                    elif original:
                        text = (pick_locale(primary.localized, original).get(field) or "").strip()
                        if text:
                            resolved = Resolved(text, f"{p}_original", original)
                else:
                    text = (pick_locale(primary.localized, step).get(field) or "").strip()
                    if text:
                        resolved = Resolved(text, f"{p}_fallback_locale", step)
                if resolved:
                    break
            if resolved is None:
                for source, record in fallbacks:
                    if field not in getattr(source, "fallback_fields", ()):
                        continue
                    loc = getattr(source, "fallback_locale", "en")
                    text = (pick_locale(record.localized, loc).get(field) or "").strip()
                    if text:
                        resolved = Resolved(text, f"{record.source}_fallback", loc)
                        break
            if resolved is None and field == "title" and primary.facts.get("original_title"):
                resolved = Resolved(primary.facts["original_title"], f"{p}_original", original)
            out[(locale, field)] = resolved or Resolved(None, MISSING, None)
    return out


#: Language-independent facts stored as ``movie_fields`` rows with ``locale = ''``.
GLOBAL_FIELDS = ("original_title", "release_date", "runtime", "genres", "poster_path", "backdrop_path",
                 "popularity", "imdb_rating", "imdb_votes", "metascore", "rated", "director", "writer",
                 "actors", "country", "language", "awards", "box_office")


def resolve_facts(primary: SourceRecord, fallbacks: list[tuple[Any, SourceRecord]]) -> dict[str, Resolved]:
    """Global facts: the primary's value (source = its slug), else a fallback's (``<slug>_fallback``).

    IMDb rating and votes come from a fallback that has them (OMDb); without one, the primary's
    own vote average and count stand in (source = the primary's slug).
    """
    out: dict[str, Resolved] = {}
    facts = dict(primary.facts)
    for name in GLOBAL_FIELDS:
        value = facts.get(name)
        if _present(value):
            out[name] = Resolved(_text(value), primary.source, None)
            continue
        resolved = None
        for _source, record in fallbacks:
            fb = record.facts.get(name)
            if _present(fb):
                resolved = Resolved(_text(fb), f"{record.source}_fallback", None)
                break
        if resolved is None and name in ("imdb_rating", "imdb_votes"):
            stand_in = facts.get("vote_average" if name == "imdb_rating" else "vote_count")
            if _present(stand_in):
                resolved = Resolved(_text(stand_in), primary.source, None)
        out[name] = resolved or Resolved(None, MISSING, None)
    return out


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != 0


def _text(value: Any) -> str:
    if isinstance(value, list):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)
