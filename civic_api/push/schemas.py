"""Device, subscription and delivery-statistics schemas."""

import marshmallow as ma

from civic_api.extensions import HeadersSchema, Schema
from civic_api.models import LOCALES
from civic_api.push.models import PLATFORMS, STATES, TOKEN_MAX, TOKEN_TYPES
from civic_api.push.service import MAX_SUBSCRIPTIONS

# FCM tokens and installation ids are printable ASCII without spaces.
TOKEN_FORMAT = ma.validate.Regexp(
    r"^[\x21-\x7e]*$", error="Must be printable ASCII without spaces (an FCM token)."
)


class DeviceSecretHeadersSchema(HeadersSchema):
    device_secret = ma.fields.String(
        data_key="Device-Secret",
        metadata={"description": "The secret returned when the device was registered"},
    )


class DeviceCreateSchema(Schema):
    fcm_token = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(min=1, max=TOKEN_MAX), TOKEN_FORMAT],
        metadata={"description": "The app's FCM registration token (or installation id)"},
    )
    token_type = ma.fields.String(
        load_default="token",
        validate=ma.validate.OneOf(TOKEN_TYPES),
        metadata={"description": "token (registration token, default) or fid"},
    )
    platform = ma.fields.String(required=True, validate=ma.validate.OneOf(PLATFORMS))
    locale = ma.fields.String(
        validate=ma.validate.OneOf(LOCALES),
        metadata={"description": "Language of the notifications; defaults to the negotiated one"},
    )


class DeviceUpdateSchema(Schema):
    fcm_token = ma.fields.String(validate=[ma.validate.Length(min=1, max=TOKEN_MAX), TOKEN_FORMAT])
    token_type = ma.fields.String(validate=ma.validate.OneOf(TOKEN_TYPES))
    platform = ma.fields.String(validate=ma.validate.OneOf(PLATFORMS))
    locale = ma.fields.String(validate=ma.validate.OneOf(LOCALES))

    @ma.validates_schema
    def not_empty(self, data: dict, **kwargs) -> None:
        if not data:
            raise ma.ValidationError(
                "Send at least one of fcm_token, token_type, platform, locale."
            )


class DeviceSchema(Schema):
    id = ma.fields.UUID()
    token_type = ma.fields.String(metadata={"enum": list(TOKEN_TYPES)})
    platform = ma.fields.String(metadata={"enum": list(PLATFORMS)})
    locale = ma.fields.String(metadata={"enum": list(LOCALES)})
    active = ma.fields.Boolean(
        metadata={"description": "False once FCM reported the token dead; send a new token"}
    )
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class DeviceCreatedSchema(DeviceSchema):
    secret = ma.fields.String(
        metadata={
            "description": "Shown once. Send it as the Device-Secret header to change or delete "
            "the device; it cannot be recovered."
        }
    )


class SubscriptionSchema(Schema):
    municipality = ma.fields.String(required=True, metadata={"example": "prishtina"})
    categories = ma.fields.List(
        ma.fields.String(),
        load_default=list,
        validate=ma.validate.Length(max=100),
        metadata={"description": "Category codes; empty or absent means every category"},
    )


class SubscriptionsSchema(Schema):
    subscriptions = ma.fields.List(
        ma.fields.Nested(SubscriptionSchema),
        required=True,
        validate=ma.validate.Length(max=MAX_SUBSCRIPTIONS),
    )


class DeviceDetailSchema(DeviceSchema):
    subscriptions = ma.fields.List(ma.fields.Nested(SubscriptionSchema))
    reports = ma.fields.List(ma.fields.UUID(), metadata={"description": "Followed reports"})


class DeliveryStatsSchema(Schema):
    total = ma.fields.Integer()
    by_state = ma.fields.Dict(
        keys=ma.fields.String(metadata={"enum": list(STATES)}),
        values=ma.fields.Integer(),
        metadata={"example": {s: 0 for s in STATES}},
    )
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "Failed and dead messages by last error code"},
    )
    may_have_arrived = ma.fields.Integer(
        metadata={
            "description": "Unknown messages (sent twice without an answer) and dead ones "
            "with a send that got no answer: FCM may have delivered them"
        }
    )


class RequeuedSchema(Schema):
    requeued = ma.fields.Integer(metadata={"description": "Dead messages made pending again"})
    may_have_arrived = ma.fields.Integer(
        metadata={
            "description": "Of those, how many had a send without an answer: the phone may "
            "already show them, and will show the resend in its place"
        }
    )
