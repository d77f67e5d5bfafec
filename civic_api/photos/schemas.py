"""Photo upload, listing and moderation schemas."""

import marshmallow as ma
from flask_smorest.fields import Upload

from civic_api.extensions import Schema
from civic_api.photos.models import MODERATION


class PhotoUploadSchema(Schema):
    file = Upload(
        required=True,
        metadata={
            "description": "A JPEG, PNG, WebP or HEIC image. Its name and declared type are "
            "ignored; it is decoded, turned upright and stored as a new JPEG without metadata."
        },
    )


class PhotoSchema(Schema):
    id = ma.fields.UUID()
    content_type = ma.fields.String(metadata={"example": "image/jpeg"})
    width = ma.fields.Integer()
    height = ma.fields.Integer()
    size_bytes = ma.fields.Integer()
    moderation = ma.fields.String(
        metadata={
            "enum": list(MODERATION),
            "description": "approved photos of non-sensitive categories are public",
        }
    )
    created_at = ma.fields.DateTime()


class PhotoModerationSchema(Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["approved", "rejected"]))
