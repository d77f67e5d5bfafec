"""OGC API – Features collections: municipalities, public heatmap cells and report points.

Nothing here is finer than the rest of the public analytics (docs/privacy.md, docs/ogc.md):
- heatmap cells are the analytics service's public answer (whole cells, live cells with fewer
  than k reports withheld, sensitive categories only from the noisy monthly releases at res
  6-8, whole months), paginated in SQL;
- report points are reports of non-sensitive categories only, open or resolved, placed at the
  centre of their res-9 cell (~200 m edges) and dated to the local day, under an opaque id
  that reveals nothing of the report's own id.
"""

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import time as pytime
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import ColumnElement, Select, case, func, or_, select

from civic_api import edge
from civic_api.analytics import service as analytics
from civic_api.analytics.models import (
    STATUS_CLASS_OF,
    STATUS_CLASSES,
    H3Cell,
    HeatCellDay,
    HeatCellTotal,
    Release,
)
from civic_api.categories.models import Category, CategoryGroup
from civic_api.database import session
from civic_api.errors import InvalidInput
from civic_api.models import DEFAULT_LOCALE, LOCALES
from civic_api.municipalities.models import Municipality
from civic_api.reports.models import Report
from geo.cells import (
    FINEST_RESOLUTION,
    BBox,
    InvalidBBox,
    InvalidCell,
    cell_centres,
    cell_to_hex,
    centre_in_bbox,
    hex_to_cell,
    validate_bbox,
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84_NAMES = {CRS84, CRS84.replace("http:", "https:"), "[OGC:CRS84]", "OGC:CRS84"}
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
LOCAL_TZ = ZoneInfo("Europe/Belgrade")  # the time zone of report_local_day (migration 0005)
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
POINT_RESOLUTION = FINEST_RESOLUTION  # res 9: edges of 206-214 m over Kosovo
# Statuses published as points, by the class shown; rejected and duplicate reports are not.
POINT_STATUS_CLASS = {
    status: name
    for status, cls in STATUS_CLASS_OF.items()
    for name in ("open", "resolved")
    if cls == STATUS_CLASSES[name]
}


class InvalidParameter(ValueError):
    """A query parameter value that OGC API clients must get a 400 for."""


def bad_parameter(name: str, message: str) -> InvalidInput:
    return InvalidInput(message, {"query": {name: [message]}}, status=400)


@dataclass(frozen=True)
class CollectionInfo:
    id: str
    title: str
    description: str
    temporal: bool


COLLECTIONS: tuple[CollectionInfo, ...] = (
    CollectionInfo(
        "municipalities",
        "Municipalities",
        "Kosovo's municipalities, the bodies that receive reports, with their boundaries "
        "(OpenStreetMap contributors via geoBoundaries; not legal boundaries). `name` is in "
        "the language asked for with ?lang= or Accept-Language; name_sq, name_sr and name_en "
        "are always there.",
        temporal=False,
    ),
    CollectionInfo(
        "heatmap-cells",
        "Reports per H3 cell",
        "The public heatmap: report counts per H3 hexagon, as /v1/heatmaps. Cells with fewer "
        "than k reports are withheld; a bbox selects the cells whose centre lies inside it; "
        "dates are widened to whole months; sensitive categories are never finer than "
        "resolution 8. Parameters: resolution (6-9, default 7), category, group, "
        "municipality, status.",
        temporal=True,
    ),
    CollectionInfo(
        "report-points",
        "Reports of municipal problems (approximate)",
        "Reports of non-sensitive categories that are open or resolved, each placed at the "
        "centre of its H3 resolution-9 cell (edges of about 210 m), never at the reported "
        "point, and dated to the local day. Harassment and other sensitive categories are "
        "never published as points. Ids are opaque and do not reveal the report's id.",
        temporal=True,
    ),
)


# Parameters


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([Zz]|[+\- ]\d{2}:\d{2})"
)
OPEN_END = ("", "..")


