"""The report workflow in one place: which status may follow which, the reporter's reopen, the
history events, and the milestone timestamps the indicators read.

Staff changes (triage) and the reporter's own steps (reports) both go through here, so a
milestone can never be set on one path and forgotten on the other.
"""

from datetime import datetime, timedelta

from sqlalchemy import func

from civic_api.database import session
from civic_api.errors import Conflict
from civic_api.outbox import service as outbox
from civic_api.reports.models import CLOSED_STATUSES, OPEN_STATUSES, Report, ReportEvent

# Which status may follow which. The reporter's own "reopen" (resolved → reopened) is separate.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "submitted": ("acknowledged", "rejected", "duplicate"),
    "acknowledged": ("in_progress", "resolved", "rejected", "duplicate"),
    "in_progress": ("resolved", "rejected", "duplicate"),
    "reopened": ("in_progress", "resolved", "rejected", "duplicate"),
    "resolved": ("in_progress",),
    "rejected": ("acknowledged",),
    "duplicate": ("acknowledged",),
}
# Closing statuses that ask the reporter for feedback (a duplicate's reporter follows the original).
FEEDBACK_STATUSES = ("resolved", "rejected")


def overdue(now: datetime):
    """Still waiting for a first acknowledgement after the category's response target."""
    return func.coalesce(
        Report.first_acknowledged_at.is_(None)
        & Report.status.in_(OPEN_STATUSES)
        & (Report.response_due_at < now),
        False,
    )


def add_event(report: Report, type_: str, now: datetime, actor_id: int | None, **fields):
    """Append one step to the report's history."""
    event = ReportEvent(report_id=report.id, type=type_, at=now, actor_id=actor_id, **fields)
    session.add(event)
    report.updated_at = now  # bumps the version, hence the ETag
    session.flush()
    return event


def check_transition(report: Report, status: str) -> None:
    """409 unless `status` may follow the report's current status."""
    allowed = TRANSITIONS[report.status]
    if status not in allowed:
        raise Conflict(
            f"A {report.status} report cannot become {status}.",
            {"json": {"status": [f"Allowed from {report.status}: {', '.join(allowed)}."]}},
            details={"current_status": report.status, "allowed": list(allowed)},
        )


def transition(
    report: Report,
    status: str,
    now: datetime,
    *,
    actor_id: int | None,
    message: str | None = None,
    duplicate_of: Report | None = None,
    feedback_reminder_after: timedelta | None = None,
) -> ReportEvent:
    """Move a report to `status` (checked against TRANSITIONS), stamping the milestones.

    `duplicate_of` is the original (required with the status duplicate, and resolved by
    the caller, who knows the scope). Closing a report as resolved or rejected queues a
    feedback request to the reporter, and a reminder `feedback_reminder_after` later.
    """
    check_transition(report, status)
    report.duplicate_of_id = duplicate_of.id if status == "duplicate" else None
    previous, report.status = report.status, status
    if status != "submitted" and report.first_acknowledged_at is None:
        report.first_acknowledged_at = now
    if status == "resolved":
        report.resolved_at = now
        report.first_resolved_at = report.first_resolved_at or now
    if status in CLOSED_STATUSES:
        report.first_closed_at = report.first_closed_at or now
    if message:
        report.first_responded_at = report.first_responded_at or now
    event = add_event(
        report,
        "status_changed",
        now,
        actor_id,
        from_status=previous,
        to_status=status,
        message=message,
        data={"duplicate_of": str(report.duplicate_of_id)} if report.duplicate_of_id else {},
    )
    outbox.enqueue(
        "report.status_changed",
        report_id=report.id,
        payload={"event_id": event.id, "status": status},
    )
    if status in FEEDBACK_STATUSES:
        request_feedback(report, event, now, feedback_reminder_after)
    return event


def request_feedback(
    report: Report, event: ReportEvent, now: datetime, reminder_after: timedelta | None
) -> None:
    """Ask the reporter how it went, now and once more later; the worker skips both once the
    report has feedback or is no longer closed."""
    payload = {"event_id": event.id, "status": report.status}
    outbox.enqueue("report.feedback_requested", report_id=report.id, payload=payload)
    if reminder_after is not None:
        outbox.enqueue(
            "report.feedback_requested",
            report_id=report.id,
            payload={**payload, "reminder": True},
            available_at=now + reminder_after,
        )


def record_response(report: Report, now: datetime) -> None:
    """A public answer to the reporter: the first one is the first-response milestone."""
    report.first_responded_at = report.first_responded_at or now


def reopen(report: Report, reason: str | None, now: datetime, window: timedelta) -> ReportEvent:
    """The reporter says a resolved report is not resolved, within `window` of the resolution.

    The indicators count a reopened report as "not fixed", whatever its feedback says.
    """
    if report.status != "resolved":
        raise Conflict(
            f"Only a resolved report can be reopened; this one is {report.status}.",
            details={"current_status": report.status, "allowed": []},
        )
    if report.resolved_at + window < now:
        raise Conflict(
            f"A report can be reopened within {window.days} days of its resolution.",
            details={"current_status": report.status, "allowed": []},
        )
    report.first_reopened_at = report.first_reopened_at or now
    event = ReportEvent(
        report_id=report.id,
        type="status_changed",
        at=now,
        from_status="resolved",
        to_status="reopened",
        message=reason,
    )
    report.status = "reopened"
    report.updated_at = now
    session.add(event)
    session.flush()
    return event
