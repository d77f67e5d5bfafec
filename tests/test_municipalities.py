"""Municipalities: listing and localisation, point-in-polygon assignment, boundary import."""

import functools
import json
import math

import pytest
from geoalchemy2.shape import from_shape, to_shape
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, box, shape
from shapely.ops import nearest_points, unary_union
from sqlalchemy import func, select, text

from civic_api.cli import BUNDLED_BOUNDARIES
from civic_api.database import session
from civic_api.municipalities.models import Municipality
from civic_api.seed import gazetteer

ALL_SLUGS = sorted(m["slug"] for m in gazetteer.MUNICIPALITIES)
OUTSIDE = "This location is outside every municipality served by this service."
OUTSIDE_ERROR = {
    "code": 422,
    "status": "Unprocessable Entity",
    "message": OUTSIDE,
    "errors": {"json": {"location": [OUTSIDE]}},
}
METRES_PER_DEGREE = 111_320.0
KOSOVO_LAT = 42.6


# --------------------------------------------------------------------------- helpers


@functools.cache
def bundled_shapes() -> dict:
    """slug -> shapely geometry, straight from the bundled GeoJSON."""
    with open(BUNDLED_BOUNDARIES, encoding="utf-8") as fh:
        doc = json.load(fh)
    return {
        gazetteer.by_source_name(f["properties"]["name"])["slug"]: shape(f["geometry"])
        for f in doc["features"]
    }


def _to_metric(geom):
    """Equirectangular projection around Kosovo: 1 unit = 1 degree of latitude."""
    return affinity.scale(geom, xfact=math.cos(math.radians(KOSOVO_LAT)), yfact=1, origin=(0, 0))


def point_outside_kosovo(towards: tuple[float, float], metres: float) -> tuple[float, float]:
    """The point `metres` outside Kosovo's border, from the border point nearest `towards`."""
    cos = math.cos(math.radians(KOSOVO_LAT))
    kosovo = _to_metric(unary_union(list(bundled_shapes().values())))
    far = Point(towards[0] * cos, towards[1])
    border, _ = nearest_points(kosovo, far)
    dx, dy = far.x - border.x, far.y - border.y
    step = metres / METRES_PER_DEGREE / math.hypot(dx, dy)
    return (border.x + dx * step) / cos, border.y + dy * step


def nearest_bundled(lon: float, lat: float) -> str:
    here = _to_metric(Point(lon, lat))
    return min(bundled_shapes(), key=lambda s: _to_metric(bundled_shapes()[s]).distance(here))


def metres_to_nearest(lon: float, lat: float) -> float:
    """Geodesic distance (PostGIS geography) from the point to the nearest stored municipality."""
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    return session.scalar(
        select(
            func.min(func.ST_Distance(func.Geography(Municipality.boundary), func.Geography(point)))
        )
    )


def add_municipality(slug: str, *polygons) -> None:
    session.add(
        Municipality(
            slug=slug,
            name={"sq": f"{slug} sq", "sr": f"{slug} sr", "en": f"{slug} en"},
            boundary=from_shape(MultiPolygon(polygons), srid=4326),
        )
    )
    # A savepoint inside the test's transaction: later requests see it, the test rolls it back.
    session.commit()


def at(lon: float, lat: float) -> dict:
    return {"lat": lat, "lon": lon}


def centre(slug: str) -> tuple[float, float]:
    return next(m["centre"] for m in gazetteer.MUNICIPALITIES if m["slug"] == slug)


# --------------------------------------------------------------------------- listing


def test_list_has_all_38_sorted_by_slug_without_boundaries(client):
    r = client.get("/v1/municipalities")
    assert r.status_code == 200
    slugs = [m["slug"] for m in r.json]
    assert len(slugs) == 38
    assert slugs == ALL_SLUGS
    assert all(
        set(m) == {"slug", "name", "names", "population", "timezone", "bbox"} for m in r.json
    )


