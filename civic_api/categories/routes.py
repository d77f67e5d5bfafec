"""Public category (Open311 service) endpoints."""

from flask.views import MethodView
from flask_smorest import Blueprint

from civic_api.categories import service
from civic_api.categories.schemas import (
    CategoryAdminSchema,
    CategoryQueryArgsSchema,
    CategorySchema,
    CategoryUpdateSchema,
)
from civic_api.database import session
from civic_api.errors import NotFound
from civic_api.extensions import Blueprint as AdminBlueprint
from civic_api.extensions import LanguageArgsSchema
from civic_api.staff.auth import current_principal

blp = Blueprint(
    "categories",
    __name__,
    url_prefix="/v1/categories",
    description="What can be reported, with the questions each category asks.",
)


@blp.route("")
class CategoriesView(MethodView):
    @blp.arguments(CategoryQueryArgsSchema, location="query")
    @blp.response(200, CategorySchema(many=True))
    def get(self, args):
        """List active categories, localised"""
        return service.list_categories(group=args.get("group"))


@blp.route("/<code>")
class CategoryByCodeView(MethodView):
    @blp.arguments(LanguageArgsSchema, location="query")
    @blp.response(200, CategorySchema)
    @blp.alt_response(404, description="No active category has this code")
    def get(self, args, code):
        """Get one active category"""
        category = service.get_category(code)
        if category is None:
            raise NotFound(f"No active category has the code {code!r}.")
        return category


admin_blp = AdminBlueprint(
    "categories_admin",
    __name__,
    url_prefix="/v1/admin/categories",
    description="Category settings (admins).",
)


@admin_blp.route("/<code>")
class AdminCategoryView(MethodView):
    @admin_blp.auth("catalog:write")
    @admin_blp.arguments(CategoryUpdateSchema)
    @admin_blp.response(200, CategoryAdminSchema)
    @admin_blp.alt_response(409, description="A sensitive category cannot become non-sensitive")
    def patch(self, data, code):
        """Switch a category on or off, set its response target, or mark it sensitive"""
        category = service.update_category(current_principal().staff_id, code, data)
        session.commit()
        return category
