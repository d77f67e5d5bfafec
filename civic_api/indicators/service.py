"""Indicators from the reports: raw aggregates in SQL, assembled per audience.

Every aggregate is computed for all municipalities at once (one scan of the period through
the covering index), because each figure is shown beside the median of all municipalities.
Breakdowns are grouping sets: category, category group, and all categories of one
sensitivity ("all/non_sensitive", "all/sensitive") — never a sum that mixes the two.
"""

import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text

from civic_api.analytics import releases
from civic_api.analytics.models import MUNICIPALITY
from civic_api.database import session
from civic_api.errors import Unavailable
from civic_api.indicators import compute
from civic_api.indicators.compute import INDICATORS, Raw, Row, Value
from civic_api.indicators.periods import Period

# The top share of cells that counts as hotspots (10 %).
HOTSPOT_SHARE = 0.10
# A group is sensitive if any of its categories is: its figures then follow the sensitive rule.
CATEGORIES_CTE = """
cat AS (
    SELECT c.id, c.code AS category, g.code AS grp,
           bool_or(c.sensitive) OVER (PARTITION BY c.group_id) AS sensitive
    FROM category c JOIN category_group g ON g.id = c.group_id
)"""
SETS = "GROUPING SETS ((m, category, grp, sensitive), (m, grp, sensitive), (m, sensitive))"
LEVEL = "GROUPING(category, grp)"  # 0: category, 2: group (category rolled up), 3: all

COHORT_SQL = f"""
WITH {CATEGORIES_CTE},
cohort AS (
    SELECT r.municipality_id AS m, cat.category, cat.grp, cat.sensitive,
           r.status, r.status = 'duplicate' AS dup,
           extract(epoch FROM r.first_acknowledged_at - r.submitted_at) / 3600 AS ack_h,
           extract(epoch FROM r.first_responded_at - r.submitted_at) / 3600 AS response_h,
           extract(epoch FROM r.first_resolved_at - r.submitted_at) / 3600 AS resolution_h,
           r.first_acknowledged_at, r.first_responded_at, r.first_resolved_at,
           r.first_reopened_at, r.response_due_at,
           f.fixed, f.rating, f.first_report
    FROM report r
    JOIN cat ON cat.id = r.category_id
    -- LATERAL: one primary-key probe per report, never a scan of all feedback.
    LEFT JOIN LATERAL (
        SELECT fixed, rating, first_report FROM report_feedback WHERE report_id = r.id
    ) f ON true
    WHERE r.submitted_at >= :start AND r.submitted_at < :end
)
SELECT m, category, grp, sensitive, {LEVEL} AS level,
       count(*) AS received,
       count(*) FILTER (WHERE dup) AS duplicates,
       count(*) FILTER (WHERE NOT dup) AS handled,
       count(*) FILTER (WHERE NOT dup AND first_resolved_at IS NOT NULL) AS resolved,
       count(*) FILTER (WHERE status = 'rejected') AS rejected,
       count(*) FILTER (WHERE NOT dup AND first_reopened_at IS NOT NULL) AS reopened,
       count(*) FILTER (
           WHERE NOT dup AND first_acknowledged_at IS NULL AND first_responded_at IS NULL
       ) AS unanswered,
       count(*) FILTER (
           WHERE NOT dup AND response_due_at IS NOT NULL
             AND (first_acknowledged_at IS NOT NULL OR response_due_at < :as_of)
       ) AS target_n,
       count(*) FILTER (WHERE NOT dup AND first_acknowledged_at <= response_due_at)
           AS within_target,
       count(ack_h) FILTER (WHERE NOT dup) AS ack_n,
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY ack_h)
           FILTER (WHERE NOT dup) AS ack_q,
       count(response_h) FILTER (WHERE NOT dup) AS response_n,
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY response_h)
           FILTER (WHERE NOT dup) AS response_q,
       count(resolution_h) FILTER (WHERE NOT dup) AS resolution_n,
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolution_h)
           FILTER (WHERE NOT dup) AS resolution_q,
       count(*) FILTER (WHERE status IN ('resolved', 'rejected') OR rating IS NOT NULL)
           AS closed,
       count(rating) AS answered,
       coalesce(sum(rating), 0) AS rating_sum,
       count(*) FILTER (WHERE rating >= 4) AS rating_4_5,
       count(*) FILTER (WHERE fixed = 'yes' AND first_reopened_at IS NULL) AS fixed_yes,
       count(*) FILTER (WHERE NOT dup AND (fixed = 'no' OR first_reopened_at IS NOT NULL))
           AS fixed_no,
       count(*) FILTER (WHERE fixed = 'dont_know' AND first_reopened_at IS NULL)
           AS fixed_dont_know,
       count(*) FILTER (WHERE first_report) AS first_time
FROM cohort
GROUP BY {SETS}
"""

