"""Report handling by staff: scoped lists, the status workflow, responses, notes and moderation."""

import uuid
from datetime import datetime, timedelta

from geoalchemy2.shape import to_shape
from shapely.geometry import box
from sqlalchemy import Select, case, func, select

from civic_api.audit import service as audit
from civic_api.categories.models import Category, CategoryGroup
from civic_api.database import session
from civic_api.errors import InvalidInput, NotFound
from civic_api.municipalities.models import Municipality
from civic_api.outbox import service as outbox
from civic_api.reports import workflow
from civic_api.reports.models import PRIORITIES, PUBLIC_EVENT_TYPES, Report, ReportEvent
from civic_api.reports.workflow import overdue
from civic_api.staff.models import StaffAccount
from civic_api.staff.service import Principal
from civic_api.triage.models import ResponseTemplate
from geo.points import as_sql, distance_metres, within_metres

SORTS = {
    "submitted_at": Report.submitted_at,
    "updated_at": Report.updated_at,
    "response_due_at": Report.response_due_at,
    "status": Report.status,
    "priority": case({p: i for i, p in enumerate(PRIORITIES)}, value=Report.priority),
}


def etag(report: Report) -> str:
    return f'"{report.id}.{report.version}"'


def scoped(principal: Principal) -> Select:
    query = select(Report)
    if principal.municipality_ids is not None:
        query = query.where(Report.municipality_id.in_(principal.municipality_ids))
    return query


