"""Privacy-safe aggregates from the rollups: heatmaps, tiles, time series and hotspots.

Every output goes through the same rules (docs/privacy.md):
- a cell or period with 1..k-1 reports is withheld, and the answer says how many were;
- query areas are whole cells (centre inside the bounding box or municipality), never
  partial geometry, so two overlapping areas differ only by whole cells;
- public date ranges are whole calendar months;
- sensitive categories are never finer than FINEST_SENSITIVE_RESOLUTION (about 550 m edges),
  except for researchers.
"""

import calendar
import hashlib
import json
import math
from dataclasses import dataclass, replace
from datetime import date
from typing import NamedTuple

import numpy as np
from sqlalchemy import Select, func, literal, literal_column, select, true
from sqlalchemy.dialects.postgresql import insert

from civic_api.analytics.models import STATUS_CLASSES, DpRelease, H3Cell, HeatCellDay, HeatCellTotal
from civic_api.categories.models import Category, CategoryGroup
from civic_api.database import session
from civic_api.errors import InvalidInput
from civic_api.municipalities.models import Municipality
from geo import hotspots
from geo.cells import (
    FINEST_RESOLUTION,
    FINEST_SENSITIVE_RESOLUTION,
    cell_to_hex,
    centre_in_bbox,
    resolution_for_zoom,
)
from geo.privacy import ReleaseSpec, make_release
from geo.tiles import MVT_EXTENT, mvt_geom, tile_envelope

DEFAULT_STATUS = ("open", "resolved")


@dataclass(frozen=True)
class Audience:
    """Who asks: the public, or a researcher (finer resolution, day-level dates, own k)."""

    researcher: bool
    k: int


@dataclass(frozen=True)
class HeatQuery:
    """A validated, privacy-adjusted aggregate query."""

    resolution: int
    category_ids: tuple[int, ...]
    # The sensitive ones among them: their part of a cell is published only if 0 or >= k.
    sensitive_ids: tuple[int, ...]
    categories: tuple[str, ...] | None  # None: every category
    status_classes: tuple[int, ...]
    date_from: date | None
    date_to: date | None  # inclusive
    bbox: tuple[float, float, float, float] | None
    municipality_id: int | None
    k: int

    def describe(self) -> dict:
        return {
            "resolution": self.resolution,
            "categories": list(self.categories) if self.categories is not None else None,
            "status": [s for s, c in STATUS_CLASSES.items() if c in self.status_classes],
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "bbox": list(self.bbox) if self.bbox else None,
        }


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def build_query(args: dict, audience: Audience) -> HeatQuery:
    """Turn request arguments into a HeatQuery, applying the privacy rules for the audience."""
    categories = session.execute(
        select(Category.id, Category.code, Category.sensitive, CategoryGroup.code).join(
            CategoryGroup
        )
    ).all()
    chosen = categories
    named = None
    if args.get("category") or args.get("group"):
        codes, groups = set(args.get("category") or ()), set(args.get("group") or ())
        unknown = codes - {c[1] for c in categories}
        if unknown:
            raise InvalidInput.field(
                "category", f"Unknown categories: {', '.join(sorted(unknown))}.", "query"
            )
        unknown = groups - {c[3] for c in categories}
        if unknown:
            raise InvalidInput.field(
                "group", f"Unknown groups: {', '.join(sorted(unknown))}.", "query"
            )
        chosen = [c for c in categories if c[1] in codes or c[3] in groups]
        named = tuple(sorted(c[1] for c in chosen))
    if "resolution" in args:
        requested = args["resolution"]
    elif "zoom" in args:
        requested = resolution_for_zoom(args["zoom"])
    else:
        requested = 7  # all of Kosovo at ~1.4 km cells
    sensitive = any(c[2] for c in chosen)
    ceiling = (
        FINEST_SENSITIVE_RESOLUTION if sensitive and not audience.researcher else FINEST_RESOLUTION
    )
    date_from, date_to = args.get("from"), args.get("to")
    if date_from and date_to and date_from > date_to:
        raise InvalidInput.field("to", "Must not be before from.", "query")
    if not audience.researcher:
        # Whole months only: day-level differences could isolate a withheld count.
        date_from = month_start(date_from) if date_from else None
        date_to = month_end(date_to) if date_to else None
    municipality_id = None
    if args.get("municipality"):
        municipality_id = session.scalar(
            select(Municipality.id).where(Municipality.slug == args["municipality"])
        )
        if municipality_id is None:
            raise InvalidInput.field("municipality", "No municipality has this slug.", "query")
    status = args.get("status") or DEFAULT_STATUS
    return HeatQuery(
        resolution=min(requested, ceiling),
        category_ids=tuple(sorted(c[0] for c in chosen)),
        sensitive_ids=tuple(sorted(c[0] for c in chosen if c[2])),
        categories=named,
        status_classes=tuple(sorted(STATUS_CLASSES[s] for s in status)),
        date_from=date_from,
        date_to=date_to,
        bbox=tuple(args["bbox"]) if args.get("bbox") else None,
        municipality_id=municipality_id,
        k=audience.k,
    )