# Open at the period's end: submitted before it and not closed before it (a reopened report
# counts as closed from its first closure; reopens are measured by reopen_rate).
BACKLOG_SQL = f"""
WITH {CATEGORIES_CTE}
SELECT r.municipality_id AS m, cat.category, cat.grp, cat.sensitive, {LEVEL} AS level,
       count(*) AS backlog,
       count(*) FILTER (
           WHERE r.response_due_at < :end
             AND (r.first_acknowledged_at IS NULL OR r.first_acknowledged_at >= :end)
       ) AS overdue
FROM report r JOIN cat ON cat.id = r.category_id
WHERE coalesce(r.first_closed_at, 'infinity'::timestamptz) >= :end
  AND r.submitted_at < :end
GROUP BY GROUPING SETS ((r.municipality_id, cat.category, cat.grp, cat.sensitive),
                        (r.municipality_id, cat.grp, cat.sensitive),
                        (r.municipality_id, cat.sensitive))
"""

ENGAGEMENT_SQL = f"""
WITH {CATEGORIES_CTE},
cohort AS (
    SELECT r.id, r.municipality_id AS m, cat.category, cat.grp, cat.sensitive
    FROM report r JOIN cat ON cat.id = r.category_id
    WHERE r.submitted_at >= :start AND r.submitted_at < :end
), links AS (
    SELECT c.*, l.device_id FROM cohort c
    CROSS JOIN LATERAL (SELECT device_id FROM push_report_link WHERE report_id = c.id) l
)
SELECT m, category, grp, sensitive, {LEVEL} AS level,
       count(DISTINCT device_id) AS devices, count(DISTINCT id) AS followed, 0 AS comments
FROM links GROUP BY {SETS}
UNION ALL
SELECT m, category, grp, sensitive, {LEVEL} AS level, 0, 0, count(*) AS comments
FROM cohort c
CROSS JOIN LATERAL (
    SELECT 1 FROM report_event WHERE report_id = c.id AND type = 'reporter_comment'
) e
GROUP BY {SETS}
"""

# Slot 0: the period; 1: the one before; 2: the one before that (the previous period's own
# hotspots need it). One scan serves both periods' hotspot figures.
CELLS_SQL = f"""
WITH {CATEGORIES_CTE}
SELECT r.municipality_id AS m, cat.category, cat.grp, cat.sensitive, r.h3_8 AS cell,
       CASE WHEN r.submitted_at >= :start THEN 0 WHEN r.submitted_at >= :previous_start THEN 1
            ELSE 2 END AS slot,
       count(*) AS n
FROM report r JOIN cat ON cat.id = r.category_id
WHERE r.submitted_at >= :earliest AND r.submitted_at < :end AND r.h3_8 IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6
"""

