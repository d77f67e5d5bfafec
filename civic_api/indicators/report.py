"""The quarterly M&E report: HTML for the screen, PDF (WeasyPrint) to send, charts drawn by
matplotlib on the server, every word in sq, sr or en."""

import base64
import io
from datetime import datetime

from flask import render_template
from sqlalchemy import text

from civic_api.database import session
from civic_api.errors import NotFound
from civic_api.i18n import translate
from civic_api.indicators import service
from civic_api.indicators.compute import BY_NAME, REASONS
from civic_api.indicators.messages import INDICATOR_NAMES, TEXT
from civic_api.indicators.periods import LOCAL_TZ, Period

KEY_FIGURES = (
    "reports_received",
    "reports_per_10000",
    "acknowledgement_hours_median",
    "acknowledgement_hours_p90",
    "response_hours_median",
    "resolution_hours_median",
    "acknowledged_within_target_rate",
    "backlog_at_period_end",
    "overdue_at_period_end",
    "no_response",
    "resolution_rate",
    "rejection_rate",
    "reopen_rate",
    "duplicate_rate",
    "confirmed_fixed_rate",
    "feedback_rate",
    "rating_mean",
    "rating_4_5_rate",
    "active_devices",
    "followed_rate",
    "reporter_comments",
    "first_time_reporters",
    "top_cells_share",
    "hotspots_cooled_rate",
)
GROUP_COLUMNS = (
    "reports_received",
    "acknowledgement_hours_median",
    "resolution_rate",
    "rating_mean",
)
LEAGUE_BY = "acknowledgement_hours_median"
LEAGUE_COLUMNS = (
    "reports_received",
    "reports_per_10000",
    LEAGUE_BY,
    "resolution_rate",
    "rating_mean",
)

MONTHS_SQL = """
SELECT to_char(r.submitted_at AT TIME ZONE 'Europe/Belgrade', 'YYYY-MM') AS month, count(*) AS n
FROM report r JOIN category c ON c.id = r.category_id
WHERE r.municipality_id = :m AND r.submitted_at >= :start AND r.submitted_at < :end
  AND NOT (SELECT bool_or(c2.sensitive) FROM category c2 WHERE c2.group_id = c.group_id)
GROUP BY 1
"""


def fmt(value, unit: str, locale: str, withheld: str | None = None) -> str:
    """A figure as the report prints it; withheld figures say so."""
    if withheld:
        return "—" if withheld == "below_min_n" else "·"
    if value is None:
        return "—"
    if unit == "rate":
        text_ = f"{value * 100:.1f} %"
    elif unit == "count":
        text_ = f"{int(value):,}"
    else:
        text_ = f"{value:,.1f}"
    if locale in ("sq", "sr"):  # 1.234,5: thousands with a dot, decimals with a comma
        text_ = text_.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return text_


def _figure(**options):
    """A matplotlib figure; matplotlib (~50 MB) is loaded by the first report, not at import."""
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **options)


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def months_chart(place, period: Period, locale: str) -> str:
    """Reports received per month, this period and the one before, non-sensitive only."""
    previous = period.previous()
    params = {"m": place.id, "start": previous.start, "end": period.end}
    counts = dict(session.execute(text(MONTHS_SQL), params).all())
    labels = previous.month_labels() + period.month_labels()
    figure = _figure(figsize=(6.4, 2.4))
    axes = figure.subplots()
    colours = ["#b0bec5"] * previous.months + ["#1565c0"] * period.months
    axes.bar(labels, [counts.get(m, 0) for m in labels], color=colours)
    axes.set_title(translate(TEXT["chart_months"], locale), fontsize=10)
    axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def hours_chart(place, period: Period, locale: str) -> str:
    """A weekday × hour heat grid of when non-sensitive problems occurred."""
    grid = service.by_hour_and_weekday(place.id, period, "all", "non_sensitive")
    figure = _figure(figsize=(6.4, 2.2))
    axes = figure.subplots()
    axes.imshow(grid, aspect="auto", cmap="Blues")
    axes.set_yticks(range(7), translate(TEXT["weekdays"], locale).split(","), fontsize=7)
    axes.set_xticks(range(0, 24, 3), [str(h) for h in range(0, 24, 3)], fontsize=7)
    axes.set_xlabel(translate(TEXT["hour"], locale), fontsize=8)
    axes.set_title(translate(TEXT["chart_hours"], locale), fontsize=10)
    return _png(figure)


