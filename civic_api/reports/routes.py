"""Anonymous report submission and follow-up."""

import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app, g, jsonify, request, url_for
from flask.views import MethodView

from civic_api import database, retention
from civic_api.database import session
from civic_api.errors import NotFound
from civic_api.extensions import Blueprint
from civic_api.i18n import current_locale
from civic_api.photos.service import discard
from civic_api.photos.storage import store_for
from civic_api.reports import service, workflow
from civic_api.reports.schemas import (
    CommentCreateSchema,
    FeedbackSchema,
    FollowUpHeadersSchema,
    IdempotencyHeadersSchema,
    ReopenSchema,
    ReportCreatedSchema,
    ReportCreateSchema,
    ReportStatusSchema,
    TimelineEntrySchema,
    created_body,
)

blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/v1/reports",
    query_role="ingest",
    description="Anonymous geotagged reports. No account; nothing identifying is stored.",
)

# Comments a reporter may add to one report (abuse bound).
COMMENT_LIMIT = 20

REPORT_EXAMPLE = {
    "category": "commenting",
    "location": {"lat": 42.6629, "lon": 21.1655},
    "accuracy_m": 12,
    "occurred_at": "2026-11-20T18:45:00+01:00",
    "description": "Two men shouted comments at me near the bus stop.",
    "attributes": {"perpetrator_gender": "group", "place_type": "street"},
    "locale": "sq",
}


# One budget per client for every way of submitting a report (here and Open311).
SUBMISSION_BUDGET = "report-submission"


@blp.route("")
class ReportsView(MethodView):
    @blp.limited("REPORT_RATE_LIMIT", shared=SUBMISSION_BUDGET)
    @blp.app_checked
    # Schema instances: webargs would build one from a class on every request.
    @blp.arguments(IdempotencyHeadersSchema(), location="headers")
    @blp.arguments(ReportCreateSchema(), example=REPORT_EXAMPLE)
    @blp.response(201, ReportCreatedSchema)
    @blp.alt_response(
        422, description="Invalid report, or Idempotency-Key reused with another body"
    )
    def post(self, headers, data):
        """Submit an anonymous report"""
        if data.get("locale"):
            g.locale = data["locale"]  # answer in the reporter's chosen language
        # The report, its idempotency record and its rollups are written by one statement,
        # which needs no transaction around it: no BEGIN and COMMIT round trips.
        database.autocommit()
        body, replayed = service.submit_report(
            current_app.config["SECRET_KEY"].encode(),
            headers.get("idempotency_key"),
            request.get_json(),
            timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"]),
            created_body,
            categories=current_app.extensions["category_cache"],
            municipalities=current_app.extensions["municipality_index"],
            locale=data.pop("locale", None) or current_locale(),
            snap_metres=current_app.config["MUNICIPALITY_SNAP_METRES"],
            **data,
        )
        if replayed:
            session.rollback()
            return created(body, {"Idempotent-Replayed": "true"})
        session.commit()
        return created(body)


def created(body: dict, headers: dict | None = None):
    # Already dumped: the same bytes serve the first response and its replays.
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = url_for("reports.ReportByIdView", report_id=body["id"])
    response.headers.update(headers or {})
    return response


@blp.route("/<uuid:report_id>")
class ReportByIdView(MethodView):
    @blp.arguments(FollowUpHeadersSchema, location="headers")
    @blp.response(200, ReportStatusSchema)
    @blp.alt_response(404, description="Unknown report, or a missing or wrong token")
    def get(self, headers, report_id: uuid.UUID):
        """Read a report's status and public timeline with its follow-up token"""
        return status_view(reporters_report(report_id, headers))

    @blp.arguments(FollowUpHeadersSchema, location="headers")
    @blp.response(204)
    @blp.alt_response(404, description="Unknown report, or a missing or wrong token")
    def delete(self, headers, report_id: uuid.UUID):
        """Erase your report: its text, answers, photos and exact location (docs/privacy.md)"""
        keys = retention.erase_report(reporters_report(report_id, headers), datetime.now(UTC))
        session.commit()
        discard(store_for(current_app), keys)


def reporters_report(report_id: uuid.UUID, headers: dict):
    report = service.report_for_token(report_id, headers.get("follow_up_token"))
    if report is None:
        raise NotFound("No report matches this id and follow-up token.")
    return report


def status_view(report) -> dict:
    original = service.original_of(report)
    window = timedelta(days=current_app.config["REOPEN_WINDOW_DAYS"])
    return {
        "id": report.id,
        "status": report.status,
        "duplicate_of": original,
        "can_reopen_until": report.resolved_at + window if report.status == "resolved" else None,
        "category": report.category,
        "municipality": report.municipality,
        "occurred_at": report.occurred_at,
        "submitted_at": report.submitted_at,
        "timeline": service.timeline(report),
        "feedback_open": service.feedback_open(report),
    }


@blp.route("/<uuid:report_id>/comments")
class ReportCommentsView(MethodView):
    @blp.limited("COMMENT_RATE_LIMIT", shared="comments")
    @blp.arguments(FollowUpHeadersSchema, location="headers")
    @blp.arguments(CommentCreateSchema)
    @blp.response(201, TimelineEntrySchema)
    @blp.alt_response(404, description="Unknown report, or a missing or wrong token")
    def post(self, headers, data, report_id):
        """Add details to your report (staff see them in their timeline)"""
        report = reporters_report(report_id, headers)
        event = service.add_comment(report, data["message"], datetime.now(UTC), COMMENT_LIMIT)
        session.commit()
        return {
            "at": event.at,
            "type": event.type,
            "status": report.status,
            "message": event.message,
        }


@blp.route("/<uuid:report_id>/reopen")
class ReportReopenView(MethodView):
    @blp.limited("COMMENT_RATE_LIMIT", shared="comments")
    @blp.arguments(FollowUpHeadersSchema, location="headers")
    @blp.arguments(ReopenSchema)
    @blp.response(200, ReportStatusSchema)
    @blp.alt_response(404, description="Unknown report, or a missing or wrong token")
    @blp.alt_response(409, description="Not resolved, or resolved too long ago")
    def post(self, headers, data, report_id):
        """Reopen your resolved report if the problem is not solved"""
        report = reporters_report(report_id, headers)
        window = timedelta(days=current_app.config["REOPEN_WINDOW_DAYS"])
        workflow.reopen(report, data.get("reason"), datetime.now(UTC), window)
        session.commit()
        return status_view(report)


@blp.route("/<uuid:report_id>/feedback")
class ReportFeedbackView(MethodView):
    @blp.arguments(FollowUpHeadersSchema, location="headers")
    @blp.arguments(FeedbackSchema)
    @blp.response(201, FeedbackSchema)
    @blp.alt_response(404, description="Unknown report, or a missing or wrong token")
    @blp.alt_response(409, description="Not resolved or rejected, or feedback already given")
    def post(self, headers, data, report_id):
        """Say whether your resolved or rejected report was fixed and how satisfied you are"""
        report = reporters_report(report_id, headers)
        feedback = service.give_feedback(report, data, datetime.now(UTC))
        session.commit()
        return feedback