HOURS_SQL = """
SELECT extract(isodow FROM r.occurred_at AT TIME ZONE 'Europe/Belgrade')::int AS weekday,
       extract(hour FROM r.occurred_at AT TIME ZONE 'Europe/Belgrade')::int AS hour,
       count(*) AS n
FROM report r JOIN category c ON c.id = r.category_id JOIN category_group g ON g.id = c.group_id
WHERE r.municipality_id = :m AND r.submitted_at >= :start AND r.submitted_at < :end
  AND {match}
GROUP BY 1, 2
"""

ANSWERS_SQL = """
SELECT a.key AS attribute, coalesce(v.value, a.value) #>> '{}' AS answer, count(*) AS n
FROM report r
JOIN category c ON c.id = r.category_id
CROSS JOIN LATERAL jsonb_each(r.attributes) AS a(key, value)
LEFT JOIN LATERAL jsonb_array_elements(
    CASE jsonb_typeof(a.value) WHEN 'array' THEN a.value END) AS v(value) ON true
JOIN category_attribute d ON d.category_id = c.id AND d.code = a.key
    AND d.datatype IN ('singlevaluelist', 'multivaluelist')
WHERE r.municipality_id = :m AND r.submitted_at >= :start AND r.submitted_at < :end
  AND c.code = :category
GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2
"""

Key = tuple[int, str, str]  # (municipality id, level, key)


def _key(row) -> Key:
    if row.level == 0:
        return (row.m, "category", row.category)
    if row.level == 2:
        return (row.m, "group", row.grp)
    return (row.m, "all", "sensitive" if row.sensitive else "non_sensitive")


@dataclass
class Municipal:
    id: int
    slug: str
    name: dict
    population: int | None


def municipalities() -> list[Municipal]:
    rows = session.execute(
        text("SELECT id, slug, name, population FROM municipality ORDER BY slug")
    ).all()
    return [Municipal(*row) for row in rows]


def sensitivity() -> dict[tuple[str, str], bool]:
    """(level, key) → whether it follows the sensitive rule, for every breakdown."""
    rows = session.execute(
        text(
            "SELECT c.code, g.code, bool_or(c.sensitive) OVER (PARTITION BY c.group_id)"
            " FROM category c JOIN category_group g ON g.id = c.group_id"
        )
    ).all()
    found = {("all", "sensitive"): True, ("all", "non_sensitive"): False}
    for category, group, sensitive in rows:
        found[("category", category)] = sensitive
        found[("group", group)] = sensitive
    return found


def raw_aggregates(period: Period, now: datetime) -> dict[Key, Raw]:
    """Every municipality's raw counts for the period, per breakdown."""
    params = {"start": period.start, "end": period.end, "as_of": now}
    raws: dict[Key, Raw] = defaultdict(Raw)
    for row in session.execute(text(COHORT_SQL), params):
        raw = raws[_key(row)]
        for name in Raw.__dataclass_fields__:
            if name in row._fields:
                setattr(raw, name, row._mapping[name])
        for kind in ("ack", "response", "resolution"):
            quantiles = row._mapping[f"{kind}_q"]
            if quantiles is not None and quantiles[0] is not None:
                setattr(raw, f"{kind}_median", float(quantiles[0]))
                setattr(raw, f"{kind}_p90", float(quantiles[1]))
    for row in session.execute(text(BACKLOG_SQL), params):
        raw = raws[_key(row)]
        raw.backlog, raw.overdue = row.backlog, row.overdue
    for row in session.execute(text(ENGAGEMENT_SQL), params):
        raw = raws[_key(row)]
        raw.devices += row.devices
        raw.followed += row.followed
        raw.comments += row.comments
    return raws