def reports_query(principal: Principal, filters: dict, now: datetime) -> Select:
    """The reports this principal may see, filtered and sorted (newest first by default)."""
    query = scoped(principal)
    if filters.get("status"):
        query = query.where(Report.status.in_(filters["status"]))
    if filters.get("priority"):
        query = query.where(Report.priority.in_(filters["priority"]))
    if filters.get("category"):
        query = query.where(
            Report.category_id.in_(
                select(Category.id).where(Category.code.in_(filters["category"]))
            )
        )
    if filters.get("group"):
        query = query.where(
            Report.category_id.in_(
                select(Category.id)
                .join(CategoryGroup)
                .where(CategoryGroup.code.in_(filters["group"]))
            )
        )
    if filters.get("municipality"):
        query = query.where(
            Report.municipality_id.in_(
                select(Municipality.id).where(Municipality.slug.in_(filters["municipality"]))
            )
        )
    if filters.get("submitted_from"):
        query = query.where(Report.submitted_at >= filters["submitted_from"])
    if filters.get("submitted_to"):
        query = query.where(Report.submitted_at < filters["submitted_to"])
    if filters.get("bbox"):
        west, south, east, north = filters["bbox"]
        query = query.where(
            func.ST_Intersects(Report.location, as_sql(box(west, south, east, north)))
        )
    if filters.get("q"):
        pattern = "%" + filters["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        matches = Report.description.ilike(pattern + "%", escape="\\")
        if principal.role != "admin":
            # Hidden descriptions are not searchable by those who cannot read them.
            matches &= Report.description_hidden_reason.is_(None)
        query = query.where(matches)
    if "assignee" in filters:
        assignee = filters["assignee"]
        if assignee == "none":
            query = query.where(Report.assignee_id.is_(None))
        else:
            query = query.where(
                Report.assignee_id == (principal.staff_id if assignee == "me" else int(assignee))
            )
    if filters.get("overdue") is not None:
        condition = overdue(now)
        query = query.where(condition if filters["overdue"] else ~condition)
    sort = filters.get("sort") or "-submitted_at"
    column = SORTS[sort.lstrip("-")]
    order = column.desc().nulls_last() if sort.startswith("-") else column.asc().nulls_last()
    return query.order_by(order, Report.id)


def get_report_for(principal: Principal, report_id: uuid.UUID) -> Report:
    """The report, if it is in the principal's municipalities; otherwise 404 (never 403)."""
    report = session.scalar(scoped(principal).where(Report.id == report_id))
    if report is None:
        raise NotFound("No report with this id in your municipalities.")
    return report


def snapshot(report: Report) -> dict:
    """The audited state of a report: handling fields only, never the citizen's text."""
    return {
        "status": report.status,
        "priority": report.priority,
        "assignee_id": report.assignee_id,
        "duplicate_of": str(report.duplicate_of_id) if report.duplicate_of_id else None,
        "description_hidden": report.description_hidden_reason is not None,
    }


def _audit(principal: Principal, action: str, report: Report, before: dict) -> None:
    audit.record(
        principal.staff_id,
        action,
        "report",
        report.id,
        municipality_ids=[report.municipality_id],
        before=before,
        after=snapshot(report),
    )


def update_report(
    principal: Principal,
    report: Report,
    changes: dict,
    now: datetime,
    feedback_reminder_after: timedelta | None = None,
) -> Report:
    """Apply a status transition, assignment and/or priority, recording who and when.

    Closing a report asks its reporter for feedback, and again `feedback_reminder_after` later.
    """
    before = snapshot(report)
    if "assignee_id" in changes and changes["assignee_id"] != report.assignee_id:
        _assign(principal, report, changes["assignee_id"], now)
    if "priority" in changes and changes["priority"] != report.priority:
        old = report.priority
        report.priority = changes["priority"]
        workflow.add_event(report, "priority_changed", now, principal.staff_id, data={"from": old})
    if "status" in changes:
        _transition(principal, report, changes["status"], now, changes, feedback_reminder_after)
    elif changes.get("message") or changes.get("duplicate_of"):
        field = "message" if changes.get("message") else "duplicate_of"
        raise InvalidInput.field(field, "Only allowed together with a status change.")
    if snapshot(report) != before:
        _audit(principal, "report.update", report, before)
    return report


def _assign(principal: Principal, report: Report, assignee_id: int | None, now: datetime) -> None:
    if assignee_id is not None:
        assignee = session.get(StaffAccount, assignee_id)
        eligible = (
            assignee is not None
            and assignee.active
            and (
                assignee.role == "admin"
                or (
                    assignee.role in ("manager", "staff")
                    and report.municipality_id in {m.id for m in assignee.municipalities}
                )
            )
        )
        if not eligible:
            raise InvalidInput.field(
                "assignee_id", "Must be an active staff member of the report's municipality."
            )
    report.assignee_id = assignee_id
    workflow.add_event(
        report, "assigned", now, principal.staff_id, data={"assignee_id": assignee_id}
    )


def _transition(
    principal: Principal,
    report: Report,
    status: str,
    now: datetime,
    changes: dict,
    feedback_reminder_after: timedelta | None,
) -> None:
    workflow.check_transition(report, status)
    original = None
    if status == "duplicate":
        original = _original(principal, report, changes.get("duplicate_of"))
    elif changes.get("duplicate_of"):
        raise InvalidInput.field("duplicate_of", "Only allowed with the status duplicate.")
    workflow.transition(
        report,
        status,
        now,
        actor_id=principal.staff_id,
        message=changes.get("message"),
        duplicate_of=original,
        feedback_reminder_after=feedback_reminder_after,
    )


def _original(principal: Principal, report: Report, original_id: uuid.UUID | None) -> Report:
    """The report this one duplicates; chains are followed to their first report."""
    if original_id is None:
        raise InvalidInput.field("duplicate_of", "Required when the status is duplicate.")
    try:
        original = get_report_for(principal, original_id)
    except NotFound:
        raise InvalidInput.field("duplicate_of", "No report with this id in your scope.") from None
    while original.duplicate_of_id is not None:
        original = session.get(Report, original.duplicate_of_id)
    if original.id == report.id:
        raise InvalidInput.field("duplicate_of", "A report cannot duplicate itself.")
    return original


def add_response(
    principal: Principal,
    report: Report,
    now: datetime,
    message: str | None = None,
    template_id: int | None = None,
) -> ReportEvent:
    """A public answer to the reporter, typed or from a template in the reporter's language."""
    if template_id is not None:
        template = session.get(ResponseTemplate, template_id)
        if (
            template is None
            or not template.active
            or template.category_id
            not in (
                None,
                report.category_id,
            )
        ):
            raise InvalidInput.field("template_id", "No active template for this category.")
        message = template.body[report.locale]
    before = snapshot(report)
    workflow.record_response(report, now)
    event = workflow.add_event(
        report,
        "public_response",
        now,
        principal.staff_id,
        message=message,
        data={"template_id": template_id} if template_id else {},
    )
    outbox.enqueue("report.response", report_id=report.id, payload={"event_id": event.id})
    _audit(principal, "report.respond", report, before)
    return event


def add_note(principal: Principal, report: Report, message: str, now: datetime) -> ReportEvent:
    """An internal note, never shown to the reporter."""
    before = snapshot(report)
    event = workflow.add_event(report, "internal_note", now, principal.staff_id, message=message)
    _audit(principal, "report.note", report, before)
    return event


def set_description_hidden(
    principal: Principal, report: Report, hidden: bool, reason: str | None, now: datetime
) -> Report:
    """Moderation: hide the description (abuse, personal data) from everyone but admins."""
    if hidden and not reason:
        raise InvalidInput.field("reason", "Say why the description is hidden.")
    if hidden == (report.description_hidden_reason is not None):
        return report
    before = snapshot(report)
    report.description_hidden_reason = reason if hidden else None
    workflow.add_event(
        report,
        "description_hidden" if hidden else "description_restored",
        now,
        principal.staff_id,
        message=reason,
    )
    _audit(principal, "report.moderate", report, before)
    return report


def duplicate_candidates(
    principal: Principal, report: Report, radius_m: float, days: int, limit: int
) -> list[tuple[Report, float]]:
    """Reports of the same category group near this one in space and time, nearest first."""
    same_group = select(Category.id).where(Category.group_id == report.category.group_id)
    here = to_shape(report.location)
    distance = distance_metres(Report.location, here)
    window = timedelta(days=days)
    query = (
        scoped(principal)
        .add_columns(distance.label("distance_m"))
        .where(
            Report.id != report.id,
            Report.category_id.in_(same_group),
            Report.submitted_at.between(report.submitted_at - window, report.submitted_at + window),
            within_metres(Report.location, here, radius_m),
        )
        .order_by(distance, Report.submitted_at)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in session.execute(query)]


def timeline(report: Report, public_only: bool) -> list[ReportEvent]:
    query = select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id)
    if public_only:
        query = query.where(ReportEvent.type.in_(PUBLIC_EVENT_TYPES))
    return list(session.scalars(query))


