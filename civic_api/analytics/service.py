"""Privacy-safe aggregates: heatmaps, tiles, time series and hotspots (docs/privacy.md).

Two regimes, chosen per category by its `sensitive` flag:
- non-sensitive categories are counted live from the rollups: a cell or period with
  1..k-1 reports is withheld, areas are whole cells (centre inside the bounding box or
  municipality), public date ranges are whole calendar months;
- sensitive categories are read only from the stored monthly releases (releases.py):
  whole category groups, no status filter, resolutions 6-8, whole released months, every
  number noisy; values below the release's threshold are withheld without a trace.
A selection holding both is answered as two separate numbers, never one.

`AggregateQuery` applies these rules when it is built (also through dataclasses.replace),
and `published_cells` is the one query builder of cells that heatmaps, CSV, tiles and the
OGC collection share.
"""

import calendar
import json
import math
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql

from civic_api.analytics import releases
from civic_api.analytics.models import (
    STATUS_CLASSES,
    H3Cell,
    HeatCellDay,
    HeatCellTotal,
    Release,
    ReleaseCount,
)
from civic_api.categories.service import CatalogueEntry, CategoryCache, load_catalogue
from civic_api.database import prepared, session
from civic_api.errors import InvalidInput
from civic_api.reports.models import Report
from geo import hotspots
from geo.cells import (
    FINEST_RESOLUTION,
    FINEST_SENSITIVE_RESOLUTION,
    cell_to_hex,
    centre_in_bbox,
    resolution_for_zoom,
)
from geo.tiles import MVT_EXTENT, WEB_MERCATOR, mvt_geom, tile_envelope

DEFAULT_STATUS = ("open", "resolved")
COARSEST_RELEASED_RESOLUTION = 6


@dataclass(frozen=True)
class Audience:
    """Who asks: the public; a researcher (day-level dates and their own k, for the
    non-sensitive categories only; DP answers); or municipal staff, exact within
    `exact_municipality_ids` and the public view elsewhere."""

    researcher: bool
    k: int
    exact_municipality_ids: frozenset[int] = frozenset()
    staff_id: int | None = None

    @property
    def public(self) -> bool:
        return not self.researcher and not self.exact_municipality_ids


CategoryInfo = CatalogueEntry


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


@dataclass(frozen=True)
class AggregateQuery:
    """A validated aggregate query. The privacy rules are applied here, when it is built:
    the selection is split into live (non-sensitive) categories and released (sensitive)
    groups, public dates are widened to whole months, resolutions are capped. Derived fields
    cannot be passed in; dataclasses.replace rebuilds them."""

    audience: Audience
    catalogue: tuple[CategoryInfo, ...]
    chosen: tuple[int, ...] | None  # category ids asked for; None: every category
    resolution: int
    status_classes: tuple[int, ...]
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    bbox: tuple[float, float, float, float] | None = None
    municipality_id: int | None = None
    release_id: str | None = None
    live_ids: tuple[int, ...] = field(init=False)
    group_ids: tuple[int, ...] = field(init=False)
    k: int = field(init=False)
    # Staff asking about one of their own municipalities: exact counts of its reports.
    exact: bool = field(init=False)

    def __post_init__(self) -> None:
        known = {c.id for c in self.catalogue}
        if self.chosen is not None and not set(self.chosen) <= known:
            raise ValueError("chosen categories must be in the catalogue")
        selected = [c for c in self.catalogue if self.chosen is None or c.id in self.chosen]
        set_ = object.__setattr__  # frozen: the rules below are the only writers
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidInput.field("to", "Must not be before from.", "query")
        exact = self.municipality_id in self.audience.exact_municipality_ids
        set_(self, "exact", exact)
        if exact:
            set_(self, "live_ids", tuple(sorted(c.id for c in selected)))
            set_(self, "group_ids", ())
            set_(self, "k", 1)
            set_(self, "resolution", min(max(self.resolution, 6), FINEST_RESOLUTION))
            return
        set_(self, "live_ids", tuple(sorted(c.id for c in selected if not c.sensitive)))
        # A sensitive category is released with its whole group (the fixed partition).
        set_(self, "group_ids", tuple(sorted({c.group_id for c in selected if c.sensitive})))
        set_(self, "k", self.audience.k)
        if not self.audience.researcher or self.group_ids:
            # Whole months only: day-level differences could isolate a withheld count, and
            # releases are monthly.
            set_(self, "date_from", month_start(self.date_from) if self.date_from else None)
            set_(self, "date_to", month_end(self.date_to) if self.date_to else None)
        ceiling = FINEST_SENSITIVE_RESOLUTION if self.group_ids else FINEST_RESOLUTION
        set_(self, "resolution", max(min(self.resolution, ceiling), COARSEST_RELEASED_RESOLUTION))

    @property
    def mixed(self) -> bool:
        return bool(self.live_ids) and bool(self.group_ids)

    def describe(self) -> dict:
        names = {c.id: c.code for c in self.catalogue}
        groups = {c.group_id: c.group_code for c in self.catalogue}
        return {
            "resolution": self.resolution,
            "categories": None if self.chosen is None else sorted(names[c] for c in self.chosen),
            "live_categories": sorted(names[c] for c in self.live_ids),
            "released_groups": sorted(groups[g] for g in self.group_ids),
            "status": [s for s, c in STATUS_CLASSES.items() if c in self.status_classes],
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "bbox": list(self.bbox) if self.bbox else None,
            "release": self.release_id,
            "exact": self.exact,
        }


