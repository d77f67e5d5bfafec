"""Open data: the datasets of the catalogue and their files, generated once per period (the
local day) and kept gzip-compressed with the SHA-256 that is their ETag. Every dataset
publishes only what the public API does, under the same rules."""

import hashlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from civic_api.analytics import releases
from civic_api.analytics import service as analytics
from civic_api.database import session
from civic_api.indicators import service as indicators
from civic_api.indicators.compute import INDICATORS
from civic_api.indicators.periods import Period, current_quarter_before
from civic_api.models import LOCALES
from civic_api.municipalities.models import Municipality
from civic_api.ogc import service as ogc
from civic_api.opendata.models import OpenDataFile
from civic_api.reports.models import Report

MEDIA_TYPES = {"csv": "text/csv", "geojson": "application/geo+json"}


class Sink:
    """Text written once: gzip-compressed as it comes, with the SHA-256 and size of the text."""

    def __init__(self):
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip stream, mtime 0
        self._sha256 = hashlib.sha256()
        self._parts: list[bytes] = []
        self.size = 0

    def write(self, text: str) -> None:
        data = text.encode()
        self._sha256.update(data)
        self.size += len(data)
        self._parts.append(self._gzip.compress(data))

    def close(self) -> tuple[bytes, str]:
        self._parts.append(self._gzip.flush())
        return b"".join(self._parts), self._sha256.hexdigest()


def _csv_line(values) -> str:
    cells = []
    for value in values:
        text = "" if value is None else str(value)
        if any(c in text for c in ',"\r\n'):
            text = '"' + text.replace('"', '""') + '"'
        cells.append(text)
    return ",".join(cells) + "\r\n"


def _write_features(sink: Sink, batches) -> None:
    sink.write('{"type":"FeatureCollection","features":[')
    first = True
    for batch in batches:
        for feature in batch:
            sink.write(("" if first else ",") + feature.json())
            first = False
    sink.write("]}")


@dataclass(frozen=True)
class Dataset:
    id: str
    title: dict  # by locale
    description: dict
    keywords: tuple[str, ...]
    frequency: str  # the EU frequency vocabulary's code
    columns: tuple[str, ...]  # of the CSV
    # (format, sink, day of the file, app config): writes the content of that day.
    write: Callable[[str, Sink, date, Any], None]
    # What else the content depends on: a new basis makes a new file at once.
    basis: Callable[[], str]
    temporal: Callable[[date], tuple[date, date] | None]


def _write_points(fmt: str, sink: Sink, day: date, config) -> None:
    ids = ogc.PointIds(config["SECRET_KEY"].encode())
    batches = ogc.all_points(ids, before=day)
    if fmt == "geojson":
        return _write_features(sink, batches)
    sink.write(_csv_line(POINTS.columns))
    for batch in batches:
        for f in batch:
            lon, lat = json.loads(f.geometry)["coordinates"]
            p = f.properties
            row = (f.id, p["category"], p["group"], p["status"], p["day"], lon, lat)
            sink.write(_csv_line(row))


def _write_municipalities(fmt: str, sink: Sink, day: date, config) -> None:
    page = ogc.municipality_page(None, 10_000, 0, "en")
    if fmt == "geojson":
        return _write_features(sink, [page.features])
    sink.write(_csv_line(MUNICIPALITIES.columns))
    for f in page.features:
        sink.write(_csv_line(f.properties[c] for c in MUNICIPALITIES.columns))