def _moment(text: str) -> date | datetime:
    """An RFC 3339 date-time (with offset), or a plain date meaning that local day."""
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidParameter(f"{text!r} is not a valid date.") from None
        return _plausible(day)
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise InvalidParameter(
            f"{text!r} is not an RFC 3339 date-time with a time zone "
            "(e.g. 2026-01-01T00:00:00Z) or a date (2026-01-01)."
        )
    day, clock, offset = match.groups()
    # An unencoded "+" in a query string arrives as a space.
    offset = "+00:00" if offset in "Zz" else offset.replace(" ", "+")
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}{offset}")
    except ValueError:
        raise InvalidParameter(f"{text!r} is not a valid date-time.") from None
    return _plausible(moment)


def _plausible(moment: date | datetime) -> date | datetime:
    if not edge.MIN_YEAR <= moment.year <= edge.MAX_YEAR:
        raise InvalidParameter(f"Must lie between the years {edge.MIN_YEAR} and {edge.MAX_YEAR}.")
    return moment


def _local_day(moment: date | datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date() if isinstance(moment, datetime) else moment


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), LOCAL_TZ)


def parse_datetime(text: str) -> tuple[date | None, date | None]:
    """An OGC `datetime` (an instant, or an interval with `..` or empty open ends) as the
    first and last local day (Europe/Belgrade, inclusive) that it touches."""
    if "/" in text:
        parts = text.split("/")
        if len(parts) != 2:
            raise InvalidParameter("An interval has one slash: start/end (.. for open).")
        start, end = parts
    else:
        if text in OPEN_END:
            raise InvalidParameter("Give an instant, or an interval start/end.")
        start = end = text
    first = None if start in OPEN_END else _moment(start)
    last = None if end in OPEN_END else _moment(end)
    if first is not None and last is not None:
        # Compare instants: a date starts at its local midnight and ends at the next one.
        begins = first if isinstance(first, datetime) else local_midnight(first)
        ends = last if isinstance(last, datetime) else local_midnight(last + timedelta(days=1))
        if begins > ends:
            raise InvalidParameter("The interval ends before it starts.")
    return (
        None if first is None else _local_day(first),
        None if last is None else _local_day(last),
    )


def parse_bbox(text: str) -> BBox:
    """An OGC `bbox`: west,south,east,north in CRS84, or six numbers with heights (ignored).
    West greater than east crosses the antimeridian."""
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise InvalidParameter("Must be four numbers west,south,east,north (or six, with heights).")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InvalidParameter("Must be numbers: west,south,east,north.") from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    try:
        return validate_bbox(numbers)
    except InvalidBBox as exc:
        raise InvalidParameter(f"Not a bounding box: {exc}.") from None


def intersects_bbox(geometry, bbox: BBox) -> ColumnElement[bool]:
    """Geometry intersecting a lon/lat box (split in two where it crosses the antimeridian)."""
    west, south, east, north = bbox
    ranges = [(west, east)] if west < east else [(west, 180.0), (-180.0, east)]
    tests = [
        func.ST_Intersects(geometry, func.ST_MakeEnvelope(lo, south, hi, north, 4326))
        for lo, hi in ranges
    ]
    return tests[0] if len(tests) == 1 else or_(*tests)


# Features


@dataclass(frozen=True)
class Feature:
    id: str
    geometry: str  # GeoJSON text, written as is
    properties: dict

    def json(self, **members) -> str:
        """The Feature as JSON text; `members` (e.g. links) are added as foreign members."""
        text = (
            f'{{"type":"Feature","id":{json.dumps(self.id)},"geometry":{self.geometry},'
            f'"properties":{json.dumps(self.properties)}'
        )
        if members:
            text += "," + json.dumps(members)[1:-1]
        return text + "}"


@dataclass
class Page:
    features: list[Feature]
    more: bool  # are there features after this page?
    matched: int | None = None
    extra: dict = field(default_factory=dict)  # foreign members of the FeatureCollection


def feature_collection(page: Page, links: list[dict], time_stamp: datetime) -> str:
    """The page as a GeoJSON FeatureCollection with the OGC API members, as JSON text."""
    head = json.dumps({"type": "FeatureCollection", **page.extra})
    tail = {"links": links, "timeStamp": rfc3339(time_stamp)}
    if page.matched is not None:
        tail["numberMatched"] = page.matched
    tail["numberReturned"] = len(page.features)
    features = ",".join(f.json() for f in page.features)
    return f'{head[:-1]},"features":[{features}],{json.dumps(tail)[1:]}'


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _paged(rows: Sequence, limit: int) -> tuple[Sequence, bool]:
    """The rows of a page fetched with limit + 1, and whether more follow."""
    return rows[:limit], len(rows) > limit