def _area_conditions(query: HeatQuery) -> list:
    conditions = [H3Cell.resolution == query.resolution]
    if query.bbox is not None:
        conditions.append(centre_in_bbox(H3Cell.centre_lon, H3Cell.centre_lat, query.bbox))
    if query.municipality_id is not None:
        conditions.append(H3Cell.municipality_id == query.municipality_id)
    return conditions


def area_cells(query: HeatQuery) -> Select:
    """The cells of the query area at its resolution: whole cells, chosen by their centre."""
    return select(H3Cell.cell, H3Cell.geom).where(*_area_conditions(query))


def _rollup(query: HeatQuery):
    """The rollup table to read (all time, or by day) and the filter conditions on it."""
    if query.date_from is None and query.date_to is None:
        table = HeatCellTotal
    else:
        table = HeatCellDay
    conditions = [table.resolution == query.resolution]
    if query.date_from is not None:
        conditions.append(HeatCellDay.day >= query.date_from)
    if query.date_to is not None:
        conditions.append(HeatCellDay.day <= query.date_to)
    conditions.append(table.status_class.in_(query.status_classes))
    if query.categories is not None:  # None: every category, no filter to apply
        conditions.append(table.category_id.in_(query.category_ids))
    return table, conditions


def counts(query: HeatQuery, area: Select | None = None) -> Select:
    """(cell, n, s) for every cell with reports matching the filters (s: the sensitive part);
    only the cells of `area` (a select of cell ids) when given, which lets PostgreSQL read
    just the area's rollup rows instead of aggregating the whole country."""
    table, conditions = _rollup(query)
    if area is not None:
        conditions.append(table.cell.in_(area))
    return (
        select(table.cell, func.sum(table.count).label("n"), _sensitive_part(table, query))
        .where(*conditions)
        .group_by(table.cell)
        .having(func.sum(table.count) > 0)
    )


def area_counts(query: HeatQuery, *extra_area_conditions):
    """(n, s) per cell of the area, as a LATERAL aggregate over each cell's rollup rows: a
    nested loop of index-only scans, no sort or hash over the area's rows. Returns the
    aggregate; select it together with H3Cell columns from `select_from(H3Cell)`."""
    table, conditions = _rollup(query)
    per_cell = (
        select(func.sum(table.count).label("n"), _sensitive_part(table, query))
        .where(table.cell == H3Cell.cell, *conditions)
        .lateral("tallied")
    )
    area = [*_area_conditions(query), *extra_area_conditions, per_cell.c.n > 0]
    return per_cell, area


def _sensitive_part(table, query: HeatQuery):
    if not query.sensitive_ids:
        return literal(0).label("s")
    in_sensitive = table.category_id.in_(query.sensitive_ids)
    return func.coalesce(func.sum(table.count).filter(in_sensitive), 0).label("s")


def published(tallied, query: HeatQuery):
    """SQL: is a tallied (n, s) row publishable? At least k reports, and a sensitive part of
    0 or at least k. Without the second rule, a selection mixing sensitive and non-sensitive
    categories minus the non-sensitive counts (exact in the public points layer) would give
    away a small sensitive count."""
    return (tallied.c.n >= query.k) & ((tallied.c.s == 0) | (tallied.c.s >= query.k))


@dataclass(frozen=True)
class Withheld:
    cells: int
    reports: int
    k: int

    def public(self) -> dict:
        """Withheld cells exactly; withheld reports rounded up to a multiple of k, so that two
        areas differing by one withheld cell do not reveal its count by subtraction."""
        return {
            "cells": self.cells,
            "reports_at_most": math.ceil(self.reports / self.k) * self.k,
        }


def _rows(statement) -> list:
    """Plain rows through the session's connection: these are aggregates, not entities, and
    the ORM's result machinery costs milliseconds per thousand rows."""
    return session.connection().execute(statement).fetchall()


def _no_parallel() -> None:
    """These queries read a few thousand index rows: starting parallel workers costs more
    than it saves (tens of ms on a small machine)."""
    session.connection().exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")


class PublishedCell(NamedTuple):
    cell: str  # H3 hex id: JavaScript numbers cannot hold the int64
    count: int
    geometry: str  # GeoJSON text
    lat: float
    lon: float


