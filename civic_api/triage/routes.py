"""Staff-side report handling: triage lists and export, detail, workflow, responses, moderation."""

import csv
import io
import json
import uuid
from datetime import timedelta

from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView
from geoalchemy2.shape import to_shape

from civic_api.audit import service as audit
from civic_api.database import bind_request, session, use_role
from civic_api.errors import NotFound, PreconditionFailed
from civic_api.extensions import Blueprint, With, page_of, safe_stream
from civic_api.reports import workflow
from civic_api.reports.models import OPEN_STATUSES, PUBLIC_EVENT_TYPES, Report, ReportFeedback
from civic_api.staff.auth import current_principal
from civic_api.staff.models import StaffAccount
from civic_api.staff.service import Principal, utcnow
from civic_api.triage import service
from civic_api.triage.models import ResponseTemplate
from civic_api.triage.schemas import (
    AdminReportDetailSchema,
    AdminReportQueryArgsSchema,
    AdminReportSchema,
    CandidateArgsSchema,
    CandidateSchema,
    EventSchema,
    IfMatchHeadersSchema,
    ModerationSchema,
    NoteCreateSchema,
    ReportUpdateSchema,
    ResponseCreateSchema,
    TemplateArgsSchema,
    TemplateSchema,
    TemplateUpdateSchema,
    TemplateWriteSchema,
)

blp = Blueprint(
    "triage",
    __name__,
    url_prefix="/v1/admin",
    description="Report handling by municipal staff. Each account sees only its municipalities.",
)


def present(report: Report, principal: Principal, **extra) -> With:
    """A report as staff see it: exact location; hidden descriptions for admins only."""
    point = to_shape(report.location)
    hidden = report.description_hidden_reason is not None
    now = utcnow()
    return With(
        report,
        location={"lat": point.y, "lon": point.x},
        description=None if hidden and principal.role != "admin" else report.description,
        description_hidden=hidden,
        assignee=session.get(StaffAccount, report.assignee_id) if report.assignee_id else None,
        overdue=report.first_acknowledged_at is None
        and report.status in OPEN_STATUSES
        and report.response_due_at is not None
        and report.response_due_at < now,
        allowed_transitions=list(workflow.TRANSITIONS[report.status]),
        **extra,
    )


def present_event(event) -> With:
    actor = session.get(StaffAccount, event.actor_id) if event.actor_id else None
    return With(event, actor=actor, public=event.type in PUBLIC_EVENT_TYPES)


def detail(report: Report, principal: Principal):
    timeline = [present_event(e) for e in service.timeline(report, public_only=False)]
    feedback = session.get(ReportFeedback, report.id)
    return (
        present(report, principal, timeline=timeline, feedback=feedback),
        200,
        {"ETag": service.etag(report)},
    )


def check_if_match(report: Report, headers: dict) -> None:
    """Optimistic concurrency: a stale If-Match means someone changed the report meanwhile."""
    if headers.get("if_match") and not request.if_match.contains(service.etag(report).strip('"')):
        raise PreconditionFailed(
            "The report changed since you read it; reload it and try again.",
            details={"etag": service.etag(report)},
        )


def report_for(report_id: uuid.UUID) -> Report:
    return service.get_report_for(current_principal(), report_id)