# Extents


def _outward(bbox: Sequence[float]) -> list[float]:
    """A bbox rounded outwards to 4 decimals (about 10 m), so it still contains everything."""
    west, south, east, north = bbox
    return [
        math.floor(west * 1e4) / 1e4,
        math.floor(south * 1e4) / 1e4,
        math.ceil(east * 1e4) / 1e4,
        math.ceil(north * 1e4) / 1e4,
    ]


def _extent(column) -> list[float] | None:
    box = func.ST_Extent(column)
    row = session.execute(
        select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
    ).one()
    return None if row[0] is None else _outward(row)


# h3_cell changes only when boundaries are imported, and its extent takes ~70 ms over its
# ~112,000 cells: each process keeps it for a while, per database.
CELL_EXTENT_SECONDS = 600.0
_cell_extents: dict[str, tuple[float, list[float] | None]] = {}


def _cells_extent() -> list[float] | None:
    key = str(session.get_bind().engine.url)
    at, extent = _cell_extents.get(key, (-math.inf, None))
    if pytime.monotonic() - at > CELL_EXTENT_SECONDS:
        extent = _extent(H3Cell.geom)
        _cell_extents[key] = (pytime.monotonic(), extent)
    return extent


def _day_span(resolution: int, category_ids=None, status_classes=None) -> tuple[date, date] | None:
    """First and last local day with reports in the rollup (index on resolution, day)."""
    conditions = [HeatCellDay.resolution == resolution, HeatCellDay.count > 0]
    if category_ids is not None:
        conditions.append(HeatCellDay.category_id.in_(category_ids))
    if status_classes is not None:
        conditions.append(HeatCellDay.status_class.in_(status_classes))
    first, last = session.execute(
        select(func.min(HeatCellDay.day), func.max(HeatCellDay.day)).where(*conditions)
    ).one()
    return None if first is None else (first, last)


def _released_span() -> tuple[date, date] | None:
    first, last = session.execute(
        select(func.min(Release.period_start), func.max(Release.period_end))
    ).one()
    return None if first is None else (first, last)


def _interval(first: date, last: date) -> list[str]:
    """From the first day's local midnight to the midnight after the last day."""
    return [
        local_midnight(first).isoformat(),
        local_midnight(last + timedelta(days=1)).isoformat(),
    ]


def extents() -> dict[str, dict]:
    """The `extent` of each collection: a CRS84 bbox of everything in it, and the interval of
    its dates (whole months for the heatmap, as its public queries are)."""
    boundaries = _extent(Municipality.boundary)
    cells = _cells_extent() or boundaries
    spatial = {"municipalities": boundaries, "heatmap-cells": cells, "report-points": cells}
    temporal: dict[str, list[str] | None] = {"municipalities": None}
    # Live days of the non-sensitive categories and the released months: a sensitive report
    # stored now must not move the extent.
    spans = [span for span in (_day_span(7, public_category_ids()), _released_span()) if span]
    temporal["heatmap-cells"] = (
        _interval(
            analytics.month_start(min(s[0] for s in spans)),
            analytics.month_end(max(s[1] for s in spans)),
        )
        if spans
        else None
    )
    points = _day_span(POINT_RESOLUTION, public_category_ids(), _point_status_classes())
    temporal["report-points"] = _interval(*points) if points else None
    out = {}
    for info in COLLECTIONS:
        extent: dict = {}
        if spatial[info.id] is not None:
            extent["spatial"] = {"bbox": [spatial[info.id]], "crs": CRS84}
        if info.temporal:
            interval = temporal[info.id] or [None, None]
            extent["temporal"] = {"interval": [interval], "trs": GREGORIAN}
        out[info.id] = extent
    return out


# Municipalities