def build_query(
    args: dict, audience: Audience, cache: CategoryCache | None = None
) -> AggregateQuery:
    """Turn request arguments into an AggregateQuery for the audience; the categories come
    from the process's cache when given (every request path), else from the database."""
    categories = cache.catalogue() if cache is not None else load_catalogue()
    chosen = None
    if args.get("category") or args.get("group"):
        codes, groups = set(args.get("category") or ()), set(args.get("group") or ())
        unknown = codes - {c.code for c in categories}
        if unknown:
            raise InvalidInput.field(
                "category", f"Unknown categories: {', '.join(sorted(unknown))}.", "query"
            )
        unknown = groups - {c.group_code for c in categories}
        if unknown:
            raise InvalidInput.field(
                "group", f"Unknown groups: {', '.join(sorted(unknown))}.", "query"
            )
        chosen = tuple(c.id for c in categories if c.code in codes or c.group_code in groups)
    if "resolution" in args:
        requested = args["resolution"]
    elif "zoom" in args:
        requested = resolution_for_zoom(args["zoom"])
    else:
        requested = 7  # all of Kosovo at ~1.4 km cells
    municipality_id = None
    if args.get("municipality"):
        found = current_app.extensions["municipality_index"].by_slug(args["municipality"])
        if found is None:
            raise InvalidInput.field("municipality", "No municipality has this slug.", "query")
        municipality_id = found.id
    release_id = args.get("release")
    if release_id is not None and session.get(Release, release_id) is None:
        raise InvalidInput.field("release", "No release has this id (see /v1/releases).", "query")
    status = args.get("status") or DEFAULT_STATUS
    return AggregateQuery(
        audience=audience,
        catalogue=categories,
        chosen=chosen,
        resolution=requested,
        status_classes=tuple(sorted(STATUS_CLASSES[s] for s in status)),
        date_from=args.get("from"),
        date_to=args.get("to"),
        bbox=tuple(args["bbox"]) if args.get("bbox") else None,
        municipality_id=municipality_id,
        release_id=release_id,
    )


# The one query builder of cells


def _area_conditions(query: AggregateQuery, by_centre: bool = True) -> list:
    conditions = [H3Cell.resolution == query.resolution]
    if query.bbox is not None:
        conditions.append(centre_in_bbox(H3Cell.centre_lon, H3Cell.centre_lat, query.bbox))
    if query.municipality_id is not None and by_centre:
        conditions.append(H3Cell.municipality_id == query.municipality_id)
    return conditions


def _cell_column(resolution: int):
    return getattr(Report, f"h3_{resolution}")