POINTS = Dataset(
    id="report-points",
    title={
        "sq": "Raportet e problemeve komunale (pika të përafërta)",
        "sr": "Prijave komunalnih problema (približne tačke)",
        "en": "Reports of municipal problems (approximate points)",
    },
    description={
        "sq": "Raportet e hapura dhe të zgjidhura të kategorive jo të ndjeshme (mbeturina, rrugë, "
        "ndriçim…), secili në qendër të qelizës së tij H3 të rezolucionit 9 (rreth 210 m), me "
        "ditën lokale. Pa përshkrim, pa ngacmime, pa vendndodhje të saktë.",
        "sr": "Otvorene i rešene prijave neosetljivih kategorija (otpad, putevi, rasveta…), svaka "
        "u središtu svoje H3 ćelije rezolucije 9 (oko 210 m), sa lokalnim danom. Bez opisa, bez "
        "uznemiravanja, bez tačne lokacije.",
        "en": "Open and resolved reports of non-sensitive categories (waste, roads, lighting…), "
        "each at the centre of its H3 resolution-9 cell (about 210 m) and dated to the local day, "
        "up to the day before the file was made. No descriptions, no harassment or other "
        "sensitive reports, never the reported location. The same points as the OGC layer "
        "report-points, with the same ids.",
    },
    keywords=("reports", "municipal services", "waste", "roads", "lighting", "Open311"),
    frequency="DAILY",
    columns=("id", "category", "group", "status", "day", "lon", "lat"),
    write=_write_points,
    basis=lambda: ",".join(map(str, sorted(ogc.public_category_ids()))),
    temporal=lambda day: ogc.point_day_span(before=day),
)

MUNICIPALITIES = Dataset(
    id="municipalities",
    title={"sq": "Komunat e Kosovës", "sr": "Opštine Kosova", "en": "Kosovo's municipalities"},
    description={
        "sq": "Komunat që pranojnë raportet, me emrat në shqip, serbisht dhe anglisht, "
        "popullsinë dhe kufijtë (kontribuesit e OpenStreetMap përmes geoBoundaries).",
        "sr": "Opštine koje primaju prijave, sa nazivima na albanskom, srpskom i engleskom, "
        "brojem stanovnika i granicama (saradnici OpenStreetMap-a preko geoBoundaries).",
        "en": "The municipalities that receive reports, with their names in Albanian, Serbian "
        "and English, population and boundaries (OpenStreetMap contributors via "
        "geoBoundaries; not legal boundaries). The CSV has no geometry.",
    },
    keywords=("municipalities", "boundaries", "administrative units"),
    frequency="DAILY",
    columns=("slug", "name_sq", "name_sr", "name_en", "population"),
    write=_write_municipalities,
    basis=lambda: "",
    temporal=lambda day: None,
)

HEAT_RESOLUTIONS = (6, 7, 8)  # the public resolutions of the releases


def _heat_cells(release, resolution: int, k: int) -> list[analytics.PublishedCell]:
    """The public heatmap of one released month at one resolution, as /v1/heatmaps answers
    it for all categories: live counts of the non-sensitive ones, released (noisy) counts of
    the sensitive ones, each withheld below its threshold."""
    query = analytics.build_query(
        {
            "from": release.period_start,
            "to": release.period_end,
            "resolution": resolution,
            "release": release.id,
        },
        analytics.Audience(researcher=False, k=k),
    )
    return analytics.cell_rows(query, analytics.read_for(query))[0]


def _write_heat(fmt: str, sink: Sink, day: date, config) -> None:
    def batches():
        for release in releases.all_releases():
            for resolution in HEAT_RESOLUTIONS:
                cells = _heat_cells(release, resolution, config["ANALYTICS_K"])
                yield [(release.id, resolution, c) for c in cells]

    if fmt == "geojson":
        fields = ("month", "resolution", "cell", "count", "sensitive_count")
        features = (
            [
                ogc.Feature(
                    f"{month}/{c.cell}",
                    c.geometry,
                    dict(
                        zip(fields, (month, res, c.cell, c.count, c.sensitive_count), strict=True)
                    ),
                )
                for month, res, c in batch
            ]
            for batch in batches()
        )
        return _write_features(sink, features)
    sink.write(_csv_line(HEAT.columns))
    for batch in batches():
        for month, res, c in batch:
            sink.write(_csv_line((month, res, c.cell, c.lat, c.lon, c.count, c.sensitive_count)))


def _released_span(day: date) -> tuple[date, date] | None:
    rows = releases.all_releases()
    return (rows[0].period_start, rows[-1].period_end) if rows else None


