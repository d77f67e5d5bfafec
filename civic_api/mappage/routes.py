"""The map page (`/map`): an HTML shell, with map.js drawing the heatmap tiles on MapLibre."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, make_response, redirect, render_template, request, url_for

from civic_api.analytics.service import month_end
from civic_api.i18n import current_locale
from civic_api.mappage.messages import CLIENT, HTML_LANG, LANGUAGES, PAGE

# A plain Flask blueprint: pages are not part of the OpenAPI document.
blp = Blueprint("mappage", __name__)

# The date filters: reports start in 2000; months are local (Kosovo) calendar months, and the
# latest date worth asking for is the end of the current one (public dates are whole months).
FIRST_DAY = date(2000, 1, 1)
LOCAL_TIME = ZoneInfo("Europe/Belgrade")


# Everything is served from this origin. MapLibre runs its workers from blob: URLs and
# draws control icons from data: URLs; it sets styles through the CSSOM only, which
# style-src does not restrict, so no 'unsafe-inline' is needed.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "worker-src blob:",
        "child-src blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


@blp.get("/")
def index():
    """Send visitors to the map, keeping ?lang= and the filters."""
    # The query string is passed on as it came (url_for would read _external and _scheme).
    query = request.query_string.decode("ascii", "replace")
    return redirect(url_for("mappage.map_page") + (f"?{query}" if query else ""))


@blp.get("/map")
def map_page():
    """The public heatmap page, in the negotiated language."""
    locale = current_locale()
    response = make_response(
        render_template(
            "map.html",
            locale=locale,
            html_lang=HTML_LANG[locale],
            languages=LANGUAGES,
            t=PAGE[locale],
            client_messages=CLIENT[locale],
            date_min=FIRST_DAY.isoformat(),
            date_max=month_end(datetime.now(LOCAL_TIME).date()).isoformat(),
        )
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # Links out of the page must not tell other sites what was being looked at.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