def _exact_counts(query: AggregateQuery, key) -> Select:
    """(key, n) over the reports of the staff member's municipality (its own reports, by
    report, not by cell centre): the exact view of the reports they may read anyway."""
    local_day = func.report_local_day(Report.occurred_at)
    conditions = [
        Report.municipality_id == query.municipality_id,
        Report.category_id.in_(query.live_ids),
        func.report_status_class(Report.status).in_(query.status_classes),
    ]
    if query.date_from is not None:
        conditions.append(local_day >= query.date_from)
    if query.date_to is not None:
        conditions.append(local_day <= query.date_to)
    return select(key.label("key"), func.count().label("n")).where(*conditions).group_by(key)


def _among(column, values) -> ColumnElement[bool]:
    """`column IN values` for the rollups' small-integer keys, as a range with its gaps left
    out: the range is an index condition and the gaps a short list, where comparing every
    rollup row of a cell against the whole list cost a third of a tile's SQL."""
    wanted = sorted(set(values))
    if not wanted:
        return false()
    gaps = sorted(set(range(wanted[0], wanted[-1] + 1)) - set(wanted))
    if len(gaps) > len(wanted):
        return column.in_(wanted)  # sparse: the list is the shorter one
    within = column.between(wanted[0], wanted[-1])
    return and_(within, column.not_in(gaps)) if gaps else within


def _live_lateral(query: AggregateQuery, resolution: int | None = None):
    """The live count of each area cell: a LATERAL aggregate over the cell's rollup rows (a
    nested loop of index-only scans, no sort or hash over the area's rows)."""
    resolution = resolution or query.resolution
    dated = query.date_from is not None or query.date_to is not None
    table = HeatCellDay if dated else HeatCellTotal
    conditions = [
        table.resolution == resolution,
        table.cell == H3Cell.cell,
        _among(table.status_class, query.status_classes),
        _among(table.category_id, query.live_ids),
    ]
    if query.date_from is not None:
        conditions.append(HeatCellDay.day >= query.date_from)
    if query.date_to is not None:
        conditions.append(HeatCellDay.day <= query.date_to)
    return select(func.sum(table.count).label("n")).where(*conditions).lateral("live")


def _released_lateral(query: AggregateQuery, release_ids: list[str]):
    """The released value of each area cell, summed over the releases read."""
    return (
        select(func.sum(ReleaseCount.value).label("v"))
        .where(
            ReleaseCount.release_id.in_(release_ids),
            ReleaseCount.level == H3Cell.resolution,
            ReleaseCount.node == H3Cell.cell,
            ReleaseCount.group_id.in_(query.group_ids),
        )
        .lateral("released")
    )


@dataclass(frozen=True)
class ReleasesRead:
    """The releases a sensitive answer reads, and the months asked that have none."""

    rows: tuple[Release, ...]
    unreleased: tuple[str, ...]

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.rows]

    @property
    def threshold(self) -> int:
        return max((r.threshold for r in self.rows), default=0)

    def describe(self) -> dict:
        return {
            "ids": self.ids,
            "epsilon": round(sum(r.epsilon for r in self.rows), 9),
            "threshold": self.threshold,
            "unreleased_months": list(self.unreleased),
            "method": "differentially private counts per closed month (see /v1/releases);"
            " values below the threshold are withheld",
        }


def releases_read(query: AggregateQuery) -> ReleasesRead:
    rows = releases.releases_covering(query.date_from, query.date_to, query.release_id)
    unreleased: list[str] = []
    if query.release_id is None and query.date_from and query.date_to:
        have = {r.period_start for r in rows}
        # Months from the first release to today's: earlier and later ones are not news.
        first = session.scalar(select(func.min(Release.period_start))) or date.today()
        month = max(month_start(query.date_from), first)
        while month <= min(query.date_to, date.today()):
            if month not in have:
                unreleased.append(releases.month_id(month))
            month = releases.next_month(month)
    return ReleasesRead(tuple(rows), tuple(unreleased))


