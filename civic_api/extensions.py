"""The Api, Schema and field subclasses shared by every feature."""

import logging
from copy import deepcopy
from functools import wraps

import flask_smorest
import marshmallow as ma
import webargs.fields
from flask import request
from flask_limiter.errors import RateLimitExceeded
from flask_smorest import pagination
from werkzeug.exceptions import HTTPException

from civic_api import edge
from civic_api.errors import InvalidInput
from civic_api.i18n import localise, translate
from civic_api.limits import limiter, retry_after, setting

logger = logging.getLogger(__name__)

DEFAULT_MESSAGES = {
    400: "The request could not be parsed; see errors.",
    422: "The request data is invalid; see errors.",
    429: "Too many requests from this client; try again later (see Retry-After).",
}
# The highest page number accepted: keeps OFFSET well inside PostgreSQL's bigint.
MAX_PAGE = 100_000


class ErrorSchema(ma.Schema):
    """The one error shape (documentation only). Some errors add members of their own."""

    code = ma.fields.Integer(metadata={"description": "The HTTP status"})
    status = ma.fields.String(metadata={"description": "Its name"})
    message = ma.fields.String(metadata={"description": "What went wrong, localised"})
    errors = ma.fields.Dict(
        metadata={"description": "Field-level messages by location (json, query, headers)"}
    )
    etag = ma.fields.String(metadata={"description": "412: the current ETag"})
    current_status = ma.fields.String(metadata={"description": "409 on a workflow transition"})
    allowed = ma.fields.List(
        ma.fields.String(), metadata={"description": "409: the statuses one may move to"}
    )


class Api(flask_smorest.Api):
    """flask-smorest's Api whose error payload always carries a localised, human message."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        payload, code, headers = super().handle_http_exception(error)
        limited = isinstance(error, RateLimitExceeded)
        if limited:  # flask-limiter's description is the limit itself ("10 per 1 minute")
            payload["message"] = DEFAULT_MESSAGES[429]
        elif "message" not in payload:
            default = DEFAULT_MESSAGES.get(code) if "errors" in payload else None
            payload["message"] = default or error.description
        payload["message"] = localise(payload["message"])
        if "errors" in payload:
            payload["errors"] = localise(payload["errors"])
        # Keep what werkzeug says in headers (Allow on a 405, Retry-After on a 503 or 429).
        extra = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        if limited:  # other 429s (a privacy budget) say when themselves
            extra["Retry-After"] = retry_after()
        return payload, code, extra | dict(headers or {})


def _bounded_pagination_schema(default_page, page_size, max_page_size):
    base = _pagination_schema(default_page, page_size, max_page_size)

    class PaginationParametersSchema(base):
        page = ma.fields.Integer(
            load_default=default_page, validate=ma.validate.Range(min=1, max=MAX_PAGE)
        )

    return PaginationParametersSchema


# flask-smorest builds the page/page_size schema in a module function: bound the page there.
_pagination_schema = pagination._pagination_parameters_schema_factory
pagination._pagination_parameters_schema_factory = _bounded_pagination_schema

PAGINATION_HEADER = {
    "description": "Pagination metadata as JSON: total, total_pages, first_page, last_page, "
    "page, previous_page, next_page (the last five only when there are items)",
    "schema": {"type": "string"},
    "example": '{"total": 42, "total_pages": 5, "first_page": 1, "last_page": 5, "page": 1, '
    '"next_page": 2}',
}


class DelimitedList(webargs.fields.DelimitedList):
    """Comma-separated query values, at least one: `?status=` is an error, not "no filter"
    (the client meant something, and the schema says minItems 1)."""

    def __init__(self, cls_or_instance, **kwargs):
        given = kwargs.pop("validate", None)
        given = [] if given is None else [given] if callable(given) else list(given)
        super().__init__(cls_or_instance, validate=[ma.validate.Length(min=1), *given], **kwargs)


class Blueprint(flask_smorest.Blueprint):
    def __init__(self, *args, query_role: str | None = None, **kwargs):
        """`query_role` ("ingest", "analytics", "maps") sets its views' connection settings
        (statement timeout; see database.ROLES)."""
        super().__init__(*args, **kwargs)
        if query_role:
            from civic_api.database import use_role

            self.before_request(lambda: use_role(query_role))

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        """flask-smorest's arguments; a required JSON body must be sent (else 422)."""
        decorator = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return decorator

        def with_body(func):
            inner = decorator(func)

            @wraps(inner)
            def wrapper(*args, **kw):
                if not request.get_data(cache=True).strip():
                    message = "A JSON body is required."
                    raise InvalidInput(message, {"json": {"_schema": [message]}})
                return inner(*args, **kw)

            return wrapper

        return with_body

    def app_checked(self, func):
        """Require a Firebase App Check token when APP_CHECK_PROJECT is set; document it."""
        from civic_api.app_check import HEADER, require_app_check

        @wraps(func)
        def wrapper(*args, **kwargs):
            require_app_check()
            return func(*args, **kwargs)

        parameter = {
            "in": "header",
            "name": HEADER,
            "required": False,
            "schema": {"type": "string"},
            "description": "Firebase App Check token; required when the server enforces it",
        }
        # Next to the parameters of @arguments (doc(parameters=…) would replace those).
        wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
        wrapper._apidoc.setdefault("arguments", {}).setdefault("parameters", []).append(parameter)
        return self.alt_response(401, description="App Check enforced and the token invalid")(
            wrapper
        )

    def limited(self, setting_name: str, *, shared: str | None = None):
        """Limit this view per client to the configured `setting_name` and document the 429.

        `shared` names a budget that several views draw from together (e.g. all aggregates).
        """
        limit = setting(setting_name)
        apply = limiter.shared_limit(limit, scope=shared) if shared else limiter.limit(limit)

        def decorator(func):
            document = self.alt_response(429, description="Too many requests; see Retry-After")
            return document(apply(func))

        return decorator

    def _document_pagination_metadata(self, spec, resp_doc):
        # The header is a JSON string, not an object in OpenAPI's header serialisation.
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = PAGINATION_HEADER

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