def cell_rows(query: HeatQuery) -> tuple[list[PublishedCell], Withheld]:
    """Published cells in the area with their counts, and what was withheld."""
    _no_parallel()
    tallied, area = area_counts(query)
    rows = _rows(
        select(
            func.to_hex(H3Cell.cell),
            tallied.c.n,
            H3Cell.geojson,
            H3Cell.centre_lat,
            H3Cell.centre_lon,
            published(tallied, query),
        )
        .select_from(H3Cell)
        .join(tallied, true())
        .where(*area)
        .order_by(H3Cell.cell)
    )
    shown = [PublishedCell(*row[:5]) for row in rows if row[5]]
    hidden = [int(row[1]) for row in rows if not row[5]]
    return shown, Withheld(len(hidden), sum(hidden), query.k)


def heatmap_geojson(query: HeatQuery) -> str:
    """The FeatureCollection as JSON text, written directly (thousands of cells, no ORM)."""
    shown, withheld = cell_rows(query)
    features = ",".join(
        f'{{"type":"Feature","id":"{c.cell}","geometry":{c.geometry},'
        f'"properties":{{"cell":"{c.cell}","count":{c.count}}}}}'
        for c in shown
    )
    head = {
        "type": "FeatureCollection",
        "resolution": query.resolution,
        "k": query.k,
        "suppressed": withheld.public(),
        "reports": sum(c.count for c in shown),
        "filters": query.describe(),
    }
    return json.dumps(head)[:-1] + f',"features":[{features}]}}'


def heatmap_csv_rows(query: HeatQuery):
    """(cell id, centre lat, centre lon, count) for the published cells."""
    shown, _ = cell_rows(query)
    return [(c.cell, f"{c.lat:.6f}", f"{c.lon:.6f}", c.count) for c in shown]


def tile(query: HeatQuery, z: int, x: int, y: int) -> bytes:
    """One Mapbox vector tile (layer "heatmap") of the published cells touching the tile."""
    _no_parallel()
    envelope = tile_envelope(z, x, y)
    tallied, area = area_counts(query, H3Cell.geom.intersects(func.ST_Transform(envelope, 4326)))
    features = (
        select(
            mvt_geom(H3Cell.geom, z, x, y).label("geom"),
            func.to_hex(H3Cell.cell).label("cell"),
            tallied.c.n.label("count"),
            literal(query.resolution).label("resolution"),
        )
        .select_from(H3Cell)
        .join(tallied, true())
        .where(*area, published(tallied, query))
        .subquery("features")
    )
    data = session.scalar(
        select(
            func.ST_AsMVT(literal_column("features"), "heatmap", MVT_EXTENT, "geom")
        ).select_from(features)
    )
    return bytes(data or b"")


def series(query: HeatQuery, interval: str) -> tuple[list[dict], Withheld]:
    """Counts per day, ISO week or month over the query area (cells of ~500 m)."""
    _no_parallel()
    area_query = replace(query, resolution=FINEST_SENSITIVE_RESOLUTION)
    area = area_cells(area_query).subquery()
    period = func.date_trunc(interval, HeatCellDay.day).cast(HeatCellDay.day.type)
    conditions = [
        HeatCellDay.resolution == FINEST_SENSITIVE_RESOLUTION,
        HeatCellDay.category_id.in_(query.category_ids),
        HeatCellDay.status_class.in_(query.status_classes),
        HeatCellDay.cell.in_(select(area.c.cell)),
    ]
    if query.date_from is not None:
        conditions.append(HeatCellDay.day >= query.date_from)
    if query.date_to is not None:
        conditions.append(HeatCellDay.day <= query.date_to)
    tallied = (
        select(
            period.label("period"),
            func.sum(HeatCellDay.count).label("n"),
            _sensitive_part(HeatCellDay, query),
        )
        .where(*conditions)
        .group_by(period)
        .having(func.sum(HeatCellDay.count) > 0)
        .subquery()
    )
    rows = session.execute(
        select(tallied.c.period, tallied.c.n, published(tallied, query)).order_by(tallied.c.period)
    ).all()
    shown = [{"period": p.isoformat(), "count": int(n)} for p, n, ok in rows if ok]
    hidden = [int(n) for _, n, ok in rows if not ok]
    return shown, Withheld(len(hidden), sum(hidden), query.k)


# Hotspots


def _published_counts(query: HeatQuery) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Every cell of the area (zero-filled) with its published count: withheld cells count 0,
    so the statistics reveal nothing the heatmap does not."""
    area = session.execute(area_cells(query).with_only_columns(H3Cell.cell, H3Cell.geojson)).all()
    tallied = counts(query, area_cells(query).with_only_columns(H3Cell.cell)).subquery()
    shown = dict(
        session.execute(select(tallied.c.cell, tallied.c.n).where(published(tallied, query))).all()
    )
    cells = np.array([c for c, _ in area], dtype=np.int64)
    values = np.array([shown.get(c, 0) for c, _ in area], dtype=np.int64)
    return cells, values, {c: g for c, g in area}


def previous_period(query: HeatQuery) -> HeatQuery:
    """The period of the same length just before the query's."""
    length = (query.date_to - query.date_from).days + 1
    end = date.fromordinal(query.date_from.toordinal() - 1)
    start = date.fromordinal(end.toordinal() - length + 1)
    return replace(query, date_from=start, date_to=end)