def published_cells(
    query: AggregateQuery,
    read: ReleasesRead | None,
    *extra_area,
    columns=(),
    withheld_too: bool = False,
) -> Select:
    """(cell, count, sensitive_count, *columns) of the published cells of the query area.

    count is the live count of the selection's non-sensitive categories when it has any,
    else the released count; sensitive_count is the released count of a mixed selection's
    sensitive part. A part below its threshold is NULL; a cell with no published part is
    absent. withheld_too adds the cells whose live count was withheld (both parts NULL)
    and their live count as a last column, to summarise them in the same pass."""
    if query.exact:
        counted = _exact_counts(query, _cell_column(query.resolution)).subquery("exact")
        return (
            select(H3Cell.cell, counted.c.n.label("count"), null().label("sensitive_count"))
            .add_columns(*columns)
            .join(counted, counted.c.key == H3Cell.cell)
            .where(*_area_conditions(query, by_centre=False), *extra_area)
        )
    live = _live_lateral(query) if query.live_ids else None
    released = None
    if query.group_ids and read is not None and read.ids:
        released = _released_lateral(query, read.ids)
    statement = select(H3Cell.cell).select_from(H3Cell)
    shown = []
    if live is not None:
        statement = statement.join(live, true())
        shown.append(live.c.n >= query.k)
    if released is not None:
        statement = statement.join(released, true())
        shown.append(released.c.v >= max(read.threshold, 1))
    if not shown:  # a sensitive selection with no release yet
        return statement.add_columns(
            null().label("count"), null().label("sensitive_count"), *columns
        ).where(false())
    live_count = case((shown[0], live.c.n)) if live is not None else None
    released_count = case((shown[-1], released.c.v)) if released is not None else None
    count = live_count if live_count is not None else released_count
    sensitive = released_count if query.mixed and released is not None else null()
    statement = statement.add_columns(
        count.label("count"), sensitive.label("sensitive_count"), *columns
    )
    if withheld_too and live is not None:
        statement = statement.add_columns(live.c.n)
        shown.append(live.c.n > 0)
    return statement.where(*_area_conditions(query), *extra_area, or_(*shown))


@dataclass(frozen=True)
class Withheld:
    cells: int
    reports: int
    k: int

    def public(self) -> dict:
        """Withheld live cells exactly; their reports rounded up to a multiple of k, so that
        two areas differing by one withheld cell do not reveal its count by subtraction.
        (Live counts are of non-sensitive categories only; released values leave no trace.)"""
        return {
            "cells": self.cells,
            "reports_at_most": math.ceil(self.reports / self.k) * self.k,
        }


def live_withheld(query: AggregateQuery) -> Withheld | None:
    """What the live part of the answer withheld, or None without a live part."""
    if not query.live_ids or query.exact:
        return None
    live = _live_lateral(query)
    cells, reports = session.execute(
        select(func.count(), func.coalesce(func.sum(live.c.n), 0))
        .select_from(H3Cell)
        .join(live, true())
        .where(*_area_conditions(query), live.c.n > 0, live.c.n < query.k)
    ).one()
    return Withheld(int(cells), int(reports), query.k)


def _rows(statement) -> list:
    """Plain rows through the session's connection: these are aggregates, not entities, and
    the ORM's result machinery costs milliseconds per thousand rows."""
    return session.connection().execute(statement).fetchall()


class PublishedCell(NamedTuple):
    cell: str  # H3 hex id: JavaScript numbers cannot hold the int64
    count: int | None
    sensitive_count: int | None
    geometry: str  # GeoJSON text
    lat: float
    lon: float


def cell_rows(
    query: AggregateQuery, read: ReleasesRead | None
) -> tuple[list[PublishedCell], "Withheld | None"]:
    """Published cells in the area with their counts, by cell id, and what the live part
    withheld (one pass over the area)."""
    live = bool(query.live_ids) and not query.exact
    statement = published_cells(
        query,
        read,
        columns=(func.to_hex(H3Cell.cell), H3Cell.geojson, H3Cell.centre_lat, H3Cell.centre_lon),
        withheld_too=live,
    ).order_by(H3Cell.cell)
    rows = _rows(statement)
    shown = [
        PublishedCell(row[3], row[1], row[2], *row[4:7])
        for row in rows
        if row[1] is not None or row[2] is not None
    ]
    if not live:
        return shown, None
    hidden = [int(row[7]) for row in rows if row[7] and row[7] < query.k]
    return shown, Withheld(len(hidden), sum(hidden), query.k)


