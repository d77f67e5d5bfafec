"""Report submission and the reporter's follow-up view."""

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shapely.geometry import Point
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from civic_api.analytics.rollup import cells_of_point
from civic_api.categories.service import CategoryCache, validate_answers
from civic_api.database import PreparedStatement, session
from civic_api.errors import Conflict, InvalidInput
from civic_api.municipalities.service import MunicipalityIndex, MunicipalityRef
from civic_api.reports import idempotency
from civic_api.reports.models import (
    INSERTED_COLUMNS,
    PUBLIC_EVENT_TYPES,
    Report,
    ReportEvent,
    ReportFeedback,
)
from civic_api.reports.workflow import FEEDBACK_STATUSES
from geo.points import WGS84


def token_hash(token: str) -> bytes:
    # The token has 256 random bits, so a fast hash cannot be brute-forced.
    return hashlib.sha256(token.encode()).digest()


_report = Report.__table__
# Built once, executed with new values: building the statement on every request cost as
# much Python as the rest of the route. The rollup triggers run with it.
INSERT_REPORT = (
    insert(_report)
    .values({name: bindparam(name, type_=_report.c[name].type) for name in INSERTED_COLUMNS})
    .returning(_report.c.id)
)


# Prepared on each connection, run with the values as psycopg2 adapts them (NewReport.values).
INSERT_REPORT_PREPARED = PreparedStatement(INSERT_REPORT)


@dataclass(frozen=True)
class NewReport:
    """A validated report, routed to its municipality, with its INSERT_REPORT values (as
    psycopg2 adapts them: the id and the JSON as text, the point as EWKT)."""

    id: uuid.UUID
    follow_up_token: str
    status: str
    municipality: MunicipalityRef
    submitted_at: datetime
    values: dict


def new_report(
    *,
    categories: CategoryCache,
    municipalities: MunicipalityIndex,
    category: str,
    location: Point,
    locale: str,
    attributes: dict,
    snap_metres: float,
    occurred_at: datetime | None = None,
    accuracy_m: float | None = None,
    description: str | None = None,
) -> NewReport:
    """Validate an anonymous report and route it; store it with `insert_report`.

    No statement while the process's categories and boundaries are fresh (one for a point
    outside every municipality but within `snap_metres` of one); its one-time follow-up
    token is returned with it and only the token's hash is stored.
    """
    found = categories.get(category)
    if found is None:
        raise InvalidInput.field("category", f"No active category has the code {category!r}.")
    answers, errors = validate_answers(found.attributes, attributes)
    if errors:
        raise InvalidInput("Some attribute answers are invalid.", {"json": {"attributes": errors}})
    municipality = municipalities.at(location, snap_metres)
    if municipality is None:
        raise InvalidInput.field(
            "location", "This location is outside every municipality served by this service."
        )
    now = datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    report_id = uuid.uuid4()
    values = {
        "id": str(report_id),
        "category_id": found.id,
        "municipality_id": municipality.id,
        "location": f"SRID={WGS84};POINT({location.x!r} {location.y!r})",
        "accuracy_m": accuracy_m,
        "occurred_at": occurred_at or now,
        "submitted_at": now,
        "updated_at": now,
        "description": description,
        "attributes": json.dumps(answers),
        "status": "submitted",
        "locale": locale,
        "follow_up_token_hash": token_hash(token),
        **cells_of_point(location.y, location.x),
        "response_due_at": now + timedelta(hours=found.response_target_hours)
        if found.response_target_hours
        else None,
    }
    return NewReport(report_id, token, "submitted", municipality, now, values)


def insert_report(report: NewReport) -> None:
    INSERT_REPORT_PREPARED.execute(report.values)


def submit_report(
    secret: bytes,
    idempotency_key: str | None,
    request_body: object,
    ttl: timedelta,
    dump,
    **fields,
) -> tuple[dict, bool]:
    """Create a report once per Idempotency-Key: (the created body as `dump(report)` first
    made it, whether this is a replay). Every way of submitting a report (/v1, Open311) goes
    here. `fields` are `new_report`'s."""
    if not idempotency_key:
        report = new_report(**fields)
        insert_report(report)
        return dump(report), False
    fingerprint = idempotency.fingerprint(secret, request_body)
    try:
        report = new_report(**fields)
    except InvalidInput:
        # A retry of a stored report gets its first answer even if it would fail now.
        if (first := idempotency.replay(secret, idempotency_key, fingerprint, ttl)) is None:
            raise
        return first, True
    body = dump(report)
    if not idempotency.insert_once(secret, idempotency_key, fingerprint, ttl, report.values, body):
        return idempotency.replay(secret, idempotency_key, fingerprint, ttl), True
    return body, False


def report_for_token(report_id: uuid.UUID, token: str | None) -> Report | None:
    """The report, if `token` is its follow-up token; None for an unknown id or a wrong token.

    Id and token hash are matched in one indexed look-up, so a wrong token costs the same
    as an unknown id and the timing does not tell that a report exists."""
    return session.scalars(
        select(Report).where(
            Report.id == report_id, Report.follow_up_token_hash == token_hash(token or "")
        )
    ).first()


def timeline(report: Report) -> list[dict]:
    """The history the reporter sees, oldest first: no staff names, no internal notes."""
    events = session.scalars(
        select(ReportEvent)
        .where(ReportEvent.report_id == report.id, ReportEvent.type.in_(PUBLIC_EVENT_TYPES))
        .order_by(ReportEvent.id)
    )
    entries = [{"at": report.submitted_at, "type": "submitted", "status": "submitted"}]
    status = "submitted"
    for event in events:
        status = event.to_status or status
        entries.append(
            {"at": event.at, "type": event.type, "status": status, "message": event.message}
        )
    return entries


def original_of(report: Report) -> Report | None:
    """For a duplicate, the report it duplicates: its reporter follows that one's status."""
    return session.get(Report, report.duplicate_of_id) if report.duplicate_of_id else None


def add_comment(report: Report, message: str, now: datetime, limit: int) -> ReportEvent:
    """The reporter adds details; staff see it in their timeline."""
    count = session.scalar(
        select(func.count()).where(
            ReportEvent.report_id == report.id, ReportEvent.type == "reporter_comment"
        )
    )
    if count >= limit:
        raise Conflict(f"A report can have at most {limit} comments from its reporter.")
    event = ReportEvent(report_id=report.id, type="reporter_comment", at=now, message=message)
    session.add(event)
    report.updated_at = now
    session.flush()
    return event


def feedback_open(report: Report) -> bool:
    """Closed as resolved or rejected, and not answered yet."""
    return report.status in FEEDBACK_STATUSES and session.get(ReportFeedback, report.id) is None


def give_feedback(report: Report, answers: dict, now: datetime) -> ReportFeedback:
    """The reporter's one answer on a resolved or rejected report; a second one is a 409."""
    if report.status not in FEEDBACK_STATUSES:
        raise Conflict(
            f"Feedback is for resolved or rejected reports; this one is {report.status}.",
            details={"current_status": report.status},
        )
    # ON CONFLICT: two answers racing for the same report leave exactly one.
    stored = session.scalar(
        pg_insert(ReportFeedback)
        .values(report_id=report.id, created_at=now, **answers)
        .on_conflict_do_nothing()
        .returning(ReportFeedback.report_id)
    )
    if stored is None:
        raise Conflict("This report already has your feedback.")
    return session.get(ReportFeedback, report.id)