HEAT = Dataset(
    id="heatmap-cells",
    title={
        "sq": "Harta e nxehtësisë sipas muajve të publikuar (qeliza H3)",
        "sr": "Toplotna mapa po objavljenim mesecima (H3 ćelije)",
        "en": "Heatmap cells per released month (H3)",
    },
    description={
        "sq": "Numri i raporteve për çdo qelizë H3 (rezolucionet 6, 7, 8) dhe muaj të publikuar: "
        "kategoritë jo të ndjeshme drejtpërdrejt (të fshehura nën 5), kategoritë e ndjeshme "
        "vetëm nga publikimet mujore me zhurmë (privatësi diferenciale), kurrë në një numër.",
        "sr": "Broj prijava po H3 ćeliji (rezolucije 6, 7, 8) i objavljenom mesecu: neosetljive "
        "kategorije uživo (skrivene ispod 5), osetljive kategorije samo iz mesečnih objava sa "
        "šumom (diferencijalna privatnost), nikad u istom broju.",
        "en": "Reports per H3 cell (resolutions 6, 7 and 8) and released month, as the public "
        "heatmap answers for all categories: `count` is the live count of the non-sensitive "
        "categories (withheld below k = 5), `sensitive_count` the differentially private "
        "count of the sensitive ones from that month's release (withheld below its "
        "threshold; see /v1/releases for its epsilon). The two are never added up.",
    },
    keywords=("heatmap", "H3", "reports", "differential privacy"),
    frequency="MONTHLY",
    columns=("month", "resolution", "cell", "lat", "lon", "count", "sensitive_count"),
    write=_write_heat,
    basis=lambda: ";".join(
        [",".join(r.id for r in releases.all_releases())]
        + [",".join(map(str, sorted(ogc.public_category_ids())))]
    ),
    temporal=_released_span,
)


