"""Schemas of the staff-side report API."""

import marshmallow as ma

from civic_api.categories.schemas import CategoryRefSchema
from civic_api.extensions import DelimitedList, HeadersSchema, QueryArgsSchema, Schema, plain_text
from civic_api.models import LOCALES, TEXT_MAX
from civic_api.municipalities.schemas import MunicipalityRefSchema
from civic_api.reports.models import EVENT_TYPES, PRIORITIES, STATUSES
from civic_api.reports.schemas import FeedbackSchema
from civic_api.triage.service import SORTS

MESSAGE = ma.fields.String(validate=[ma.validate.Length(min=1, max=TEXT_MAX), plain_text])


class BBox(ma.fields.Field):
    """west,south,east,north in WGS84 degrees."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            west, south, east, north = (float(v) for v in str(value).split(","))
        except ValueError:
            raise ma.ValidationError("Must be four numbers: west,south,east,north.") from None
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ma.ValidationError(
                "Must satisfy -180 <= west < east <= 180, -90 <= south < north <= 90."
            )
        return west, south, east, north


class AdminReportQueryArgsSchema(QueryArgsSchema):
    status = DelimitedList(
        ma.fields.String(validate=ma.validate.OneOf(STATUSES)),
        metadata={"description": "Comma-separated statuses"},
    )
    priority = DelimitedList(ma.fields.String(validate=ma.validate.OneOf(PRIORITIES)))
    category = DelimitedList(ma.fields.String(), metadata={"description": "Category codes"})
    group = DelimitedList(ma.fields.String(), metadata={"description": "Category group codes"})
    municipality = DelimitedList(ma.fields.String(), metadata={"description": "Slugs"})
    submitted_from = ma.fields.AwareDateTime(metadata={"description": "Inclusive, ISO 8601"})
    submitted_to = ma.fields.AwareDateTime(metadata={"description": "Exclusive, ISO 8601"})
    bbox = BBox(metadata={"type": "string", "example": "21.10,42.62,21.20,42.70"})
    q = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=200), plain_text],
        metadata={"description": "Text the description contains (case-insensitive)"},
    )
    assignee = ma.fields.String(
        validate=ma.validate.Regexp(r"^(me|none|[0-9]{1,9})$"),
        metadata={"description": "A staff id, me, or none (unassigned)"},
    )
    overdue = ma.fields.Boolean(
        metadata={"description": "Past the category's response target, not yet acknowledged"}
    )
    sort = ma.fields.String(
        load_default="-submitted_at",
        validate=ma.validate.OneOf([*SORTS, *(f"-{s}" for s in SORTS)]),
        metadata={"description": "A field, - for descending"},
    )

    @ma.validates_schema
    def dates_in_order(self, data, **kwargs):
        if data.get("submitted_from") and data.get("submitted_to"):
            if data["submitted_from"] >= data["submitted_to"]:
                raise ma.ValidationError("Must be after submitted_from.", "submitted_to")


class StaffRefSchema(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()


class LatLonSchema(Schema):
    lat = ma.fields.Float()
    lon = ma.fields.Float()


class AdminReportSchema(Schema):
    id = ma.fields.UUID()
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    priority = ma.fields.String(metadata={"enum": list(PRIORITIES)})
    category = ma.fields.Nested(CategoryRefSchema)
    municipality = ma.fields.Nested(MunicipalityRefSchema)
    location = ma.fields.Nested(
        LatLonSchema,
        metadata={
            "description": "The exact location; its res-8 H3 cell's centre once coarsened "
            "(location_coarsened_at) or erased by the reporter (erased_at)"
        },
    )
    accuracy_m = ma.fields.Float(allow_none=True)
    erased_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "When the reporter erased text, answers and photos"},
    )
    location_coarsened_at = ma.fields.DateTime(allow_none=True)
    occurred_at = ma.fields.DateTime()
    submitted_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    description = ma.fields.String(
        allow_none=True, metadata={"description": "null when hidden by moderation (but to admins)"}
    )
    description_hidden = ma.fields.Boolean()
    description_hidden_reason = ma.fields.String(allow_none=True)
    attributes = ma.fields.Dict()
    locale = ma.fields.String(metadata={"enum": list(LOCALES)})
    assignee = ma.fields.Nested(StaffRefSchema, allow_none=True)
    response_due_at = ma.fields.DateTime(allow_none=True)
    overdue = ma.fields.Boolean()
    duplicate_of_id = ma.fields.UUID(allow_none=True, data_key="duplicate_of")
    first_acknowledged_at = ma.fields.DateTime(allow_none=True)
    first_responded_at = ma.fields.DateTime(allow_none=True)
    first_resolved_at = ma.fields.DateTime(allow_none=True)
    resolved_at = ma.fields.DateTime(allow_none=True)
    allowed_transitions = ma.fields.List(ma.fields.String())


class EventSchema(Schema):
    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    type = ma.fields.String(metadata={"enum": list(EVENT_TYPES)})
    public = ma.fields.Boolean(metadata={"description": "Shown to the reporter"})
    actor = ma.fields.Nested(
        StaffRefSchema, allow_none=True, metadata={"description": "null: the reporter"}
    )
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True)
    data = ma.fields.Dict()


class AdminReportDetailSchema(AdminReportSchema):
    timeline = ma.fields.List(ma.fields.Nested(EventSchema))
    feedback = ma.fields.Nested(
        FeedbackSchema,
        allow_none=True,
        metadata={"description": "The reporter's answer once it was resolved or rejected"},
    )


class ReportUpdateSchema(Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    message = MESSAGE
    duplicate_of = ma.fields.UUID(metadata={"description": "With status duplicate"})
    assignee_id = ma.fields.Integer(strict=True, allow_none=True)
    priority = ma.fields.String(validate=ma.validate.OneOf(PRIORITIES))

    @ma.validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Send at least one of status, assignee_id, priority.")

    @ma.post_load
    def strip(self, data, **kwargs):
        if "message" in data:
            data["message"] = data["message"].strip() or None
        return data


class IfMatchHeadersSchema(HeadersSchema):
    if_match = ma.fields.String(
        data_key="If-Match",
        metadata={"description": "The ETag of the report as read; a stale one gives 412"},
    )


class ResponseCreateSchema(Schema):
    message = MESSAGE
    template_id = ma.fields.Integer(strict=True)

    @ma.validates_schema
    def one_of(self, data, **kwargs):
        if ("message" in data) == ("template_id" in data):
            raise ma.ValidationError("Send either message or template_id.")


class NoteCreateSchema(Schema):
    message = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=1, max=TEXT_MAX), plain_text]
    )


class ModerationSchema(Schema):
    description_hidden = ma.fields.Boolean(required=True)
    reason = ma.fields.String(validate=[ma.validate.Length(min=1, max=500), plain_text])


class CandidateArgsSchema(QueryArgsSchema):
    radius_m = ma.fields.Float(load_default=200, validate=ma.validate.Range(min=1, max=5000))
    days = ma.fields.Integer(load_default=14, validate=ma.validate.Range(min=1, max=365))
    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


class CandidateSchema(AdminReportSchema):
    distance_m = ma.fields.Float()


class TemplateArgsSchema(QueryArgsSchema):
    category = ma.fields.String(metadata={"description": "Templates for this category code"})


class TemplateSchema(Schema):
    id = ma.fields.Integer()
    category = ma.fields.Nested(CategoryRefSchema, allow_none=True)
    name = ma.fields.String()
    body = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    active = ma.fields.Boolean()


class TemplateWriteSchema(Schema):
    category = ma.fields.String(allow_none=True, metadata={"description": "A code; null: all"})
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    body = ma.fields.Dict(
        required=True,
        keys=ma.fields.String(validate=ma.validate.OneOf(LOCALES)),
        values=ma.fields.String(validate=[ma.validate.Length(min=1, max=TEXT_MAX), plain_text]),
        metadata={"description": "The text in sq, sr and en"},
    )
    active = ma.fields.Boolean()

    @ma.validates("body")
    def every_locale(self, value, **kwargs):
        missing = [loc for loc in LOCALES if loc not in value]
        if missing:
            raise ma.ValidationError(f"Missing languages: {', '.join(missing)}.")


class TemplateUpdateSchema(TemplateWriteSchema):
    """The same fields, each optional (used with partial=True)."""