def test_list_item_shape_for_prishtina(client):
    r = client.get("/v1/municipalities")
    prishtina = next(m for m in r.json if m["slug"] == "prishtina")
    west, south, east, north = bundled_shapes()["prishtina"].bounds
    assert prishtina == {
        "slug": "prishtina",
        "name": "Prishtina",
        "names": {"sq": "Prishtinë", "sr": "Priština", "en": "Prishtina"},
        "population": 198897,
        "timezone": "Europe/Belgrade",
        "bbox": [round(west, 6), round(south, 6), round(east, 6), round(north, 6)],
    }


@pytest.mark.parametrize("value", ["true", "1"])
def test_list_with_boundary_gives_geojson_multipolygons(client, value):
    r = client.get(f"/v1/municipalities?boundary={value}")
    assert r.status_code == 200
    assert len(r.json) == 38
    assert {m["boundary"]["type"] for m in r.json} == {"MultiPolygon"}
    by_slug = {m["slug"]: m["boundary"]["coordinates"] for m in r.json}
    # Prishtina and Kamenica have two parts; Viti has one part with one hole (Kllokot).
    assert len(by_slug["prishtina"]) == 2
    assert len(by_slug["kamenica"]) == 2
    assert [len(rings) for rings in by_slug["viti"]] == [2]
    assert [len(rings) for rings in by_slug["kllokot"]] == [1]


@pytest.mark.parametrize("value", ["false", "0"])
def test_list_without_boundary_when_false(client, value):
    r = client.get(f"/v1/municipalities?boundary={value}")
    assert r.status_code == 200
    assert [m for m in r.json if "boundary" in m] == []


def test_boundary_flag_must_be_boolean(client):
    r = client.get("/v1/municipalities?boundary=maybe")
    assert r.status_code == 422
    assert r.json["errors"] == {"query": {"boundary": ["Not a valid boolean."]}}


@pytest.mark.parametrize(
    ("query", "headers", "locale", "name"),
    [
        ("", {}, "en", "Mitrovica North"),
        ("?lang=sr", {}, "sr", "Severna Mitrovica"),
        ("?lang=SQ", {}, "sq", "Mitrovicë e Veriut"),
        ("", {"Accept-Language": "sq-AL,sq;q=0.9"}, "sq", "Mitrovicë e Veriut"),
        ("", {"Accept-Language": "sr-Latn-RS"}, "sr", "Severna Mitrovica"),
        ("?lang=sr", {"Accept-Language": "sq-AL,sq;q=0.9"}, "sr", "Severna Mitrovica"),
        ("?lang=de", {}, "en", "Mitrovica North"),
        ("", {"Accept-Language": "de-DE,de;q=0.9"}, "en", "Mitrovica North"),
    ],
)
def test_names_are_localised(client, query, headers, locale, name):
    r = client.get(f"/v1/municipalities{query}", headers=headers)
    assert r.status_code == 200
    assert r.headers["Content-Language"] == locale
    assert "Accept-Language" in r.headers["Vary"]
    north = next(m for m in r.json if m["slug"] == "mitrovica-north")
    assert north["name"] == name
    assert north["names"] == {
        "sq": "Mitrovicë e Veriut",
        "sr": "Severna Mitrovica",
        "en": "Mitrovica North",
    }


@pytest.mark.parametrize(
    ("lang", "name"), [("sq", "Fushë Kosovë"), ("sr", "Kosovo Polje"), ("en", "Fushe Kosova")]
)
def test_get_one_by_slug(client, lang, name):
    r = client.get(f"/v1/municipalities/fushe-kosova?lang={lang}")
    assert r.status_code == 200
    assert r.headers["Content-Language"] == lang
    assert r.json["slug"] == "fushe-kosova"
    assert r.json["name"] == name
    assert r.json["population"] == 34827
    assert "boundary" not in r.json