def hotspot_features(query: HeatQuery, alpha: float) -> dict:
    """Gi* hot and cold spots over the area; with a date range, also emerging cells."""
    cells, values, geometry = _published_counts(query)
    result = hotspots.gi_star(cells, values, k=1)
    hot, cold = result.hot(alpha), result.cold(alpha)
    rising = np.zeros(cells.size, dtype=bool)
    increase = None
    if query.date_from is not None and query.date_to is not None:
        _, before, _ = _published_counts(previous_period(query))
        increase = hotspots.emerging(values, before)
        rising = increase.significant(alpha)
    features = []
    for i in np.flatnonzero(hot | cold | rising).tolist():
        properties = {
            "cell": cell_to_hex(int(cells[i])),
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
                "id": properties["cell"],
                "geometry": json.loads(geometry[int(cells[i])]),
                "properties": properties,
            }
        )
    return {
        "type": "FeatureCollection",
        "method": f"Getis-Ord Gi* ({result.method} p-values), binary weights over the cell and"
        " its 6 neighbours, Benjamini-Hochberg FDR; emerging: exact conditional binomial test"
        " against the previous period of equal length",
        "alpha": alpha,
        "cells_tested": int(cells.size),
        "resolution": query.resolution,
        "k": query.k,
        "filters": query.describe(),
        "features": features,
    }


# Differentially private releases (researchers)


def dp_release(query: HeatQuery, epsilon: float, sensitivity: int, threshold: int) -> DpRelease:
    """The stored release for this query's resolution, categories, statuses and period over
    all of Kosovo, computed once; area filters are applied to it afterwards (post-processing
    costs no privacy)."""
    spec_query = {
        "resolution": query.resolution,
        "category_ids": list(query.category_ids),
        "status_classes": list(query.status_classes),
        "from": query.date_from.isoformat() if query.date_from else None,
        "to": query.date_to.isoformat() if query.date_to else None,
    }
    key = hashlib.sha256(json.dumps(spec_query, sort_keys=True).encode()).hexdigest()
    stored = session.get(DpRelease, key)
    if stored is not None:
        return stored
    national = replace(query, bbox=None, municipality_id=None)
    domain = session.scalars(
        select(H3Cell.cell).where(H3Cell.resolution == query.resolution).order_by(H3Cell.cell)
    ).all()
    in_domain = set(domain)
    tallied = {c: int(n) for c, n, _ in session.execute(counts(national)).all() if c in in_domain}
    release = make_release(
        tallied,
        domain,
        ReleaseSpec(key=key, epsilon=epsilon, sensitivity=sensitivity, threshold=threshold),
    )
    # Insert if absent: two requests racing both serve the first stored release.
    session.execute(
        insert(DpRelease)
        .values(
            key=key,
            query=spec_query,
            epsilon=epsilon,
            epsilon_spent=release.epsilon_spent,
            sensitivity=sensitivity,
            threshold=threshold,
            mechanism=release.mechanism,
            domain_size=release.domain_size,
            counts={cell_to_hex(c): n for c, n in release.counts.items()},
        )
        .on_conflict_do_nothing()
    )
    return session.get(DpRelease, key, populate_existing=True)


def dp_geojson(query: HeatQuery, release: DpRelease) -> str:
    """The release's noisy counts for the cells of the query area."""
    area = session.execute(area_cells(query).with_only_columns(H3Cell.cell, H3Cell.geojson)).all()
    features = ",".join(
        f'{{"type":"Feature","id":"{hex_id}","geometry":{geometry},'
        f'"properties":{{"cell":"{hex_id}","count":{release.counts[hex_id]}}}}}'
        for hex_id, geometry in ((cell_to_hex(c), g) for c, g in area)
        if hex_id in release.counts
    )
    head = {
        "type": "FeatureCollection",
        "resolution": query.resolution,
        "privacy": {
            "mechanism": release.mechanism,
            "epsilon": release.epsilon,
            "epsilon_spent": release.epsilon_spent,
            "contribution_bound": release.sensitivity,
            "threshold": release.threshold,
            "release": release.key,
            "released_at": release.created_at.isoformat(),
        },
        "filters": query.describe(),
    }
    return json.dumps(head)[:-1] + f',"features":[{features}]}}'