# Response templates


def templates_query(category_code: str | None = None) -> Select:
    query = select(ResponseTemplate).order_by(ResponseTemplate.name, ResponseTemplate.id)
    if category_code is not None:
        category = select(Category.id).where(Category.code == category_code).scalar_subquery()
        query = query.where(
            ResponseTemplate.active,
            (ResponseTemplate.category_id.is_(None)) | (ResponseTemplate.category_id == category),
        )
    return query


def template_snapshot(template: ResponseTemplate) -> dict:
    return {
        "name": template.name,
        "category": template.category.code if template.category else None,
        "body": template.body,
        "active": template.active,
    }


def save_template(
    principal: Principal, template: ResponseTemplate | None, data: dict
) -> ResponseTemplate:
    """Create (template None) or change a response template."""
    before = template_snapshot(template) if template else None
    template = template or ResponseTemplate()
    if "category" in data:
        code = data.pop("category")
        category = None
        if code is not None:
            category = session.scalar(select(Category).where(Category.code == code))
            if category is None:
                raise InvalidInput.field("category", f"No category has the code {code!r}.")
        template.category = category
    for key, value in data.items():
        setattr(template, key, value)
    session.add(template)
    session.flush()
    audit.record(
        principal.staff_id,
        "template.create" if before is None else "template.update",
        "response_template",
        template.id,
        before=before,
        after=template_snapshot(template),
    )
    return template
