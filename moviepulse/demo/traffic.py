"""A traffic simulator that drives the real site over HTTP (or in-process through the test client).

For each simulated day and visitor it opens the home page, clicks rail cards with a probability
that depends on the variant (B is tuned to be clicked more), the position and the placement,
opens movie pages, sometimes the trends leaderboard or a search, and — for *past* days — reports
what happened through ``POST /api/events`` beacons with back-dated ``ts``. Past-day pages are
fetched with ``Sec-GPC: 1`` so the server does not also record them at today's time; today's
visits are recorded by the pages themselves. Everything the simulator chooses (device ids —
hence variants, given the site's ``AB_SEED`` — user agents, locales, clicks, beacon event ids)
follows from ``seed`` and the pages it is served, so the same seed against the same site state
repeats the same run. The work is bounded: ``days × visitors_per_day`` visits of at most a few
page requests and one or two beacon batches each.
"""

from __future__ import annotations

import html
import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

CARD_LINK = re.compile(r'href="(/[^"/]+/movies/(\d+)\?placement=(\w+)&amp;variant=([AB])&amp;pos=(\d+))"')
BASE_CTR = {"A": 0.05, "B": 0.08}
PLACEMENT_FACTOR = {"home": 1.0, "trends": 0.7, "show": 0.6, "search": 1.5}
DEVICES = (
    ("desktop", 52, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/126.0 Safari/537.36"),
    ("desktop", 0, "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                   "Version/17.5 Safari/605.1.15"),
    ("mobile", 36, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                   "Version/17.5 Mobile/15E148 Safari/604.1"),
    ("mobile", 0, "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/126.0 Mobile Safari/537.36"),
    ("tablet", 8, "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                  "Version/17.5 Mobile/15E148 Safari/604.1"),
    ("bot", 4, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
)
LANGUAGES = (("en-US,en;q=0.9", 45), ("de-DE,de;q=0.9,en;q=0.5", 15), ("fr-FR,fr;q=0.9", 12),
             ("es-ES,es;q=0.9", 12), ("pt-BR,pt;q=0.9", 10), ("ja-JP,ja;q=0.9", 6))


@dataclass
class Page:
    status: int
    text: str
    url: str


class Browser(Protocol):
    def get(self, path: str, headers: dict[str, str]) -> Page: ...
    def post_json(self, path: str, payload: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]: ...


class Driver(Protocol):
    def browser(self, device_id: str, user_agent: str, accept_language: str) -> Browser: ...


class RequestsBrowser:
    def __init__(self, base_url: str, device_id: str, user_agent: str, accept_language: str, timeout: float) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": user_agent, "Accept-Language": accept_language})
        self.session.cookies.set("did", device_id)
        self.timeout = timeout

    def get(self, path: str, headers: dict[str, str]) -> Page:
        r = self.session.get(self.base_url + path, headers=headers, timeout=self.timeout)
        return Page(r.status_code, r.text, r.url[len(self.base_url):])

    def post_json(self, path: str, payload: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        r = self.session.post(self.base_url + path, json=payload, headers=headers, timeout=self.timeout)
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, None


class RequestsDriver:
    """Real HTTP against ``base_url`` with ``requests`` (one cookie jar per visitor)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url, self.timeout = base_url, timeout

    def browser(self, device_id: str, user_agent: str, accept_language: str) -> Browser:
        return RequestsBrowser(self.base_url, device_id, user_agent, accept_language, self.timeout)


class FlaskBrowser:
    def __init__(self, app: Any, device_id: str, user_agent: str, accept_language: str) -> None:
        self.client = app.test_client()
        self.client.set_cookie("did", device_id)
        self.headers = {"User-Agent": user_agent, "Accept-Language": accept_language}

    def get(self, path: str, headers: dict[str, str]) -> Page:
        r = self.client.get(path, headers={**self.headers, **headers}, follow_redirects=True)
        return Page(r.status_code, r.get_data(as_text=True), r.request.path)

    def post_json(self, path: str, payload: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        r = self.client.post(path, json=payload, headers={**self.headers, **headers})
        return r.status_code, r.get_json(silent=True)


class FlaskDriver:
    """In-process: the Flask test client of ``app`` (for tests and ``--in-process``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def browser(self, device_id: str, user_agent: str, accept_language: str) -> Browser:
        return FlaskBrowser(self.app, device_id, user_agent, accept_language)


@dataclass
class Visitor:
    device_id: str
    device_type: str
    user_agent: str
    accept_language: str
    clock_skew: timedelta
    browser: Browser | None = None


@dataclass
class TrafficReport:
    days: int
    visits: int = 0
    page_requests: int = 0
    errors: int = 0
    beacon_batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    impressions: Counter[str] = field(default_factory=Counter)
    clicks: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        ctr = {v: round(self.clicks[v] / self.impressions[v], 4) if self.impressions[v] else None
               for v in ("A", "B")}
        return {"days": self.days, "visits": self.visits, "page_requests": self.page_requests,
                "errors": self.errors, "beacon_batches": self.beacon_batches, "accepted": self.accepted,
                "duplicates": self.duplicates, "rejected": self.rejected, "impressions": dict(self.impressions),
                "clicks": dict(self.clicks), "simulated_ctr": ctr}


def click_probability(variant: str, position: int, placement: str) -> float:
    """Chance that a simulated visitor clicks a card: variant base × position decay × placement factor."""
    return BASE_CTR.get(variant, 0.05) * PLACEMENT_FACTOR.get(placement, 1.0) / (1 + 0.3 * (position - 1))


def parse_cards(text: str) -> list[dict[str, Any]]:
    """Rail cards of a page: ``{href, movie_id, placement, variant, position}`` in page order."""
    return [{"href": html.unescape(m.group(1)), "movie_id": int(m.group(2)), "placement": m.group(3),
             "variant": m.group(4), "position": int(m.group(5))} for m in CARD_LINK.finditer(text)]


def _locale_of(path: str) -> str:
    return path.strip("/").split("/")[0] or "en"


class Simulation:
    def __init__(self, driver: Driver, *, days: int, visitors_per_day: int, seed: int, max_age_days: int = 7,
                 now: datetime | None = None, returning_share: float = 0.3) -> None:
        self.driver, self.days, self.per_day = driver, max(1, int(days)), max(0, int(visitors_per_day))
        self.rng = random.Random(seed)
        self.seed = seed
        self.max_age = timedelta(days=max_age_days)
        self.now = now or datetime.now(UTC).replace(tzinfo=None)
        self.returning_share = returning_share
        self.pool: list[Visitor] = []
        self.report = TrafficReport(days=self.days)

    # -- identities --------------------------------------------------------------------------
    def _hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def _event_id(self) -> str:
        return f"sim{self.seed}-" + str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _new_visitor(self) -> Visitor:
        kinds = [d for d in DEVICES if d[1] > 0]
        dtype, _, ua = self.rng.choices(kinds, weights=[d[1] for d in kinds])[0]
        siblings = [d[2] for d in DEVICES if d[0] == dtype]
        ua = self.rng.choice(siblings)
        lang = self.rng.choices([x[0] for x in LANGUAGES], weights=[x[1] for x in LANGUAGES])[0]
        skew = timedelta(0)
        if self.rng.random() < 0.05:
            skew = timedelta(seconds=self.rng.choice((-1, 1)) * self.rng.randint(600, 7200))
        return Visitor("d_sim" + self._hex(24), dtype, ua, lang, skew)

    def _visitor(self) -> Visitor:
        if self.pool and self.rng.random() < self.returning_share:
            return self.rng.choice(self.pool)
        visitor = self._new_visitor()
        self.pool.append(visitor)
        return visitor

    # -- one visit ---------------------------------------------------------------------------
    def _moment(self, offset: int) -> datetime:
        """A time on the simulated day ``offset`` days ago, never older than the API accepts."""
        moment = self.now - timedelta(days=offset, seconds=self.rng.uniform(0, 6 * 3600))
        return max(moment, self.now - self.max_age + timedelta(minutes=30))

    def _get(self, visitor: Visitor, path: str, past: bool) -> Page | None:
        assert visitor.browser is not None
        self.report.page_requests += 1
        page = visitor.browser.get(path, {"Sec-GPC": "1"} if past else {})
        if page.status >= 400:
            self.report.errors += 1
            return None
        return page

    def _beacon(self, visitor: Visitor, when: datetime, kind: str, movie_id: int, locale: str,
                card: dict[str, Any] | None) -> dict[str, Any]:
        ts = when + visitor.clock_skew
        return {"event_id": self._event_id(), "type": kind, "ts": ts.isoformat(timespec="milliseconds") + "Z",
                "device_id": visitor.device_id, "movie_id": movie_id,
                "placement": card["placement"] if card else None, "variant": card["variant"] if card else None,
                "position": card["position"] if card else None, "locale": locale}

    def _look_at(self, visitor: Visitor, page: Page, past: bool, when: datetime,
                 beacons: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Count (and, for past days, report) the impressions of a page; return the cards clicked."""
        cards = parse_cards(page.text)
        locale = _locale_of(page.url)
        clicked = []
        for card in cards:
            self.report.impressions[card["variant"]] += 1
            if past:
                beacons.append(self._beacon(visitor, when, "impression", card["movie_id"], locale, card))
            if visitor.device_type != "bot" and len(clicked) < 2 and \
                    self.rng.random() < click_probability(card["variant"], card["position"], card["placement"]):
                clicked.append(card)
        return clicked

    def _open(self, visitor: Visitor, card: dict[str, Any], past: bool, when: datetime,
              beacons: list[dict[str, Any]], depth: int) -> None:
        page = self._get(visitor, card["href"], past)
        if page is None:
            return
        self.report.clicks[card["variant"]] += 1
        when = when + timedelta(seconds=self.rng.randint(5, 90))
        locale = _locale_of(page.url)
        if past:
            beacons.append(self._beacon(visitor, when, "click", card["movie_id"], locale, card))
            view = self._beacon(visitor, when, "view", card["movie_id"], locale, None)
            view.update(placement=card["placement"], variant=card["variant"], position=card["position"])
            beacons.append(view)
        clicked = self._look_at(visitor, page, past, when, beacons)
        if depth < 1 and clicked:
            self._open(visitor, clicked[0], past, when, beacons, depth + 1)

    def visit(self, offset: int) -> None:
        visitor = self._visitor()
        if visitor.browser is None:
            visitor.browser = self.driver.browser(visitor.device_id, visitor.user_agent, visitor.accept_language)
        past = offset > 0
        when = self._moment(offset) if past else self.now
        beacons: list[dict[str, Any]] = []
        self.report.visits += 1
        home = self._get(visitor, "/", past)
        if home is None:
            return
        clicked = self._look_at(visitor, home, past, when, beacons)
        locale = _locale_of(home.url)
        roll = self.rng.random()
        if roll < 0.25:
            trends = self._get(visitor, f"/{locale}/trends?days={self.rng.choice((1, 7, 14))}", past)
            if trends is not None:
                clicked += self._look_at(visitor, trends, past, when, beacons)[:1]
        elif roll < 0.35:
            term = self.rng.choice(("the", "a", "love", "night", "star", "man", "war"))
            found = self._get(visitor, f"/{locale}/search?q={term}", past)
            if found is not None:
                clicked += self._look_at(visitor, found, past, when, beacons)[:1]
        if visitor.device_type == "bot" and past:
            for card in parse_cards(home.text)[:2]:
                beacons.append(self._beacon(visitor, when, "view", card["movie_id"], locale, None))
        for card in clicked:
            self._open(visitor, card, past, when, beacons, 0)
        if beacons:
            self._send(visitor, beacons)

    def _send(self, visitor: Visitor, beacons: list[dict[str, Any]]) -> None:
        assert visitor.browser is not None
        sent_at = (datetime.now(UTC).replace(tzinfo=None) + visitor.clock_skew).isoformat(timespec="milliseconds")
        for start in range(0, len(beacons), 200):
            status, body = visitor.browser.post_json(
                "/api/events", {"sent_at": sent_at + "Z", "events": beacons[start:start + 200]}, {})
            self.report.beacon_batches += 1
            if status != 200 or not isinstance(body, dict):
                self.report.errors += 1
                continue
            self.report.accepted += int(body.get("accepted", 0))
            self.report.duplicates += int(body.get("duplicates", 0))
            self.report.rejected += len(body.get("rejected") or [])

    def run(self) -> TrafficReport:
        for offset in range(self.days - 1, -1, -1):
            for _ in range(self.per_day):
                self.visit(offset)
        return self.report


def simulate(driver: Driver, *, days: int, visitors_per_day: int, seed: int, max_age_days: int = 7) -> TrafficReport:
    """Run the simulation: ``days`` days ending today, ``visitors_per_day`` visits each."""
    return Simulation(driver, days=days, visitors_per_day=visitors_per_day, seed=seed,
                      max_age_days=max_age_days).run()