def _properties(cell: PublishedCell) -> str:
    members = [f'"cell":"{cell.cell}"']
    if cell.count is not None:
        members.append(f'"count":{cell.count}')
    if cell.sensitive_count is not None:
        members.append(f'"sensitive_count":{cell.sensitive_count}')
    return "{" + ",".join(members) + "}"


def answer_head(
    query: AggregateQuery, read: ReleasesRead | None, withheld: "Withheld | None | bool" = True
) -> dict:
    """The members every aggregate answer carries: resolution, k, what was withheld (True:
    count it here), the filters as applied and the releases read."""
    if withheld is True:
        withheld = live_withheld(query)
    head = {
        "resolution": query.resolution,
        # The smallest number shown: k for live counts, the threshold of released ones.
        "k": query.k if query.live_ids or read is None or not read.rows else read.threshold,
        "suppressed": withheld.public() if withheld else None,
        "filters": query.describe(),
    }
    if read is not None:
        head["release"] = read.describe()
    return head


def read_for(query: AggregateQuery) -> ReleasesRead | None:
    return releases_read(query) if query.group_ids else None


def heatmap_geojson(query: AggregateQuery) -> str:
    """The FeatureCollection as JSON text, written directly (thousands of cells, no ORM)."""
    read = read_for(query)
    shown, withheld = cell_rows(query, read)
    features = ",".join(
        f'{{"type":"Feature","id":"{c.cell}","geometry":{c.geometry},'
        f'"properties":{_properties(c)}}}'
        for c in shown
    )
    head = {"type": "FeatureCollection", **answer_head(query, read, withheld)}
    return json.dumps(head)[:-1] + f',"features":[{features}]}}'


def heatmap_csv_rows(query: AggregateQuery) -> tuple[tuple, list[tuple]]:
    """The CSV header and rows (cell id, centre lat, centre lon, count[, sensitive_count])."""
    shown, _ = cell_rows(query, read_for(query))
    header = ("cell", "lat", "lon", "count") + (("sensitive_count",) if query.mixed else ())
    rows = [
        (c.cell, f"{c.lat:.6f}", f"{c.lon:.6f}", "" if c.count is None else c.count)
        + (("" if c.sensitive_count is None else c.sensitive_count,) if query.mixed else ())
        for c in shown
    ]
    return header, rows


def tile(query: AggregateQuery, z: int, x: int, y: int) -> bytes:
    """One Mapbox vector tile (layer "heatmap") of the published cells touching the tile.

    One statement per tile: the query's SQL is built once per process and prepared once per
    connection, with z, x and y as its parameters (validated by the route)."""
    read = read_for(query)
    released = _Released(tuple(read.ids), read.threshold) if read is not None else None
    connection = session.connection()
    name = prepared(connection, _tile_sql(query, released))
    data = connection.exec_driver_sql(f"EXECUTE {name}(%s, %s, %s)", (z, x, y))
    return bytes(data.scalar() or b"")


class _Released(NamedTuple):
    """What published_cells reads of a ReleasesRead, hashable for the statement cache."""

    ids: tuple[str, ...]
    threshold: int


