"""Anonymous devices: registration, token refresh, subscriptions and report follow-up links."""

import uuid

from flask import url_for
from flask.views import MethodView

from civic_api.database import session
from civic_api.extensions import Blueprint
from civic_api.i18n import current_locale
from civic_api.push import service
from civic_api.push.schemas import (
    DeviceCreatedSchema,
    DeviceCreateSchema,
    DeviceDetailSchema,
    DeviceSecretHeadersSchema,
    DeviceUpdateSchema,
    SubscriptionsSchema,
)
from civic_api.reports.schemas import FollowUpHeadersSchema

blp = Blueprint(
    "devices",
    __name__,
    url_prefix="/v1/devices",
    query_role="ingest",
    description="Phones that receive push notifications. Anonymous: an FCM token, a platform "
    "and a language, managed with the device secret.",
)

DEVICE_EXAMPLE = {"fcm_token": "dXk3...:APA91b...", "platform": "android", "locale": "sq"}
NOT_FOUND = "Unknown device, or a missing or wrong Device-Secret"


def fields(device) -> dict:
    return {
        "id": device.id,
        "token_type": device.token_type,
        "platform": device.platform,
        "locale": device.locale,
        "active": device.active,
        "created_at": device.created_at,
        "updated_at": device.updated_at,
    }


def detail(device) -> dict:
    return fields(device) | {
        "subscriptions": service.subscriptions(device),
        "reports": service.linked_reports(device),
    }


@blp.route("")
class DevicesView(MethodView):
    @blp.limited("DEVICE_RATE_LIMIT")
    @blp.app_checked
    @blp.arguments(DeviceCreateSchema, example=DEVICE_EXAMPLE)
    @blp.response(201, DeviceCreatedSchema)
    def post(self, data):
        """Register a device for push notifications"""
        device, secret = service.register_device(
            locale=data.pop("locale", None) or current_locale(), **data
        )
        session.commit()
        location = url_for("devices.DeviceByIdView", device_id=device.id)
        return fields(device) | {"secret": secret}, 201, {"Location": location}


@blp.route("/<uuid:device_id>")
class DeviceByIdView(MethodView):
    @blp.arguments(DeviceSecretHeadersSchema, location="headers")
    @blp.response(200, DeviceDetailSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def get(self, headers, device_id: uuid.UUID):
        """Read a device with its subscriptions and followed reports"""
        device = service.device_for_secret(device_id, headers.get("device_secret"))
        return detail(device)

    @blp.arguments(DeviceSecretHeadersSchema, location="headers")
    @blp.arguments(DeviceUpdateSchema, example={"fcm_token": "dXk3...:APA91c...", "locale": "sr"})
    @blp.response(200, DeviceDetailSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def patch(self, headers, data, device_id: uuid.UUID):
        """Refresh the token (reactivates the device) or change the platform or language"""
        device = service.device_for_secret(device_id, headers.get("device_secret"))
        service.update_device(device, **data)
        session.commit()
        return detail(device)

    @blp.arguments(DeviceSecretHeadersSchema, location="headers")
    @blp.response(204)
    @blp.alt_response(404, description=NOT_FOUND)
    def delete(self, headers, device_id: uuid.UUID):
        """Delete a device with its subscriptions and report links"""
        device = service.device_for_secret(device_id, headers.get("device_secret"))
        service.delete_device(device)
        session.commit()


@blp.route("/<uuid:device_id>/subscriptions")
class DeviceSubscriptionsView(MethodView):
    @blp.arguments(DeviceSecretHeadersSchema, location="headers")
    @blp.response(200, SubscriptionsSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def get(self, headers, device_id: uuid.UUID):
        """List the municipalities and categories whose announcements the device receives"""
        device = service.device_for_secret(device_id, headers.get("device_secret"))
        return {"subscriptions": service.subscriptions(device)}

    @blp.arguments(DeviceSecretHeadersSchema, location="headers")
    @blp.arguments(
        SubscriptionsSchema,
        example={"subscriptions": [{"municipality": "prishtina", "categories": []}]},
    )
    @blp.response(200, SubscriptionsSchema)
    @blp.alt_response(404, description=NOT_FOUND)
    def put(self, headers, data, device_id: uuid.UUID):
        """Replace the device's announcement subscriptions (no categories: all of them)"""
        device = service.device_for_secret(device_id, headers.get("device_secret"))
        found = service.replace_subscriptions(device, data["subscriptions"])
        session.commit()
        return {"subscriptions": found}


@blp.route("/<uuid:device_id>/reports/<uuid:report_id>")
class DeviceReportView(MethodView):
    @blp.arguments(DeviceSecretHeadersSchema, location="headers")
    @blp.arguments(FollowUpHeadersSchema, location="headers")
    @blp.response(204)
    @blp.alt_response(404, description=NOT_FOUND + "; or the report's id and token do not match")
    def put(self, device_headers, report_headers, device_id: uuid.UUID, report_id: uuid.UUID):
        """Follow a report: its status changes and responses reach this device"""
        device = service.device_for_secret(device_id, device_headers.get("device_secret"))
        service.link_report(device, report_id, report_headers.get("follow_up_token"))
        session.commit()

    @blp.arguments(DeviceSecretHeadersSchema, location="headers")
    @blp.response(204)
    @blp.alt_response(404, description=NOT_FOUND)
    def delete(self, headers, device_id: uuid.UUID, report_id: uuid.UUID):
        """Stop following a report"""
        device = service.device_for_secret(device_id, headers.get("device_secret"))
        service.unlink_report(device, report_id)
        session.commit()