def test_get_one_with_boundary(client):
    r = client.get("/v1/municipalities/viti?boundary=true")
    assert r.status_code == 200
    assert r.json["boundary"]["type"] == "MultiPolygon"
    assert shape(r.json["boundary"]).equals_exact(MultiPolygon([bundled_shapes()["viti"]]), 1e-6)


def test_unknown_slug_is_404_with_error_shape(client):
    r = client.get("/v1/municipalities/atlantis")
    assert r.status_code == 404
    assert r.json == {
        "code": 404,
        "status": "Not Found",
        "message": "No municipality has the slug 'atlantis'.",
    }


# --------------------------------------------------------------------------- point in polygon


@pytest.mark.parametrize(
    ("lat", "lon", "slug"),
    [
        (42.6629, 21.1655, "prishtina"),
        (42.2139, 20.7397, "prizren"),
        (42.6593, 20.2887, "peja"),
        (42.3803, 20.4308, "gjakova"),
        # Mitrovica: the Ibar separates the south from the north.
        (42.8872, 20.8667, "mitrovica-south"),
        (42.8950, 20.8650, "mitrovica-north"),
        # Kllokot is a hole inside Viti.
        (42.3694, 21.3731, "kllokot"),
        (42.3214, 21.3583, "viti"),
    ],
)
def test_town_centre_is_assigned_to_its_municipality(submit, lat, lon, slug):
    r = submit(location={"lat": lat, "lon": lon})
    assert r.status_code == 201, r.json
    assert r.json["municipality"]["slug"] == slug


@pytest.mark.parametrize("slug", ALL_SLUGS)
def test_every_gazetteer_centre_is_assigned_to_its_municipality(submit, slug):
    lon, lat = centre(slug)
    r = submit(location={"type": "Point", "coordinates": [lon, lat]})
    assert r.status_code == 201, r.json
    assert r.json["municipality"]["slug"] == slug


def test_kllokot_lies_in_a_hole_of_viti():
    """The premise of the Kllokot/Viti case above, checked on the bundled data."""
    viti, kllokot = bundled_shapes()["viti"], bundled_shapes()["kllokot"]
    assert len(viti.interiors) == 1
    assert viti.covers(Point(centre("kllokot"))) is False
    assert kllokot.covers(Point(centre("kllokot"))) is True


def test_belgrade_is_outside(submit):
    r = submit(location=at(20.4633, 44.8176))
    assert r.status_code == 422
    assert r.json == OUTSIDE_ERROR


# Far-away cities give the direction in which to leave Kosovo, and the municipality whose
# border is nearest in that direction.
DIRECTIONS = {
    "belgrade": ((20.4633, 44.8176), "leposaviq"),
    "skopje": ((21.4314, 41.9973), "hani-i-elezit"),
    "tirana": ((19.8187, 41.3275), "dragash"),
    "podgorica": ((19.2594, 42.4304), "junik"),
    "nis": ((21.8958, 43.3209), "podujeva"),
}


@pytest.mark.parametrize("direction", sorted(DIRECTIONS))
def test_point_100_m_outside_the_border_snaps_to_nearest(app, submit, direction):
    towards, slug = DIRECTIONS[direction]
    lon, lat = point_outside_kosovo(towards, 100)
    assert nearest_bundled(lon, lat) == slug
    assert 90 < metres_to_nearest(lon, lat) < 110
    assert app.config["MUNICIPALITY_SNAP_METRES"] == 250
    r = submit(location=at(lon, lat))
    assert r.status_code == 201, r.json
    assert r.json["municipality"]["slug"] == slug


@pytest.mark.parametrize("direction", sorted(DIRECTIONS))
def test_point_2_km_outside_the_border_is_refused(submit, direction):
    towards, _ = DIRECTIONS[direction]
    lon, lat = point_outside_kosovo(towards, 2000)
    assert 1900 < metres_to_nearest(lon, lat) < 2100
    r = submit(location=at(lon, lat))
    assert r.status_code == 422
    assert r.json == OUTSIDE_ERROR


