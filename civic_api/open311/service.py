"""Open311 GeoReport v2 use cases: jurisdictions, typed attribute answers, the date window,
and the published requests and their updates (the same reports as the OGC points layer)."""

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select

from civic_api.categories.models import Category, CategoryAttribute
from civic_api.database import session
from civic_api.errors import InvalidInput, NotFound
from civic_api.municipalities.models import Municipality
from civic_api.ogc.service import LOCAL_TZ, published_report_conditions
from civic_api.reports.models import OPEN_STATUSES, Report, ReportEvent
from geo.cells import cell_centres

WINDOW = timedelta(days=90)  # the spec's longest start_date..end_date span, and its default
MAX_PAGE_SIZE = 1000
# Our statuses as the spec's two, and as FixMyStreet's update statuses.
OPEN311_STATUS = {s: "open" for s in OPEN_STATUSES} | {
    "resolved": "closed",
    "rejected": "closed",
    "duplicate": "closed",
}
UPDATE_STATUS = {
    "submitted": "open",
    "acknowledged": "investigating",
    "in_progress": "in_progress",
    "reopened": "open",
    "resolved": "fixed",
    "rejected": "no_further_action",
    "duplicate": "duplicate",
}
UPDATE_EVENTS = ("status_changed", "public_response")


def bad_request(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, {"query": {field: [message]}}, status=400)


def jurisdiction(slug: str | None) -> Municipality | None:
    """The municipality a jurisdiction_id names (its slug); None when none is given."""
    if not slug:
        return None
    found = None
    if re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug):  # also keeps NUL from the database
        found = session.scalars(select(Municipality).where(Municipality.slug == slug)).first()
    if found is None:
        raise NotFound(f"jurisdiction_id {slug!r} not found: use a municipality's slug.")
    return found


def typed_answers(definitions: Sequence[CategoryAttribute], raw: dict[str, list[str]]) -> dict:
    """Form values (always text) as the JSON types the attribute definitions expect, for
    categories.validate_answers: numbers parsed, multivaluelist answers as lists."""
    by_code = {d.code: d for d in definitions}
    answers: dict = {}
    for code, values in raw.items():
        definition = by_code.get(code)
        datatype = definition.datatype if definition else "string"
        if datatype == "multivaluelist":
            answers[code] = [v for v in values if v != ""]
            continue
        value = values[-1] if values else ""
        if datatype == "number" and value.strip():
            try:
                number = float(value)
            except ValueError:
                number = None
            if number is not None and math.isfinite(number):
                value = int(number) if number.is_integer() and "." not in value else number
        answers[code] = value
    return answers


def _moment(field: str, text: str) -> datetime:
    """A W3C date-time with an offset (2026-01-01T00:00:00Z), or a date: local midnight."""
    text = text.strip().replace(" ", "+")  # an unencoded "+" arrives as a space
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(), LOCAL_TZ)
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise bad_request(
            field, f"{field} must be a W3C date-time with an offset, e.g. 2026-01-01T00:00:00Z."
        )
    return moment


def date_window(start: str | None, end: str | None, now: datetime) -> tuple[datetime, datetime]:
    """requested_datetime bounds: at most 90 days; the most recent 90 days by default."""
    first = _moment("start_date", start) if start else None
    last = _moment("end_date", end) if end else None
    if first is None and last is None:
        last = now
    if first is None:
        first = last - WINDOW
    if last is None:
        last = first + WINDOW
    if last < first:
        raise bad_request("end_date", "end_date must not be before start_date.")
    if last - first > WINDOW:
        raise bad_request("end_date", "start_date and end_date may not be more than 90 days apart.")
    return first, last


def local_time(moment: datetime) -> str:
    """ISO 8601 with the offset, in Kosovo's time: 2026-11-20T18:45:00+01:00."""
    return moment.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def category_ids(codes: Sequence[str]) -> list[int]:
    """Ids of the categories named; a 400 for unknown codes. Sensitive ones are included
    (and match nothing published), so asking for them says nothing that the services don't."""
    rows = dict(session.execute(select(Category.code, Category.id)).all())
    unknown = sorted(set(codes) - set(rows))
    if unknown:
        raise bad_request("service_code", f"Unknown service_code: {', '.join(unknown)}.")
    return [rows[code] for code in codes]


