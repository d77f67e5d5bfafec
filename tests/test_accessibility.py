"""Accessibility in a real browser: axe-core on /map and /docs, and /map from the keyboard.

axe-core comes from npm, pinned in tests/axe/package-lock.json and installed by scripts/test
(`npm ci`); it is injected into Debian's Chromium over the DevTools protocol.
"""

import itertools
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from chromium import *  # noqa: F403  (fixtures: demo_reports, live_server, browser)
from chromium import wait_for_map
from conftest import ROOT

from civic_api.mappage.messages import CLIENT

AXE_PACKAGE = ROOT / "tests" / "axe"
AXE = AXE_PACKAGE / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
WIDTHS = {1280: 800, 320: 640}

RUN_AXE = """axe.run(document, {runOnly: {type: 'tag', values: %s}, resultTypes: ['violations']})
  .then((results) => results.violations.map((v) => ({
    id: v.id, impact: v.impact,
    nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`).slice(0, 5)})))"""


def axe_violations(page) -> list[dict]:
    """The WCAG 2.1 A and AA violations axe-core finds in the page as it is now."""
    assert AXE.exists(), "axe-core is missing: scripts/test installs it (npm ci in tests/axe)"
    if not page.evaluate("typeof axe === 'object'"):
        page.evaluate(AXE.read_text() + ";0")
    pinned = json.loads((AXE_PACKAGE / "package.json").read_text())["dependencies"]["axe-core"]
    assert page.evaluate("axe.version") == pinned
    return page.evaluate(RUN_AXE % json.dumps(WCAG_21_AA), timeout=60)


def open_map(browser, url: str, width: int):
    page = browser.new_page(width, WIDTHS[width])
    page.navigate(url)
    wait_for_map(page)
    return page


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("locale", ["sq", "sr", "en"])
def test_map_has_no_wcag_21_aa_violations(demo_reports, live_server, browser, locale, width):
    page = open_map(browser, f"{live_server.url}/map?lang={locale}", width)
    # Everything unfolded (the filters start folded on phones) and the table filled in.
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    page.wait_for("document.getElementById('table-details').dataset.state === 'ready'", timeout=60)
    assert page.evaluate("document.querySelectorAll('#table-municipalities tbody tr').length")
    assert axe_violations(page) == []
    # Reflow (1.4.10): nothing scrolls sideways, even at 320 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.problems() == []


def test_docs_page_has_a_language_our_fixes_and_no_inline_script(client):
    r = client.get("/docs")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert '<link href="/static/docs/docs.css"' in html
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert [attrs for attrs, _ in scripts] == [
        ' type="application/json" id="swagger-ui-config"',
        ' src="/docs/static/swagger-ui-standalone-preset.js"',
        ' src="/docs/static/swagger-ui-bundle.js"',
        ' src="/static/docs/docs.js"',
    ]
    assert json.loads(scripts[0][1]) == {
        "dom_id": "#swagger-ui-container",
        "override": {},
        "url": "/openapi.json",
    }
    for path in ("/static/docs/docs.css", "/static/docs/docs.js"):
        asset = client.get(path)
        assert asset.status_code == 200
        asset.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_docs_have_no_serious_violations(live_server, browser, width):
    page = browser.new_page(width, WIDTHS[width])
    page.navigate(f"{live_server.url}/docs")
    page.wait_for("document.querySelectorAll('.opblock').length > 50", timeout=30)
    assert page.evaluate("document.documentElement.lang") == "en"
    # One operation unfolded, with "Try it out": parameters, buttons and examples.
    page.evaluate("document.querySelector('.opblock-summary-control').click()")
    page.wait_for("!!document.querySelector('.try-out__btn')")
    page.evaluate("document.querySelector('.try-out__btn').click()")
    page.wait_for("!!document.querySelector('.btn.execute')")
    serious = [v for v in axe_violations(page) if v["impact"] in ("serious", "critical")]
    assert serious == []


