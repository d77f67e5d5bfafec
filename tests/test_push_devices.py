"""/v1/devices: anonymous registration, token refresh, subscriptions and report links."""

import hashlib
import logging
import uuid

import pytest
from sqlalchemy import func, select, text

from civic_api.database import session
from civic_api.push.models import Device, ReportLink, Subscription
from civic_api.push.service import MAX_REPORT_LINKS

TOKEN = "dXk3Zm9vOkFQQTkxYmZha2UtdG9rZW4tZm9yLXRlc3Rz"


@pytest.fixture
def register(client):
    def register(**fields):
        body = {"fcm_token": TOKEN, "platform": "android", "locale": "sq"} | fields
        return client.post("/v1/devices", json=body)

    return register


@pytest.fixture
def device(register):
    response = register()
    assert response.status_code == 201
    return response.get_json()


def secret(device):
    return {"Device-Secret": device["secret"]}


def test_registration_returns_an_id_and_a_one_time_secret(register, caplog):
    caplog.set_level(logging.DEBUG)
    response = register()
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {
        "id",
        "token_type",
        "platform",
        "locale",
        "active",
        "created_at",
        "updated_at",
        "secret",
    }
    assert (body["token_type"], body["platform"], body["locale"], body["active"]) == (
        "token",
        "android",
        "sq",
        True,
    )
    assert response.headers["Location"] == f"/v1/devices/{body['id']}"
    stored = session.get(Device, uuid.UUID(body["id"]))
    assert stored.fcm_token == TOKEN
    assert stored.secret_hash == hashlib.sha256(body["secret"].encode()).digest()
    row = session.execute(text("SELECT * FROM push_device")).mappings().one()
    assert body["secret"] not in str(dict(row))
    assert TOKEN not in caplog.text and body["secret"] not in caplog.text


def test_the_language_defaults_to_the_negotiated_one(client):
    response = client.post(
        "/v1/devices",
        json={"fcm_token": TOKEN, "platform": "ios"},
        headers={"Accept-Language": "sr-Latn-RS"},
    )
    assert response.get_json()["locale"] == "sr"


def test_installation_ids_are_accepted(register):
    assert (
        register(token_type="fid", fcm_token="cJ8u2nFsQ2uVxF3mC0z8Ab").get_json()["token_type"]
        == "fid"
    )


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"platform": "symbian"}, {"platform": ["Must be one of: android, ios, web."]}),
        ({"locale": "de"}, {"locale": ["Must be one of: sq, sr, en."]}),
        ({"fcm_token": ""}, {"fcm_token": ["Length must be between 1 and 4096."]}),
        (
            {"fcm_token": "has spaces in it"},
            {"fcm_token": ["Must be printable ASCII without spaces (an FCM token)."]},
        ),
        ({"fcm_token": "x" * 4097}, {"fcm_token": ["Length must be between 1 and 4096."]}),
        ({"token_type": "apns"}, {"token_type": ["Must be one of: token, fid."]}),
        ({"fcm_token": 42}, {"fcm_token": ["Not a valid string."]}),
        ({"extra": 1}, {"extra": ["Unknown field."]}),
    ],
)
def test_bad_registrations_are_422_with_field_messages(register, fields, errors):
    response = register(**fields)
    assert response.status_code == 422
    assert response.get_json() == {
        "code": 422,
        "status": "Unprocessable Entity",
        "message": "The request data is invalid; see errors.",
        "errors": {"json": errors},
    }
    assert session.scalar(select(func.count()).select_from(Device)) == 0


def test_a_missing_platform_and_token_are_required(client):
    response = client.post("/v1/devices", json={})
    assert response.get_json()["errors"] == {
        "json": {
            "fcm_token": ["Missing data for required field."],
            "platform": ["Missing data for required field."],
        }
    }


def test_registering_a_token_again_replaces_the_older_device(client, register, device):
    client.put(
        f"/v1/devices/{device['id']}/subscriptions",
        json={"subscriptions": [{"municipality": "prishtina"}]},
        headers=secret(device),
    )
    again = register(locale="en").get_json()
    assert again["id"] != device["id"]
    assert client.get(f"/v1/devices/{device['id']}", headers=secret(device)).status_code == 404
    assert session.scalar(select(func.count()).select_from(Device)) == 1
    assert session.scalar(select(func.count()).select_from(Subscription)) == 0


def test_read_with_the_secret(client, device):
    response = client.get(f"/v1/devices/{device['id']}", headers=secret(device))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["locale"], body["subscriptions"], body["reports"]) == (
        device["id"],
        "sq",
        [],
        [],
    )
    assert "secret" not in body and "fcm_token" not in body


@pytest.mark.parametrize(
    "headers",
    [{}, {"Device-Secret": "wrong"}, {"Device-Secret": ""}],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "", None),
        ("patch", "", {"locale": "en"}),
        ("delete", "", None),
        ("get", "/subscriptions", None),
        ("put", "/subscriptions", {"subscriptions": []}),
        ("delete", f"/reports/{uuid.uuid4()}", None),
    ],
)
def test_a_wrong_or_missing_secret_is_the_same_404_as_an_unknown_device(
    client, device, headers, method, path, body
):
    for device_id in (device["id"], str(uuid.uuid4())):
        response = getattr(client, method)(
            f"/v1/devices/{device_id}{path}", json=body, headers=headers
        )
        assert response.status_code == 404
        assert response.get_json() == {
            "code": 404,
            "status": "Not Found",
            "message": "No device matches this id and secret.",
        }


