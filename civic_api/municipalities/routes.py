"""Public municipality endpoints."""

from flask.views import MethodView
from flask_smorest import Blueprint

from civic_api.errors import NotFound
from civic_api.municipalities import service
from civic_api.municipalities.schemas import MunicipalityQueryArgsSchema, MunicipalitySchema

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