def _quarters(now: datetime) -> list[Period]:
    """Every closed quarter from the first one with a report."""
    first_at = session.scalar(select(func.min(Report.submitted_at)))
    if first_at is None:
        return []
    local = first_at.astimezone(ogc.LOCAL_TZ)
    month = local.year * 12 + 3 * ((local.month - 1) // 3)
    last = current_quarter_before(now)
    quarters = []
    while month <= last.first:
        quarters.append(Period(month, month + 2, "quarter"))
        month += 3
    return quarters


def _file_moment(day: date) -> datetime:
    """The instant a day's file describes (its local midnight): the same all day long."""
    return datetime.combine(day, datetime.min.time(), ogc.LOCAL_TZ)


def _write_indicators(fmt: str, sink: Sink, day: date, config) -> None:
    now = _file_moment(day)
    tables = (
        indicators.build_table(
            period,
            now,
            min_n=config["INDICATORS_MIN_N"],
            exact_for=[],  # the public: sensitive figures from the releases only
            released=indicators.released_volumes,
        )
        for period in _quarters(now)
    )
    if fmt == "csv":
        sink.write(_csv_line(INDICATOR_TABLE.columns))
        for table in tables:
            for line in indicators.csv_rows(table):
                sink.write(_csv_line((table.period.label, *line)))
        return
    inside = func.ST_AsGeoJSON(func.ST_PointOnSurface(Municipality.boundary), 6)
    points = dict(session.execute(select(Municipality.slug, inside)).all())
    _write_features(
        sink,
        (
            [
                ogc.Feature(
                    f"{table.period.label}/{row.municipality}/{row.level}/{row.key}",
                    points[row.municipality],
                    {
                        "quarter": table.period.label,
                        "municipality": row.municipality,
                        "breakdown": row.level,
                        "key": row.key,
                        "sensitive": row.sensitive,
                        **{i.name: row.values[i.name].value for i in INDICATORS},
                    },
                )
                for row in table.rows
            ]
            for table in tables
        ),
    )


def _quarters_span(day: date) -> tuple[date, date] | None:
    quarters = _quarters(_file_moment(day))
    if not quarters:
        return None
    return quarters[0].start_date, quarters[-1].end_date - timedelta(days=1)


INDICATOR_TABLE = Dataset(
    id="indicators",
    title={
        "sq": "Treguesit e ndikimit sipas komunës dhe tremujorit",
        "sr": "Pokazatelji uticaja po opštini i kvartalu",
        "en": "Impact indicators per municipality and quarter",
    },
    description={
        "sq": "Përdorimi, kohët e përgjigjes, zgjidhja dhe kënaqësia për çdo komunë, kategori "
        "ose grup dhe tremujor të mbyllur, me tremujorin e kaluar, mesataren e komunave dhe "
        "renditjen; shifrat e kategorive të ndjeshme vetëm nga publikimet me zhurmë.",
        "sr": "Korišćenje, vreme odgovora, rešavanje i zadovoljstvo po opštini, kategoriji ili "
        "grupi i zatvorenom kvartalu, sa prethodnim kvartalom, medijanom opština i rangom; "
        "brojke osetljivih kategorija samo iz objava sa šumom.",
        "en": "Adoption, response times, resolution and satisfaction per municipality, "
        "category or group and closed quarter, with the previous quarter, the median of the "
        "municipalities and the league position, as GET /v1/indicators answers the public "
        "(docs/indicators.md): figures on too few reports are withheld, and sensitive "
        "categories' figures come only from the noisy monthly releases. The GeoJSON places "
        "each municipality at a point inside it; join with the municipalities dataset by slug.",
    },
    keywords=("indicators", "monitoring and evaluation", "response times", "municipalities"),
    frequency="QUARTERLY",
    columns=("quarter", *indicators.CSV_HEADER),
    write=_write_indicators,
    basis=lambda: ";".join(
        [",".join(r.id for r in releases.all_releases())]
        + [",".join(map(str, sorted(ogc.public_category_ids())))]
    ),
    temporal=_quarters_span,
)

DATASETS: dict[str, Dataset] = {d.id: d for d in (POINTS, HEAT, INDICATOR_TABLE, MUNICIPALITIES)}


def today(now: datetime) -> date:
    """The day of the current files: they change at local midnight."""
    return now.astimezone(ogc.LOCAL_TZ).date()


def current_file(dataset: Dataset, fmt: str, now: datetime, config) -> OpenDataFile:
    """The file of today and of the current basis, made now if there is none yet."""
    day, basis = today(now), dataset.basis()
    row = session.get(OpenDataFile, (dataset.id, fmt))
    if row is not None and row.period == day.isoformat() and row.basis == basis:
        return row
    # One process makes it; the others wait for it and find it made.
    lock = int.from_bytes(hashlib.sha256(f"{dataset.id}.{fmt}".encode()).digest()[:8], "big")
    session.execute(select(func.pg_advisory_xact_lock(lock - (1 << 63))))
    row = session.get(OpenDataFile, (dataset.id, fmt), populate_existing=True)
    if row is not None and row.period == day.isoformat() and row.basis == basis:
        return row
    sink = Sink()
    dataset.write(fmt, sink, day, config)
    content, sha256 = sink.close()
    row = row or OpenDataFile(dataset=dataset.id, format=fmt)
    row.period, row.basis, row.sha256, row.gzip, row.size = (
        day.isoformat(),
        basis,
        sha256,
        content,
        sink.size,
    )
    row.created_at = now
    session.add(row)
    session.flush()
    return row


def generate_all(now: datetime, config) -> list[OpenDataFile]:
    """Every current file (the daily job: `flask open-data generate`)."""
    return [current_file(d, f, now, config) for d in DATASETS.values() for f in MEDIA_TYPES]


# The catalogue, DCAT-AP in JSON-LD

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "locn": "http://www.w3.org/ns/locn#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
}
EU = "http://publications.europa.eu/resource/authority/"
LICENCE = {"@id": EU + "licence/CC_BY_4_0"}
LANGUAGES = [{"@id": EU + f"language/{code}"} for code in ("SQI", "SRP", "ENG")]
FILE_TYPES = {"csv": "CSV", "geojson": "GEOJSON"}
IANA = "https://www.iana.org/assignments/media-types/"


def texts(by_locale: dict) -> list[dict]:
    return [{"@language": loc, "@value": by_locale[loc]} for loc in LOCALES]


def _date(day: date) -> dict:
    return {"@value": day.isoformat(), "@type": "xsd:date"}


def _bbox_wkt(bbox) -> str:
    west, south, east, north = bbox
    corners = [(west, south), (east, south), (east, north), (west, north), (west, south)]
    return "POLYGON((" + ", ".join(f"{x} {y}" for x, y in corners) + "))"


