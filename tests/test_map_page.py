"""The map page: localised HTML with local assets only, and the heatmap drawn in a real browser."""

import base64
import itertools
import json
import re
import urllib.request
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from chromium import *  # noqa: F403  (fixtures: demo_reports, live_server, browser)
from chromium import wait_for_map
from conftest import ROOT

from civic_api.analytics.service import month_end
from civic_api.mappage.messages import CLIENT, LANGUAGES, PAGE

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
    assert len(controls) == 7  # 3 selects, 2 dates, 2 layer radios
    assert sorted(controls) == sorted(a["for"] for a in elements.all("label"))


def test_page_is_not_in_the_api_document(client):
    paths = client.get("/openapi.json").json["paths"]
    assert "/v1/heatmaps" in paths
    assert "/map" not in paths
    assert "/" not in paths


def test_dates_accept_2000_to_the_end_of_this_month(client):
    elements = Elements(client.get("/map").get_data(as_text=True))
    dates = [a for a in elements.all("input") if a["type"] == "date"]
    last = month_end(datetime.now(ZoneInfo("Europe/Belgrade")).date()).isoformat()
    assert [(a["id"], a["min"], a["max"]) for a in dates] == [
        ("filter-from", "2000-01-01", last),
        ("filter-to", "2000-01-01", last),
    ]
    # The hint and the error describe both fields; the error is announced when it appears.
    assert {a["aria-describedby"] for a in dates} == {"dates-hint date-error"}
    (error,) = [a for tag, a in elements.tags if a.get("id") == "date-error"]
    assert error["role"] == "alert"
    (notice,) = [a for tag, a in elements.tags if a.get("id") == "suppression-notice"]
    assert notice["role"] == "status"


def test_filters_and_map_are_in_landmarks(client):
    elements = Elements(client.get("/map?lang=sq").get_data(as_text=True))
    (form,) = elements.all("form")
    assert form["aria-labelledby"] == "filters-title"  # a named form is a landmark
    assert [tag for tag, _ in elements.tags].count("main") == 1
    titles = {a["id"] for tag, a in elements.tags if a.get("id", "").endswith("-title")}
    assert {"filters-title", "legend-title", "table-title"} <= titles


def relative_luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_colour_ramp_steps_in_lightness_and_stands_out_from_the_background():
    source = (STATIC / "map.js").read_text()
    ramp = re.findall(r"#[0-9a-f]{6}", re.search(r"const RAMP = \[(.*?)\];", source)[1])
    background = re.search(r"const BACKGROUND = '(#[0-9a-f]{6})'", source)[1]
    assert len(ramp) == 5
    assert min(contrast(c, background) for c in ramp) >= 3  # WCAG 1.4.11
    luminance = [relative_luminance(c) for c in ramp]
    assert luminance == sorted(luminance)
    # Neighbours differ in lightness, not only in hue (the old ramp's lowest two: 1.12:1).
    assert min(contrast(a, b) for a, b in itertools.pairwise(ramp)) >= 1.4


# --- In a real browser -------------------------------------------------------------------

VIEWPORT = (1000, 700)
PHONE = (320, 640)


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
    """The notice for the last /v1/heatmaps answer the page asked for, fetched again: live
    counts (k, withheld cells) or, for sensitive categories, the release read."""
    group = parse_qs(urlsplit(page.evaluate("location.href")).query).get("group")
    last = [
        u
        for u in page.requested()
        if urlsplit(u).path == "/v1/heatmaps"
        and "municipality" not in (query := parse_qs(urlsplit(u).query))
        and query.get("group") == group  # not one of the table's questions
    ][-1]
    heatmap = get_json(last)
    assert heatmap["features"], "the view has no published cells: seed more reports"
    messages = CLIENT[locale]  # English and Albanian plurals: one and other
    live, released = heatmap["filters"]["live_categories"], heatmap["filters"]["released_groups"]
    wants_release = "layer=released" in page.evaluate("location.search")
    if live and not (released and wants_release):
        k, hidden = heatmap["k"], heatmap["suppressed"]["cells"]
        threshold = messages["threshold"]["one" if k == 1 else "other"].format(k=k)
        forms = messages["hidden"]
        cells = forms["zero" if hidden == 0 else "one" if hidden == 1 else "other"].format(n=hidden)
        return f"{threshold} {cells}"
    (month,) = heatmap["release"]["ids"]  # no dates: the latest release
    name = page.evaluate(
        f"new Intl.DateTimeFormat(document.documentElement.lang, {{month: 'long', year: 'numeric', timeZone: 'UTC'}})"
        f".format(Date.parse('{month}-01'))"
    )
    return messages["release"].format(months=name, t=heatmap["release"]["threshold"])


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


