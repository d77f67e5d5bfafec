"""The Api, Schema and field subclasses shared by every feature."""

import flask_smorest
import marshmallow as ma
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


class Schema(ma.Schema):
    class Meta:
        ordered = True


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


def init_api(app) -> Api:
    api = Api(app, spec_kwargs={"info": {"description": app.config.get("API_DESCRIPTION", "")}})
    api.register_field(Translated, "string", None)
    api.register_field(StrictFloat, "number", None)
    return api
