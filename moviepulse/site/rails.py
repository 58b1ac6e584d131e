"""Rails and cards: what a template renders and what impressions record.

Every card link carries ``?placement=…&variant=…&pos=…`` (1-based position) so that opening a
movie through a rail records a click attributed to that rail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import current_app, request
from markupsafe import Markup, escape

from moviepulse.site.recommender import Candidate


@dataclass(frozen=True)
class Card:
    movie_id: int
    title: str
    year: int | None
    type: str
    poster_url: str | None
    imdb_rating: float | None
    weighted_score: float
    clicks: int | None = None
    position: int = 0
    href: str = ""
    hue: int = 0

    @staticmethod
    def poster_url_of(poster_path: str | None) -> str | None:
        """An absolute poster URL (``POSTER_BASE_URL`` + path), or None to draw a placeholder."""
        if not poster_path:
            return None
        if poster_path.startswith(("http://", "https://")):
            return poster_path
        base = current_app.config.get("POSTER_BASE_URL") or ""
        return base.rstrip("/") + "/" + poster_path.lstrip("/") if base else None

    @classmethod
    def from_movie(cls, movie: Any, titles: Mapping[int, str], clicks: int | None = None) -> Card:
        return cls(movie.id, titles.get(movie.id) or movie.title, movie.year, movie.type or "movie",
                   cls.poster_url_of(movie.poster_path), movie.imdb_rating, float(movie.weighted_score or 0.0),
                   clicks, hue=(movie.id * 47) % 360)


def card_from_candidate(c: Candidate, titles: Mapping[int, str], clicks: int | None = None) -> Card:
    return Card.from_movie(c, titles, clicks)


@dataclass(frozen=True)
class Rail:
    placement: str
    variant: str
    cards: tuple[Card, ...]


def movie_path(locale: str, movie_id: int) -> str:
    """``/<locale>/movies/<id>`` under the app's script root (string building: rails have many cards)."""
    return f"{request.script_root}/{locale}/movies/{int(movie_id)}"


def build_rail(placement: str, variant: str, locale: str, cards: Sequence[Card]) -> Rail:
    """Number the cards from 1 and give each its tracked link (placement and variant are fixed vocabularies)."""
    prefix = f"{request.script_root}/{locale}/movies/"
    numbered = []
    for position, card in enumerate(cards, start=1):
        href = f"{prefix}{int(card.movie_id)}?placement={placement}&variant={variant}&pos={position}"
        numbered.append(Card(card.movie_id, card.title, card.year, card.type, card.poster_url, card.imdb_rating,
                             card.weighted_score, card.clicks, position, href, card.hue))
    return Rail(placement, variant, tuple(numbered))


@lru_cache(maxsize=65536)
def _card_body(title: str, year: int | None, rating: float | None, clicks: int | None, poster_url: str | None,
               hue: int, clicks_label: str) -> str:
    if poster_url:
        poster = f'<img src="{escape(poster_url)}" alt="" loading="lazy" width="154" height="231">'
    else:
        poster = f'<span class="poster ph h{hue // 30}" aria-hidden="true">{escape(title[:1])}</span>'
    meta = str(year) if year else ""
    if rating:
        meta += f" · ★ {rating:.1f}"
    if clicks is not None:
        meta += f" · {int(clicks)} {escape(clicks_label)}"
    return f'{poster}<span class="t">{escape(title)}</span><span class="m">{meta}</span>'


def render_rail(rail: Rail, heading: str, element_id: str, clicks_label: str) -> Markup:
    """The rail's HTML (cards rendered in Python and cached: a rail is on every page)."""
    parts = [f'<section class="rail" id="{escape(element_id)}" data-placement="{escape(rail.placement)}" '
             f'data-variant="{escape(rail.variant)}">\n<h2>{escape(heading)}</h2>\n<ol class="cards">']
    for c in rail.cards:
        body = _card_body(c.title, c.year, c.imdb_rating, c.clicks, c.poster_url, c.hue, clicks_label)
        parts.append(f'<li class="card"><a href="{escape(c.href)}" data-movie-id="{c.movie_id}" '
                     f'data-position="{c.position}">{body}</a></li>')
    parts.append("</ol>\n</section>")
    return Markup("\n".join(parts))
