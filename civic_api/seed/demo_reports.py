"""Bulk synthetic demo reports (Walk Freely and E-Komuna), written with PostgreSQL COPY."""

import io
import json
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from numpy.typing import NDArray
from sqlalchemy import Connection, text

from civic_api.analytics.rollup import cells_of
from civic_api.reports.models import STATUSES
from civic_api.seed.gazetteer import MUNICIPALITIES
from geo.synthetic import sample_hours, sample_points_near

CHUNK_ROWS = 50_000
LOCAL_TZ = ZoneInfo("Europe/Belgrade")
SRID = 4326
DAY = 86_400

COPY_SQL = (
    "COPY report (id, category_id, municipality_id, location, accuracy_m, occurred_at,"
    " submitted_at, description, attributes, status, locale, follow_up_token_hash,"
    " h3_6, h3_7, h3_8, h3_9, response_due_at, first_acknowledged_at, first_responded_at,"
    " first_resolved_at, resolved_at, first_closed_at, first_reopened_at, duplicate_of_id,"
    " updated_at)"
    " FROM STDIN WITH (FORMAT text, ENCODING 'UTF8')"
)
# The rest of each report's life, in the tables the workflow, feedback and push flows write.
TIMELINE_COPY_SQL = {
    "events": "COPY report_event (report_id, at, type, from_status, to_status, message)"
    " FROM STDIN WITH (FORMAT text, ENCODING 'UTF8')",
    "feedback": "COPY report_feedback (report_id, fixed, rating, comment, first_report,"
    " created_at) FROM STDIN WITH (FORMAT text, ENCODING 'UTF8')",
    "links": "COPY push_report_link (report_id, device_id, created_at)"
    " FROM STDIN WITH (FORMAT text, ENCODING 'UTF8')",
}
DEVICES_COPY_SQL = (
    "COPY push_device (id, secret_hash, fcm_token, platform, locale, created_at, updated_at)"
    " FROM STDIN WITH (FORMAT text, ENCODING 'UTF8')"
)

# Relative frequency of each category code; codes not listed get DEFAULT_CATEGORY_WEIGHT.
CATEGORY_WEIGHTS: dict[str, float] = {
    # Walk Freely
    "commenting": 10.0,
    "whistling": 8.0,
    "honking": 4.0,
    "shouting": 4.0,
    "stalking": 3.0,
    "touching": 3.0,
    "texting_calling_emailing": 2.0,
    "photographing": 1.5,
    "homophobic_comments": 1.5,
    "other_harassment": 1.5,
    "flashing": 1.0,
    "non_consensual_acts": 0.5,
    # E-Komuna
    "waste": 12.0,
    "roads_potholes": 10.0,
    "public_lighting": 6.0,
    "water_sewage": 6.0,
    "illegal_dumping": 5.0,
    "damaged_sidewalks": 4.0,
    "road_signs": 2.5,
    "other": 2.0,
    "accessibility_obstacles": 2.0,
    "illegal_construction": 2.0,
    "official_misconduct": 0.8,
}
DEFAULT_CATEGORY_WEIGHT = 1.5

# Relative frequency of a list attribute's answer keys; unlisted keys are weighted by rank.
ANSWER_WEIGHTS: dict[str, float] = {
    "male": 8.0,
    "group": 2.0,
    "stranger": 6.0,
    "acquaintance": 1.5,
    "street": 6.0,
    "public_transit": 2.5,
    "bar_nightclub": 1.5,
    "low": 2.0,
    "medium": 3.0,
    "high": 2.0,
    "dangerous": 0.6,
    "household": 4.0,
    "construction": 2.0,
    "leak": 3.0,
    "no_water": 3.0,
    "other": 0.3,
    "unknown": 0.5,
}

# Share of optional attributes answered, by datatype (string and text are left unanswered).
ANSWER_RATES: dict[str, float] = {
    "singlevaluelist": 0.6,
    "multivaluelist": 0.5,
    "number": 0.4,
    "datetime": 0.3,
}

LOCALES = ("sq", "sr", "en")
LOCALE_MIX: dict[str, tuple[float, float, float]] = {
    "default": (0.80, 0.13, 0.07),
    "serbian": (0.06, 0.89, 0.05),
    "mixed": (0.45, 0.50, 0.05),
}
# Municipalities with a Serbian-speaking majority, or a large minority.
MUNICIPALITY_LOCALES: dict[str, str] = {
    "mitrovica-north": "serbian",
    "leposaviq": "serbian",
    "zubin-potok": "serbian",
    "zvecan": "serbian",
    "gracanica": "serbian",
    "shterpca": "serbian",
    "kllokot": "serbian",
    "ranillug": "serbian",
    "partesh": "serbian",
    "novoberda": "mixed",
}

# Relative frequency by local weekday, Monday first.
WEEKDAY_WEIGHTS: dict[str, tuple[float, ...]] = {
    "evening": (0.90, 0.90, 0.95, 1.00, 1.25, 1.35, 1.05),
    "daytime": (1.20, 1.15, 1.10, 1.10, 1.00, 0.70, 0.60),
}
# Reports per day grow linearly (adoption) from this share at the start of the window to 1.
OLDEST_DAY_SHARE = 0.6

