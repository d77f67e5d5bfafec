"""Anonymous report submission and follow-up."""

import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app, g, jsonify, request, url_for
from flask.views import MethodView

from civic_api.database import session
from civic_api.errors import InvalidInput, NotFound
from civic_api.extensions import Blueprint
from civic_api.i18n import current_locale
from civic_api.reports import idempotency, service, workflow
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


CREATED = ReportCreatedSchema()


@blp.route("")
class ReportsView(MethodView):
    @blp.limited("REPORT_RATE_LIMIT")
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
        secret = current_app.config["SECRET_KEY"].encode()
        key = headers.get("idempotency_key")
        if data.get("locale"):
            g.locale = data["locale"]  # answer in the reporter's chosen language
        locale = data.pop("locale", None) or current_locale()
        if not key:
            report = self.new_report(locale, data)
            service.insert_report(report)
            session.commit()
            return created(CREATED.dump(report))
        ttl = timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
        fingerprint = idempotency.fingerprint(secret, request.get_json())
        try:
            report = self.new_report(locale, data)
        except InvalidInput:
            # A retry of a stored report gets its first answer even if it would fail now.
            if (first := idempotency.replay(secret, key, fingerprint, ttl)) is None:
                raise
            return replayed(first)
        body = CREATED.dump(report)
        if not idempotency.insert_once(secret, key, fingerprint, ttl, report, body):
            return replayed(idempotency.replay(secret, key, fingerprint, ttl))
        session.commit()
        return created(body)

    @staticmethod
    def new_report(locale: str, data: dict) -> service.NewReport:
        return service.new_report(
            categories=current_app.extensions["category_cache"],
            locale=locale,
            snap_metres=current_app.config["MUNICIPALITY_SNAP_METRES"],
            **data,
        )


def replayed(body: dict):
    session.rollback()
    return created(body, {"Idempotent-Replayed": "true"})


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
