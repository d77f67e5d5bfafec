"""The map page: localised HTML with local assets only, and the heatmap drawn in a real browser."""

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from chromium import Chromium
from conftest import ROOT
from live import gunicorn
from sqlalchemy import text

from civic_api.database import make_engine
from civic_api.mappage.messages import CLIENT, LANGUAGES, PAGE
from civic_api.seed.demo_reports import insert_demo_reports

STATIC = ROOT / "civic_api" / "static" / "map"


class Elements(HTMLParser):
    """Start tags with their attributes, and the text of each <script>."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data):
        if self._script is not None:
            attrs, body = self.scripts[-1]
            self.scripts[-1] = (attrs, body + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def page_messages(html: str) -> dict:
    (body,) = [body for attrs, body in Elements(html).scripts if attrs.get("id") == "map-messages"]
    return json.loads(body)


@pytest.mark.parametrize(
    "query, headers, locale, html_lang",
    [
        ("?lang=sq", {}, "sq", "sq"),
        ("?lang=sr", {"Accept-Language": "en"}, "sr", "sr-Latn"),
        ("", {"Accept-Language": "sr-Latn-RS,sr;q=0.9"}, "sr", "sr-Latn"),
        ("", {"Accept-Language": "hr"}, "sr", "sr-Latn"),
        ("", {"Accept-Language": "sq-AL"}, "sq", "sq"),
        ("", {"Accept-Language": "de"}, "en", "en"),
        ("?lang=xx", {}, "en", "en"),
    ],
)
def test_page_is_in_the_negotiated_language(client, query, headers, locale, html_lang):
    r = client.get(f"/map{query}", headers=headers)
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    assert r.headers["Content-Language"] == locale
    assert "Accept-Language" in r.headers["Vary"]
    html = r.get_data(as_text=True)
    assert f'<html lang="{html_lang}" data-locale="{locale}">' in html
    assert f"<title>{PAGE[locale]['title']}</title>" in html
    for key in ("filters", "group", "all_categories", "legend", "privacy"):
        assert PAGE[locale][key].replace("'", "&#39;") in html
    assert page_messages(html) == CLIENT[locale]


@pytest.mark.parametrize(
    "locale, title, notice",
    [
        ("sq", "Harta e raporteve", "Zonat me më pak se {k} raporte nuk shfaqen."),
        ("sr", "Mapa prijava", "Oblasti sa manje od {k} prijava nisu prikazane."),
        ("en", "Reports map", "Areas with fewer than {k} reports are not shown."),
    ],
)
def test_each_language_has_its_own_text(client, locale, title, notice):
    html = client.get(f"/map?lang={locale}").get_data(as_text=True)
    assert f"<h1>{title}</h1>" in html
    assert page_messages(html)["threshold"]["other"] == notice


def test_every_language_has_every_message():
    assert {code for code, _ in LANGUAGES} == set(PAGE) == set(CLIENT)
    for locale in PAGE:
        assert PAGE[locale].keys() == PAGE["en"].keys()
        assert CLIENT[locale].keys() == CLIENT["en"].keys()
        assert CLIENT[locale]["maplibre"].keys() == CLIENT["en"]["maplibre"].keys()
    # Serbian numerals take three forms (1 ćelija, 2-4 ćelije, 5+ ćelija).
    assert set(CLIENT["sr"]["hidden"]) == {"zero", "one", "few", "other"}


def test_language_switcher_marks_the_current_language(client):
    elements = Elements(client.get("/map?lang=sr").get_data(as_text=True))
    links = [a for a in elements.all("a") if "hreflang" in a]
    assert [(a["hreflang"], a["href"]) for a in links] == [
        (code, f"?lang={code}") for code, _ in LANGUAGES
    ]
    assert [a["hreflang"] for a in links if a.get("aria-current") == "page"] == ["sr"]


@pytest.mark.parametrize(
    "path, location",
    [
        ("/", "/map"),
        ("/?lang=sr", "/map?lang=sr"),
        ("/?lang=sq&group=roads", "/map?lang=sq&group=roads"),
        ("/?_external=1&_scheme=javascript", "/map?_external=1&_scheme=javascript"),
    ],
)
def test_root_redirects_to_the_map(client, path, location):
    r = client.get(path)
    assert r.status_code == 302
    assert r.headers["Location"] == location


def test_page_loads_only_local_assets(client):
    r = client.get("/map")
    elements = Elements(r.get_data(as_text=True))
    urls = [
        attrs.get("src") or attrs["href"]
        for tag, attrs in elements.tags
        if tag == "link" or (tag == "script" and "src" in attrs)
    ]
    assert urls == [
        "data:,",
        "/static/vendor/maplibre-gl/maplibre-gl.css",
        "/static/map/map.css",
        "/static/vendor/maplibre-gl/maplibre-gl.js",
        "/static/map/map.js",
    ]
    for url in urls[1:]:
        asset = client.get(url)
        assert asset.status_code == 200, url
        asset.close()
    # No address of another host anywhere in our HTML, JS or CSS (MapLibre's own file names
    # sites in comments and error texts; the browser test checks what is really fetched).
    for source in (r.get_data(as_text=True), *(p.read_text() for p in STATIC.iterdir())):
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", source)


def test_content_security_policy_allows_no_inline_script(client):
    r = client.get("/map")
    policy = dict(
        (directive.split(" ", 1) + [""])[:2]
        for directive in r.headers["Content-Security-Policy"].split("; ")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["worker-src"] == "blob:"
    assert "unsafe" not in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "no-referrer"
    elements = Elements(r.get_data(as_text=True))
    # The only inline script element is data, which browsers do not run.
    assert [attrs for attrs, body in elements.scripts if "src" not in attrs] == [
        {"type": "application/json", "id": "map-messages"}
    ]
    for _, attrs in elements.tags:
        assert "style" not in attrs
        assert not [name for name in attrs if name.startswith("on")]


def test_every_form_control_has_a_label(client):
    elements = Elements(client.get("/map").get_data(as_text=True))
    controls = [a["id"] for a in elements.all("select") + elements.all("input")]
    assert len(controls) == 5
    assert sorted(controls) == sorted(a["for"] for a in elements.all("label"))


def test_page_is_not_in_the_api_document(client):
    paths = client.get("/openapi.json").json["paths"]
    assert "/v1/heatmaps" in paths
    assert "/map" not in paths
    assert "/" not in paths


# --- In a real browser -------------------------------------------------------------------

VIEWPORT = (1000, 700)
PHONE = (390, 780)
WAIT_READY = "['ready', 'error'].includes(document.body && document.body.dataset.mapState)"


@pytest.fixture
def demo_reports(app, database_url):
    """Committed demo reports, dense enough for many cells to pass k; deleted afterwards."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        before = connection.scalars(text("SELECT id::text FROM report")).all()
        insert_demo_reports(connection, 3000, seed=5)
    # Sensitive categories are shown only from releases: publish the closed months (with
    # little noise, so that the sparse demo data passes the threshold somewhere).
    published = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "analytics", "publish"],
        cwd=ROOT,
        env={
            **os.environ,
            "FLASK_APP": "wsgi",
            "DATABASE_URL": database_url,
            "CIVIC_RELEASE_EPSILON": "50",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert published.returncode == 0, published.stderr[-2000:]
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM release"))
            connection.execute(
                text("DELETE FROM report WHERE NOT (id::text = ANY(:before))"), {"before": before}
            )
            connection.execute(text("DELETE FROM push_device WHERE fcm_token LIKE 'demo-%'"))
            # The rollup triggers have counted them back down to zero.
            for table in ("heat_cell_day", "heat_cell_total"):
                connection.execute(text(f"DELETE FROM {table} WHERE count = 0"))
        engine.dispose()


@pytest.fixture
def live_server(database_url, tmp_path):
    """The real gunicorn configuration on the test database."""
    with gunicorn(database_url, tmp_path / "gunicorn.log", ready="/map") as server:
        yield server


@pytest.fixture
def browser(tmp_path):
    with Chromium(tmp_path / "profile", tmp_path / "chromium.log") as chromium:
        yield chromium


def wait_until_ready(page) -> None:
    page.wait_for(WAIT_READY, timeout=15)
    state = page.evaluate("document.body.dataset.mapState")
    assert state == "ready", f"{state}: {page.evaluate('document.body.innerText')}"


def problems(page) -> list[str]:
    """Uncaught exceptions, console errors and failed loads (CSP violations among them)."""
    found = [json.dumps(e)[:300] for e in page.events("Runtime.exceptionThrown")]
    found += [
        e["entry"]["text"] for e in page.events("Log.entryAdded") if e["entry"]["level"] == "error"
    ]
    found += [
        json.dumps(e["args"])[:300]
        for e in page.events("Runtime.consoleAPICalled")
        if e["type"] in ("error", "assert")
    ]
    return found


def requested(page) -> list[str]:
    return [e["request"]["url"] for e in page.events("Network.requestWillBeSent")]


def tile_responses(page, **query) -> list[dict]:
    """Vector tile responses whose query string has these values."""
    found = []
    for event in page.events("Network.responseReceived"):
        url = urlsplit(event["response"]["url"])
        if url.path.startswith("/v1/tiles/heatmap/") and all(
            parse_qs(url.query).get(k) == [v] for k, v in query.items()
        ):
            found.append(event["response"])
    return found


def expected_notice(page, locale: str) -> str:
    """The notice for the last /v1/heatmaps answer the page asked for, fetched again."""
    last = [u for u in requested(page) if urlsplit(u).path == "/v1/heatmaps"][-1]
    with urllib.request.urlopen(last, timeout=10) as response:
        heatmap = json.load(response)
    # Released (sensitive) answers withhold small values without a trace: no count.
    k, hidden = heatmap["k"], (heatmap["suppressed"] or {"cells": 0})["cells"]
    assert heatmap["features"], "the view has no published cells: seed more reports"
    messages = CLIENT[locale]  # English and Albanian plurals: one and other
    threshold = messages["threshold"]["one" if k == 1 else "other"].format(k=k)
    forms = messages["hidden"]
    cells = forms["zero" if hidden == 0 else "one" if hidden == 1 else "other"].format(n=hidden)
    return f"{threshold} {cells}"


VISIBLE = """(() => {
  const el = document.getElementById(%s);
  const r = el.getBoundingClientRect();
  if (!r.width || !r.height || r.left < 0 || r.top < 0 || r.right > innerWidth
      || r.bottom > innerHeight) return false;
  return el.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2));
})()"""

# Everything drawn over the map: panels and MapLibre's controls, as [left, top, right, bottom].
OVERLAYS = """[...document.querySelectorAll('.panel, .maplibregl-ctrl')].map((el) => {
  const r = el.getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom];
})"""

SWATCHES = """[...document.querySelectorAll('#legend-classes .swatch')].map(
  (el) => getComputedStyle(el).backgroundColor.match(/\\d+/g).map(Number))"""

# Decodes a PNG and counts the pixels outside `exclude` near each colour.
COUNT_COLOURS = """(async ({png, colours, exclude, tolerance}) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + png;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d', {willReadFrequently: true});
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, image.width, image.height).data;
  const counts = colours.map(() => 0);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      if (exclude.some(([l, t, r, b]) => x >= l && x < r && y >= t && y < b)) continue;
      const i = 4 * (y * image.width + x);
      colours.forEach(([r, g, b], c) => {
        if (Math.abs(data[i] - r) <= tolerance && Math.abs(data[i + 1] - g) <= tolerance
            && Math.abs(data[i + 2] - b) <= tolerance) counts[c] += 1;
      });
    }
  }
  return counts;
})(%s)"""


def map_pixels_by_colour(page, png: bytes, colours, exclude) -> list[int]:
    """Pixels of the screenshot near each colour, outside the `exclude` rectangles.

    The browser decodes the PNG (in the page itself: a tab in the background would get no
    animation frames, and the map would stop drawing).
    """
    args = {"png": base64.b64encode(png).decode(), "colours": colours, "exclude": exclude}
    return page.evaluate(COUNT_COLOURS % json.dumps(args | {"tolerance": 3}))


def press(page, key: str, code: int) -> None:
    for kind in ("rawKeyDown", "keyUp"):
        page.send(
            "Input.dispatchKeyEvent",
            {"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code},
        )


def test_browser_draws_heatmap_tiles_legend_and_notice(
    demo_reports, live_server, browser, tmp_path
):
    page = browser.new_page(*VIEWPORT)
    page.navigate(f"{live_server.url}/map?lang=en")
    wait_until_ready(page)

    # Vector tiles were fetched (by MapLibre's workers) and served as such.
    tiles = tile_responses(page)
    assert tiles, requested(page)
    assert {t["status"] for t in tiles} == {200}
    assert {t["mimeType"] for t in tiles} == {"application/vnd.mapbox-vector-tile"}
    assert '"method": "GET", "path": "/v1/tiles/heatmap/' in live_server.log.read_text()
    # Nothing came from anywhere but this server.
    assert [
        u for u in requested(page) if not u.startswith((live_server.url, "data:", "blob:"))
    ] == []
    assert problems(page) == []

    # The legend and the suppression notice are on screen and say what the API says.
    assert page.evaluate(VISIBLE % "'suppression-notice'")
    assert page.evaluate(VISIBLE % "'legend-classes'")
    notice = page.evaluate("document.getElementById('suppression-notice').textContent")
    assert notice == expected_notice(page, "en")
    colours = page.evaluate(SWATCHES)
    assert len(colours) >= 2

    # The screenshot shows the legend's colours on the map itself, outside every panel.
    png = page.screenshot()
    (tmp_path / "map.png").write_bytes(png)
    counts = map_pixels_by_colour(page, png, colours, page.evaluate(OVERLAYS))
    assert sum(counts) > 5_000, (counts, tmp_path / "map.png")
    assert len([n for n in counts if n > 200]) >= 2, counts

    # A filter chosen with the keyboard re-requests the tiles and refreshes the notice.
    page.evaluate("document.getElementById('filter-group').focus()")
    for _ in range(20):
        if page.evaluate("document.getElementById('filter-group').value") == "harassment":
            break
        press(page, "ArrowDown", 40)
    wait_until_ready(page)
    assert tile_responses(page, group="harassment")
    assert parse_qs(urlsplit(page.evaluate("location.href")).query)["group"] == ["harassment"]
    notice = page.evaluate("document.getElementById('suppression-notice').textContent")
    assert notice == expected_notice(page, "en")

    # Switching language keeps the filter.
    page.evaluate("document.querySelector('a[hreflang=sq]').click()")
    page.wait_for("document.documentElement.lang === 'sq'")
    wait_until_ready(page)
    assert page.evaluate("document.getElementById('filter-group').value") == "harassment"
    notice = page.evaluate("document.getElementById('suppression-notice').textContent")
    assert notice == expected_notice(page, "sq")
    assert problems(page) == []

    # On a phone the filters fold away and the notice stays in view.
    page.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True},
    )
    page.evaluate("window.beforeReload = true")
    page.send("Page.reload")
    page.wait_for("!window.beforeReload && document.readyState !== 'loading'")
    wait_until_ready(page)
    assert page.evaluate("document.getElementById('filters').open") is False
    assert page.evaluate(VISIBLE % "'suppression-notice'")
    assert problems(page) == []