# Share of reports with a description, and the descriptions used.
DESCRIPTION_RATE = 0.08
DESCRIPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "harassment": {
        "sq": (
            "Ndodhi pranë stacionit të autobusit.",
            "Një grup djemsh më ndoqën deri afër shtëpisë.",
            "Më bënë komente të pahijshme kur kaloja rrugën.",
            "Ndodh shpesh në këtë vend në mbrëmje.",
        ),
        "sr": (
            "Desilo se kod autobuske stanice.",
            "Grupa momaka me je pratila skoro do kuće.",
            "Dobacivali su mi dok sam prelazila ulicu.",
            "Ovo se često dešava na ovom mestu uveče.",
        ),
        "en": (
            "It happened near the bus stop.",
            "A group of men followed me almost to my home.",
            "They made comments while I was crossing the street.",
            "This happens here often in the evening.",
        ),
    },
    "municipal": {
        "sq": (
            "Problemi vazhdon prej disa javësh.",
            "Është e rrezikshme për fëmijët që shkojnë në shkollë.",
            "Ju lutem rregullojeni sa më shpejt.",
            "E kemi raportuar edhe më parë.",
        ),
        "sr": (
            "Problem traje već nekoliko nedelja.",
            "Opasno je za decu koja idu u školu.",
            "Molimo da se ovo što pre popravi.",
            "Ovo smo već ranije prijavili.",
        ),
        "en": (
            "The problem has been going on for weeks.",
            "It is dangerous for children walking to school.",
            "Please fix this as soon as possible.",
            "We have reported this before.",
        ),
    },
}

# Final outcome of a report: resolved, rejected, duplicate, or stalled (never closed).
OUTCOME_SHARES = (0.70, 0.10, 0.07, 0.13)
# Where stalled reports stay once acknowledged: acknowledged, in_progress, submitted.
STALLED_SHARES = (0.25, 0.60, 0.15)
# How each municipality handles reports: a speed factor on every delay, and the extra share
# of reports it never closes. Each municipality draws its tier from its slug (and the seed).
TIERS = {"fast": (0.45, 0.0), "steady": (1.0, 0.02), "slow": (2.2, 0.06), "overdue": (4.5, 0.15)}
TIER_SHARES = (0.3, 0.4, 0.2, 0.1)
# Mean hours to acknowledge, as a share of the category's response target (or, without one,
# these hours); mean days from acknowledgement to work starting and to resolution.
ACKNOWLEDGE_SHARE_OF_TARGET = 0.35
ACKNOWLEDGE_HOURS_WITHOUT_TARGET = 30.0
MEAN_DAYS_TO_START = 2.0
MEAN_DAYS_TO_RESOLVE = {"roads": 14.0, "environment": 5.0, "utilities": 6.0, "governance": 20.0}
DEFAULT_DAYS_TO_RESOLVE = 8.0
MEAN_DAYS_TO_DECIDE = 1.0
# Share of acknowledged reports with a public response, and of closures with a message.
RESPONSE_RATE = 0.55
CLOSING_MESSAGE_RATE = 0.7
# Resolved reports the reporter reopens (within days), and reopened ones resolved again.
REOPEN_RATE = 0.06
MEAN_DAYS_TO_REOPEN = 4.0
RESOLVED_AGAIN_RATE = 0.5
# Feedback: share of closed reports answered, by tier speed; fixed? answers by outcome.
FEEDBACK_RATE = 0.35
FIXED_SHARES = {"resolved": (0.78, 0.12, 0.10), "rejected": (0.10, 0.60, 0.30)}
FIRST_REPORT_SHARES = (0.3, 0.5, 0.2)  # yes, no, not answered
# Share of reports a phone follows, and reports per following phone.
FOLLOW_RATE = {"harassment": 0.35, "municipal": 0.5}
REPORTS_PER_DEVICE = 1.6
DEVICE_PLATFORMS = ("android", "android", "android", "ios")
FEEDBACK_COMMENTS = {
    "sq": ("Faleminderit!", "U rregullua shpejt.", "Ende nuk është rregulluar."),
    "sr": ("Hvala!", "Brzo je rešeno.", "Još nije rešeno."),
    "en": ("Thank you!", "Fixed quickly.", "Still not fixed."),
}
FEEDBACK_COMMENT_RATE = 0.15
STAFF_MESSAGES = {
    "sq": "Faleminderit për raportin. E kemi marrë në shqyrtim.",
    "sr": "Hvala na prijavi. Razmatramo je.",
    "en": "Thank you for your report. We are looking into it.",
}

# Share of reports without a GPS accuracy, and the accuracy's median (metres) and spread.
ACCURACY_NULL_RATE = 0.04
ACCURACY_MEDIAN_M = 12.0
ACCURACY_MAX_M = 2000.0

_NULL = "\\N"
_ACCURACY_TEXT = np.array([f"{i / 10:.1f}" for i in range(int(ACCURACY_MAX_M * 10) + 1)], object)


