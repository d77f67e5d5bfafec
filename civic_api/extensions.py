"""The Api, Schema and field subclasses shared by every feature."""

from functools import wraps

import flask_smorest
import marshmallow as ma
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from civic_api.i18n import translate

DEFAULT_MESSAGES = {
    400: "The request could not be parsed; see errors.",
    422: "The request data is invalid; see errors.",
}


class Api(flask_smorest.Api):
    """flask-smorest's Api whose error payload always carries a human-readable message."""

    def handle_http_exception(self, error: HTTPException):
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload:
            default = DEFAULT_MESSAGES.get(code) if "errors" in payload else None
            payload["message"] = default or error.description
        return payload, code, headers


class Blueprint(flask_smorest.Blueprint):
    def auth(self, scope: str | None):
        """Require a staff bearer token (with `scope`, if given) and document it."""

        def decorator(func):
            from civic_api.staff.auth import authorize

            @wraps(func)
            def wrapper(*args, **kwargs):
                authorize(scope)
                return func(*args, **kwargs)

            wrapper = self.doc(security=[{"bearerAuth": []}])(wrapper)
            wrapper = self.alt_response(401, description="No valid bearer token")(wrapper)
            if scope is not None:
                wrapper = self.alt_response(403, description=f"Needs the {scope} scope")(wrapper)
            wrapper.required_scope = scope
            return wrapper

        return decorator


# In memory per worker, keyed by client address: addresses are never stored.
limiter = Limiter(key_func=get_remote_address, storage_uri="memory://", headers_enabled=True)


class With:
    """An object seen with extra attributes, for dumping one-off response fields."""

    def __init__(self, obj, **extra):
        self._obj, self._extra = obj, extra

    def __getattr__(self, name):
        return self._extra[name] if name in self._extra else getattr(self._obj, name)


def page_of(query, pagination_parameters) -> list:
    """One page of a SELECT, setting the total for flask-smorest's X-Pagination header."""
    from sqlalchemy import func, select

    from civic_api.database import session

    pagination_parameters.item_count = session.scalar(
        select(func.count()).select_from(query.order_by(None).subquery())
    )
    return session.scalars(
        query.limit(pagination_parameters.page_size).offset(pagination_parameters.first_item)
    ).all()


def plain_text(value: str) -> None:
    """Validator: no NUL or other control characters (tabs and newlines are fine)."""
    from civic_api.categories.service import FORBIDDEN_CHARACTERS

    if FORBIDDEN_CHARACTERS.search(value):
        raise ma.ValidationError("Must be plain text without control characters.")


class Schema(ma.Schema):
    class Meta:
        ordered = True


class HeadersSchema(Schema):
    """Request headers: only the declared ones are read; every other header is ignored."""

    class Meta:
        unknown = ma.EXCLUDE


class QueryArgsSchema(Schema):
    """Query strings tolerate unknown parameters (cache busters, tracking)."""

    class Meta:
        unknown = ma.EXCLUDE


class StrictFloat(ma.fields.Float):
    """A JSON number: no numeric strings, no booleans, no NaN or infinities."""

    def __init__(self, **kwargs):
        super().__init__(allow_nan=False, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._validated(value)


class LanguageArgsSchema(QueryArgsSchema):
    lang = ma.fields.String(metadata={"description": "sq, sr or en (overrides Accept-Language)"})


class Translated(ma.fields.Field):
    """Dumps a {"sq", "sr", "en"} dict as the text in the request's negotiated language."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else translate(value)


def _serialization_style(converter, field, **kwargs) -> dict:
    """A parameter's `style` and `explode`, from its field's metadata (e.g. OGC's limit)."""
    return {key: field.metadata[key] for key in ("style", "explode") if key in field.metadata}


def init_api(app) -> Api:
    api = Api(app, spec_kwargs={"info": {"description": app.config.get("API_DESCRIPTION", "")}})
    api.register_field(Translated, "string", None)
    api.register_field(StrictFloat, "number", None)
    api.ma_plugin.converter.add_parameter_attribute_function(_serialization_style)
    api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A staff access token from POST /v1/admin/auth/login, "
            "or a personal API token",
        },
    )
    limiter.init_app(app)
    return api