def _municipality_feature(slug, names, population, geometry, locale: str) -> Feature:
    properties = {
        "slug": slug,
        "name": names.get(locale) or names.get(DEFAULT_LOCALE),
        **{f"name_{loc}": names.get(loc) for loc in LOCALES},
        "population": population,
    }
    return Feature(slug, geometry, properties)


def _municipality_select() -> Select:
    return select(
        Municipality.slug,
        Municipality.name,
        Municipality.population,
        func.ST_AsGeoJSON(Municipality.boundary, 6),
    )


def municipality_page(bbox: BBox | None, limit: int, offset: int, locale: str) -> Page:
    """Municipalities whose boundary intersects the bbox, by slug."""
    conditions = [] if bbox is None else [intersects_bbox(Municipality.boundary, bbox)]
    rows = session.execute(
        _municipality_select()
        .where(*conditions)
        .order_by(Municipality.slug)
        .limit(limit + 1)
        .offset(offset)
    ).all()
    rows, more = _paged(rows, limit)
    matched = session.scalar(select(func.count()).select_from(Municipality).where(*conditions))
    return Page([_municipality_feature(*row, locale) for row in rows], more, matched)


def municipality_feature(slug: str, locale: str) -> Feature | None:
    row = session.execute(_municipality_select().where(Municipality.slug == slug)).first()
    return None if row is None else _municipality_feature(*row, locale)


# Heatmap cells


def _cell_features(
    query: analytics.AggregateQuery,
    read: analytics.ReleasesRead | None,
    *area,
    limit: int | None = None,
    offset: int = 0,
) -> list[Feature]:
    """The published cells of the query's area (narrowed by `area` conditions), by cell id,
    with their stored GeoJSON hexagon: the analytics service's cells, paged."""
    rows = session.execute(
        analytics.published_cells(query, read, *area, columns=(H3Cell.geojson,))
        .order_by(H3Cell.cell)
        .limit(limit)
        .offset(offset)
    ).all()
    features = []
    for cell, count, sensitive_count, geometry in rows:
        hex_id = cell_to_hex(cell)
        properties = {"cell": hex_id, "resolution": query.resolution}
        if count is not None:
            properties["count"] = int(count)
        if sensitive_count is not None:
            properties["sensitive_count"] = int(sensitive_count)
        features.append(Feature(hex_id, geometry, properties))
    return features


def heat_page(query: analytics.AggregateQuery, limit: int, offset: int) -> Page:
    """One page of the published cells of a public heatmap query, by cell id, with the
    members of the analytics answer (k, what the live part withheld, releases read)."""
    read = analytics.read_for(query)
    published = analytics.published_cells(query, read).subquery()
    shown = session.scalar(select(func.count()).select_from(published))
    features, more = _paged(_cell_features(query, read, limit=limit + 1, offset=offset), limit)
    return Page(list(features), more, int(shown), analytics.answer_head(query, read))


def parse_cell(text: str) -> int | None:
    """The int id of an H3 cell string at a rollup resolution, or None."""
    try:
        cell = hex_to_cell(text)
    except InvalidCell:
        return None
    return cell if 6 <= (cell >> 52) & 0xF <= FINEST_RESOLUTION else None


def heat_cell(query: analytics.AggregateQuery, cell: int) -> Feature | None:
    """One published cell of a public heatmap query at the cell's resolution, or None if the
    cell is unknown, withheld, or finer than the query may be."""
    if (cell >> 52) & 0xF != query.resolution:
        return None
    found = _cell_features(query, analytics.read_for(query), H3Cell.cell == cell)
    return found[0] if found else None


# Report points


