"""Public municipality endpoints."""

from flask.views import MethodView
from flask_smorest import Blueprint

from civic_api.database import session
from civic_api.errors import NotFound
from civic_api.extensions import Blueprint as AdminBlueprint
from civic_api.municipalities import service
from civic_api.municipalities.schemas import (
    MunicipalityQueryArgsSchema,
    MunicipalitySchema,
    MunicipalityUpdateSchema,
)
from civic_api.staff.auth import current_principal

blp = Blueprint(
    "municipalities",
    __name__,
    url_prefix="/v1/municipalities",
    description="Kosovo's municipalities: the bodies that receive reports.",
)


@blp.route("")
class MunicipalitiesView(MethodView):
    @blp.arguments(MunicipalityQueryArgsSchema, location="query")
    @blp.response(200, MunicipalitySchema(many=True))
    def get(self, args):
        """List municipalities, localised; boundaries only with ?boundary=true"""
        return service.list_municipalities(with_boundary=args["boundary"])


@blp.route("/<slug>")
class MunicipalityBySlugView(MethodView):
    @blp.arguments(MunicipalityQueryArgsSchema, location="query")
    @blp.response(200, MunicipalitySchema)
    @blp.alt_response(404, description="No municipality has this slug")
    def get(self, args, slug):
        """Get one municipality"""
        found = service.get_municipality(slug, with_boundary=args["boundary"])
        if found is None:
            raise NotFound(f"No municipality has the slug {slug!r}.")
        return found


admin_blp = AdminBlueprint(
    "municipalities_admin",
    __name__,
    url_prefix="/v1/admin/municipalities",
    description="Municipality settings (admins); boundaries come from the import command.",
)


@admin_blp.route("/<slug>")
class AdminMunicipalityView(MethodView):
    @admin_blp.auth("catalog:write")
    @admin_blp.arguments(MunicipalityUpdateSchema)
    @admin_blp.response(200, MunicipalitySchema)
    def patch(self, data, slug):
        """Correct a municipality's names, population or time zone"""
        found = service.update_municipality(current_principal().staff_id, slug, data)
        session.commit()
        return found
