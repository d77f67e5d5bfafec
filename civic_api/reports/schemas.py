"""Report request and response schemas."""

from datetime import UTC, datetime, timedelta

import marshmallow as ma
from flask import current_app

from civic_api.categories.schemas import CategoryRefSchema
from civic_api.extensions import HeadersSchema, Schema, StrictFloat, plain_text
from civic_api.models import LOCALES
from civic_api.municipalities.schemas import MunicipalityRefSchema
from civic_api.reports.models import (
    DESCRIPTION_MAX,
    FEEDBACK_COMMENT_MAX,
    FIXED_ANSWERS,
    STATUSES,
)
from geo.points import InvalidCoordinates, lonlat_point

LOCATION_DOC = {
    "description": "{lat, lon} in WGS84, or a GeoJSON Point ([lon, lat])",
    "oneOf": [
        {
            "type": "object",
            "required": ["lat", "lon"],
            "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
            "example": {"lat": 42.6629, "lon": 21.1655},
        },
        {
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"type": "string", "enum": ["Point"]},
                "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2},
            },
            "example": {"type": "Point", "coordinates": [21.1655, 42.6629]},
        },
    ],
}


class Location(ma.fields.Field):
    """A WGS84 point given as {lat, lon} or as a GeoJSON Point; loads to a shapely Point."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ma.ValidationError("Must be an object {lat, lon} or a GeoJSON Point.")
        if "coordinates" in value or "type" in value:
            coords = value.get("coordinates")
            # An optional third value (elevation) is allowed by GeoJSON and ignored.
            if value.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
                raise ma.ValidationError(
                    'A GeoJSON location must be {"type": "Point", "coordinates": [lon, lat]}.'
                )
            if len(coords) > 3 or any(
                isinstance(c, bool) or not isinstance(c, int | float) for c in coords
            ):
                raise ma.ValidationError("Coordinates must be two or three numbers.")
            lon, lat = coords[0], coords[1]
        elif set(value) == {"lat", "lon"}:
            lat, lon = value["lat"], value["lon"]
        else:
            raise ma.ValidationError("Must have exactly the keys lat and lon.")
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in (lon, lat)):
            raise ma.ValidationError("Coordinates must be numbers.")
        try:
            return lonlat_point(float(lon), float(lat))
        except (InvalidCoordinates, OverflowError) as exc:
            raise ma.ValidationError(str(exc)) from None


class ReportCreateSchema(Schema):
    category = ma.fields.String(
        required=True, metadata={"description": "A category code", "example": "commenting"}
    )
    location = Location(required=True, metadata=LOCATION_DOC)
    accuracy_m = StrictFloat(
        validate=ma.validate.Range(min=0, max=10_000),
        metadata={"description": "Horizontal accuracy of the location, metres", "example": 15},
    )
    occurred_at = ma.fields.AwareDateTime(
        error_messages={
            "invalid_awareness": "Must include a UTC offset, e.g. 2026-11-20T18:45:00+01:00."
        },
        metadata={
            "description": "When it happened, ISO 8601 with a UTC offset; defaults to now",
            "example": "2026-11-20T18:45:00+01:00",
        },
    )
    description = ma.fields.String(
        validate=[ma.validate.Length(max=DESCRIPTION_MAX), plain_text],
        metadata={"description": f"Plain text, at most {DESCRIPTION_MAX} characters"},
    )
    attributes = ma.fields.Dict(
        keys=ma.fields.String(),
        load_default=dict,
        metadata={
            "description": "Answers to the category's attributes, by attribute code",
            "example": {"perpetrator_gender": "male", "place_type": "street"},
        },
    )
    locale = ma.fields.String(
        validate=ma.validate.OneOf(LOCALES),
        metadata={"description": "The reporter's language; defaults to the negotiated one"},
    )

    @ma.validates("occurred_at")
    def occurred_recently(self, value: datetime, **kwargs) -> None:
        now = datetime.now(UTC)
        tolerance = timedelta(seconds=current_app.config["REPORT_FUTURE_TOLERANCE_SECONDS"])
        max_age = timedelta(days=current_app.config["REPORT_MAX_AGE_DAYS"])
        if value > now + tolerance:
            raise ma.ValidationError("Must not be in the future.")
        if value < now - max_age:
            raise ma.ValidationError(f"Must be within the last {max_age.days} days.")

    @ma.post_load
    def strip_description(self, data: dict, **kwargs) -> dict:
        if "description" in data:
            data["description"] = data["description"].strip() or None
        return data


class ReportCreatedSchema(Schema):
    id = ma.fields.UUID()
    follow_up_token = ma.fields.String(
        metadata={
            "description": "Shown once. Send it as the Follow-Up-Token header to read the "
            "report's status; it cannot be recovered."
        }
    )
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    municipality = ma.fields.Nested(MunicipalityRefSchema)
    submitted_at = ma.fields.DateTime()


_CREATED = ReportCreatedSchema()  # built once: dumping does not change it


def created_body(report) -> dict:
    """The response to a new report, as JSON: kept (sealed) for idempotent replays."""
    return _CREATED.dump(report)


class FollowUpHeadersSchema(HeadersSchema):
    follow_up_token = ma.fields.String(
        data_key="Follow-Up-Token",
        metadata={"description": "The token returned when the report was submitted"},
    )


class IdempotencyHeadersSchema(HeadersSchema):
    idempotency_key = ma.fields.String(
        data_key="Idempotency-Key",
        validate=ma.validate.Regexp(
            r"^[\x21-\x7e]{16,255}$",
            error="Must be 16 to 255 printable ASCII characters without spaces (use a UUID).",
        ),
        metadata={
            "description": "A unique key per report (a UUID). A retry with the same key and "
            "body returns the first response and creates nothing new."
        },
    )


class TimelineEntrySchema(Schema):
    at = ma.fields.DateTime()
    type = ma.fields.String(
        metadata={
            "enum": ["submitted", "status_changed", "public_response", "reporter_comment"],
            "description": "public_response: a message from the municipality",
        }
    )
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    message = ma.fields.String(allow_none=True)


class OriginalStatusSchema(Schema):
    # Only the status: when the original changed would tell its reporter's activity (a
    # comment bumps updated_at) to someone else.
    status = ma.fields.String(metadata={"enum": list(STATUSES)})


class ReportStatusSchema(Schema):
    id = ma.fields.UUID()
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    duplicate_of = ma.fields.Nested(
        OriginalStatusSchema,
        allow_none=True,
        metadata={"description": "For a duplicate: the status of the report it duplicates"},
    )
    can_reopen_until = ma.fields.DateTime(
        allow_none=True, metadata={"description": "For a resolved report: the reopening deadline"}
    )
    category = ma.fields.Nested(CategoryRefSchema)
    municipality = ma.fields.Nested(MunicipalityRefSchema)
    occurred_at = ma.fields.DateTime()
    submitted_at = ma.fields.DateTime()
    timeline = ma.fields.List(ma.fields.Nested(TimelineEntrySchema))
    feedback_open = ma.fields.Boolean(
        metadata={"description": "The report is resolved or rejected and awaits your feedback"}
    )


class CommentCreateSchema(Schema):
    message = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=1, max=DESCRIPTION_MAX), plain_text]
    )


class ReopenSchema(Schema):
    reason = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=DESCRIPTION_MAX), plain_text],
        metadata={"description": "Why it is not resolved"},
    )


class FeedbackSchema(Schema):
    fixed = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(FIXED_ANSWERS),
        metadata={"description": "Was the problem fixed? yes, no or dont_know"},
    )
    rating = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(1, 5),
        metadata={"description": "How satisfied you are with the handling, 1 (not) to 5 (very)"},
    )
    comment = ma.fields.String(
        allow_none=True,
        validate=[ma.validate.Length(min=1, max=FEEDBACK_COMMENT_MAX), plain_text],
    )
    first_report = ma.fields.Boolean(
        allow_none=True, metadata={"description": "Is this the first report you have made?"}
    )
    created_at = ma.fields.DateTime(dump_only=True)
