"""Cells of reports, the cell table over Kosovo, and rebuilding the count rollups from scratch.

The rollups (heat_cell_day, heat_cell_total) are kept exact by statement triggers on report
(migration 0005) inside the transaction of every insert, status change or delete, so there is
no lag and no watermark. `rebuild` recomputes them from the report table.
"""

import io
import json
from collections.abc import Callable

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from h3.api import basic_int as h3i
from shapely import union_all
from sqlalchemy import Connection, select, text

from civic_api.municipalities.models import Municipality
from geo.cells import (
    ROLLUP_RESOLUTIONS,
    cell_centres,
    cells_for,
    cells_overlapping,
    parents,
)

CELL_COLUMNS = tuple(f"h3_{r}" for r in ROLLUP_RESOLUTIONS)
# Cells are kept for Kosovo plus this margin (degrees, ~1 km), beyond the 250 m snapping.
MARGIN_DEGREES = 0.01
BATCH = 20_000

# One resolution at a time, reading that resolution's cell column (no unnesting).
REBUILD_SQL = """
INSERT INTO heat_cell_day (cell, category_id, day, status_class, resolution, count)
SELECT {column}, category_id, report_local_day(occurred_at), report_status_class(status),
       {resolution}, count(*)::int
FROM report WHERE {column} IS NOT NULL
GROUP BY 1, 2, 3, 4;
INSERT INTO heat_cell_total (resolution, cell, category_id, status_class, count)
SELECT resolution, cell, category_id, status_class, sum(count)::int
FROM heat_cell_day WHERE resolution = {resolution}
GROUP BY 1, 2, 3, 4;
"""


def cell_ring(cell: int) -> list[tuple[float, float]]:
    """The cell's closed ring in (lon, lat) order, 6 decimals (~0.1 m); Kosovo's cells never
    cross the antimeridian."""
    ring = [(round(lon, 6), round(lat, 6)) for lat, lon in h3i.cell_to_boundary(cell)]
    return [*ring, ring[0]]


def cells_of(lats, lons) -> dict[str, np.ndarray]:
    """{h3_6: ids, …, h3_9: ids}: the cell containing each point at each rollup resolution."""
    return {f"h3_{r}": cells_for(lats, lons, r) for r in ROLLUP_RESOLUTIONS}


def cells_of_point(lat: float, lon: float) -> dict[str, int]:
    """`cells_of` for one (finite, in range) point, without the array path's overhead
    (report submission). Each resolution is looked up: a point's cell at a coarse resolution
    is not always the parent of its finer cell (H3's children do not tile their parent)."""
    return {f"h3_{r}": h3i.latlng_to_cell(lat, lon, r) for r in ROLLUP_RESOLUTIONS}