@lru_cache(maxsize=256)
def _tile_sql(query: AggregateQuery, released: _Released | None) -> str:
    """The tile statement for this query, with $1, $2, $3 for z, x and y."""
    z, x, y = (literal_column(f"${n}") for n in (1, 2, 3))
    envelope = tile_envelope(z, x, y)
    cells = published_cells(
        query,
        released,  # type: ignore[arg-type]  (the fields published_cells reads)
        # Cells that touch the tile, not just their bounding boxes (`&&`): no feature that
        # lies only in the tile's buffer. In web mercator, where the cells are stored too.
        func.ST_Intersects(H3Cell.geom_3857, envelope),
        columns=(
            mvt_geom(H3Cell.geom_3857, z, x, y, srid=WEB_MERCATOR).label("geom"),
            func.to_hex(H3Cell.cell).label("id"),
            literal(query.resolution).label("resolution"),
        ),
    ).subquery("cells")
    features = select(
        cells.c.geom,
        cells.c.id.label("cell"),
        cells.c.count,
        cells.c.sensitive_count,
        cells.c.resolution,
    ).subquery("features")
    statement = select(
        func.ST_AsMVT(literal_column("features"), "heatmap", MVT_EXTENT, "geom")
    ).select_from(features)
    return str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


# Series


def _months(first: date, last: date) -> list[date]:
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = releases.next_month(month)
    return months


def series(query: AggregateQuery, interval: str) -> dict:
    """Counts per day, ISO week or month over the query area (its res-8 cells): the live
    part from the rollup, the released part per released month."""
    area = select(H3Cell.cell).where(
        *_area_conditions(replace(query, resolution=FINEST_SENSITIVE_RESOLUTION))
    )
    periods: dict[str, dict] = {}
    withheld = None
    if query.exact:
        day = func.report_local_day(Report.occurred_at)
        period = func.date_trunc(interval, day).cast(HeatCellDay.day.type)
        counted = _exact_counts(query, period).subquery()
        for p, n in _rows(select(counted.c.key, counted.c.n).order_by(counted.c.key)):
            periods[p.isoformat()] = {"period": p.isoformat(), "count": int(n)}
    elif query.live_ids:
        period = func.date_trunc(interval, HeatCellDay.day).cast(HeatCellDay.day.type)
        conditions = [
            HeatCellDay.resolution == FINEST_SENSITIVE_RESOLUTION,
            _among(HeatCellDay.category_id, query.live_ids),
            _among(HeatCellDay.status_class, query.status_classes),
            HeatCellDay.cell.in_(area),
        ]
        if query.date_from is not None:
            conditions.append(HeatCellDay.day >= query.date_from)
        if query.date_to is not None:
            conditions.append(HeatCellDay.day <= query.date_to)
        rows = _rows(
            select(period, func.sum(HeatCellDay.count))
            .where(*conditions)
            .group_by(period)
            .order_by(period)
        )
        hidden = [int(n) for _, n in rows if 0 < n < query.k]
        withheld = Withheld(len(hidden), sum(hidden), query.k)
        for p, n in rows:
            if n >= query.k:
                periods[p.isoformat()] = {"period": p.isoformat(), "count": int(n)}
    read = None
    if query.group_ids:
        read = releases_read(query)
        # Released values of the area's res-8 cells, summed per month (post-processing).
        rows = _rows(
            select(Release.period_start, func.sum(ReleaseCount.value), Release.threshold)
            .join(Release, Release.id == ReleaseCount.release_id)
            .where(
                ReleaseCount.release_id.in_(read.ids),
                ReleaseCount.level == FINEST_SENSITIVE_RESOLUTION,
                ReleaseCount.group_id.in_(query.group_ids),
                ReleaseCount.node.in_(area),
            )
            .group_by(Release.period_start, Release.threshold)
            .order_by(Release.period_start)
        )
        key = "sensitive_count" if query.mixed else "count"
        for month, value, threshold in rows:
            if value >= max(threshold, 1):
                entry = periods.setdefault(month.isoformat(), {"period": month.isoformat()})
                entry[key] = int(value)
    head = answer_head(query, read)
    head["suppressed"] = withheld.public() if withheld else None
    head["filters"] = head["filters"] | {"resolution": None}
    return head | {"interval": interval, "series": [periods[p] for p in sorted(periods)]}


# Hotspots