@blp.route("/reports")
class AdminReportsView(MethodView):
    @blp.auth("reports:read")
    @blp.arguments(AdminReportQueryArgsSchema, location="query")
    @blp.response(200, AdminReportSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List the reports of your municipalities, filtered and sorted"""
        principal = current_principal()
        query = service.reports_query(principal, args, utcnow())
        return [present(r, principal) for r in page_of(query, pagination_parameters)]


CSV_COLUMNS = (
    "id",
    "status",
    "priority",
    "category",
    "group",
    "municipality",
    "lat",
    "lon",
    "accuracy_m",
    "occurred_at",
    "submitted_at",
    "response_due_at",
    "overdue",
    "assignee_id",
    "first_acknowledged_at",
    "first_resolved_at",
    "description",
)


def csv_cell(value) -> str:
    text = "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)
    # Spreadsheets run cells starting with these as formulas (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def audited_filters(args: dict) -> dict:
    """The export's filters as JSON; a text search is recorded as used, not as typed (it
    may quote a citizen's words)."""
    filters = json.loads(json.dumps(args, default=str))
    if "q" in filters:
        filters["q"] = True
    return filters


@blp.route("/reports/export")
class AdminReportsExportView(MethodView):
    @blp.auth("reports:read")
    @blp.arguments(AdminReportQueryArgsSchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "The same filtered list, every page, as CSV",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    )
    def get(self, args):
        """Export the filtered list as CSV (audited with its filters)"""
        use_role("analytics")  # a whole export may take longer than one page
        principal = current_principal()
        query = service.reports_query(principal, args, utcnow())
        audit.record(
            principal.staff_id,
            "report.export",
            "report",
            "export",
            municipality_ids=principal.municipality_ids or (),
            after={"format": "csv", "filters": audited_filters(args)},
        )
        session.commit()

        def rows():
            bind_request()  # the request's session is gone by now: bounded like the request
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            for report in session.scalars(query.execution_options(yield_per=1000)):
                item = present(report, principal)
                writer.writerow(
                    csv_cell(v)
                    for v in (
                        report.id,
                        report.status,
                        report.priority,
                        report.category.code,
                        report.category.group.code,
                        report.municipality.slug,
                        item.location["lat"],
                        item.location["lon"],
                        report.accuracy_m,
                        report.occurred_at,
                        report.submitted_at,
                        report.response_due_at,
                        str(item.overdue).lower(),
                        report.assignee_id,
                        report.first_acknowledged_at,
                        report.first_resolved_at,
                        item.description,
                    )
                )
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()

        return Response(
            stream_with_context(safe_stream(rows())),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="reports.csv"'},
        )


@blp.route("/reports/<uuid:report_id>")
class AdminReportByIdView(MethodView):
    @blp.auth("reports:read")
    @blp.response(200, AdminReportDetailSchema, headers={"ETag": {"schema": {"type": "string"}}})
    @blp.alt_response(404, description="No such report in your municipalities")
    def get(self, report_id):
        """A report with its exact location, answers and full timeline (sensitive: audited)"""
        report = report_for(report_id)
        if report.category.sensitive:
            principal = current_principal()
            audit.record(
                principal.staff_id,
                "report.read",
                "report",
                report.id,
                municipality_ids=[report.municipality_id],
            )
            session.commit()
        return detail(report, current_principal())

    @blp.auth("reports:write")
    @blp.arguments(IfMatchHeadersSchema, location="headers")
    @blp.arguments(ReportUpdateSchema)
    @blp.response(200, AdminReportDetailSchema)
    @blp.alt_response(409, description="Transition not allowed; `allowed` lists those that are")
    @blp.alt_response(412, description="If-Match does not match the current ETag")
    def patch(self, headers, data, report_id):
        """Change status (with an optional public message), assignee or priority"""
        report = report_for(report_id)
        check_if_match(report, headers)
        reminder = timedelta(hours=current_app.config["FEEDBACK_REMINDER_HOURS"])
        service.update_report(current_principal(), report, data, utcnow(), reminder)
        session.commit()
        return detail(report, current_principal())


@blp.route("/reports/<uuid:report_id>/responses")
class AdminReportResponsesView(MethodView):
    @blp.auth("reports:write")
    @blp.arguments(ResponseCreateSchema)
    @blp.response(201, EventSchema)
    def post(self, data, report_id):
        """Answer the reporter publicly (typed, or a template in the reporter's language)"""
        event = service.add_response(current_principal(), report_for(report_id), utcnow(), **data)
        session.commit()
        return present_event(event)


@blp.route("/reports/<uuid:report_id>/notes")
class AdminReportNotesView(MethodView):
    @blp.auth("reports:write")
    @blp.arguments(NoteCreateSchema)
    @blp.response(201, EventSchema)
    def post(self, data, report_id):
        """Add an internal note (never shown to the reporter)"""
        report = report_for(report_id)
        event = service.add_note(current_principal(), report, data["message"], utcnow())
        session.commit()
        return present_event(event)


@blp.route("/reports/<uuid:report_id>/moderation")
class AdminReportModerationView(MethodView):
    @blp.auth("reports:write")
    @blp.arguments(IfMatchHeadersSchema, location="headers")
    @blp.arguments(ModerationSchema)
    @blp.response(200, AdminReportDetailSchema)
    def put(self, headers, data, report_id):
        """Hide the description from everyone but admins (abuse, personal data), or restore it"""
        report = report_for(report_id)
        check_if_match(report, headers)
        service.set_description_hidden(
            current_principal(), report, data["description_hidden"], data.get("reason"), utcnow()
        )
        session.commit()
        return detail(report, current_principal())


@blp.route("/reports/<uuid:report_id>/duplicate-candidates")
class AdminReportCandidatesView(MethodView):
    @blp.auth("reports:read")
    @blp.arguments(CandidateArgsSchema, location="query")
    @blp.response(200, CandidateSchema(many=True))
    def get(self, args, report_id):
        """Reports of the same category group nearby in space and time, nearest first"""
        principal = current_principal()
        found = service.duplicate_candidates(principal, report_for(report_id), **args)
        return [present(r, principal, distance_m=d) for r, d in found]


@blp.route("/response-templates")
class TemplatesView(MethodView):
    @blp.auth("reports:read")
    @blp.arguments(TemplateArgsSchema, location="query")
    @blp.response(200, TemplateSchema(many=True))
    def get(self, args):
        """Response templates (with ?category=, the active ones usable for that category)"""
        return session.scalars(service.templates_query(args.get("category"))).all()

    @blp.auth("catalog:write")
    @blp.arguments(TemplateWriteSchema)
    @blp.response(201, TemplateSchema)
    def post(self, data):
        """Create a response template"""
        template = service.save_template(current_principal(), None, data)
        session.commit()
        return template


@blp.route("/response-templates/<int:template_id>")
class TemplateByIdView(MethodView):
    @blp.auth("catalog:write")
    @blp.arguments(TemplateUpdateSchema(partial=True))
    @blp.response(200, TemplateSchema)
    def patch(self, data, template_id):
        """Change a response template (set active false to retire it)"""
        template = session.get(ResponseTemplate, template_id)
        if template is None:
            raise NotFound("No response template has this id.")
        template = service.save_template(current_principal(), template, data)
        session.commit()
        return template