def league_chart(league: list[dict], slug: str, locale: str) -> str:
    """Median hours to acknowledgement of every ranked municipality, this one highlighted."""
    ranked = [r for r in league if r["rank"] is not None]
    figure = _figure(figsize=(6.4, max(2.0, 0.16 * len(ranked) + 0.8)))
    axes = figure.subplots()
    names = [r["name"] for r in ranked][::-1]
    values = [r["league_value"] for r in ranked][::-1]
    colours = ["#c62828" if r["slug"] == slug else "#90a4ae" for r in ranked][::-1]
    axes.barh(names, values, color=colours)
    axes.tick_params(axis="y", labelsize=6)
    axes.set_title(translate(TEXT["chart_league"], locale), fontsize=10)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def build(
    period: Period,
    slug: str,
    locale: str,
    *,
    exact_for,
    min_n: int,
    now: datetime,
    max_age_seconds: float = 0,
) -> str:
    """The report's HTML. `exact_for` as in service.build_table (the public: [])."""
    places = {m.slug: m for m in service.municipalities()}
    place = places.get(slug)
    if place is None:
        raise NotFound(f"No municipality has the slug {slug!r}.")
    table = service.build_table(
        period,
        now,
        min_n=min_n,
        exact_for=exact_for,
        released=service.released_volumes,
        levels={"all", "group"},
        max_age_seconds=max_age_seconds,
    )
    rows = {(r.municipality, r.level, r.key): r for r in table.rows}
    exact = exact_for is None or place.id in set(exact_for)

    def cells(row, names):
        out = []
        for name in names:
            unit = BY_NAME[name].unit
            value = row.values[name] if row else None
            previous = row.previous[name] if row else None
            out.append(
                {
                    "name": translate(INDICATOR_NAMES[name], locale),
                    "value": fmt(value.value, unit, locale, value.withheld) if value else "—",
                    "withheld": REASONS.get(value.withheld) if value else None,
                    "previous": fmt(previous.value, unit, locale, previous.withheld)
                    if previous
                    else "—",
                    "median": fmt(row.median[name], unit, locale) if row else "—",
                    "rank": row.rank[name] if row else None,
                }
            )
        return out

    overall = rows.get((slug, "all", "non_sensitive"))
    groups = sorted(
        (r for r in table.rows if r.municipality == slug and r.level == "group"),
        key=lambda r: (r.sensitive, r.key),
    )
    group_names = dict(session.execute(text("SELECT code, name FROM category_group")).all())
    league = []
    for other in places.values():
        row = rows.get((other.slug, "all", "non_sensitive"))
        value = row.values[LEAGUE_BY] if row else None
        league.append(
            {
                "slug": other.slug,
                "name": translate(other.name, locale),
                "rank": row.rank[LEAGUE_BY] if row else None,
                "league_value": value.value if value else None,
                "cells": cells(row, LEAGUE_COLUMNS),
            }
        )
    league.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["name"]))
    ranked = sum(1 for r in league if r["rank"] is not None)
    return render_template(
        "indicators_report.html",
        t={k: translate(v, locale) for k, v in TEXT.items()},
        locale=locale,
        municipality=translate(place.name, locale),
        population=fmt(place.population, "count", locale) if place.population else "—",
        period=period,
        period_range=f"{period.start_date.isoformat()} – "
        f"{period.end_date.fromordinal(period.end_date.toordinal() - 1).isoformat()}",
        previous=period.previous(),
        generated=now.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
        exact=exact,
        min_n=min_n,
        key_figures=cells(overall, KEY_FIGURES),
        groups=[
            {
                "name": translate(group_names.get(r.key, {}), locale) or r.key,
                "sensitive": r.sensitive,
                "cells": cells(r, GROUP_COLUMNS),
            }
            for r in groups
        ],
        group_headers=[translate(INDICATOR_NAMES[n], locale) for n in GROUP_COLUMNS],
        league=league,
        league_me=slug,
        ranked=ranked,
        league_headers=[translate(INDICATOR_NAMES[n], locale) for n in LEAGUE_COLUMNS],
        charts=[
            months_chart(place, period, locale),
            hours_chart(place, period, locale),
            league_chart(league, slug, locale),
        ],
    )


def to_pdf(html: str) -> bytes:
    """The report as PDF (A4), images inline."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()