def ensure_cells(connection: Connection) -> int:
    """Store every rollup cell overlapping Kosovo's municipalities (plus a margin) and the
    H3 parents of the finer ones, and (re)compute which municipality owns each cell.

    Idempotent; run after every boundary import: a moved boundary moves the ownership of
    the cells whose centre changed sides. Returns the number of cells added.
    """
    municipalities = connection.execute(
        select(Municipality.id, Municipality.boundary).order_by(Municipality.slug)
    ).all()
    if not municipalities:
        return 0
    shapes = [to_shape(boundary) for _, boundary in municipalities]
    # Simplified within the margin: H3's polyfill is slow on the full boundary detail.
    area = union_all(shapes).buffer(MARGIN_DEGREES).simplify(MARGIN_DEGREES / 4)
    found = {r: cells_overlapping(area, r) for r in ROLLUP_RESOLUTIONS}
    # Released counts of coarse cells are sums of their H3 children: every parent is a cell.
    for fine in ROLLUP_RESOLUTIONS[1:]:
        for coarse in ROLLUP_RESOLUTIONS[: ROLLUP_RESOLUTIONS.index(fine)]:
            found[coarse] = np.union1d(found[coarse], parents(found[fine], coarse))
    ids = np.concatenate([found[r] for r in ROLLUP_RESOLUTIONS])
    lats, lons = cell_centres(ids)
    # The municipality of a cell is the one covering its centre (the first by slug on a shared
    # border, as for reports); cells in the margin have none.
    owner = np.full(ids.size, -1, dtype=np.int64)
    for (municipality_id, _), shape in reversed(list(zip(municipalities, shapes, strict=True))):
        owner[shapely.intersects_xy(shape, lons, lats)] = municipality_id
    stored = dict(
        connection.execute(text("SELECT cell, coalesce(municipality_id, -1) FROM h3_cell")).all()
    )
    known = np.array([c in stored for c in ids.tolist()], dtype=bool)
    moved = [
        (cell, None if new < 0 else new)
        for cell, new in zip(ids[known].tolist(), owner[known].tolist(), strict=True)
        if stored[cell] != new
    ]
    if moved:
        connection.execute(
            text(
                "UPDATE h3_cell SET municipality_id = v.owner FROM unnest("
                "CAST(:cells AS bigint[]), CAST(:owners AS integer[])) AS v(cell, owner)"
                " WHERE h3_cell.cell = v.cell"
            ),
            {"cells": [c for c, _ in moved], "owners": [o for _, o in moved]},
        )
    new = ~known
    if not new.any():
        return 0
    rows = io.StringIO()
    for cell, lat, lon, municipality in zip(
        ids[new].tolist(), lats[new].tolist(), lons[new].tolist(), owner[new].tolist(), strict=True
    ):
        ring = cell_ring(cell)
        wkt = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"
        geojson = json.dumps({"type": "Polygon", "coordinates": [ring]}, separators=(",", ":"))
        owner_text = "\\N" if municipality < 0 else str(municipality)
        rows.write(
            f"{cell}\t{h3i.get_resolution(cell)}\t{lon!r}\t{lat!r}\t{owner_text}\t"
            f"SRID=4326;{wkt}\t{geojson}\n"
        )
    rows.seek(0)
    cursor = connection.connection.dbapi_connection.cursor()
    cursor.copy_expert(
        "COPY h3_cell (cell, resolution, centre_lon, centre_lat, municipality_id, geom, geojson)"
        " FROM STDIN",
        rows,
    )
    return int(new.sum())


def fill_report_cells(connection: Connection, progress: Callable[[int], None] = lambda n: None):
    """Give reports stored without cells (older rows, other loaders) their cell ids."""
    total = 0
    while True:
        rows = connection.execute(
            text(
                "SELECT id, ST_Y(location), ST_X(location) FROM report "
                "WHERE h3_9 IS NULL LIMIT :batch"
            ),
            {"batch": BATCH},
        ).all()
        if not rows:
            return total
        ids = [r[0] for r in rows]
        cells = cells_of([r[1] for r in rows], [r[2] for r in rows])
        connection.execute(
            text(
                "UPDATE report SET h3_6 = v.h3_6, h3_7 = v.h3_7, h3_8 = v.h3_8, h3_9 = v.h3_9 "
                "FROM unnest(CAST(:ids AS uuid[]), CAST(:h3_6 AS bigint[]),"
                " CAST(:h3_7 AS bigint[]), CAST(:h3_8 AS bigint[]), CAST(:h3_9 AS bigint[]))"
                " AS v(id, h3_6, h3_7, h3_8, h3_9) WHERE report.id = v.id"
            ),
            {"ids": [str(i) for i in ids]} | {k: v.tolist() for k, v in cells.items()},
        )
        total += len(rows)
        progress(len(rows))


def rebuild(connection: Connection, progress: Callable[[int], None] = lambda n: None) -> None:
    """Recompute both rollups from the report table (in the caller's transaction)."""
    ensure_cells(connection)
    fill_report_cells(connection)
    missing = connection.scalars(
        text(
            "SELECT DISTINCT c.cell FROM report r CROSS JOIN LATERAL"
            " (VALUES (r.h3_6), (r.h3_7), (r.h3_8), (r.h3_9)) AS c(cell)"
            " WHERE NOT EXISTS (SELECT 1 FROM h3_cell h WHERE h.cell = c.cell)"
        )
    ).all()
    if missing:
        raise ValueError(
            f"{len(missing)} report cells lie outside the municipalities' cells: "
            "import the boundaries that contain them first"
        )
    connection.execute(text("TRUNCATE heat_cell_day, heat_cell_total"))
    for resolution, column in zip(ROLLUP_RESOLUTIONS, CELL_COLUMNS, strict=True):
        sql = REBUILD_SQL.format(column=column, resolution=resolution)
        for statement in sql.strip().split(";\n"):
            connection.execute(text(statement))
        progress(1)