def test_token_refresh_reactivates_and_locale_changes(client, device):
    stored = session.get(Device, uuid.UUID(device["id"]))
    stored.active, stored.deactivated_at, stored.deactivated_reason = (
        False,
        func.now(),
        "UNREGISTERED",
    )
    session.commit()
    response = client.patch(
        f"/v1/devices/{device['id']}",
        json={"fcm_token": "new-token-after-refresh", "locale": "en"},
        headers=secret(device),
    )
    assert response.status_code == 200
    assert (response.get_json()["active"], response.get_json()["locale"]) == (True, "en")
    session.expire_all()
    stored = session.get(Device, uuid.UUID(device["id"]))
    assert (stored.fcm_token, stored.active, stored.deactivated_reason) == (
        "new-token-after-refresh",
        True,
        None,
    )


def test_a_locale_change_alone_keeps_a_dead_token_inactive(client, device):
    stored = session.get(Device, uuid.UUID(device["id"]))
    stored.active, stored.deactivated_at, stored.deactivated_reason = (
        False,
        func.now(),
        "UNREGISTERED",
    )
    session.commit()
    response = client.patch(
        f"/v1/devices/{device['id']}", json={"locale": "en"}, headers=secret(device)
    )
    assert response.get_json()["active"] is False


def test_an_empty_update_is_422(client, device):
    response = client.patch(f"/v1/devices/{device['id']}", json={}, headers=secret(device))
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "json": {"_schema": ["Send at least one of fcm_token, token_type, platform, locale."]}
    }


def test_taking_over_another_devices_token_on_refresh_deletes_that_device(client, register):
    first = register(fcm_token="token-one").get_json()
    second = register(fcm_token="token-two").get_json()
    response = client.patch(
        f"/v1/devices/{second['id']}", json={"fcm_token": "token-one"}, headers=secret(second)
    )
    assert response.status_code == 200
    assert client.get(f"/v1/devices/{first['id']}", headers=secret(first)).status_code == 404


def test_delete_forgets_the_device_and_everything_it_followed(client, device, submit):
    report = submit().get_json()
    client.put(
        f"/v1/devices/{device['id']}/reports/{report['id']}",
        headers=secret(device) | {"Follow-Up-Token": report["follow_up_token"]},
    )
    assert client.delete(f"/v1/devices/{device['id']}", headers=secret(device)).status_code == 204
    assert session.scalar(select(func.count()).select_from(Device)) == 0
    assert session.scalar(select(func.count()).select_from(ReportLink)) == 0
    assert client.delete(f"/v1/devices/{device['id']}", headers=secret(device)).status_code == 404


def test_subscriptions_are_replaced_as_a_whole(client, device):
    url = f"/v1/devices/{device['id']}/subscriptions"
    response = client.put(
        url,
        json={
            "subscriptions": [
                {"municipality": "prizren", "categories": ["water_sewage", "roads_potholes"]},
                {"municipality": "prishtina"},
            ]
        },
        headers=secret(device),
    )
    assert response.status_code == 200
    expected = {
        "subscriptions": [
            {"municipality": "prishtina", "categories": []},
            {"municipality": "prizren", "categories": ["roads_potholes", "water_sewage"]},
        ]
    }
    assert response.get_json() == expected
    assert client.get(url, headers=secret(device)).get_json() == expected
    response = client.put(
        url, json={"subscriptions": [{"municipality": "peja"}]}, headers=secret(device)
    )
    assert response.get_json() == {"subscriptions": [{"municipality": "peja", "categories": []}]}
    assert client.put(url, json={"subscriptions": []}, headers=secret(device)).get_json() == {
        "subscriptions": []
    }


def test_unknown_municipalities_and_categories_are_422(client, device):
    response = client.put(
        f"/v1/devices/{device['id']}/subscriptions",
        json={
            "subscriptions": [
                {"municipality": "prishtina"},
                {"municipality": "atlantis", "categories": ["roads_potholes", "dragons"]},
            ]
        },
        headers=secret(device),
    )
    assert response.status_code == 422
    assert response.get_json() == {
        "code": 422,
        "status": "Unprocessable Entity",
        "message": "Some subscriptions name unknown municipalities or categories.",
        "errors": {
            "json": {
                "subscriptions": {
                    "1": ["Unknown municipality 'atlantis'.", "Unknown categories: dragons."]
                }
            }
        },
    }
    assert session.scalar(select(func.count()).select_from(Subscription)) == 0


def test_following_a_report_needs_its_follow_up_token(client, device, submit):
    report = submit().get_json()
    url = f"/v1/devices/{device['id']}/reports/{report['id']}"
    for token in ("wrong", None):
        headers = secret(device) | ({"Follow-Up-Token": token} if token else {})
        response = client.put(url, headers=headers)
        assert response.status_code == 404
        assert response.get_json()["message"] == "No report matches this id and follow-up token."
    headers = secret(device) | {"Follow-Up-Token": report["follow_up_token"]}
    assert client.put(url, headers=headers).status_code == 204
    assert client.put(url, headers=headers).status_code == 204  # idempotent
    body = client.get(f"/v1/devices/{device['id']}", headers=secret(device)).get_json()
    assert body["reports"] == [report["id"]]
    assert client.delete(url, headers=secret(device)).status_code == 204
    body = client.get(f"/v1/devices/{device['id']}", headers=secret(device)).get_json()
    assert body["reports"] == []


def test_a_device_follows_a_bounded_number_of_reports(client, device, submit, monkeypatch):
    monkeypatch.setattr("civic_api.push.service.MAX_REPORT_LINKS", 2)
    reports = [submit().get_json() for _ in range(3)]
    statuses = [
        client.put(
            f"/v1/devices/{device['id']}/reports/{r['id']}",
            headers=secret(device) | {"Follow-Up-Token": r["follow_up_token"]},
        ).status_code
        for r in reports
    ]
    assert statuses == [204, 204, 422]
    assert MAX_REPORT_LINKS == 100
