"""Interface strings per locale, Accept-Language negotiation and OpenGraph locale codes.

Strings fall back to English; a locale without its own table (a configured extra) still works.
"""

from __future__ import annotations

from collections.abc import Sequence

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "home": "Home", "recommended": "Recommended for you", "trending": "Trending this week",
        "trends": "Trends", "search": "Search", "similar": "Similar titles", "search_placeholder": "Title or IMDb id",
        "days": "Days", "type": "Type", "genre": "Genre", "year_from": "From year", "year_to": "To year",
        "apply": "Apply", "any": "Any", "clicks": "clicks", "no_results": "Nothing found.",
        "enter_query": "Type a title, or pick a filter.", "results": "Results", "rating": "Rating",
        "votes": "votes", "runtime": "Runtime", "minutes": "min", "genres": "Genres", "released": "Released",
        "overview_missing": "No overview available yet.", "movie": "Movie", "series": "Series",
        "animation": "Animation", "leaderboard": "Trends leaderboard", "language": "Language",
        "score": "Score", "not_found": "Page not found",
    },
    "de": {
        "home": "Start", "recommended": "Empfehlungen für dich", "trending": "Diese Woche angesagt",
        "trends": "Trends", "search": "Suche", "similar": "Ähnliche Titel", "search_placeholder": "Titel oder IMDb-ID",
        "days": "Tage", "type": "Art", "genre": "Genre", "year_from": "Ab Jahr", "year_to": "Bis Jahr",
        "apply": "Anwenden", "any": "Alle", "clicks": "Klicks", "no_results": "Nichts gefunden.",
        "enter_query": "Gib einen Titel ein oder wähle einen Filter.", "results": "Ergebnisse",
        "rating": "Bewertung", "votes": "Stimmen", "runtime": "Laufzeit", "minutes": "Min.", "genres": "Genres",
        "released": "Erschienen", "overview_missing": "Noch keine Beschreibung verfügbar.", "movie": "Film",
        "series": "Serie", "animation": "Animation", "leaderboard": "Trend-Rangliste", "language": "Sprache",
        "score": "Wertung", "not_found": "Seite nicht gefunden",
    },
    "fr": {
        "home": "Accueil", "recommended": "Recommandé pour vous", "trending": "Tendances de la semaine",
        "trends": "Tendances", "search": "Recherche", "similar": "Titres similaires",
        "search_placeholder": "Titre ou identifiant IMDb", "days": "Jours", "type": "Type", "genre": "Genre",
        "year_from": "Depuis l'année", "year_to": "Jusqu'à l'année", "apply": "Appliquer", "any": "Tous",
        "clicks": "clics", "no_results": "Aucun résultat.", "enter_query": "Saisissez un titre ou choisissez un filtre.",
        "results": "Résultats", "rating": "Note", "votes": "votes", "runtime": "Durée", "minutes": "min",
        "genres": "Genres", "released": "Sortie", "overview_missing": "Pas encore de synopsis.", "movie": "Film",
        "series": "Série", "animation": "Animation", "leaderboard": "Classement des tendances",
        "language": "Langue", "score": "Score", "not_found": "Page introuvable",
    },
    "es": {
        "home": "Inicio", "recommended": "Recomendado para ti", "trending": "Tendencias de la semana",
        "trends": "Tendencias", "search": "Buscar", "similar": "Títulos similares",
        "search_placeholder": "Título o id de IMDb", "days": "Días", "type": "Tipo", "genre": "Género",
        "year_from": "Desde el año", "year_to": "Hasta el año", "apply": "Aplicar", "any": "Todos",
        "clicks": "clics", "no_results": "No se encontró nada.", "enter_query": "Escribe un título o elige un filtro.",
        "results": "Resultados", "rating": "Valoración", "votes": "votos", "runtime": "Duración", "minutes": "min",
        "genres": "Géneros", "released": "Estreno", "overview_missing": "Aún no hay sinopsis.", "movie": "Película",
        "series": "Serie", "animation": "Animación", "leaderboard": "Clasificación de tendencias",
        "language": "Idioma", "score": "Puntuación", "not_found": "Página no encontrada",
    },
    "pt-BR": {
        "home": "Início", "recommended": "Recomendados para você", "trending": "Em alta nesta semana",
        "trends": "Tendências", "search": "Buscar", "similar": "Títulos semelhantes",
        "search_placeholder": "Título ou id do IMDb", "days": "Dias", "type": "Tipo", "genre": "Gênero",
        "year_from": "Do ano", "year_to": "Até o ano", "apply": "Aplicar", "any": "Todos", "clicks": "cliques",
        "no_results": "Nada encontrado.", "enter_query": "Digite um título ou escolha um filtro.",
        "results": "Resultados", "rating": "Avaliação", "votes": "votos", "runtime": "Duração", "minutes": "min",
        "genres": "Gêneros", "released": "Lançamento", "overview_missing": "Ainda sem sinopse.", "movie": "Filme",
        "series": "Série", "animation": "Animação", "leaderboard": "Ranking de tendências", "language": "Idioma",
        "score": "Pontuação", "not_found": "Página não encontrada",
    },
}

LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español", "pt-BR": "Português (Brasil)"}


_MERGED: dict[str, dict[str, str]] = {}


def strings(locale: str) -> dict[str, str]:
    """Every interface string of ``locale`` (English where it has none)."""
    merged = _MERGED.get(locale)
    if merged is None:
        table = STRINGS.get(locale) or STRINGS.get(locale.split("-")[0]) or {}
        merged = _MERGED[locale] = {**STRINGS["en"], **{k: v for k, v in table.items() if v}}
    return merged


def translate(locale: str, key: str) -> str:
    table = STRINGS.get(locale) or STRINGS.get(locale.split("-")[0]) or STRINGS["en"]
    return table.get(key) or STRINGS["en"].get(key, key)


def canonical_locale(value: str, locales: Sequence[str]) -> str | None:
    """The configured spelling of ``value`` (case-insensitive), or None."""
    lowered = value.lower()
    for loc in locales:
        if loc.lower() == lowered:
            return loc
    return None


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    """``[(tag, q)]`` sorted by q descending (stable), malformed parts skipped."""
    out: list[tuple[str, float]] = []
    for part in (header or "").split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if q > 0 and tag.strip():
            out.append((tag.strip(), q))
    out.sort(key=lambda tq: tq[1], reverse=True)
    return out


def negotiate(header: str | None, locales: Sequence[str]) -> str:
    """Best configured locale for an Accept-Language header: exact tag, then primary subtag."""
    for tag, _q in parse_accept_language(header):
        if tag == "*":
            break
        exact = canonical_locale(tag, locales)
        if exact:
            return exact
        primary = tag.split("-")[0].lower()
        for loc in locales:
            if loc.split("-")[0].lower() == primary:
                return loc
    return locales[0]


def og_locale(locale: str) -> str:
    """OpenGraph locale (``language_TERRITORY``): pt-BR → pt_BR, de → de_DE, en → en_US."""
    if "-" in locale:
        lang, region = locale.split("-", 1)
        return f"{lang.lower()}_{region.upper()}"
    return {"en": "en_US"}.get(locale, f"{locale.lower()}_{locale.upper()}")