def value(page, element_id: str) -> str:
    return page.evaluate(f"document.getElementById('{element_id}').value")


def choose_with_arrows(page, select_id: str, wanted) -> str:
    """Focus a select and press ArrowDown until `wanted(value)`; return the value."""
    page.evaluate(f"document.getElementById('{select_id}').focus()")
    for _ in range(30):
        if wanted(value(page, select_id)):
            return value(page, select_id)
        page.press("ArrowDown", 40)
    raise AssertionError(f"{select_id}: no wanted option")


def filters_in_url(page) -> dict:
    query = parse_qs(urlsplit(page.evaluate("location.href")).query)
    return {k: v[0] for k, v in query.items() if k in ("group", "category", "from", "to", "status")}


def date_params(page) -> set[tuple]:
    """(from, to) of every heatmap and tile request so far."""
    pairs = set()
    for url in page.requested():
        parts = urlsplit(url)
        if parts.path == "/v1/heatmaps" or parts.path.startswith("/v1/tiles/heatmap/"):
            query = parse_qs(parts.query)
            pairs.add((query.get("from", [None])[0], query.get("to", [None])[0]))
    return pairs


def type_date(page, element_id: str, digits: str, segment: int = 0) -> None:
    """Focus a date field (its first part, then `segment` parts on) and type the digits.
    Chromium puts the focus back on the part last used unless the field lost it meanwhile."""
    page.evaluate(f"document.getElementById('{element_id}').blur()")
    page.evaluate(f"document.getElementById('{element_id}').focus()")
    for _ in range(segment):
        page.press("Tab", 9)
    page.type_digits(digits)


def settle_dates(page) -> None:
    """Wait for the typing pause after which the page applies a date or shows its error."""
    page.evaluate("new Promise((resolve) => setTimeout(resolve, 1200))")
    wait_for_map(page)


NOTICE_WRITES = """window.noticeWrites = [];
new MutationObserver(() => noticeWrites.push(
  document.getElementById('suppression-notice').textContent)).observe(
  document.getElementById('suppression-notice'),
  {childList: true, characterData: true, subtree: true});
document.getElementById('suppression-notice').textContent"""