class PointIds:
    """Opaque, stable ids of report points: the report UUID's 16 bytes encrypted with AES-256
    under a key derived from the server secret, in base32.

    One AES block is a keyed permutation of 128-bit values, so ids are unique, stable across
    requests and pages (a point keeps its id as its status changes), and reversible only with
    the key: /items/{id} finds the report by primary key, while without the secret an id
    tells nothing about the report's UUID, its order or its submission time. Rotating the
    secret changes every id.
    """

    LENGTH = 26  # base32 of 16 bytes, without padding

    def __init__(self, secret: bytes, purpose: bytes = b"ogc:report-point-id"):
        key = hmac.new(secret, purpose, hashlib.sha256).digest()
        # ECB over single blocks of distinct values is exactly the block cipher permutation.
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())

    def encode(self, report_ids: Sequence[uuid.UUID]) -> list[str]:
        encryptor = self._cipher.encryptor()
        data = encryptor.update(b"".join(i.bytes for i in report_ids)) + encryptor.finalize()
        return [
            base64.b32encode(data[i : i + 16]).decode().rstrip("=").lower()
            for i in range(0, len(data), 16)
        ]

    def decode(self, text: str) -> uuid.UUID | None:
        if len(text) != self.LENGTH or not re.fullmatch(r"[a-z2-7]+", text):
            return None
        try:
            data = base64.b32decode(text.upper() + "======")
        except binascii.Error:
            return None
        if base64.b32encode(data).decode().rstrip("=").lower() != text:
            return None  # a non-canonical spelling of another id
        decryptor = self._cipher.decryptor()
        return uuid.UUID(bytes=decryptor.update(data) + decryptor.finalize())


def public_category_ids() -> list[int]:
    return list(session.scalars(select(Category.id).where(Category.sensitive.is_(False))))


def _point_status_classes() -> list[int]:
    return sorted({STATUS_CLASSES[name] for name in POINT_STATUS_CLASS.values()})


def point_category_ids(codes: Sequence[str] = (), groups: Sequence[str] = ()) -> list[int]:
    """Ids of the non-sensitive categories named by code or group (all of them if none is);
    a 400 for unknown names and for sensitive categories, which are never points."""
    rows = session.execute(
        select(Category.id, Category.code, Category.sensitive, CategoryGroup.code).join(
            CategoryGroup
        )
    ).all()
    if not codes and not groups:
        return [c_id for c_id, _, sensitive, _ in rows if not sensitive]
    unknown = set(codes) - {code for _, code, _, _ in rows}
    if unknown:
        raise bad_parameter("category", f"Unknown categories: {', '.join(sorted(unknown))}.")
    unknown = set(groups) - {group for _, _, _, group in rows}
    if unknown:
        raise bad_parameter("group", f"Unknown groups: {', '.join(sorted(unknown))}.")
    sensitive = sorted({code for _, code, s, _ in rows if s and code in codes})
    if sensitive:
        raise bad_parameter(
            "category",
            f"Sensitive categories are never published as points: {', '.join(sensitive)}.",
        )
    hidden = sorted(g for g in set(groups) if all(s for _, _, s, group in rows if group == g))
    if hidden:
        raise bad_parameter(
            "group",
            "These groups hold only sensitive categories, which are never published as points:"
            f" {', '.join(hidden)}.",
        )
    return [
        c_id
        for c_id, code, sensitive, group in rows
        if not sensitive and (code in codes or group in groups)
    ]


def published_report_conditions() -> list[ColumnElement[bool]]:
    """The reports published one by one (points here, Open311 requests): non-sensitive
    categories (Category joined), open or resolved, with a cell to stand for the location."""
    return [
        Category.sensitive.is_(False),
        Report.status.in_(list(POINT_STATUS_CLASS)),
        Report.h3_9.is_not(None),
    ]


def _point_select(category_ids: Sequence[int], bbox: BBox | None = None) -> Select:
    """Published reports: the cell is all of the location that is read, and only to place the
    point (at the cell's centre) and to test the bbox (on that centre)."""
    status = case((Report.status == "resolved", "resolved"), else_="open")
    query = (
        select(
            Report.id,
            Category.code,
            CategoryGroup.code,
            status,
            func.report_local_day(Report.occurred_at),
            Report.h3_9,
        )
        .select_from(Report)
        .join(Category, Category.id == Report.category_id)
        .join(CategoryGroup, CategoryGroup.id == Category.group_id)
        # Never a sensitive report, whatever the ids.
        .where(Report.category_id.in_(category_ids), *published_report_conditions())
    )
    if bbox is not None:
        query = query.join(H3Cell, H3Cell.cell == Report.h3_9).where(
            centre_in_bbox(H3Cell.centre_lon, H3Cell.centre_lat, bbox)
        )
    return query