def test_snapping_follows_the_configured_distance(app, submit, monkeypatch):
    lon, lat = point_outside_kosovo(DIRECTIONS["skopje"][0], 100)
    monkeypatch.setitem(app.config, "MUNICIPALITY_SNAP_METRES", 0)
    assert submit(location=at(lon, lat)).status_code == 422
    monkeypatch.setitem(app.config, "MUNICIPALITY_SNAP_METRES", 50)
    assert submit(location=at(lon, lat)).status_code == 422
    monkeypatch.setitem(app.config, "MUNICIPALITY_SNAP_METRES", 150)
    r = submit(location=at(lon, lat))
    assert r.status_code == 201
    assert r.json["municipality"]["slug"] == "hani-i-elezit"


# Two synthetic unit squares in the Gulf of Guinea, far from Kosovo, sharing the edge lon=1.
WEST = box(0.0, 0.0, 1.0, 1.0)
EAST = box(1.0, 0.0, 2.0, 1.0)


@pytest.mark.parametrize("east_first", [True, False], ids=["east-first", "west-first"])
@pytest.mark.parametrize(
    ("lon", "lat", "slug"),
    [
        (0.5, 0.5, "zz-west"),
        (1.5, 0.5, "aa-east"),
        (1.0, 0.5, "aa-east"),  # on the shared edge
        (1.0, 1.0, "aa-east"),  # shared corner (north)
        (1.0, 0.0, "aa-east"),  # shared corner (south)
    ],
)
def test_shared_border_goes_to_the_slug_that_sorts_first(submit, east_first, lon, lat, slug):
    # The slug sorting first belongs to the eastern square, and neither the insertion order
    # nor the id decides: both orders give the same answer.
    squares = [("aa-east", EAST), ("zz-west", WEST)]
    for name, square in squares if east_first else reversed(squares):
        add_municipality(name, square)
    r = submit(location=at(lon, lat))
    assert r.status_code == 201, r.json
    assert r.json["municipality"]["slug"] == slug


MAINLAND = box(0.0, 1.0, 0.1, 1.1)
ISLAND = box(0.2, 1.04, 0.21, 1.05)  # ~11 km east of the mainland


@pytest.mark.parametrize(
    ("lon", "lat", "status", "slug"),
    [
        (0.05, 1.05, 201, "isles"),  # mainland
        (0.205, 1.045, 201, "isles"),  # island
        (0.21, 1.05, 201, "isles"),  # island's corner
        (0.15, 1.045, 422, None),  # water between, ~5.5 km from both
    ],
)
def test_multipolygon_with_an_island(submit, lon, lat, status, slug):
    add_municipality("isles", MAINLAND, ISLAND)
    assert metres_to_nearest(0.15, 1.045) > 5000
    r = submit(location=at(lon, lat))
    assert r.status_code == status, r.json
    if slug:
        assert r.json["municipality"]["slug"] == slug
    else:
        assert r.json == OUTSIDE_ERROR


def test_synthetic_municipality_is_listed_in_slug_order(client):
    add_municipality("isles", MAINLAND, ISLAND)
    r = client.get("/v1/municipalities")
    slugs = [m["slug"] for m in r.json]
    assert len(slugs) == 39
    assert slugs == sorted([*ALL_SLUGS, "isles"])
    isles = client.get("/v1/municipalities/isles?boundary=true&lang=sr").json
    assert isles["name"] == "isles sr"
    assert isles["bbox"] == [0.0, 1.0, 0.21, 1.1]
    assert len(isles["boundary"]["coordinates"]) == 2


# --------------------------------------------------------------------------- flask municipalities import


def square(lon: float, lat: float, size: float = 0.1) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [lon, lat],
                [lon + size, lat],
                [lon + size, lat + size],
                [lon, lat + size],
                [lon, lat],
            ]
        ],
    }


BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