VISIBLE = """(() => {
  const el = document.getElementById(%s);
  const r = el.getBoundingClientRect();
  if (!r.width || !r.height || r.left < 0 || r.top < 0 || r.right > innerWidth
      || r.bottom > innerHeight) return false;
  return el.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2));
})()"""

# An element's box as [left, top, right, bottom], in page coordinates.
RECT = """((el) => {
  const r = el.getBoundingClientRect();
  return [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY];
})"""
RECT_OF = RECT + "(document.getElementById(%s))"
# Everything that could be drawn over the map: panels and MapLibre's controls.
OVERLAYS = "[...document.querySelectorAll('.panel, .maplibregl-ctrl')].map(" + RECT + ")"

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


def test_browser_draws_heatmap_tiles_legend_and_notice(
    demo_reports, live_server, browser, tmp_path
):
    page = browser.new_page(*VIEWPORT)
    page.navigate(f"{live_server.url}/map?lang=en")
    wait_for_map(page)

    # Vector tiles were fetched (by MapLibre's workers) and served as such.
    tiles = tile_responses(page)
    assert tiles, page.requested()
    assert {t["status"] for t in tiles} == {200}
    assert {t["mimeType"] for t in tiles} == {"application/vnd.mapbox-vector-tile"}
    assert '"method": "GET", "path": "/v1/tiles/heatmap/' in live_server.log.read_text()
    # Nothing came from anywhere but this server.
    assert [
        u for u in page.requested() if not u.startswith((live_server.url, "data:", "blob:"))
    ] == []
    assert page.problems() == []

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
        page.press("ArrowDown", 40)
    wait_for_map(page)
    assert tile_responses(page, group="harassment")
    assert parse_qs(urlsplit(page.evaluate("location.href")).query)["group"] == ["harassment"]
    notice = page.evaluate("document.getElementById('suppression-notice').textContent")
    assert notice == expected_notice(page, "en")

    # Switching language keeps the filter.
    page.evaluate("document.querySelector('a[hreflang=sq]').click()")
    page.wait_for("document.documentElement.lang === 'sq'")
    wait_for_map(page)
    assert page.evaluate("document.getElementById('filter-group').value") == "harassment"
    notice = page.evaluate("document.getElementById('suppression-notice').textContent")
    assert notice == expected_notice(page, "sq")
    assert page.problems() == []

    # On a phone the page is one column: the filters fold away, the legend follows the map.
    page.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True},
    )
    page.evaluate("window.beforeReload = true")
    page.send("Page.reload")
    page.wait_for("!window.beforeReload && document.readyState !== 'loading'")
    wait_for_map(page)
    assert page.evaluate("document.getElementById('filters').open") is False
    # Nothing covers anything: the panels, MapLibre's controls and its attribution.
    rectangles = page.evaluate(
        OVERLAYS + ".concat([document.getElementById('map')].map(" + RECT + "))"
    )
    panels_and_controls, (map_box,) = rectangles[:-1], rectangles[-1:]
    overlapping = [
        (a, b)
        for i, a in enumerate(panels_and_controls)
        for b in panels_and_controls[i + 1 :]
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]
    assert overlapping == []
    # The legend follows the map and is reached by scrolling, not by a scrolling box.
    legend = page.evaluate(RECT_OF % "'legend'")
    assert legend[1] >= map_box[3]
    assert page.evaluate(
        "document.getElementById('legend').scrollHeight"
        " <= document.getElementById('legend').clientHeight"
    )
    page.evaluate("document.getElementById('suppression-notice').scrollIntoView()")
    assert page.evaluate(VISIBLE % "'suppression-notice'")
    assert page.problems() == []


TABLE_ROWS = """[...document.querySelectorAll('#%s tbody tr')].map(
  (row) => [...row.cells].map((cell) => cell.textContent))"""


def table(page, table_id: str) -> dict:
    return {name: rest for name, *rest in page.evaluate(TABLE_ROWS % table_id)}