class StreamAborted(Exception):
    """A streamed response failed after its headers went out; only its connection ends."""


def safe_stream(chunks):
    """Stream `chunks`. A failure mid-way is logged by type only (database messages can echo
    row values) and closes the connection, so the client sees a truncated transfer and the
    worker lives on. (The streamed query runs after the view's session is closed: validate
    before streaming, so that bad input is still a JSON error, and call
    database.bind_request() in the generator, so that it runs with the request's timeouts.)
    """
    try:
        yield from chunks
    except Exception as exc:
        code = getattr(getattr(exc, "orig", None), "pgcode", None)
        logger.error("stream aborted by %s (SQLSTATE %s)", type(exc).__name__, code)
        raise StreamAborted() from None


def plain_text(value: str) -> None:
    """Validator: no NUL or other control characters (tabs and newlines are fine)."""
    from civic_api.categories.service import FORBIDDEN_CHARACTERS

    if FORBIDDEN_CHARACTERS.search(value):
        raise ma.ValidationError("Must be plain text without control characters.")


class Schema(ma.Schema):
    """Every loaded integer fits the database and every date lies in a plausible year."""

    class Meta:
        ordered = True

    # JSON has real booleans and integers: no 0/1 or "true" for a boolean, no "5" or 5.0 for an
    # integer (query strings and headers, which are text, are parsed as before).
    _JSON_TYPES = ((ma.fields.Boolean, (bool,)), (ma.fields.Integer, (int,)))

    @ma.pre_load
    def _strict_json_types(self, data, **kwargs):
        if isinstance(self, QueryArgsSchema | HeadersSchema) or not isinstance(data, dict):
            return data
        errors = {}
        for name, field in self.load_fields.items():
            key = field.data_key or name
            value = data.get(key)
            for kind, types in self._JSON_TYPES:
                if isinstance(field, kind) and key in data and value is not None:
                    # bool is an int in Python, but true is not an integer in JSON.
                    wrong = isinstance(value, bool) and bool not in types
                    if wrong or not isinstance(value, types):
                        errors[key] = [field.error_messages["invalid"]]
        if errors:
            raise ma.ValidationError(errors)
        return data

    @ma.validates_schema(skip_on_field_errors=True)
    def _edge_bounds(self, data, **kwargs):
        keys = {f.attribute or name: f.data_key or name for name, f in self.load_fields.items()}
        for attribute, value in data.items():
            edge.check_loaded(value, (keys.get(attribute, attribute),))


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
    return api
