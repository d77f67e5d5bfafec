"""The audit log, read-only: who changed what, within the reader's municipalities."""

from flask.views import MethodView

from civic_api.audit import service
from civic_api.audit.schemas import AuditEntrySchema, AuditQueryArgsSchema
from civic_api.extensions import Blueprint, page_of
from civic_api.staff.auth import current_principal

blp = Blueprint(
    "audit",
    __name__,
    url_prefix="/v1/admin/audit",
    description="The append-only log of staff writes (admins: all; managers: their "
    "municipalities').",
)


@blp.route("")
class AuditEntriesView(MethodView):
    @blp.auth("audit:read")
    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.response(200, AuditEntrySchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List audit entries, newest first (managers: those touching their municipalities)"""
        query = service.entries_query(current_principal().municipality_ids, **args)
        return page_of(query, pagination_parameters)