def hotspots(period: Period, current: dict[Key, Raw], previous: dict[Key, Raw]) -> None:
    """Share of reports in the top 10 % of cells, and last period's top cells that cooled,
    for the period (into `current`) and the one before (into `previous`)."""
    before = period.previous()
    params = {
        "start": period.start,
        "end": period.end,
        "previous_start": before.start,
        "earliest": before.previous().start,
    }
    cells: dict[Key, list[Counter]] = defaultdict(lambda: [Counter(), Counter(), Counter()])
    for row in session.execute(text(CELLS_SQL), params):
        level_keys = (
            ("category", row.category),
            ("group", row.grp),
            ("all", "sensitive" if row.sensitive else "non_sensitive"),
        )
        for level, key in level_keys:
            cells[(row.m, level, key)][row.slot][row.cell] += row.n
    for key, slots in cells.items():
        tops = [top_cells(counts) for counts in slots]
        for raws, now, then in ((current, 0, 1), (previous, 1, 2)):
            raw = raws[key]
            raw.top_cell_reports = sum(slots[now][c] for c in tops[now])
            raw.previous_hotspots = len(tops[then])
            raw.cooled_hotspots = len(tops[then] - tops[now])


def top_cells(counts: Counter) -> set:
    """The top 10 % of the cells with reports (at least one), by count; ties at the
    threshold are all in."""
    if not counts:
        return set()
    ordered = sorted(counts.values(), reverse=True)
    threshold = ordered[max(math.ceil(len(ordered) * HOTSPOT_SHARE), 1) - 1]
    return {cell for cell, n in counts.items() if n >= threshold}


@dataclass
class Table:
    """The answer: one Row per municipality × breakdown, with the period's facts."""

    period: Period
    rows: list[Row]
    min_n: int
    computed_at: datetime  # when the national pass behind it ran


@dataclass
class National:
    """Every municipality's public figures for a period and the one before, with the median
    of municipalities and the league positions per breakdown and indicator."""

    computed_at: datetime
    current: dict[Key, dict[str, Value]]
    previous: dict[Key, dict[str, Value]]
    # The exact raw aggregates behind them, for the staff of each municipality.
    raws: dict[str, dict[Key, Raw]]
    medians: dict[tuple[str, str], dict[str, float | None]]
    ranks: dict[tuple[str, str], dict[str, dict[str, int]]]


# Per process: (database, period, min n) → National. Closed periods barely change, and the
# national pass is what costs; CIVIC_INDICATORS_CACHE_SECONDS bounds how stale it may be.
_cache: dict[tuple, National] = {}
_cache_lock = threading.Lock()
_compute_lock = threading.Lock()
CACHE_ENTRIES = 32
COMPUTE_WAIT_SECONDS = 30


# Values are immutable, and most repeat (withheld for the same reason, zeros): equal ones
# are one object, shared between municipalities, breakdowns and cached passes.
_SHARED: dict[Value, Value] = {}
SHARED_MAX = 100_000


def _values(raw, released_volumes, place, breakdown, exact_ok, is_sensitive, min_n):
    public_sensitive = is_sensitive and not exact_ok
    if public_sensitive:
        key = (place.id, *breakdown)
        raw = None
        if key in released_volumes:  # a released figure, or withheld below the threshold
            raw = Raw(received=released_volumes[key], released=True)
    if raw is not None:
        raw.population = place.population
    elif not public_sensitive:
        raw = Raw(population=place.population)
    if len(_SHARED) > SHARED_MAX:
        _SHARED.clear()
    values = {}
    for indicator in INDICATORS:
        value = compute.evaluate(indicator, raw, min_n, public_sensitive)
        values[indicator.name] = _SHARED.setdefault(value, value)
    return values


def national(
    period: Period,
    now: datetime,
    *,
    min_n: int,
    released: Callable[[Period], dict[Key, int | None]] | None,
    max_age_seconds: float = 0,
) -> National:
    """The public figures of every municipality (computed, or from the cache if younger
    than `max_age_seconds`)."""
    key = (str(session.get_bind().engine.url), period, min_n)

    def cached() -> National | None:
        with _cache_lock:
            hit = _cache.get(key)
        # A pass computed "after" `now` (a caller's clock behind) is not reused either.
        if hit is not None and 0 <= (now - hit.computed_at).total_seconds() < max_age_seconds:
            return hit
        return None

    if (hit := cached()) is not None:
        return hit
    # One pass at a time per process: concurrent requests wait for it instead of piling up.
    if not _compute_lock.acquire(timeout=COMPUTE_WAIT_SECONDS):
        raise Unavailable("The indicators are being computed; try again shortly.")
    try:
        return cached() or _national(key, period, now, min_n, released)
    finally:
        _compute_lock.release()