def dataset_document(dataset: Dataset, urls: dict, publisher: dict, now: datetime) -> dict:
    """One dcat:Dataset; `urls` has its own URL and each format's download URL."""
    document = {
        "@id": urls["self"],
        "@type": "dcat:Dataset",
        "dct:identifier": dataset.id,
        "dct:title": texts(dataset.title),
        "dct:description": texts(dataset.description),
        "dcat:keyword": [{"@language": "en", "@value": k} for k in dataset.keywords],
        "dct:publisher": publisher,
        "dcat:contactPoint": {
            "@type": "vcard:Organization",
            "vcard:fn": publisher["foaf:name"],
            "vcard:hasURL": {"@id": urls["home"]},
        },
        "dct:license": LICENCE,
        "dct:accessRights": {"@id": EU + "access-right/PUBLIC"},
        "dct:language": LANGUAGES,
        "dct:accrualPeriodicity": {"@id": EU + f"frequency/{dataset.frequency}"},
        "dct:spatial": {
            "@type": "dct:Location",
            "skos:prefLabel": {"@language": "en", "@value": "Kosovo"},
            "dcat:bbox": {"@value": _bbox_wkt(urls["bbox"]), "@type": "gsp:wktLiteral"},
        },
        "dct:modified": {"@value": today(now).isoformat(), "@type": "xsd:date"},
        "dcat:distribution": [
            {
                "@id": urls[fmt],
                "@type": "dcat:Distribution",
                "dct:title": {"@language": "en", "@value": f"{dataset.title['en']} ({label})"},
                "dcat:accessURL": {"@id": urls[fmt]},
                "dcat:downloadURL": {"@id": urls[fmt]},
                "dcat:mediaType": {"@id": IANA + MEDIA_TYPES[fmt]},
                "dct:format": {"@id": EU + f"file-type/{FILE_TYPES[fmt]}"},
                "dct:license": LICENCE,
            }
            for fmt, label in (("csv", "CSV"), ("geojson", "GeoJSON"))
        ],
    }
    span = dataset.temporal(today(now))
    if span is not None:
        document["dct:temporal"] = {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": _date(span[0]),
            "dcat:endDate": _date(span[1]),
        }
    return document


def kosovo_bbox() -> list[float]:
    return ogc.extents()["municipalities"]["spatial"]["bbox"][0]


CATALOG_TITLE = {
    "sq": "Të dhëna të hapura të raporteve qytetare",
    "sr": "Otvoreni podaci građanskih prijava",
    "en": "Open data of citizens' reports",
}
CATALOG_DESCRIPTION = {
    "sq": "Të dhënat publike të raporteve të qytetarëve për komunat e Kosovës, nën licencën "
    "CC BY 4.0. Asnjë vendndodhje e saktë dhe asnjë raport individual ngacmimi nuk publikohet.",
    "sr": "Javni podaci građanskih prijava opštinama Kosova, pod licencom CC BY 4.0. Nijedna "
    "tačna lokacija i nijedna pojedinačna prijava uznemiravanja se ne objavljuje.",
    "en": "The public data of citizens' reports to Kosovo's municipalities, under CC BY 4.0. "
    "No exact location and no individual harassment report is ever published.",
}


def catalog_document(urls: dict, publisher: dict, now: datetime) -> dict:
    """The DCAT-AP catalogue; `urls` has "self", "home" and each dataset's urls by id."""
    return {
        "@context": CONTEXT,
        "@id": urls["self"],
        "@type": "dcat:Catalog",
        "dct:title": texts(CATALOG_TITLE),
        "dct:description": texts(CATALOG_DESCRIPTION),
        "dct:publisher": publisher,
        "foaf:homepage": {"@id": urls["home"]},
        "dct:language": LANGUAGES,
        "dct:license": LICENCE,
        "dct:modified": {"@value": today(now).isoformat(), "@type": "xsd:date"},
        "dcat:dataset": [
            dataset_document(d, urls[d.id], publisher, now) for d in DATASETS.values()
        ],
    }