@dataclass(frozen=True)
class PublishedRequest:
    report_id: uuid.UUID
    status: str
    status_notes: str | None
    service_code: str
    service_name: dict
    agency: dict
    requested: datetime
    updated: datetime
    lat: float
    lon: float


def _requests_select() -> Select:
    notes = (
        select(ReportEvent.message)
        .where(ReportEvent.report_id == Report.id, ReportEvent.type == "public_response")
        .order_by(ReportEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    changed = (
        select(func.max(ReportEvent.at))
        .where(ReportEvent.report_id == Report.id, ReportEvent.type.in_(UPDATE_EVENTS))
        .scalar_subquery()
    )
    return (
        select(
            Report.id,
            Report.status,
            notes,
            Category.code,
            Category.name,
            Municipality.name,
            Report.submitted_at,
            func.coalesce(changed, Report.submitted_at),
            Report.h3_9,
        )
        .select_from(Report)
        .join(Category, Category.id == Report.category_id)
        .join(Municipality, Municipality.id == Report.municipality_id)
        .where(*published_report_conditions())
    )


def _published(rows) -> list[PublishedRequest]:
    # Never the reported point: the centre of its resolution-9 cell, as the OGC points.
    lats, lons = cell_centres([row[8] for row in rows])
    return [
        PublishedRequest(*row[:8], lat=lat, lon=lon)
        for row, lat, lon in zip(rows, lats.tolist(), lons.tolist(), strict=True)
    ]


def published_requests(
    *,
    report_ids: Sequence[uuid.UUID] | None = None,
    category_ids: Sequence[int] | None = None,
    window: tuple[datetime, datetime] | None = None,
    status: Sequence[str] = (),
    municipality: Municipality | None = None,
    page: int = 1,
    page_size: int = MAX_PAGE_SIZE,
) -> list[PublishedRequest]:
    """Published requests, newest first. A list of ids overrides every other filter."""
    query = _requests_select()
    if report_ids is not None:
        query = query.where(Report.id.in_(report_ids))
    else:
        if category_ids is not None:
            query = query.where(Report.category_id.in_(category_ids))
        if window is not None:
            query = query.where(Report.submitted_at.between(*window))
        if status:
            wanted = [s for s, cls in OPEN311_STATUS.items() if cls in status]
            query = query.where(Report.status.in_(wanted))
        if municipality is not None:
            query = query.where(Report.municipality_id == municipality.id)
        query = query.limit(page_size).offset((page - 1) * page_size)
    rows = session.execute(query.order_by(Report.submitted_at.desc(), Report.id)).all()
    return _published(rows)


def published_request(report_id: uuid.UUID | None) -> PublishedRequest | None:
    if report_id is None:
        return None
    found = published_requests(report_ids=[report_id])
    return found[0] if found else None


@dataclass(frozen=True)
class Update:
    event_id: int
    report_id: uuid.UUID
    status: str
    at: datetime
    description: str | None


def updates(window: tuple[datetime, datetime], municipality: Municipality | None) -> list[Update]:
    """FixMyStreet's servicerequestupdates: the status changes and public responses of the
    published requests within the window, oldest first, each with the status it left."""
    event = ReportEvent.__table__.alias("event")
    earlier = ReportEvent.__table__.alias("earlier")
    status_at = (
        select(earlier.c.to_status)
        .where(
            earlier.c.report_id == event.c.report_id,
            earlier.c.id <= event.c.id,
            earlier.c.to_status.is_not(None),
        )
        .order_by(earlier.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            event.c.id,
            event.c.report_id,
            func.coalesce(status_at, "submitted"),
            event.c.at,
            event.c.type,
            event.c.message,
        )
        .select_from(event)
        .join(Report, Report.id == event.c.report_id)
        .join(Category, Category.id == Report.category_id)
        .where(
            event.c.type.in_(UPDATE_EVENTS),
            event.c.at.between(*window),
            *published_report_conditions(),
        )
        .order_by(event.c.at, event.c.id)
    )
    if municipality is not None:
        query = query.where(Report.municipality_id == municipality.id)
    return [
        Update(event_id, report_id, status, at, message if kind == "public_response" else None)
        for event_id, report_id, status, at, kind, message in session.execute(query)
    ]