def test_keyboard_sets_every_filter_and_only_whole_valid_dates_reach_the_api(
    demo_reports, live_server, browser
):
    page = open_map(browser, f"{live_server.url}/map?lang=en", 1280)
    messages = CLIENT["en"]
    first_notice = page.evaluate(NOTICE_WRITES)

    # Tab reaches the filters in order, then the map and the table.
    page.evaluate("document.activeElement.blur()")
    focused = []
    for _ in range(40):
        page.press("Tab", 9)
        focused.append(
            page.evaluate(
                "document.activeElement.id || document.activeElement.className"
                " || document.activeElement.tagName"
            )
        )
    order = [name for name, _ in itertools.groupby(focused)]
    order = order[: order.index(order[0], 1)] if order.count(order[0]) > 1 else order  # one round
    wanted = [
        "filter-group",
        "filter-category",
        "filter-from",
        "filter-to",
        "filter-status",
        "layer-live",
    ]
    assert [name for name in order if name in wanted] == wanted
    assert order.index("filter-status") < order.index("maplibregl-canvas")
    assert "" not in order

    # All categories mix live and released counts: two layers, chosen with the arrow keys.
    page.evaluate("document.getElementById('layer-live').focus()")
    page.press("ArrowDown", 40)
    page.wait_for("location.search.includes('layer=released')")
    wait_for_map(page)
    page.press("ArrowUp", 38)
    page.wait_for("!location.search.includes('layer=')")
    wait_for_map(page)

    group = choose_with_arrows(page, "filter-group", lambda v: v == "environment")
    wait_for_map(page)
    category = choose_with_arrows(page, "filter-category", bool)
    wait_for_map(page)
    status = choose_with_arrows(page, "filter-status", lambda v: v == "open")
    wait_for_map(page)
    chosen = {"group": group, "category": category, "status": status}
    assert filters_in_url(page) == chosen
    # The category list has one group per <optgroup>, and only the chosen group's.
    labels = page.evaluate(
        "[...document.querySelectorAll('#filter-category optgroup')].map((g) => g.label)"
    )
    assert labels == ["Environment"]

    # From: typed key by key (month, day, year), passing years 0002, 0020 and 0202.
    type_date(page, "filter-from", "01012024")
    settle_dates(page)
    assert filters_in_url(page) == chosen | {"from": "2024-01-01"}
    assert page.evaluate("document.getElementById('date-error').textContent") == ""

    # To before From: the error is announced, the last valid filters stay applied.
    type_date(page, "filter-to", "06302023")
    settle_dates(page)
    assert (
        page.evaluate("document.getElementById('date-error').textContent") == messages["date_order"]
    )
    assert page.evaluate("document.getElementById('date-error').getAttribute('role')") == "alert"
    assert page.evaluate(
        "[...document.querySelectorAll('input[type=date]')].map((i) => i.ariaInvalid)"
    ) == ["true", "true"]
    assert filters_in_url(page) == chosen | {"from": "2024-01-01"}
    assert axe_violations(page) == []  # with the error on show

    type_date(page, "filter-to", "12312024")
    settle_dates(page)
    assert filters_in_url(page) == chosen | {"from": "2024-01-01", "to": "2024-12-31"}
    assert page.evaluate("document.getElementById('date-error').textContent") == ""

    # The year takes four digits at most (the field's max is in this century) ...
    type_date(page, "filter-to", "12023", segment=2)
    assert value(page, "filter-to") == "2023-12-31"
    settle_dates(page)
    assert (
        page.evaluate("document.getElementById('date-error').textContent") == messages["date_order"]
    )
    # ... and a five-digit one from elsewhere (pasted, another browser) is compared as a date:
    # after the last day allowed, although "12023-06-30" < "2024-01-01" as text.
    page.evaluate(
        "(() => { const to = document.getElementById('filter-to'); to.value = '12023-06-30';"
        " to.dispatchEvent(new Event('input', {bubbles: true})); })()"
    )
    assert value(page, "filter-to") == "12023-06-30"
    settle_dates(page)
    assert page.evaluate("document.getElementById('date-error').textContent").startswith(
        messages["date_range"].split("{")[0]
    )
    assert filters_in_url(page) == chosen | {"from": "2024-01-01", "to": "2024-12-31"}

    # A date emptied in part is incomplete: said when leaving the field, not applied.
    type_date(page, "filter-to", "")
    page.press("Backspace", 8)
    page.evaluate("document.getElementById('filter-to').blur()")
    assert (
        page.evaluate("document.getElementById('date-error').textContent")
        == messages["date_incomplete"]
    )
    assert filters_in_url(page) == chosen | {"from": "2024-01-01", "to": "2024-12-31"}

    # Reset from the keyboard clears everything.
    page.evaluate("document.querySelector('#filter-form button[type=reset]').focus()")
    page.press("Enter", 13, text="\r")
    page.wait_for("!location.search.includes('group=')")
    wait_for_map(page)
    assert filters_in_url(page) == {}
    assert page.evaluate("document.getElementById('date-error').textContent") == ""

    # No request ever carried a date other than those applied.
    assert date_params(page) == {(None, None), ("2024-01-01", None), ("2024-01-01", "2024-12-31")}

    # Panning from the keyboard: the live notice is rewritten only when its text changes.
    page.evaluate("document.querySelector('.maplibregl-canvas').focus()")
    for _ in range(3):
        page.press("ArrowRight", 39)
        page.evaluate("new Promise((resolve) => setTimeout(resolve, 400))")
        wait_for_map(page)
    writes = page.evaluate("noticeWrites")
    assert writes
    assert all(a != b for a, b in itertools.pairwise([first_notice, *writes])), writes
    assert page.problems() == []
