"""Report photos: the reporter uploads with the follow-up token; staff read and moderate."""

import uuid

from flask import Response, current_app
from flask.views import MethodView

from civic_api.audit import service as audit
from civic_api.database import session
from civic_api.extensions import Blueprint
from civic_api.photos import service
from civic_api.photos.schemas import PhotoModerationSchema, PhotoSchema, PhotoUploadSchema
from civic_api.photos.storage import store_for
from civic_api.reports.routes import reporters_report
from civic_api.reports.schemas import FollowUpHeadersSchema
from civic_api.staff.auth import current_principal
from civic_api.staff.service import utcnow
from civic_api.triage.service import get_report_for

blp = Blueprint(
    "photos",
    __name__,
    url_prefix="/v1",
    description="Photos of reports, stripped of all metadata (GPS, camera, comments). Staff of "
    "the report's municipality see them; the public only approved photos of non-sensitive "
    "categories.",
)

IMAGE_RESPONSE = {
    "200": {
        "description": "The stored JPEG",
        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def photo_store():
    return store_for(current_app)


def upload_limit(config) -> int:
    """The request size that admits one photo of PHOTO_MAX_BYTES plus multipart framing."""
    return config["PHOTO_MAX_BYTES"] + 64 * 1024


def image(photo, private: bool = True) -> Response:
    # Public copies are cached briefly: a rejected or erased photo leaves caches within minutes.
    response = Response(photo_store().get(photo.storage_key), mimetype=photo.content_type)
    response.headers["Cache-Control"] = "private, no-store" if private else "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="{photo.id}.jpg"'
    return response


@blp.route("/reports/<uuid:report_id>/photos")
class ReportPhotosView(MethodView):
    # civic_api.edge lets multipart bodies through to views that say so.
    upload_limit = staticmethod(upload_limit)

    @blp.arguments(FollowUpHeadersSchema, location="headers")
    @blp.response(200, PhotoSchema(many=True))
    @blp.alt_response(404, description="Unknown report, or a missing or wrong token")
    def get(self, headers, report_id: uuid.UUID):
        """List the photos of your report"""
        return service.photos_of(reporters_report(report_id, headers).id)

    @blp.arguments(FollowUpHeadersSchema, location="headers")
    @blp.arguments(PhotoUploadSchema, location="files")
    @blp.response(201, PhotoSchema)
    @blp.alt_response(404, description="Unknown report, or a missing or wrong token")
    @blp.alt_response(409, description="The report already has the most photos allowed")
    @blp.alt_response(413, description="The file or its pixel count is too large")
    @blp.alt_response(422, description="Not a JPEG, PNG, WebP or HEIC image, or damaged")
    def post(self, headers, files, report_id: uuid.UUID):
        """Attach a photo to your report (multipart/form-data, field `file`)"""
        report = reporters_report(report_id, headers)
        store = photo_store()
        limits = service.PhotoLimits.from_config(current_app.config)
        photo = service.add_photo(report, files["file"].read(), store, limits)
        try:
            session.commit()
        except BaseException:
            session.rollback()
            service.discard(store, [photo.storage_key])
            raise
        return photo


@blp.route("/reports/<uuid:report_id>/photos/<uuid:photo_id>")
class ReportPhotoByIdView(MethodView):
    @blp.arguments(FollowUpHeadersSchema, location="headers")
    @blp.doc(responses=IMAGE_RESPONSE)
    @blp.alt_response(404, description="Unknown report or photo, or a wrong token")
    def get(self, headers, report_id: uuid.UUID, photo_id: uuid.UUID):
        """Download one of your report's photos"""
        return image(service.photo_of(reporters_report(report_id, headers).id, photo_id))

    @blp.arguments(FollowUpHeadersSchema, location="headers")
    @blp.response(204)
    @blp.alt_response(404, description="Unknown report or photo, or a wrong token")
    def delete(self, headers, report_id: uuid.UUID, photo_id: uuid.UUID):
        """Delete one of your report's photos"""
        photo = service.photo_of(reporters_report(report_id, headers).id, photo_id)
        key = photo.storage_key
        session.delete(photo)
        session.commit()
        service.discard(photo_store(), [key])


@blp.route("/photos/<uuid:photo_id>")
class PublicPhotoView(MethodView):
    @blp.doc(responses=IMAGE_RESPONSE)
    @blp.alt_response(404, description="No such photo, or not public")
    def get(self, photo_id: uuid.UUID):
        """A public photo: approved by staff, of a report in a non-sensitive category"""
        return image(service.public_photo(photo_id), private=False)


@blp.route("/admin/reports/<uuid:report_id>/photos")
class AdminReportPhotosView(MethodView):
    @blp.auth("reports:read")
    @blp.response(200, PhotoSchema(many=True))
    @blp.alt_response(404, description="No such report in your municipalities")
    def get(self, report_id: uuid.UUID):
        """List a report's photos"""
        return service.photos_of(get_report_for(current_principal(), report_id).id)


@blp.route("/admin/reports/<uuid:report_id>/photos/<uuid:photo_id>")
class AdminReportPhotoByIdView(MethodView):
    @blp.auth("reports:read")
    @blp.doc(responses=IMAGE_RESPONSE)
    @blp.alt_response(404, description="No such report in your municipalities, or no such photo")
    def get(self, report_id: uuid.UUID, photo_id: uuid.UUID):
        """Download a report's photo (reads of sensitive reports' photos are audited)"""
        principal = current_principal()
        report = get_report_for(principal, report_id)
        photo = service.photo_of(report.id, photo_id)
        if report.category.sensitive:
            audit.record(
                principal.staff_id,
                "photo.read",
                "photo",
                photo.id,
                municipality_ids=[report.municipality_id],
                after={"report_id": str(report.id)},
            )
            session.commit()
        return image(photo)


@blp.route("/admin/reports/<uuid:report_id>/photos/<uuid:photo_id>/moderation")
class AdminPhotoModerationView(MethodView):
    @blp.auth("reports:write")
    @blp.arguments(PhotoModerationSchema)
    @blp.response(200, PhotoSchema)
    @blp.alt_response(404, description="No such report in your municipalities, or no such photo")
    def put(self, data, report_id: uuid.UUID, photo_id: uuid.UUID):
        """Approve or reject a photo (approved photos of non-sensitive categories are public)"""
        principal = current_principal()
        report = get_report_for(principal, report_id)
        photo = service.moderate(
            principal, report, service.photo_of(report.id, photo_id), data["decision"], utcnow()
        )
        session.commit()
        return photo