def _national(key, period, now, min_n, released) -> National:
    places = municipalities()
    sensitive = sensitivity()
    tables, exact = {}, {}
    exact["current"] = raw_aggregates(period, now)
    exact["previous"] = raw_aggregates(period.previous(), now)
    hotspots(period, exact["current"], exact["previous"])
    for which, when in (("current", period), ("previous", period.previous())):
        raws = exact[which]
        volumes = released(when) if released else {}
        tables[which] = {
            (p.id, *b): _values(raws.get((p.id, *b)), volumes, p, b, False, s, min_n)
            for b, s in sensitive.items()
            for p in places
        }
    medians, ranks = {}, {}
    for breakdown in sensitive:
        public = {p.slug: tables["current"][(p.id, *breakdown)] for p in places}
        medians[breakdown] = {
            i.name: compute.median(
                [v[i.name].value for v in public.values() if v[i.name].value is not None]
            )
            for i in INDICATORS
        }
        ranks[breakdown] = {
            i.name: compute.ranks({s: v[i.name] for s, v in public.items()}, i.name)
            for i in INDICATORS
        }
    result = National(now, tables["current"], tables["previous"], exact, medians, ranks)
    with _cache_lock:
        if len(_cache) >= CACHE_ENTRIES:
            _cache.pop(min(_cache, key=lambda k: _cache[k].computed_at))
        _cache[key] = result
    return result


def build_table(
    period: Period,
    now: datetime,
    *,
    min_n: int,
    exact_for: Iterable[int] | None,
    released: Callable[[Period], dict[Key, int | None]] | None = None,
    municipality_ids: set[int] | None = None,
    levels: set[str] | None = None,
    keys: set[str] | None = None,
    max_age_seconds: float = 0,
) -> Table:
    """Indicators for the period with the previous period and the median of municipalities.

    `exact_for`: the municipality ids whose sensitive figures this audience may see exactly
    (staff: their own; None means everyone's, [] the public). Everyone else's sensitive
    figures come from `released(period)` (volumes from the noisy releases) or are withheld.
    Everything comes from one national pass (`national`, cached up to `max_age_seconds`).
    The median and rank beside each figure are over the public values, so staff learn
    nothing exact about other municipalities. `municipality_ids`, `levels` and `keys`
    filter the rows returned.
    """
    exact = None if exact_for is None else set(exact_for)
    places = [p for p in municipalities() if municipality_ids is None or p.id in municipality_ids]
    sensitive = sensitivity()
    public = national(period, now, min_n=min_n, released=released, max_age_seconds=max_age_seconds)
    live = {p.id for p in places if exact is None or p.id in exact}
    current, previous = public.raws["current"], public.raws["previous"]
    # Every breakdown, whether or not it has reports: a row appearing would tell that one does.
    breakdowns = [
        b
        for b in sorted(sensitive)
        if (levels is None or b[0] in levels) and (keys is None or b[1] in keys)
    ]
    rows = []
    for breakdown in breakdowns:
        is_sensitive = sensitive[breakdown]
        for place in places:
            exact_ok = place.id in live
            if breakdown[0] == "category" and is_sensitive and not exact_ok:
                continue  # the releases are per group: no public sensitive category rows
            row = Row(place.slug, breakdown[0], breakdown[1], is_sensitive)
            key = (place.id, *breakdown)
            if exact_ok:
                row.values = _values(current.get(key), {}, place, breakdown, True, False, min_n)
                row.previous = _values(previous.get(key), {}, place, breakdown, True, False, min_n)
            else:
                row.values, row.previous = public.current[key], public.previous[key]
            row.median = public.medians[breakdown]
            row.rank = {
                name: positions.get(place.slug)
                for name, positions in public.ranks[breakdown].items()
            }
            rows.append(row)
    return Table(period, rows, min_n, public.computed_at)