def test_table_gives_the_api_numbers_for_the_view(demo_reports, live_server, browser):
    page = browser.new_page(*VIEWPORT)
    page.navigate(f"{live_server.url}/map?lang=sr")
    wait_for_map(page)
    # Opened from the keyboard.
    page.evaluate("document.querySelector('#table-details summary').focus()")
    page.press("Enter", 13, text="\r")
    page.wait_for("document.getElementById('table-details').dataset.state === 'ready'", timeout=60)
    view = [u for u in page.requested() if urlsplit(u).path == "/v1/heatmaps"][0]
    west, south, east, north = map(float, parse_qs(urlsplit(view).query)["bbox"][0].split(","))
    in_view = [
        m
        for m in get_json(f"{live_server.url}/v1/municipalities?lang=sr")
        if m["bbox"][0] <= east
        and m["bbox"][2] >= west
        and m["bbox"][1] <= north
        and m["bbox"][3] >= south
    ]
    assert len(in_view) >= 20
    messages = CLIENT["sr"]

    def number(n: int) -> str:
        return f"{n:,}".replace(",", ".")

    # All categories: the live layer (non-sensitive categories). Each row is the sum of the
    # published cells of /v1/heatmaps for that municipality in the view, with the number of
    # cells it withheld: asked again here, row by row.
    expected = {}
    for m in in_view:
        answer = get_json(f"{view}&municipality={m['slug']}")
        assert answer["filters"]["released_groups"]  # a mixed selection, kept apart
        total = sum(f["properties"].get("count", 0) for f in answer["features"])
        hidden = answer["suppressed"]["cells"]
        shown = messages["withheld"] if total == 0 and hidden else number(total)
        expected[m["name"]] = [shown, str(hidden)]
    assert table(page, "table-municipalities") == expected
    assert messages["withheld"] in [count for count, _ in expected.values()]
    groups = table(page, "table-groups")
    assert groups["Putevi i saobraćaj"][1] != messages["not_published"]
    harassment = groups[f"Seksualno uznemiravanje {messages['released_suffix']}"]
    answer = get_json(f"{view}&group=harassment")
    assert answer["release"]["ids"] == [demo_reports.release]
    total = sum(f["properties"]["count"] for f in answer["features"])
    assert harassment == [number(total) if total else "—", messages["not_published"]]

    # The released layer, chosen from the keyboard: the same rows from the releases alone.
    page.evaluate("document.getElementById('layer-live').focus()")
    page.press("ArrowDown", 40)
    page.wait_for("location.search.includes('layer=released')")
    page.wait_for("document.getElementById('table-details').dataset.state === 'ready'", timeout=60)
    wait_for_map(page)
    assert page.evaluate("document.getElementById('suppression-notice').textContent") == (
        expected_notice(page, "sr")
    )
    expected = {}
    for m in in_view:
        answer = get_json(f"{view}&municipality={m['slug']}")
        total = sum(f["properties"].get("sensitive_count", 0) for f in answer["features"])
        expected[m["name"]] = [number(total) if total else "—", messages["not_published"]]
    assert table(page, "table-municipalities") == expected
    assert page.evaluate("document.getElementById('table-layer').textContent") != ""

    # The data links give the same view as GeoJSON, CSV and OGC API Features.
    answer = get_json(view)
    links = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.downloads a')].map("
        "(a) => [a.id, a.href]))"
    )
    geojson = get_json(links["download-geojson"])
    assert geojson["filters"] == answer["filters"]
    assert geojson["features"] == answer["features"]
    with urllib.request.urlopen(links["download-csv"], timeout=10) as response:
        assert response.headers.get_content_type() == "text/csv"
        lines = response.read().decode().splitlines()
    assert lines[0] == "cell,lat,lon,count,sensitive_count"
    assert len(lines) - 1 == len(answer["features"])
    ogc = get_json(links["download-ogc"])
    published = {f["properties"]["cell"]: f["properties"] for f in answer["features"]}
    assert ogc["features"]
    for feature in ogc["features"]:
        properties = dict(feature["properties"])
        properties.pop("resolution")
        assert published[properties["cell"]] == properties
    # The layer is part of the link.
    page.evaluate("window.beforeReload = true")
    page.send("Page.reload")
    page.wait_for("!window.beforeReload && document.readyState !== 'loading'")
    wait_for_map(page)
    assert page.evaluate("document.getElementById('layer-released').checked")
    assert page.evaluate("document.getElementById('suppression-notice').textContent") == (
        expected_notice(page, "sr")
    )
    assert page.problems() == []
