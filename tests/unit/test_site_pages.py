"""The public site: locales, rails with tracked links, movie pages (SEO), trends, search, headers."""

from __future__ import annotations

import json
import re

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from sqlalchemy import func, select

from moviepulse.demo.fixtures import sample_entries
from moviepulse.demo.loader import load_catalogue_directly
from moviepulse.extensions import db
from moviepulse.models.events import Device, Event
from moviepulse.models.movie import Movie

UA = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36"}


@pytest.fixture
def site(make_app):
    app = make_app(AB_SEED="test-seed")
    with app.app_context():
        load_catalogue_directly(db.session, sample_entries(40))
    return app


def events(app, **where):
    with app.app_context():
        stmt = select(Event).order_by(Event.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(Event, key) == value)
        return list(db.session.execute(stmt).scalars())


def rail_links(html, rail_id):
    tree = HTMLParser(html)
    return [a.attributes["href"] for a in tree.css(f"#{rail_id} li.card a")]


def test_root_negotiates_accept_language(site):
    client = site.test_client()
    r = client.get("/", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/fr/")
    assert "Accept-Language" in r.headers["Vary"]
    assert client.get("/", headers={"Accept-Language": "ja"}).headers["Location"].endswith("/en/")
    assert client.get("/PT-br/").status_code == 301
    assert client.get("/xx/").status_code == 404


def test_home_rails_links_and_impressions(site):
    client = site.test_client()
    r = client.get("/en/", headers=UA)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    home = rail_links(html, "rail-home")
    trends = rail_links(html, "rail-trends")
    assert len(home) == 12 and len(trends) == 8
    variant = re.search(r"variant=([AB])", home[0]).group(1)
    for pos, href in enumerate(home, start=1):
        assert re.fullmatch(rf"/en/movies/\d+\?placement=home&variant={variant}&pos={pos}", href)
    for pos, href in enumerate(trends, start=1):
        assert href.endswith(f"?placement=trends&variant={variant}&pos={pos}")
    imps = events(site, type="impression")
    assert [(e.placement, e.position) for e in imps] == (
        [("home", p) for p in range(1, 13)] + [("trends", p) for p in range(1, 9)])
    assert {e.variant for e in imps} == {variant}
    assert [e.movie_id for e in imps[:12]] == [int(re.search(r"movies/(\d+)", h).group(1)) for h in home]
    assert all(e.origin == "server" and e.device_type == "desktop" and e.visitor_type == "new" for e in imps)
    assert all(re.fullmatch(r"\d{4}-W\d{2}", e.first_seen_week) for e in imps)
    assert len({e.event_id for e in imps}) == 20


def test_first_visit_mints_exactly_one_device_id(site):
    client = site.test_client()
    r = client.get("/en/", headers=UA)
    cookies = r.headers.getlist("Set-Cookie")
    did = [c for c in cookies if c.startswith("did=")]
    assert len(did) == 1
    assert "HttpOnly" in did[0] and "SameSite=Lax" in did[0] and "Secure" not in did[0]
    assert any(c.startswith("ab_variant=") for c in cookies)
    device_id = did[0].split(";")[0].split("=", 1)[1]
    with site.app_context():
        assert db.session.scalar(select(func.count()).select_from(Device)) == 1
        assert {e.device_id for e in db.session.execute(select(Event)).scalars()} == {device_id}
    # the next request reuses the cookie: no new device, no new cookie
    r2 = client.get("/en/trends", headers=UA)
    assert not [c for c in r2.headers.getlist("Set-Cookie") if c.startswith("did=")]
    with site.app_context():
        assert db.session.scalar(select(func.count()).select_from(Device)) == 1


def test_secure_cookies_when_configured(make_app):
    app = make_app(COOKIE_SECURE=True)
    cookies = [c for c in app.test_client().get("/en/").headers.getlist("Set-Cookie")
               if c.startswith(("did=", "ab_variant="))]
    assert len(cookies) == 2 and all("Secure" in c for c in cookies)


def test_variant_cookie_is_sticky(site):
    client = site.test_client()
    client.set_cookie("ab_variant", "B")
    client.set_cookie("did", "d_sticky_device_1")
    html = client.get("/en/").get_data(as_text=True)
    assert all("variant=B" in h for h in rail_links(html, "rail-home"))
    client.set_cookie("ab_variant", "A")
    html = client.get("/en/").get_data(as_text=True)
    assert all("variant=A" in h for h in rail_links(html, "rail-home"))


def test_following_a_rail_link_records_click_with_placement_variant_position(site):
    client = site.test_client()
    home = client.get("/de/", headers=UA).get_data(as_text=True)
    href = rail_links(home, "rail-home")[2]
    variant = re.search(r"variant=([AB])", href).group(1)
    movie_id = int(re.search(r"movies/(\d+)", href).group(1))
    assert client.get(href, headers=UA).status_code == 200
    clicks = events(site, type="click")
    assert len(clicks) == 1
    c = clicks[0]
    assert (c.movie_id, c.placement, c.variant, c.position, c.locale) == (movie_id, "home", variant, 3, "de")
    views = events(site, type="view")
    assert len(views) == 1 and views[0].movie_id == movie_id and views[0].request_id == c.request_id
    show = events(site, type="impression", placement="show")
    assert show and [e.position for e in show] == list(range(1, len(show) + 1))


@pytest.mark.parametrize("query", ["placement=nowhere&variant=A&pos=1", "placement=home&variant=C&pos=1",
                                   "placement=home&variant=A&pos=0", "placement=home&variant=A&pos=101",
                                   "placement=home&variant=A&pos=x", "placement=home&variant=A",
                                   "placement=home&variant=A&pos=-1", "placement=home&variant=A&pos=%EF%BC%91"])
def test_invalid_rail_params_record_only_a_view(site, query):
    client = site.test_client()
    assert client.get(f"/en/movies/1?{query}").status_code == 200
    assert events(site, type="click") == []
    assert len(events(site, type="view")) == 1


def test_movie_page_localised_with_seo_tags(site):
    client = site.test_client()
    with site.app_context():
        movie = db.session.scalar(select(Movie).where(Movie.tmdb_id == 1002))  # has a German translation
        untranslated = db.session.scalar(select(Movie).where(Movie.tmdb_id == 1005))
    html = client.get(f"/de/movies/{movie.id}").get_data(as_text=True)
    tree = HTMLParser(html)
    assert tree.css_first("h1").text().startswith("Film 2 (DE)")
    assert "Überblick 2" in tree.css_first("p.overview").text()
    og = {m.attributes["property"]: m.attributes["content"] for m in tree.css("meta[property]")}
    for key in ("og:title", "og:description", "og:type", "og:url", "og:image", "og:locale"):
        assert og.get(key), key
    assert og["og:title"] == "Film 2 (DE)" and og["og:locale"] == "de_DE"
    assert og["og:url"] == f"http://localhost/de/movies/{movie.id}"
    canonical = tree.css_first("link[rel=canonical]").attributes["href"]
    assert canonical == f"http://localhost/de/movies/{movie.id}"
    hreflangs = {link.attributes["hreflang"]: link.attributes["href"] for link in tree.css("link[rel=alternate]")}
    assert set(hreflangs) == {"en", "de", "fr", "es", "pt-BR", "x-default"}
    assert hreflangs["pt-BR"] == f"http://localhost/pt-BR/movies/{movie.id}"
    assert re.search(r'<script nonce="[^"]+" type="application/ld\+json">', html)
    script = tree.css_first('script[type="application/ld+json"]')
    data = json.loads(script.text())
    assert data["@type"] == "Movie" and data["name"] == "Film 2 (DE)" and data["url"] == canonical
    assert data["duration"].startswith("PT") and data["aggregateRating"]["ratingCount"] > 0
    nonce = script.attributes["nonce"]
    r = client.get(f"/de/movies/{movie.id}")
    assert "'nonce-" in r.headers["Content-Security-Policy"]
    assert nonce not in r.headers["Content-Security-Policy"]  # a fresh nonce per request
    # falls back to the canonical title/overview without a translation
    html = client.get(f"/de/movies/{untranslated.id}").get_data(as_text=True)
    assert HTMLParser(html).css_first("h1").text().startswith("Film 5")


def test_similar_titles_share_genres(site):
    with site.app_context():
        movie = db.session.scalar(select(Movie).where(Movie.tmdb_id == 1001))
        genres = {m.id: set(m.genres or []) for m in db.session.execute(select(Movie)).scalars()}
    html = site.test_client().get(f"/en/movies/{movie.id}").get_data(as_text=True)
    links = rail_links(html, "rail-show")
    assert links and all("placement=show" in h for h in links)
    ids = [int(re.search(r"movies/(\d+)", h).group(1)) for h in links]
    assert movie.id not in ids
    assert all(genres[i] & set(movie.genres) for i in ids)


def test_security_headers(site):
    r = site.test_client().get("/en/")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"]
    html = r.get_data(as_text=True)
    assert "//cdn" not in html and "https://" not in re.sub(r'href="http://localhost[^"]*"', "", html)


def test_trends_filters_and_impressions(site):
    client = site.test_client()
    with site.app_context():
        target = db.session.scalar(select(Movie).where(Movie.tmdb_id == 1004))
    for _ in range(3):
        client.get(f"/en/movies/{target.id}?placement=home&variant=A&pos=1")
    html = client.get("/en/trends?days=3").get_data(as_text=True)
    links = rail_links(html, "rail-trends")
    assert links[0].startswith(f"/en/movies/{target.id}?placement=trends")
    # genre and year filters apply to the fallback list too
    html = client.get("/en/trends?genre=comedy&days=99&yf=2000&yt=2030").get_data(as_text=True)
    with site.app_context():
        comedy = {m.id for m in db.session.execute(select(Movie)).scalars() if "comedy" in (m.genres or [])}
    ids = [int(re.search(r"movies/(\d+)", h).group(1)) for h in rail_links(html, "rail-trends")]
    assert ids and set(ids) <= comedy
    assert client.get("/en/trends?type=series").status_code == 200
    assert events(site, type="impression", placement="trends")


def test_search_html_and_json(site):
    client = site.test_client()
    r = client.get("/en/search?q=film 1", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert body["count"] == len(body["items"]) > 0
    assert all("film 1" in item["title"].lower() for item in body["items"])
    votes = [item["imdb_votes"] or 0 for item in body["items"]]
    assert votes == sorted(votes, reverse=True)
    # localised title search
    r = client.get("/de/search?q=(DE)", headers={"Accept": "application/json"})
    assert r.get_json()["count"] > 0 and all("(DE)" in i["title"] for i in r.get_json()["items"])
    # imdb id exact match
    r = client.get("/en/search?q=tt9000007", headers={"Accept": "application/json"})
    assert [i["imdb_id"] for i in r.get_json()["items"]] == ["tt9000007"]
    # strict JSON validation, lenient HTML
    assert client.get("/en/search?yf=abc", headers={"Accept": "application/json"}).status_code == 400
    assert client.get("/en/search?per=0", headers={"Accept": "application/json"}).status_code == 400
    assert client.get("/en/search?yf=abc").status_code == 400
    assert client.get("/en/search?yf=1500").status_code == 200  # below 1870: ignored, as documented
    empty = client.get("/en/search", headers={"Accept": "application/json"}).get_json()
    assert empty["count"] == 0
    html = client.get("/en/search?q=film").get_data(as_text=True)
    assert rail_links(html, "rail-search")[0].endswith("placement=search&variant=" +
                                                       re.search(r"variant=([AB])", html).group(1) + "&pos=1")


def test_gpc_requests_are_not_tracked(site):
    client = site.test_client()
    client.get("/en/", headers={"Sec-GPC": "1"})
    client.get("/en/movies/1?placement=home&variant=A&pos=1", headers={"Sec-GPC": "1"})
    assert events(site) == []


def test_bots_are_flagged_not_dropped(site):
    client = site.test_client()
    client.get("/en/movies/1", headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    views = events(site, type="view")
    assert len(views) == 1 and views[0].is_bot and views[0].device_type == "bot"


def test_unknown_movie_is_404(site):
    assert site.test_client().get("/en/movies/999999").status_code == 404


def test_expired_leaderboard_is_served_stale_and_refreshed_in_background(make_app):
    import threading

    from moviepulse.site import catalog

    app = make_app(SITE_TRENDS_CACHE_SECONDS=60)
    with app.app_context():
        load_catalogue_directly(db.session, sample_entries(12))
        first = catalog.leaderboard(db.session, days=7, limit=3)
        assert all(item["clicks"] is None for item in first)  # no clicks yet: the fallback list
    client = app.test_client()
    client.get("/en/movies/5?placement=home&variant=A&pos=1")
    with app.app_context():
        for entry_key, (_built, items) in list(catalog._cache(app).trends.items()):  # age the entry past its TTL
            catalog._cache(app).trends[entry_key] = (-1e9, items)
        stale = catalog.leaderboard(db.session, days=7, limit=3)  # expired: returned as is, refresh starts
        assert stale == first
        for thread in threading.enumerate():
            if thread.name.startswith("moviepulse-site-refresh"):
                thread.join(timeout=10)
        fresh = catalog.leaderboard(db.session, days=7, limit=3)
    assert fresh[0]["movie_id"] == 5 and fresh[0]["clicks"] == 1


def test_trends_cache_off_computes_every_time(make_app):
    from moviepulse.site import catalog

    app = make_app(SITE_TRENDS_CACHE_SECONDS=0)
    with app.app_context():
        load_catalogue_directly(db.session, sample_entries(12))
        assert all(item["clicks"] is None for item in catalog.leaderboard(db.session, days=7, limit=3))
    app.test_client().get("/en/movies/5?placement=home&variant=A&pos=1")
    with app.app_context():
        fresh = catalog.leaderboard(db.session, days=7, limit=3)
    assert fresh[0]["movie_id"] == 5 and fresh[0]["clicks"] == 1
