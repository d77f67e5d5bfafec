"""Staff views of push delivery: per announcement and per report, and dead-letter requeue."""

import uuid

from flask.views import MethodView

from civic_api.database import session
from civic_api.extensions import Blueprint
from civic_api.push import service
from civic_api.push.schemas import DeliveryStatsSchema, RequeuedSchema
from civic_api.staff.auth import current_principal
from civic_api.staff.service import utcnow

blp = Blueprint(
    "push_admin",
    __name__,
    url_prefix="/v1/admin",
    description="Push delivery statistics (pending, sent, failed, dead) and dead-letter requeue.",
)

NOT_FOUND = "Not in your municipalities"


@blp.route("/announcements/<int:announcement_id>/deliveries")
class AnnouncementDeliveriesView(MethodView):
    @blp.auth("announcements:write")
    @blp.response(200, DeliveryStatsSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def get(self, announcement_id: int):
        """Push delivery statistics of an announcement"""
        return service.announcement_deliveries(current_principal(), announcement_id)


@blp.route("/announcements/<int:announcement_id>/deliveries/requeue")
class AnnouncementRequeueView(MethodView):
    @blp.auth("announcements:write")
    @blp.response(200, RequeuedSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def post(self, announcement_id: int):
        """Send an announcement's dead push messages again"""
        result = service.requeue_announcement(current_principal(), announcement_id, utcnow())
        session.commit()
        return result


@blp.route("/reports/<uuid:report_id>/deliveries")
class ReportDeliveriesView(MethodView):
    @blp.auth("reports:read")
    @blp.response(200, DeliveryStatsSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def get(self, report_id: uuid.UUID):
        """Push delivery statistics of a report's status changes and responses"""
        return service.report_deliveries(current_principal(), report_id)


@blp.route("/reports/<uuid:report_id>/deliveries/requeue")
class ReportRequeueView(MethodView):
    @blp.auth("reports:write")
    @blp.response(200, RequeuedSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def post(self, report_id: uuid.UUID):
        """Send a report's dead push messages again"""
        result = service.requeue_report(current_principal(), report_id, utcnow())
        session.commit()
        return result