def _layer_values(
    query: AggregateQuery, read: ReleasesRead | None, layer: str
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Every cell of the area (zero-filled) with its published value in one layer: withheld
    cells count 0, so the statistics reveal nothing the heatmap does not."""
    area = _rows(
        select(H3Cell.cell, H3Cell.geojson).where(*_area_conditions(query)).order_by(H3Cell.cell)
    )
    if layer == "exact":
        part = query
    elif layer == "live":
        part = replace(query, chosen=query.live_ids)
    else:
        sensitive = [c.id for c in query.catalogue if c.sensitive and c.group_id in query.group_ids]
        part = replace(query, chosen=tuple(sensitive))
    shown = {cell: n for cell, n, _ in _rows(published_cells(part, read))}
    cells = np.array([c for c, _ in area], dtype=np.int64)
    values = np.array([int(shown.get(c) or 0) for c, _ in area], dtype=np.int64)
    return cells, values, {c: g for c, g in area}


def previous_period(query: AggregateQuery) -> AggregateQuery:
    """The period just before the query's: as many whole months for the public (the
    releases' and the public dates' unit), the same number of days for researchers."""
    if not query.audience.researcher or query.group_ids:
        months = _months(query.date_from, query.date_to)
        start = month_start(query.date_from)
        for _ in months:
            start = month_start(start - timedelta(days=1))
        end = month_start(query.date_from) - timedelta(days=1)
        return replace(query, date_from=start, date_to=end, release_id=None)
    length = (query.date_to - query.date_from).days + 1
    end = query.date_from - timedelta(days=1)
    return replace(query, date_from=end - timedelta(days=length - 1), date_to=end)


def _hotspot_layer(query: AggregateQuery, layer: str, alpha: float) -> list[dict]:
    read = releases_read(query) if layer == "release" else None
    cells, values, geometry = _layer_values(query, read, layer)
    result = hotspots.gi_star(cells, values, k=1)
    hot, cold = result.hot(alpha), result.cold(alpha)
    rising = np.zeros(cells.size, dtype=bool)
    increase = None
    if query.date_from is not None and query.date_to is not None:
        before_query = previous_period(query)
        before_read = releases_read(before_query) if layer == "release" else None
        # Released months are compared only with released months: an unreleased previous
        # month is unknown, not empty.
        if before_read is None or (before_read.rows and not before_read.unreleased):
            _, before, _ = _layer_values(before_query, before_read, layer)
            increase = hotspots.emerging(values, before)
            rising = increase.significant(alpha)
    features = []
    for i in np.flatnonzero(hot | cold | rising).tolist():
        properties = {
            "cell": cell_to_hex(int(cells[i])),
            "layer": layer,
            "count": int(values[i]),
            "z": round(float(result.z[i]), 4),
            "p": float(result.p[i]),
            "q": float(result.q[i]),
            "class": "hot" if hot[i] else "cold" if cold[i] else "not significant",
        }
        if increase is not None:
            properties["emerging"] = bool(rising[i])
            properties["p_increase"] = float(increase.p[i])
            properties["q_increase"] = float(increase.q[i])
        features.append(
            {
                "type": "Feature",
                "id": f"{properties['cell']}:{layer}" if query.mixed else properties["cell"],
                "geometry": json.loads(geometry[int(cells[i])]),
                "properties": properties,
            }
        )
    return features


def hotspot_features(query: AggregateQuery, alpha: float) -> dict:
    """Gi* hot and cold spots over the area on the published values, per layer (live
    non-sensitive, released sensitive); with a date range, also emerging cells."""
    if query.exact:
        layers = ["exact"]
    else:
        layers = (["live"] if query.live_ids else []) + (["release"] if query.group_ids else [])
    features = [f for layer in layers for f in _hotspot_layer(query, layer, alpha)]
    head = answer_head(query, read_for(query))
    return {
        "type": "FeatureCollection",
        "method": "Getis-Ord Gi* (normal p-values) on the published values (withheld count"
        " 0), binary weights over the cell and its 6 neighbours, Benjamini-Hochberg FDR;"
        " emerging: exact conditional binomial test against the previous period of as many"
        " whole months (released months for sensitive categories)",
        "alpha": alpha,
        "cells_tested": int(
            session.scalar(select(func.count()).select_from(H3Cell).where(*_area_conditions(query)))
        ),
        **head,
        "features": features,
    }