def feature(geometry: dict | None, **properties) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def write_geojson(tmp_path, *features, name="boundaries.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


def run_import(app, path, *options):
    return app.test_cli_runner().invoke(args=["municipalities", "import", str(path), *options])


def stored(slug: str) -> Municipality | None:
    return session.scalars(select(Municipality).where(Municipality.slug == slug)).first()


def count_municipalities() -> int:
    return session.scalar(select(func.count()).select_from(Municipality))


def test_import_with_slug_property_and_default_names(app, tmp_path):
    path = write_geojson(
        tmp_path,
        feature(square(0.0, 0.0), name="Testville", slug="test-ville"),
        feature(square(0.5, 0.0), name="  Other Town ", slug="other-town"),
    )
    result = run_import(app, path, "--slug-property", "slug")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "2 municipalities imported"
    assert count_municipalities() == 40
    testville = stored("test-ville")
    assert testville.name == {"sq": "Testville", "sr": "Testville", "en": "Testville"}
    assert stored("other-town").name == {"sq": "Other Town", "sr": "Other Town", "en": "Other Town"}
    assert testville.population is None
    assert testville.timezone == "Europe/Belgrade"
    assert to_shape(testville.boundary).equals(MultiPolygon([shape(square(0.0, 0.0))]))


def test_import_derives_the_slug_from_the_name(app, tmp_path):
    path = write_geojson(tmp_path, feature(square(0.0, 0.0), name="Štrpce Éast  Town"))
    result = run_import(app, path)
    assert result.exit_code == 0, result.output
    assert stored("strpce-east-town").name["en"] == "Štrpce Éast  Town"


def test_import_takes_names_and_population_from_the_gazetteer(app, tmp_path):
    path = write_geojson(tmp_path, feature(square(0.0, 0.0), NAME_1="Đakovica"))
    result = run_import(app, path, "--name-property", "NAME_1")
    assert result.exit_code == 0, result.output
    assert count_municipalities() == 38
    gjakova = stored("gjakova")
    assert gjakova.name == {"sq": "Gjakovë", "sr": "Đakovica", "en": "Gjakova"}
    assert gjakova.population == 94556
    assert to_shape(gjakova.boundary).equals(MultiPolygon([shape(square(0.0, 0.0))]))


def test_reimport_updates_instead_of_duplicating(app, tmp_path):
    first = write_geojson(tmp_path, feature(square(0.0, 0.0), name="Testville", slug="test-ville"))
    assert run_import(app, first, "--slug-property", "slug").exit_code == 0
    original_id = stored("test-ville").id
    second = write_geojson(
        tmp_path,
        feature(square(1.0, 1.0, 0.2), name="Testville Renamed", slug="test-ville"),
        name="second.geojson",
    )
    result = run_import(app, second, "--slug-property", "slug")
    assert result.exit_code == 0, result.output
    assert count_municipalities() == 39
    session.expire_all()
    testville = stored("test-ville")
    assert testville.id == original_id
    assert testville.name["en"] == "Testville Renamed"
    assert to_shape(testville.boundary).equals(MultiPolygon([shape(square(1.0, 1.0, 0.2))]))


def test_bowtie_is_repaired_by_default(app, tmp_path):
    path = write_geojson(tmp_path, feature(BOWTIE, name="Bowtie", slug="bowtie"))
    result = run_import(app, path, "--slug-property", "slug")
    assert result.exit_code == 0, result.output
    boundary = stored("bowtie").boundary
    valid, area, parts, kind = session.execute(
        select(
            func.ST_IsValid(boundary),
            func.ST_Area(boundary),
            func.ST_NumGeometries(boundary),
            func.GeometryType(boundary),
        )
    ).one()
    assert (valid, area, parts, kind) == (True, 0.5, 2, "MULTIPOLYGON")
    assert to_shape(boundary).is_valid


REFUSALS = {
    "bowtie-no-repair": (
        feature(BOWTIE, name="Bowtie", slug="bowtie"),
        ["--no-repair"],
        "feature 2 (Bowtie): invalid geometry: Self-intersection[0.5 0.5]",
    ),
    "linestring": (
        feature({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, name="Line", slug="l"),
        [],
        "feature 2 (Line): a LineString is not an area",
    ),
    "point": (
        feature({"type": "Point", "coordinates": [0.5, 0.5]}, name="Dot", slug="dot"),
        [],
        "feature 2 (Dot): a Point is not an area",
    ),
    "projected": (
        feature(square(7_500_000, 4_700_000, 1000), name="Projected", slug="projected"),
        [],
        "feature 2 (Projected): coordinates are not WGS84 longitude/latitude (EPSG:4326)",
    ),
    "missing-name": (
        feature(square(0.5, 0.5), slug="nameless"),
        [],
        "feature 2 has no text property 'name'",
    ),
    "blank-name": (
        feature(square(0.5, 0.5), name="   ", slug="blank"),
        [],
        "feature 2 has no text property 'name'",
    ),
    "numeric-name": (
        feature(square(0.5, 0.5), name=7, slug="seven"),
        [],
        "feature 2 has no text property 'name'",
    ),
    "no-geometry": (
        feature(None, name="Nowhere", slug="nowhere"),
        [],
        "feature 2 has no geometry",
    ),
    "duplicate-slug": (
        feature(square(0.5, 0.5), name="Again", slug="good-town"),
        [],
        "several features map to the slug(s) ['good-town']",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_import_writes_nothing_from_the_file(app, tmp_path, case):
    bad, options, message = REFUSALS[case]
    good = feature(square(0.0, 0.0), name="Good Town", slug="good-town")
    path = write_geojson(tmp_path, good, bad)
    result = run_import(app, path, "--slug-property", "slug", *options)
    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"
    assert stored("good-town") is None
    assert count_municipalities() == 38


def test_file_that_is_not_json_is_refused(app, tmp_path):
    path = tmp_path / "boundaries.geojson"
    path.write_text("<kml>not json</kml>")
    result = run_import(app, path)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path} is not valid UTF-8 JSON: Expecting value: line 1 column 1 (char 0)\n"
    )
    assert count_municipalities() == 38


def test_single_feature_instead_of_collection_is_refused(app, tmp_path):
    path = tmp_path / "feature.geojson"
    path.write_text(json.dumps(feature(square(0.0, 0.0), name="Lonely", slug="lonely")))
    result = run_import(app, path, "--slug-property", "slug")
    assert result.exit_code == 1
    assert result.output == f"Error: {path} is not a GeoJSON FeatureCollection\n"
    assert stored("lonely") is None


def test_missing_file_is_refused_by_click(app, tmp_path):
    result = run_import(app, tmp_path / "nope.geojson")
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert count_municipalities() == 38


def test_json_array_is_refused_as_not_a_feature_collection(app, tmp_path):
    path = tmp_path / "list.geojson"
    path.write_text("[]")
    result = run_import(app, path)
    assert result.exit_code == 1
    assert result.output == f"Error: {path} is not a GeoJSON FeatureCollection\n"


def test_invalid_slug_property_is_refused(app, tmp_path):
    path = write_geojson(tmp_path, feature(square(0.0, 0.0), name="Bad", slug="Bad Slug!"))
    result = run_import(app, path, "--slug-property", "slug")
    assert result.exit_code == 1
    assert result.output.startswith("Error: feature 1 (Bad): ")
    assert count_municipalities() == 38


def test_import_of_3d_coordinates_stores_a_2d_boundary(app, tmp_path):
    ring = [[0, 0, 410.0], [0.1, 0, 410.0], [0.1, 0.1, 410.0], [0, 0.1, 410.0], [0, 0, 410.0]]
    path = write_geojson(
        tmp_path, feature({"type": "Polygon", "coordinates": [ring]}, name="Highland")
    )
    result = run_import(app, path)
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "1 municipalities imported"
    assert to_shape(stored("highland").boundary).equals(MultiPolygon([shape(square(0.0, 0.0))]))


def test_collection_of_edge_sharing_polygons_is_unioned(app, tmp_path):
    left = [[0.0, 0.0], [0.1, 0.0], [0.1, 0.1], [0.0, 0.1], [0.0, 0.0]]
    right = [[0.1, 0.0], [0.2, 0.0], [0.2, 0.1], [0.1, 0.1], [0.1, 0.0]]
    feature = {
        "type": "Feature",
        "properties": {"name": "Twin Town"},
        "geometry": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "coordinates": [left]},
                {"type": "Polygon", "coordinates": [right]},
            ],
        },
    }
    result = run_import(app, write_geojson(tmp_path, feature))
    assert result.exit_code == 0, result.output
    valid, parts, area = session.execute(
        select(
            func.ST_IsValid(Municipality.boundary),
            func.ST_NumGeometries(Municipality.boundary),
            func.ST_Area(Municipality.boundary),
        ).where(Municipality.slug == "twin-town")
    ).one()
    assert (valid, parts) == (True, 1)
    assert area == pytest.approx(0.02)


