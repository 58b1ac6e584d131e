"""The source interface: what a metadata provider plugin implements (``moviepulse.Source``).

A plugin returns ``Source`` subclasses from ``register_sources``; the pipeline finds them only
through ``pulse.sources``, so a third-party provider needs no core change::

    class MySource(Source):
        slug = "mydb"; label = "MyDB"; role = "fallback"; priority = 300
        fallback_fields = ("overview",)

        def lookup(self, ref, *, validators=None):
            data = self.client.get(f"/films/{ref.imdb_id}").data   # self.client: resilient HTTP
            return SourceRecord(source=self.slug, imdb_id=ref.imdb_id,
                                localized={"en": {"overview": data["synopsis"]}})

``role = "primary"`` sources (the first enabled one by ``priority``) give identity, facts and
per-locale translations; ``role = "fallback"`` sources fill the localised fields listed in
``fallback_fields`` (in ``fallback_locale``) and the facts the primary lacks. Provenance labels
derive from the slug: ``<slug>_translation``, ``<slug>_fallback_locale``, ``<slug>_original``
for a primary, ``<slug>_fallback`` for a fallback (``tmdb_translation`` … ``omdb_fallback``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    from moviepulse.core.pulse import MoviePulse
    from moviepulse.ingestion.http import UpstreamClient

IMDB_RE = re.compile(r"^(?:tt)?(\d{1,8})$", re.IGNORECASE)


def normalise_imdb_id(value: str | None) -> str | None:
    """Radarr-style: accept ``tt123`` or bare digits; lower-case prefix, at least 7 digits."""
    if not value:
        return None
    match = IMDB_RE.match(value.strip())
    if not match:
        return None
    return "tt" + match.group(1).zfill(7)


@dataclass(frozen=True)
class MovieRef:
    """What to import: a TMDB id, an IMDb id, or (for title-only sources) a title and year."""

    tmdb_id: int | None = None
    imdb_id: str | None = None
    title: str | None = None
    year: int | None = None

    @property
    def key(self) -> str:
        """Stable identity for dedupe and task payloads: ``tmdb:603`` or ``imdb:tt0133093``."""
        if self.tmdb_id is not None:
            return f"tmdb:{self.tmdb_id}"
        if self.imdb_id:
            return f"imdb:{self.imdb_id}"
        return f"title:{(self.title or '').strip().lower()}:{self.year or ''}"

    @classmethod
    def parse(cls, text: str | int) -> MovieRef:
        """``603``, ``tmdb:603``, ``tt0133093`` or ``imdb:tt0133093``."""
        raw = str(text).strip()
        if raw.startswith("tmdb:"):
            return cls(tmdb_id=int(raw[5:]))
        if raw.startswith("imdb:"):
            raw = raw[5:]
        if raw.isdigit() and not raw.startswith("0"):
            return cls(tmdb_id=int(raw))
        imdb = normalise_imdb_id(raw)
        if imdb is None:
            raise ValueError(f"not a TMDB id or IMDb id: {text!r}")
        return cls(imdb_id=imdb)


@dataclass
class SourceRecord:
    """What one source returned for one movie.

    ``facts``: language-independent values (``original_title``, ``release_date`` ISO string,
    ``runtime`` minutes, ``genres`` English names, ``imdb_rating``, ``imdb_votes``, ``popularity`` …;
    ``None`` when unknown). ``localized``: tag (``en-US``, ``de-DE``, ``pt-BR``, or bare ``en``) →
    ``{"title", "overview", "tagline"}`` with ``""`` for a missing part, as the upstream gave it.
    """

    source: str
    tmdb_id: int | None = None
    imdb_id: str | None = None
    original_language: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    localized: dict[str, dict[str, str]] = field(default_factory=dict)
    not_modified: bool = False
    validators: dict[str, str | None] = field(default_factory=dict)
    requests: int = 0


class Source:
    """Base class of metadata sources. Subclasses set the class attributes and ``lookup``."""

    slug: ClassVar[str] = ""
    label: ClassVar[str] = ""
    role: ClassVar[str] = "primary"  # primary | fallback
    priority: ClassVar[int] = 100  # lower runs first
    #: Localised fields a fallback source can fill, and the locale its text is in.
    fallback_fields: ClassVar[tuple[str, ...]] = ()
    fallback_locale: ClassVar[str] = "en"
    #: Primary facts whose absence makes a fallback source worth a call (in ``fallback`` mode).
    fallback_facts: ClassVar[tuple[str, ...]] = ()
    #: Settings prefix (``TMDB`` → ``TMDB_BASE_URL``, ``TMDB_API_KEY`` …); defaults to the slug.
    settings_prefix: ClassVar[str | None] = None
    #: Keyword defaults for this source's :class:`~moviepulse.ingestion.http.ClientConfig`.
    client_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, pulse: MoviePulse, client: UpstreamClient | None = None) -> None:
        self.pulse = pulse
        self._client = client

    # -- wiring -------------------------------------------------------------------------------
    @classmethod
    def prefix(cls) -> str:
        return (cls.settings_prefix or cls.slug).upper()

    @property
    def client(self) -> UpstreamClient:
        if self._client is None:
            from moviepulse.ingestion.services import get_client

            self._client = get_client(self.pulse, type(self))
        return self._client

    def enabled(self) -> bool:
        return bool(self.pulse.setting(f"{self.prefix()}_ENABLED", True))

    def mode(self) -> str:
        """For a fallback source: ``always`` (every movie) or ``fallback`` (only to fill a gap)."""
        return str(self.pulse.setting(f"{self.prefix()}_MODE", "fallback") or "fallback")

    # -- what a source does ---------------------------------------------------------------------
    def lookup(self, ref: MovieRef, *, validators: dict[str, str | None] | None = None) -> SourceRecord | None:
        """Details and translations for one movie; None when the upstream does not know it.

        ``validators`` (``etag``, ``last_modified``) from the previous import allow a conditional
        request; a 304 gives a record with ``not_modified=True``. Raise
        :class:`~moviepulse.ingestion.errors.UpstreamError` subclasses for failures.
        """
        raise NotImplementedError

    def discover(self, kind: str = "popular", limit: int = 20, **filters: Any) -> list[MovieRef]:
        """Movie references from a list endpoint (``popular``, ``discover``, ``search``)."""
        return []

    def validator_key(self, ref: MovieRef) -> str | None:
        """The key under which this source's ETag/Last-Modified for ``ref`` are stored (None: none)."""
        return None

    def health(self) -> dict[str, Any]:
        out = self.client.health()
        out.update({"source": self.slug, "label": self.label, "role": self.role, "enabled": self.enabled()})
        return out