@dataclass
class _Attribute:
    code: str
    datatype: str
    required: bool
    keys: list[str]


@dataclass
class _Category:
    id: int
    code: str
    group: str
    sensitive: bool
    response_target_hours: int | None = None
    attributes: list[_Attribute] = field(default_factory=list)


@dataclass
class _Municipality:
    id: int
    slug: str
    area: shapely.Polygon | shapely.MultiPolygon
    centre: tuple[float, float]
    population: float


def insert_demo_reports(
    connection: Connection,
    count: int,
    *,
    seed: int = 0,
    days: int = 365,
    now: datetime | None = None,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Insert `count` synthetic reports spread over the last `days` days; return how many.

    Reads the active categories and the municipalities from the database, then writes
    chunks of CHUNK_ROWS rows with COPY through `connection`'s psycopg2 connection, in
    the connection's transaction (the caller commits). Locations cluster around each
    municipality's seat, with counts proportional to population; times, statuses,
    locales and attribute answers follow plausible patterns. Each report also gets its
    life, in the tables the real flows write: acknowledgement, public responses, work,
    resolution, rejection or duplicate marking, reopening (report milestones and
    report_event rows), the reporter's feedback (report_feedback), and the phones that
    follow it (push_device, push_report_link). Delays are drawn per municipality (fast,
    steady, slow or overdue, from its slug) and per category (its response target). The
    output depends only on
    `seed`, `days`, `now` and the database's categories and municipalities. The reports'
    follow-up token hashes are random, so no token can follow them up. `progress`, if
    given, is called with the number of rows written after each chunk. A naive `now` is
    taken as UTC.
    """
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)

    categories = _load_categories(connection)
    municipalities = _load_municipalities(connection)
    if count == 0:
        return 0

    rng = np.random.default_rng(seed)
    plan = _Plan(categories, municipalities, days, now, rng)
    # Exact shares by population (largest remainder), shuffled across the chunks.
    municipality_of_row = np.repeat(
        np.arange(len(municipalities)), _apportion(count, plan.population_shares)
    )
    rng.shuffle(municipality_of_row)

    chunks = [municipality_of_row[i : i + CHUNK_ROWS] for i in range(0, count, CHUNK_ROWS)]
    cursor = connection.connection.driver_connection.cursor()
    cursor.copy_expert(
        DEVICES_COPY_SQL,
        io.BytesIO(plan.devices(np.bincount(municipality_of_row, minlength=len(municipalities)))),
        size=1 << 20,
    )
    # One worker generates the next chunk (in order, so the output stays deterministic)
    # while the server ingests the current one; psycopg2 releases the GIL during COPY.
    try:
        with ThreadPoolExecutor(max_workers=1) as worker:
            pending = worker.submit(plan.chunk, chunks[0])
            for index, chunk in enumerate(chunks):
                data = pending.result()
                if index + 1 < len(chunks):
                    pending = worker.submit(plan.chunk, chunks[index + 1])
                cursor.copy_expert(COPY_SQL, io.BytesIO(data.pop("reports")), size=1 << 20)
                for table, rows in data.items():
                    cursor.copy_expert(TIMELINE_COPY_SQL[table], io.BytesIO(rows), size=1 << 20)
                del data
                if progress is not None:
                    progress(len(chunk))
    finally:
        cursor.close()
    return count


def _load_categories(connection: Connection) -> list[_Category]:
    rows = connection.execute(
        text(
            "SELECT c.id, c.code, g.code, c.sensitive, c.response_target_hours FROM category c"
            " JOIN category_group g ON g.id = c.group_id WHERE c.active ORDER BY c.id"
        )
    ).all()
    if not rows:
        raise ValueError("no active categories: seed the categories before the demo reports")
    categories = {row[0]: _Category(row[0], row[1], row[2], bool(row[3]), row[4]) for row in rows}
    attributes = connection.execute(
        text(
            'SELECT category_id, code, datatype, required, "values" FROM category_attribute'
            ' ORDER BY category_id, "order", id'
        )
    ).all()
    for category_id, code, datatype, required, values in attributes:
        if category_id in categories:
            keys = [str(v["key"]) for v in values or [] if isinstance(v, dict) and "key" in v]
            categories[category_id].attributes.append(
                _Attribute(code, datatype, bool(required), keys)
            )
    return list(categories.values())


def _load_municipalities(connection: Connection) -> list[_Municipality]:
    rows = connection.execute(
        text(
            "SELECT id, slug, ST_AsBinary(boundary), population FROM municipality"
            " WHERE NOT ST_IsEmpty(boundary) ORDER BY id"
        )
    ).all()
    if not rows:
        raise ValueError("no municipalities: seed the municipalities before the demo reports")
    gazetteer = {entry["slug"]: entry for entry in MUNICIPALITIES}
    known = [row[3] or gazetteer.get(row[1], {}).get("population") for row in rows]
    fallback = float(np.median([p for p in known if p])) if any(known) else 1.0
    municipalities = []
    for (id_, slug, wkb, _), population in zip(rows, known, strict=True):
        area = shapely.from_wkb(bytes(wkb))
        shapely.prepare(area)
        centre = gazetteer.get(slug, {}).get("centre")
        if centre is None or not shapely.contains_xy(area, *centre):
            point = shapely.point_on_surface(area)
            centre = (point.x, point.y)
        municipalities.append(_Municipality(id_, slug, area, centre, float(population or fallback)))
    return municipalities


def _apportion(total: int, shares: NDArray[np.float64]) -> NDArray[np.int64]:
    """Split total into integer parts proportional to shares (largest remainder)."""
    exact = shares / shares.sum() * total
    parts = np.floor(exact).astype(np.int64)
    remainder = total - int(parts.sum())
    parts[np.argsort(-(exact - parts), kind="stable")[:remainder]] += 1
    return parts


def _copy_escape(value: str) -> str:
    """Escape a value for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _json_fragment(code: str, value: object) -> str:
    """', "code": value' as JSON, escaped for COPY."""
    return _copy_escape(", " + json.dumps(code, ensure_ascii=False) + ": " + json.dumps(value))


def _key_weights(keys: list[str]) -> NDArray[np.float64]:
    weights = np.array(
        [ANSWER_WEIGHTS.get(key, 1.0 / (rank + 1) ** 0.7) for rank, key in enumerate(keys)]
    )
    return weights / weights.sum()


def _hex_rows(raw: bytes, width: int) -> list[str]:
    """Split the hex of `raw` into rows of `width` bytes."""
    return np.frombuffer(raw.hex().encode("ascii"), dtype=f"S{2 * width}").astype("U").tolist()


class _Plan:
    """Everything fixed across chunks: weights, lookup tables and the time zone table."""

    def __init__(
        self,
        categories: list[_Category],
        municipalities: list[_Municipality],
        days: int,
        now: datetime,
        rng: np.random.Generator,
    ) -> None:
        self.rng = rng
        self.categories = categories
        self.municipalities = municipalities
        self.days = days
        self.now_s = int(now.timestamp())

        self.population_shares = np.array([m.population for m in municipalities])
        weights = np.array(
            [CATEGORY_WEIGHTS.get(c.code, DEFAULT_CATEGORY_WEIGHT) for c in categories]
        )
        self.category_p = weights / weights.sum()
        self.category_id_text = np.array([str(c.id) for c in categories], object)
        self.evening = np.array([c.sensitive for c in categories])
        self.harassment = np.array([c.group == "harassment" for c in categories])
        self.municipality_id_text = np.array([str(m.id) for m in municipalities], object)
        locale_mix = np.array(
            [LOCALE_MIX[MUNICIPALITY_LOCALES.get(m.slug, "default")] for m in municipalities]
        )
        self.locale_cumulative = np.cumsum(locale_mix, axis=1)
        self.locale_cumulative[:, -1] = 1.0
        self.status_text = np.array(STATUSES, object)
        self.locale_text = np.array(LOCALES, object)

        # Timelines: municipality tiers, category delays, following phones.
        tiers = list(TIERS)
        speed, stall = [], []
        for m in municipalities:
            pick = np.random.default_rng([zlib.crc32(m.slug.encode()), rng.integers(1 << 31)])
            tier = TIERS[tiers[pick.choice(len(tiers), p=TIER_SHARES)]]
            speed.append(tier[0])
            stall.append(tier[1])
        self.speed = np.array(speed)
        self.stall_extra = np.array(stall)
        self.target_hours = np.array(
            [c.response_target_hours or 0 for c in categories], dtype=np.float64
        )
        self.ack_hours = np.where(
            self.target_hours > 0,
            self.target_hours * ACKNOWLEDGE_SHARE_OF_TARGET,
            ACKNOWLEDGE_HOURS_WITHOUT_TARGET,
        )
        self.resolve_days = np.array(
            [MEAN_DAYS_TO_RESOLVE.get(c.group, DEFAULT_DAYS_TO_RESOLVE) for c in categories]
        )
        self.follow_rate = np.where(
            self.harassment, FOLLOW_RATE["harassment"], FOLLOW_RATE["municipal"]
        )
        self.device_start = np.zeros(len(municipalities) + 1, dtype=np.int64)
        self.device_ids: NDArray[np.uint8] = np.zeros((0, 16), dtype=np.uint8)

        # Local calendar: day offset d (0 = today) -> local date, weekday, UTC offsets by hour.
        today = now.astimezone(LOCAL_TZ).date()
        self.today_ordinal = (today - date(1970, 1, 1)).days
        offsets = np.arange(days)
        weekday = (today.weekday() - offsets) % 7
        growth = 1.0 - (1.0 - OLDEST_DAY_SHARE) * offsets / max(days - 1, 1)
        self.day_p = {}
        for profile, by_weekday in WEEKDAY_WEIGHTS.items():
            p = np.asarray(by_weekday)[weekday] * growth
            self.day_p[profile] = p / p.sum()
        self.utc_offset = np.empty((days, 24), dtype=np.int64)
        for d in range(days):
            day = today - timedelta(days=d)
            for hour in range(24):
                moment = datetime.combine(day, time(hour, 30), LOCAL_TZ)
                self.utc_offset[d, hour] = int(moment.utcoffset().total_seconds())

        self.descriptions = {
            kind: np.array([_copy_escape(t) for loc in LOCALES for t in texts[loc]], object)
            for kind, texts in DESCRIPTIONS.items()
        }
        self.descriptions_per_locale = {
            kind: len(texts[LOCALES[0]]) for kind, texts in DESCRIPTIONS.items()
        }
        self.tables: dict[tuple[int, str], NDArray[np.object_]] = {}
        self.key_weights = {
            (c.id, a.code): _key_weights(a.keys) for c in categories for a in c.attributes if a.keys
        }

    def chunk(self, municipality_of_row: NDArray[np.int64]) -> dict[str, bytes]:
        """Generate the COPY texts of one chunk of reports and their timelines."""
        rng = self.rng
        n = len(municipality_of_row)

        # Locations, by municipality.
        xy = np.empty((n, 2))
        for index in np.unique(municipality_of_row):
            rows = np.flatnonzero(municipality_of_row == index)
            m = self.municipalities[index]
            xy[rows] = sample_points_near(m.centre, m.area, len(rows), rng)
        points = shapely.set_srid(shapely.points(xy), SRID)
        location = shapely.to_wkb(points, hex=True, include_srid=True).tolist()

        category = rng.choice(len(self.categories), size=n, p=self.category_p)
        evening = self.evening[category]

        # Times: local day and hour by profile, converted to UTC; submitted a little later.
        day = np.empty(n, dtype=np.int64)
        hour = np.empty(n, dtype=np.int64)
        for profile, mask in (("evening", evening), ("daytime", ~evening)):
            k = int(mask.sum())
            day[mask] = rng.choice(self.days, size=k, p=self.day_p[profile])
            hour[mask] = sample_hours(k, rng, profile)
        local_s = (self.today_ordinal - day) * DAY + hour * 3600 + rng.integers(0, 3600, n)
        occurred = local_s - self.utc_offset[day, hour]
        median_delay = np.where(evening, 90 * 60.0, 15 * 60.0)
        delay = np.clip(median_delay * rng.lognormal(0.0, 1.4, n), 60, DAY).astype(np.int64)
        submitted = occurred + delay
        late = np.maximum(submitted - self.now_s, 0)
        shift_days = -(-late // DAY)
        occurred -= shift_days * DAY
        submitted -= shift_days * DAY
        day += shift_days

        u = rng.random(n)
        locale = (u[:, None] > self.locale_cumulative[municipality_of_row]).sum(axis=1)

        description = np.full(n, _NULL, dtype=object)
        described = rng.random(n) < DESCRIPTION_RATE
        for kind, is_kind in (("harassment", self.harassment), ("municipal", ~self.harassment)):
            rows = np.flatnonzero(described & is_kind[category])
            per_locale = self.descriptions_per_locale[kind]
            pick = locale[rows] * per_locale + rng.integers(0, per_locale, len(rows))
            description[rows] = self.descriptions[kind][pick]

        accuracy_tenths = np.rint(
            np.clip(ACCURACY_MEDIAN_M * rng.lognormal(0.0, 0.8, n), 3.0, ACCURACY_MAX_M) * 10
        ).astype(np.int64)
        accuracy = _ACCURACY_TEXT[accuracy_tenths]
        accuracy[rng.random(n) < ACCURACY_NULL_RATE] = _NULL

        attributes = self._attributes(category, day)

        ids_hex = _hex_rows(_uuid4(rng, n).tobytes(), 16)
        token_hash = ["\\\\x" + h for h in _hex_rows(rng.bytes(32 * n), 32)]
        life, tables = self._timeline(municipality_of_row, category, submitted, locale, ids_hex)
        status = life.pop("status")

        columns = [
            ids_hex,
            self.category_id_text[category].tolist(),
            self.municipality_id_text[municipality_of_row].tolist(),
            location,
            accuracy.tolist(),
            _timestamps(occurred),
            _timestamps(submitted),
            description.tolist(),
            attributes,
            self.status_text[status].tolist(),
            self.locale_text[locale].tolist(),
            token_hash,
            *(ids.astype(str).tolist() for ids in cells_of(xy[:, 1], xy[:, 0]).values()),
            *life.values(),
        ]
        return {"reports": _copy_text(columns), **tables}

    def devices(self, reports_per_municipality: NDArray[np.int64]) -> bytes:
        """The COPY text of the phones that follow reports, a pool per municipality."""
        rng = self.rng
        expected = reports_per_municipality * float(self.follow_rate.mean())
        per_municipality = np.ceil(expected / REPORTS_PER_DEVICE).astype(np.int64)
        self.device_start = np.concatenate([[0], np.cumsum(per_municipality)])
        n = int(self.device_start[-1])
        ids = _uuid4(rng, n)
        self.device_ids = ids
        hex_ids = _hex_rows(ids.tobytes(), 16)
        owner = np.repeat(np.arange(len(per_municipality)), per_municipality)
        u = rng.random(n)
        locale = (u[:, None] > self.locale_cumulative[owner]).sum(axis=1)
        created = self.now_s - rng.integers(self.days * DAY // 2, self.days * DAY + DAY, n)
        columns = [
            hex_ids,
            ["\\\\x" + h for h in _hex_rows(rng.bytes(32 * n), 32)],
            ["demo-" + h for h in hex_ids],
            np.array(DEVICE_PLATFORMS, object)[rng.integers(0, len(DEVICE_PLATFORMS), n)].tolist(),
            self.locale_text[locale].tolist(),
            _timestamps(created),
            _timestamps(created),
        ]
        return _copy_text(columns)

    def _timeline(
        self,
        municipality: NDArray[np.int64],
        category: NDArray[np.int64],
        submitted: NDArray[np.int64],
        locale: NDArray[np.int64],
        ids_hex: list[str],
    ) -> tuple[dict, dict[str, bytes]]:
        """Status, milestones (report columns) and the rows of the other tables."""
        rng = self.rng
        n = len(submitted)
        now = float(self.now_s)
        speed = self.speed[municipality]
        hour, day = 3600.0, float(DAY)
        t0 = submitted.astype(np.float64)

        outcome = rng.choice(4, size=n, p=OUTCOME_SHARES)
        outcome[rng.random(n) < self.stall_extra[municipality]] = 3
        stalled_at = np.array([1, 2, 0])[rng.choice(3, size=n, p=STALLED_SHARES)]
        ack = t0 + rng.exponential(self.ack_hours[category] * speed * hour) + 60
        start = ack + rng.exponential(MEAN_DAYS_TO_START * speed * day)
        resolve = start + rng.exponential(self.resolve_days[category] * speed * day)
        decide = ack + rng.exponential(MEAN_DAYS_TO_DECIDE * speed * day)
        never = (outcome == 3) & (stalled_at == 0)
        ack[never] = np.inf
        acked = ack <= now

        # Duplicates point to a non-duplicate report of the same municipality in the chunk.
        duplicate = (outcome == 2) & acked
        duplicate_of = np.full(n, -1, dtype=np.int64)
        candidates = np.flatnonzero(outcome != 2)
        order = candidates[np.argsort(municipality[candidates], kind="stable")]
        bounds = np.searchsorted(municipality[order], np.arange(len(self.municipalities) + 1))
        rows = np.flatnonzero(duplicate)
        low, high = bounds[municipality[rows]], bounds[municipality[rows] + 1]
        has = high > low
        pick = low + np.floor(rng.random(len(rows)) * (high - low)).astype(np.int64)
        duplicate_of[rows[has]] = order[pick[has]]
        duplicate[rows[~has]] = False
        outcome[rows[~has]] = 1

        status = np.zeros(n, dtype=np.int64)  # submitted
        resolved_path = outcome == 0
        status[resolved_path] = np.select(
            [~acked[resolved_path], start[resolved_path] > now, resolve[resolved_path] > now],
            [0, 1, 2],
            3,
        )
        rejected_path = outcome == 1
        status[rejected_path] = np.select(
            [~acked[rejected_path], decide[rejected_path] > now], [0, 1], 4
        )
        status[duplicate] = 5
        stalled = outcome == 3
        # Stalled in progress once the work has started; acknowledged until then.
        stalled_at = np.where((stalled_at == 2) & (start > now), 1, stalled_at)
        status[stalled] = np.where(acked[stalled], stalled_at[stalled], 0)

        first_resolved = np.where(status == 3, resolve, np.nan)
        resolved_at = first_resolved.copy()
        reopen = first_resolved + rng.exponential(MEAN_DAYS_TO_REOPEN * day, n)
        reopened = (status == 3) & (rng.random(n) < REOPEN_RATE) & (reopen <= now)
        again = reopen + rng.exponential(self.resolve_days[category] * speed * day / 2)
        resolved_again = reopened & (rng.random(n) < RESOLVED_AGAIN_RATE) & (again <= now)
        status[reopened] = 6
        status[resolved_again] = 3
        resolved_at[reopened] = np.nan
        resolved_at[resolved_again] = again[resolved_again]
        first_reopened = np.where(reopened, reopen, np.nan)
        decided = np.where(status == 4, decide, np.where(duplicate, ack, np.nan))
        first_closed = np.where(np.isnan(first_resolved), decided, first_resolved)
        in_progress = np.where(
            acked & (start <= now) & (resolved_path | (stalled & (stalled_at == 2))),
            start,
            np.nan,
        )

        response = ack + rng.exponential(self.ack_hours[category] * speed * hour * 0.8)
        responded = acked & ~duplicate & (rng.random(n) < RESPONSE_RATE) & (response <= now)
        closing = np.where(np.isnan(first_resolved), decided, first_resolved)
        closing_message = ~np.isnan(closing) & ~duplicate & (rng.random(n) < CLOSING_MESSAGE_RATE)
        first_responded = np.fmin(
            np.where(responded, response, np.nan), np.where(closing_message, closing, np.nan)
        )
        first_ack = np.where(acked, ack, np.nan)
        target = self.target_hours[category]
        due = np.where(target > 0, t0 + target * hour, np.nan)
        milestones = np.stack(
            [
                first_ack,
                first_responded,
                first_resolved,
                resolved_at,
                first_closed,
                first_reopened,
                in_progress,
            ]
        )
        updated = np.fmax(np.nanmax(np.vstack([milestones, t0[None, :]]), axis=0), t0)

        columns = {
            "status": status,
            "response_due_at": _nullable_timestamps(due),
            "first_acknowledged_at": _nullable_timestamps(first_ack),
            "first_responded_at": _nullable_timestamps(first_responded),
            "first_resolved_at": _nullable_timestamps(first_resolved),
            "resolved_at": _nullable_timestamps(resolved_at),
            "first_closed_at": _nullable_timestamps(first_closed),
            "first_reopened_at": _nullable_timestamps(first_reopened),
            "duplicate_of_id": [ids_hex[i] if i >= 0 else _NULL for i in duplicate_of.tolist()],
            "updated_at": _timestamps(updated.astype(np.int64)),
        }

        # report_event rows, each report's in time order.
        message = np.array([_copy_escape(STAFF_MESSAGES[loc]) for loc in LOCALES], object)
        ack_to = np.where(duplicate, 5, 1)
        steps = [
            # (at, from status, to status, has a message, rows)
            (ack, 0, ack_to, np.zeros(n, bool), acked & (status != 0)),
            (in_progress, 1, 2, np.zeros(n, bool), ~np.isnan(in_progress)),
            (first_resolved, 2, 3, closing_message, ~np.isnan(first_resolved)),
            (decided, 1, 4, closing_message, status == 4),
            (response, -1, -1, np.ones(n, bool), responded),
            (reopen, 3, 6, np.zeros(n, bool), reopened),
            (again, 6, 3, np.zeros(n, bool), resolved_again),
        ]
        event_rows, event_at, event_columns = [], [], []
        for at, from_, to, with_message, where in steps:
            rows = np.flatnonzero(where)
            event_rows.append(rows)
            event_at.append(at[rows])
            to_status = np.broadcast_to(np.asarray(to), (n,))[rows]
            event_columns.append(
                (
                    np.full(
                        len(rows), "public_response" if from_ < 0 else "status_changed", object
                    ),
                    np.full(len(rows), _NULL if from_ < 0 else STATUSES[from_], object),
                    np.where(from_ < 0, _NULL, self.status_text[np.maximum(to_status, 0)]),
                    np.where(with_message[rows], message[locale[rows]], _NULL),
                )
            )
        rows = np.concatenate(event_rows)
        at = np.concatenate(event_at)
        order = np.lexsort((at, rows))
        ids_array = np.array(ids_hex, object)
        events = [
            ids_array[rows[order]].tolist(),
            _timestamps(at[order].astype(np.int64)),
            *(np.concatenate([c[i] for c in event_columns])[order].tolist() for i in range(4)),
        ]

        # Feedback on closed reports.
        closed = (status == 3) | (status == 4)
        answer_at = closing + rng.exponential(day, n)
        answered = closed & (rng.random(n) < FEEDBACK_RATE / np.sqrt(speed)) & (answer_at <= now)
        rows = np.flatnonzero(answered)
        fixed_p = np.array([FIXED_SHARES["resolved"], FIXED_SHARES["rejected"]])
        kind = (status[rows] == 4).astype(np.int64)
        cumulative = np.cumsum(fixed_p[kind], axis=1)
        fixed = (rng.random(len(rows))[:, None] > cumulative).sum(axis=1).clip(0, 2)
        mean_rating = np.array([4.4, 1.8, 3.0])[fixed] - 0.45 * np.log2(speed[rows])
        rating = np.clip(np.rint(rng.normal(mean_rating, 0.8)), 1, 5).astype(np.int64)
        comment_pick = rng.integers(0, 3, len(rows))
        comments = np.array(
            [_copy_escape(t) for loc in LOCALES for t in FEEDBACK_COMMENTS[loc]], object
        )[locale[rows] * 3 + comment_pick]
        comments[rng.random(len(rows)) >= FEEDBACK_COMMENT_RATE] = _NULL
        first = rng.choice(3, size=len(rows), p=FIRST_REPORT_SHARES)
        feedback = [
            ids_array[rows].tolist(),
            np.array(["yes", "no", "dont_know"], object)[fixed].tolist(),
            rating.astype(str).tolist(),
            comments.tolist(),
            np.array(["t", "f", _NULL], object)[first].tolist(),
            _timestamps(answer_at[rows].astype(np.int64)),
        ]

        # Phones following reports, from the municipality's pool.
        rows = np.flatnonzero(rng.random(n) < self.follow_rate[category])
        owner = municipality[rows]
        pool_start, pool_end = self.device_start[owner], self.device_start[owner + 1]
        rows, pool_start, pool_end = (
            x[pool_end > pool_start] for x in (rows, pool_start, pool_end)
        )
        device = pool_start + np.floor(rng.random(len(rows)) * (pool_end - pool_start))
        links = [
            ids_array[rows].tolist(),
            _hex_rows(self.device_ids[device.astype(np.int64)].tobytes(), 16),
            _timestamps(submitted[rows] + 60),
        ]
        return columns, {
            "events": _copy_text(events),
            "feedback": _copy_text(feedback),
            "links": _copy_text(links),
        }

    def _attributes(self, category: NDArray[np.int64], day: NDArray[np.int64]) -> list[str]:
        """The attributes JSON object of each row, escaped for COPY."""
        rng = self.rng
        n = len(category)
        joined = np.full(n, "", dtype=object)
        for index, c in enumerate(self.categories):
            if not c.attributes:
                continue
            rows = np.flatnonzero(category == index)
            k = len(rows)
            if k == 0:
                continue
            acc = np.full(k, "", dtype=object)
            for a in c.attributes:
                rate = 1.0 if a.required else ANSWER_RATES.get(a.datatype, 0.0)
                if rate == 0.0:
                    continue
                answered = rng.random(k) < rate if rate < 1.0 else np.ones(k, dtype=bool)
                fragments = self._answers(c, a, int(answered.sum()), day[rows[answered]])
                if fragments is not None:
                    acc[answered] = acc[answered] + fragments
            joined[rows] = acc
        return ["{" + s[2:] + "}" for s in joined.tolist()]

    def _answers(
        self, c: _Category, a: _Attribute, k: int, day: NDArray[np.int64]
    ) -> NDArray[np.object_] | None:
        """k answer fragments (', "code": value') for one attribute, or None if unanswerable."""
        rng = self.rng
        if a.datatype == "singlevaluelist" and a.keys:
            table = self._table(c, a, lambda: [_json_fragment(a.code, key) for key in a.keys])
            return table[rng.choice(len(a.keys), size=k, p=self.key_weights[(c.id, a.code)])]
        if a.datatype == "multivaluelist" and a.keys:
            keys = a.keys[:12]
            p = self.key_weights[(c.id, a.code)][: len(keys)]
            p = p / p.sum()
            inclusion = np.minimum(0.15 + 1.2 * p, 0.9)
            bits = rng.random((k, len(keys))) < inclusion
            none = ~bits.any(axis=1)
            bits[np.flatnonzero(none), rng.choice(len(keys), size=int(none.sum()), p=p)] = True
            mask = bits @ (1 << np.arange(len(keys)))
            table = self._table(
                c,
                a,
                lambda: [
                    _json_fragment(a.code, [key for b, key in enumerate(keys) if m >> b & 1])
                    for m in range(1 << len(keys))
                ],
            )
            return table[mask]
        if a.datatype == "number":
            table = self._table(c, a, lambda: [_json_fragment(a.code, v) for v in range(21)])
            return table[np.minimum(rng.geometric(0.45, k), 20)]
        if a.datatype == "datetime":
            noticed = self.today_ordinal - day - rng.integers(0, 31, k)
            dates = np.datetime_as_string(noticed.astype("datetime64[D]"))
            # The API stores datetime answers as UTC ISO 8601; so do demo answers.
            return np.array(
                [_json_fragment(a.code, f"{d}T12:00:00+00:00") for d in dates.tolist()], object
            )
        if a.datatype in ("string", "text"):
            return np.full(k, _json_fragment(a.code, "demo"), dtype=object)
        return None

    def _table(
        self, c: _Category, a: _Attribute, build: Callable[[], list[str]]
    ) -> NDArray[np.object_]:
        """The answer fragments of one attribute, built once."""
        key = (c.id, a.code)
        if key not in self.tables:
            self.tables[key] = np.array(build(), dtype=object)
        return self.tables[key]


def _timestamps(epoch_s: NDArray[np.int64]) -> list[str]:
    """ISO 8601 UTC timestamps for epoch seconds."""
    return np.datetime_as_string(epoch_s.astype("datetime64[s]"), timezone="UTC").tolist()


def _nullable_timestamps(epoch_s: NDArray[np.float64]) -> list[str]:
    """ISO 8601 UTC timestamps, NULL for NaN."""
    missing = np.isnan(epoch_s)
    text_ = np.array(_timestamps(np.where(missing, 0, epoch_s).astype(np.int64)), dtype=object)
    text_[missing] = _NULL
    return text_.tolist()


def _uuid4(rng: np.random.Generator, n: int) -> NDArray[np.uint8]:
    """n random version-4 UUIDs as rows of 16 bytes."""
    ids = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    ids[:, 6] = (ids[:, 6] & 0x0F) | 0x40  # version 4
    ids[:, 8] = (ids[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return ids


def _copy_text(columns: list[list[str]]) -> bytes:
    """Rows of COPY text from equally long columns of already escaped values."""
    if not columns or not len(columns[0]):
        return b""
    return ("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n").encode("utf-8")