@pytest.mark.parametrize(
    "document, message",
    [
        ({"type": "FeatureCollection", "features": [1]}, "feature 1 is not a GeoJSON Feature"),
        ({"type": "FeatureCollection", "features": {"a": 1}}, "has no list of features"),
        (
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": [1], "geometry": None}],
            },
            "feature 1 is not a GeoJSON Feature",
        ),
    ],
)
def test_malformed_feature_collections_are_refused(app, tmp_path, document, message):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(document))
    result = run_import(app, path)
    assert result.exit_code == 1
    assert message in result.output
    assert count_municipalities() == 38


def test_name_with_nul_is_refused(app, tmp_path):
    square = [[0.0, 0.0], [0.1, 0.0], [0.1, 0.1], [0.0, 0.1], [0.0, 0.0]]
    feature = {
        "type": "Feature",
        "properties": {"name": "Bad\u0000Town"},
        "geometry": {"type": "Polygon", "coordinates": [square]},
    }
    result = run_import(app, write_geojson(tmp_path, feature))
    assert result.exit_code == 1
    assert "has no text property 'name'" in result.output
    assert count_municipalities() == 38


@pytest.mark.parametrize("path", ["/v1/municipalities/a%00b", "/v1/municipalities/Not%20A%20Slug"])
def test_junk_slugs_are_404(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.json["code"] == 404


def test_the_process_index_routes_every_point_as_postgis_does(app, db):
    """The boundaries held in memory give the municipality PostGIS's ST_Covers gives, on
    points near and across the real borders (slug order for ties, None outside)."""
    import random

    from civic_api.municipalities.service import MunicipalityIndex

    index = MunicipalityIndex(max_age=60)
    rng = random.Random(5)
    # Points scattered over Kosovo's bounding box and slightly beyond it.
    points = [(rng.uniform(19.9, 21.9), rng.uniform(41.8, 43.3)) for _ in range(1500)]
    expected = db.execute(
        text(
            "SELECT p.i, (SELECT m.slug FROM municipality m WHERE ST_Covers(m.boundary,"
            " ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)) ORDER BY m.slug LIMIT 1)"
            " FROM unnest(:lons, :lats) WITH ORDINALITY AS p(lon, lat, i) ORDER BY p.i"
        ),
        {"lons": [p[0] for p in points], "lats": [p[1] for p in points]},
    ).all()
    got = [getattr(index.at(Point(lon, lat)), "slug", None) for lon, lat in points]
    assert got == [slug for _, slug in expected]
    assert sum(slug is None for slug in got) > 100  # some fell outside, and were refused
    assert len(set(got) - {None}) >= 30


def test_a_boundary_change_reaches_the_process_index(app, db):
    from civic_api.municipalities.service import MunicipalityIndex

    index = MunicipalityIndex(max_age=0)
    assert index.at(Point(0.5, 0.5)) is None
    add_municipality("zz-west", WEST)
    assert index.at(Point(0.5, 0.5)).slug == "zz-west"