def _point_features(rows: Sequence, ids: PointIds) -> list[Feature]:
    opaque = ids.encode([row[0] for row in rows])
    # The centres as H3 computes them: the same floats as h3_cell.centre_lon/lat.
    lats, lons = cell_centres([row[5] for row in rows])
    return [
        Feature(
            point_id,
            f'{{"type":"Point","coordinates":[{lon!r},{lat!r}]}}',
            {"category": category, "group": group, "status": status, "day": day.isoformat()},
        )
        for point_id, (_, category, group, status, day, _), lon, lat in zip(
            opaque, rows, lons.tolist(), lats.tolist(), strict=True
        )
    ]


def _point_count(
    category_ids: Sequence[int], bbox: BBox | None, date_from: date | None, date_to: date | None
) -> int:
    """How many points match, from the res-9 rollup (kept exact by triggers on report): it
    counts the same reports by the same cell, category, status class and local day, in far
    fewer rows than the report table."""
    table: type[HeatCellDay] | type[HeatCellTotal] = HeatCellTotal
    conditions = [HeatCellTotal.resolution == POINT_RESOLUTION]
    if date_from is not None or date_to is not None:
        table = HeatCellDay
        conditions = [HeatCellDay.resolution == POINT_RESOLUTION]
        if date_from is not None:
            conditions.append(HeatCellDay.day >= date_from)
        if date_to is not None:
            conditions.append(HeatCellDay.day <= date_to)
    conditions += [
        table.category_id.in_(category_ids),
        table.status_class.in_(_point_status_classes()),
    ]
    total = select(func.coalesce(func.sum(table.count), 0)).where(*conditions)
    if bbox is not None:
        # A join from the few cells in the box, not a semi-join over the whole rollup.
        total = total.join(H3Cell, H3Cell.cell == table.cell).where(
            H3Cell.resolution == POINT_RESOLUTION,
            centre_in_bbox(H3Cell.centre_lon, H3Cell.centre_lat, bbox),
        )
    return int(session.scalar(total))


def point_page(
    category_ids: Sequence[int],
    bbox: BBox | None,
    date_from: date | None,
    date_to: date | None,
    limit: int,
    offset: int,
    ids: PointIds,
) -> Page:
    """Report points in the bbox (their cell centre inside it, as for the heatmap's cells)
    that happened on the local days from..to, ordered by the (random) report UUID."""
    query = _point_select(category_ids, bbox)
    local_day = func.report_local_day(Report.occurred_at)  # the rollup's day (migration 0005)
    if date_from is not None:
        query = query.where(local_day >= date_from)
    if date_to is not None:
        query = query.where(local_day <= date_to)
    rows = session.execute(query.order_by(Report.id).limit(limit + 1).offset(offset)).all()
    rows, more = _paged(rows, limit)
    if not more and (rows or not offset):
        matched = offset + len(rows)  # the last page counts itself
    else:
        matched = _point_count(category_ids, bbox, date_from, date_to)
    return Page(_point_features(rows, ids), more, matched)


def all_points(ids: PointIds, before: date, batch: int = 5000) -> Iterator[list[Feature]]:
    """Every published point of a local day before `before`, by report UUID, in batches (the
    open-data download: the same points as the layer, of closed days only)."""
    category_ids = public_category_ids()
    query = _point_select(category_ids).where(func.report_local_day(Report.occurred_at) < before)
    last = None
    while True:
        page = query if last is None else query.where(Report.id > last)
        rows = session.execute(page.order_by(Report.id).limit(batch)).all()
        if not rows:
            return
        yield _point_features(rows, ids)
        last = rows[-1][0]


def point_day_span(before: date | None = None) -> tuple[date, date] | None:
    """The first and last local day of the published points (before `before`, if given)."""
    span = _day_span(POINT_RESOLUTION, public_category_ids(), _point_status_classes())
    if span is None or before is None:
        return span
    last = min(span[1], before - timedelta(days=1))
    return None if last < span[0] else (span[0], last)


def point_feature(feature_id: str, ids: PointIds) -> Feature | None:
    report_id = ids.decode(feature_id)
    if report_id is None:
        return None
    row = session.execute(
        _point_select(public_category_ids()).where(Report.id == report_id)
    ).first()
    return None if row is None else _point_features([row], ids)[0]