CSV_HEADER = (
    "municipality",
    "breakdown",
    "key",
    "sensitive",
    "section",
    "indicator",
    "unit",
    "value",
    "n",
    "withheld",
    "previous",
    "previous_withheld",
    "median_of_municipalities",
    "rank",
)


def _blank(value):
    return "" if value is None else value


def csv_rows(table: Table) -> Iterator[tuple]:
    """One CSV line per row x indicator, in CSV_HEADER's order (blank for no value)."""
    for row in table.rows:
        for indicator in INDICATORS:
            value = row.values[indicator.name]
            previous = row.previous[indicator.name]
            yield (
                row.municipality,
                row.level,
                row.key,
                str(row.sensitive).lower(),
                indicator.section,
                indicator.name,
                indicator.unit,
                _blank(value.value),
                _blank(value.n),
                value.withheld or "",
                _blank(previous.value),
                previous.withheld or "",
                _blank(row.median[indicator.name]),
                _blank(row.rank[indicator.name]),
            )


def by_hour_and_weekday(
    municipality_id: int, period: Period, level: str, key: str
) -> list[list[int]]:
    """7 × 24 counts (Monday first, local hours) of when the reported events occurred."""
    params = {"m": municipality_id, "start": period.start, "end": period.end, "key": key}
    if level == "all":
        match = (
            "(SELECT bool_or(c2.sensitive) FROM category c2 WHERE c2.group_id = c.group_id)"
            " = :sensitive"
        )
        params["sensitive"] = key == "sensitive"
    else:
        match = "c.code = :key" if level == "category" else "g.code = :key"
    grid = [[0] * 24 for _ in range(7)]
    for row in session.execute(text(HOURS_SQL.format(match=match)), params):
        grid[row.weekday - 1][row.hour] = row.n
    return grid


def by_answer(municipality_id: int, period: Period, category: str) -> dict[str, dict[str, int]]:
    """Counts per answer of each list attribute of one category (multi-valued: per key)."""
    found: dict[str, dict[str, int]] = defaultdict(dict)
    params = {"m": municipality_id, "start": period.start, "end": period.end, "category": category}
    for row in session.execute(text(ANSWERS_SQL), params):
        found[row.attribute][row.answer] = row.n
    return dict(found)


def released_volumes(period: Period) -> dict[Key, int | None]:
    """Noisy volumes per municipality × sensitive group (and all sensitive groups) from the
    stored monthly releases, summed over the period's months, for every municipality.

    Sums of released values are post-processing, as private as the releases; a sum below
    the release threshold is withheld (None), as the releases withhold single values. A
    period with any month not released yet has no released figures ({}).
    """
    months = releases.releases_covering(period.start_date, period.end_date - timedelta(days=1))
    if {row.id for row in months} != set(period.month_labels()):
        return {}
    threshold = max(row.threshold for row in months)
    groups = {g["id"]: g["code"] for row in months for g in row.groups}
    sums: dict[Key, int] = {}
    for place in municipalities():
        sums[(place.id, "all", "sensitive")] = 0
        for code in groups.values():
            sums[(place.id, "group", code)] = 0
    for value in releases.released_counts(MUNICIPALITY, [row.id for row in months]):
        for key in (
            (value.node, "group", groups[value.group_id]),
            (value.node, "all", "sensitive"),
        ):
            if key in sums:
                sums[key] += value.value
    return {key: (total if total >= threshold else None) for key, total in sums.items()}
