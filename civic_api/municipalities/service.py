"""Municipality look-ups: listing, point-in-polygon assignment and boundary import."""

import logging
import re
import time
import unicodedata
from collections.abc import Callable
from typing import NamedTuple

import shapely
from geoalchemy2.shape import from_shape
from shapely import STRtree
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from civic_api.audit import service as audit
from civic_api.cache import VersionedCache
from civic_api.categories.service import FORBIDDEN_CHARACTERS
from civic_api.database import session
from civic_api.errors import NotFound
from civic_api.municipalities.models import Municipality, MunicipalityVersion
from civic_api.seed import gazetteer
from geo import boundaries, points

logger = logging.getLogger(__name__)

SLUG_FORMAT = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def list_municipalities(with_boundary: bool = False, slug: str | None = None) -> list[dict]:
    """Municipalities (all, or the one with `slug`) with their bounding box, and their
    GeoJSON boundary when asked."""
    columns = [
        Municipality,
        func.ST_XMin(Municipality.boundary).label("west"),
        func.ST_YMin(Municipality.boundary).label("south"),
        func.ST_XMax(Municipality.boundary).label("east"),
        func.ST_YMax(Municipality.boundary).label("north"),
    ]
    if with_boundary:
        columns.append(func.ST_AsGeoJSON(Municipality.boundary, 6).label("geojson"))
    query = select(*columns).order_by(Municipality.slug)
    if slug is not None and not SLUG_FORMAT.fullmatch(slug):
        return []
    if slug is not None:
        query = query.where(Municipality.slug == slug)
    return [_as_dict(row) for row in session.execute(query)]


def get_municipality(slug: str, with_boundary: bool = False) -> dict | None:
    found = list_municipalities(with_boundary, slug=slug)
    return found[0] if found else None


def _as_dict(row) -> dict:
    m = row.Municipality
    out = {
        "slug": m.slug,
        "name": m.name,
        "names": m.name,
        "population": m.population,
        "timezone": m.timezone,
        "bbox": [round(row.west, 6), round(row.south, 6), round(row.east, 6), round(row.north, 6)],
    }
    if "geojson" in row._fields:
        out["boundary"] = row.geojson
    return out


class MunicipalityRef(NamedTuple):
    id: int
    slug: str
    name: dict


_REFERENCE = (Municipality.id, Municipality.slug, Municipality.name)


class MunicipalityIndex(VersionedCache):
    """The municipalities' boundaries held in the process (civic_api.cache), to route every
    report without a statement.

    A point inside or on the boundary of a municipality belongs to it. A point on a border
    shared by several belongs to the one whose slug sorts first, so the choice never depends
    on insertion order. A point outside all of them but within `snap_metres` of one (GPS
    drift, simplified boundaries) belongs to the nearest: that rare case asks the database
    (geodesic distance, `nearest_municipality`).
    """

    version_query = select(MunicipalityVersion.version)

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic):
        super().__init__(max_age, clock)
        # (references by slug, an R-tree over their boundaries in the same order): replaced
        # whole.
        self._snapshot: tuple[tuple[MunicipalityRef, ...], STRtree] = ((), STRtree([]))

    def _load(self) -> None:
        rows = session.execute(
            select(*_REFERENCE, func.ST_AsBinary(Municipality.boundary)).order_by(Municipality.slug)
        ).all()
        # Not prepared: GEOS builds a prepared geometry's index lazily, which threads of a
        # worker would race; a point-in-polygon test on one of these boundaries takes µs.
        shapes = shapely.from_wkb([bytes(row[3]) for row in rows])
        self._snapshot = (tuple(MunicipalityRef(*row[:3]) for row in rows), STRtree(shapes))

    def by_slug(self, slug: str) -> MunicipalityRef | None:
        self._fresh()
        refs = self._snapshot[0]
        return next((ref for ref in refs if ref.slug == slug), None)

    def at(self, point: Point, snap_metres: float = 0) -> MunicipalityRef | None:
        """The municipality responsible for `point`, or None."""
        self._fresh()
        refs, tree = self._snapshot
        covering = tree.query(point, predicate="covered_by")  # one call into GEOS
        if covering.size:
            return refs[covering.min()]  # by slug: the first that covers the point
        return nearest_municipality(point, snap_metres) if snap_metres > 0 else None


def nearest_municipality(point: Point, snap_metres: float) -> MunicipalityRef | None:
    """The municipality nearest to `point` within `snap_metres` (geodesic), ties by slug."""
    row = session.execute(
        select(*_REFERENCE)
        .where(points.within_metres(Municipality.boundary, point, snap_metres))
        .order_by(points.distance_metres(Municipality.boundary, point), Municipality.slug)
        .limit(1)
    ).first()
    return MunicipalityRef(*row) if row is not None else None


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def import_boundaries(
    path: str,
    name_property: str = "name",
    slug_property: str | None = None,
    repair: bool = True,
    update_boundaries: bool = True,
) -> list[str]:
    """Insert or update municipalities from a GeoJSON file; return the slugs read.

    Names in sq/sr/en and population come from the built-in gazetteer when the feature's
    name is known to it; otherwise the feature's name is used for all three languages.
    update_boundaries=False (the seed, run on every start) only adds the municipalities
    that are missing and never touches what an admin changed. The whole file is validated
    before anything is written.
    """
    rows = []
    for number, (props, geom) in enumerate(boundaries.read_features(path), start=1):
        source_name = props.get(name_property)
        if (
            not isinstance(source_name, str)
            or not source_name.strip()
            or FORBIDDEN_CHARACTERS.search(source_name)
        ):
            raise boundaries.InvalidBoundary(
                f"feature {number} has no text property {name_property!r}"
            )
        try:
            area = boundaries.to_multipolygon(geom, repair=repair)
        except boundaries.InvalidBoundary as exc:
            raise boundaries.InvalidBoundary(f"feature {number} ({source_name}): {exc}") from exc
        known = gazetteer.by_source_name(source_name)
        slug = props.get(slug_property) if slug_property else None
        slug = slug or (known["slug"] if known else slugify(source_name))
        if not isinstance(slug, str) or not SLUG_FORMAT.fullmatch(slug):
            raise boundaries.InvalidBoundary(
                f"feature {number} ({source_name}): {slug!r} is not a slug "
                "(lowercase ASCII letters and digits separated by single hyphens)"
            )
        name = known["name"] if known else {loc: source_name.strip() for loc in ("sq", "sr", "en")}
        rows.append(
            {
                "slug": slug,
                "name": name,
                "population": known["population"] if known else None,
                "boundary": from_shape(area, srid=points.WGS84),
            }
        )
    slugs = [r["slug"] for r in rows]
    duplicated = sorted({s for s in slugs if slugs.count(s) > 1})
    if duplicated:
        raise boundaries.InvalidBoundary(f"several features map to the slug(s) {duplicated}")
    if rows:
        statement = insert(Municipality).values(rows)
        if update_boundaries:
            statement = statement.on_conflict_do_update(
                index_elements=[Municipality.slug],
                set_={
                    "name": statement.excluded.name,
                    "boundary": statement.excluded.boundary,
                    "population": func.coalesce(
                        statement.excluded.population, Municipality.population
                    ),
                },
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=[Municipality.slug])
        session.execute(statement)
    logger.info("imported %d municipalities from %s", len(rows), path)
    return slugs


def update_municipality(actor_id: int, slug: str, changes: dict) -> dict:
    """Admins correct names, population and time zone (boundaries come from the import)."""
    municipality = session.scalar(select(Municipality).where(Municipality.slug == slug))
    if municipality is None:
        raise NotFound(f"No municipality has the slug {slug!r}.")
    fields = ("name", "population", "timezone")
    before = {key: getattr(municipality, key) for key in fields}
    for key, value in changes.items():
        setattr(municipality, key, value)
    session.flush()
    audit.record(
        actor_id,
        "municipality.update",
        "municipality",
        slug,
        municipality_ids=[municipality.id],
        before=before,
        after={key: getattr(municipality, key) for key in fields},
    )
    return get_municipality(slug)
