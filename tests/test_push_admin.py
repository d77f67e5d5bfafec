"""End to end through the staff API: a status change, a response and an announcement reach
the right phones; staff see delivery statistics and requeue dead letters, in their
municipalities only."""

from datetime import UTC, datetime, timedelta

import pytest
from push_fixtures import *  # noqa: F403  (fixtures: fake FCM, sender, worker, clock, guard)
from push_fixtures import Clock, messages
from sqlalchemy import select

from civic_api.audit.models import AuditEntry
from civic_api.database import session

STATS_ZERO = {
    "pending": 0,
    "sent": 0,
    "failed": 0,
    "dead": 0,
    "delivered_to_log": 0,
    "unknown": 0,
    "superseded": 0,
}


@pytest.fixture
def clock():
    # The staff API stamps events with the real time; the worker runs just after it.
    return Clock(datetime.now(UTC) + timedelta(seconds=5))


@pytest.fixture
def phone(client):
    """Register a device through the API; returns (device json, headers)."""

    def register(token, locale="sq"):
        device = client.post(
            "/v1/devices", json={"fcm_token": token, "platform": "android", "locale": locale}
        ).get_json()
        return device, {"Device-Secret": device["secret"]}

    return register


def test_status_change_and_response_reach_the_reporters_phone(
    client, submit, phone, staff_client, make_worker, fcm_sender, fake
):
    report = submit(description="Broken light.").get_json()
    device, headers = phone("tok-reporter", locale="en")
    follow = client.put(
        f"/v1/devices/{device['id']}/reports/{report['id']}",
        headers=headers | {"Follow-Up-Token": report["follow_up_token"]},
    )
    assert follow.status_code == 204
    staff = staff_client("staff", ["prishtina"])
    url = f"/v1/admin/reports/{report['id']}"
    etag = staff.get(url).headers["ETag"]
    changed = staff.patch(url, json={"status": "acknowledged"}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.json
    answered = staff.post(f"{url}/responses", json={"message": "We will fix it this week."})
    assert answered.status_code in (200, 201), answered.json

    make_worker(fcm_sender).run(until_idle=True)

    notifications = sorted((m["data"]["type"], m["notification"]["body"]) for m in fake.accepted)
    assert notifications == [
        (
            "report.response",
            "Your municipality has responded to your report. Open the app to read it.",
        ),
        ("report.status_changed", "Its status is now: Acknowledged."),
    ]
    assert all(m["token"] == "tok-reporter" for m in fake.accepted)
    assert "fix it this week" not in str(fake.accepted)

    stats = staff.get(f"{url}/deliveries")
    assert stats.status_code == 200
    assert stats.json == {
        "total": 2,
        "by_state": STATS_ZERO | {"sent": 2},
        "errors": {},
        "may_have_arrived": 0,
    }


def test_an_announcement_created_by_a_manager_reaches_subscribers(
    client, phone, staff_client, make_worker, fcm_sender, fake
):
    subscribed, headers = phone("tok-sub", locale="sr")
    client.put(
        f"/v1/devices/{subscribed['id']}/subscriptions",
        json={"subscriptions": [{"municipality": "prishtina"}]},
        headers=headers,
    )
    phone("tok-not-subscribed")
    manager = staff_client("manager", ["prishtina"])
    created = manager.post(
        "/v1/admin/announcements",
        json={
            "municipality": "prishtina",
            "title": {"sq": "Ujë", "sr": "Voda", "en": "Water"},
            "body": {"sq": "Pa ujë.", "sr": "Bez vode.", "en": "No water."},
        },
    )
    assert created.status_code == 201, created.json

    make_worker(fcm_sender).run(until_idle=True)

    [sent] = fake.accepted
    assert (sent["token"], sent["notification"]) == (
        "tok-sub",
        {"title": "Voda", "body": "Bez vode."},
    )
    assert sent["data"]["announcement_id"] == str(created.json["id"])


def test_delivery_stats_requeue_and_scope(
    client, phone, staff_client, make_worker, fcm_sender, fake, clock
):
    for token in ("tok-a", "tok-b", "tok-c"):
        device, headers = phone(token)
        client.put(
            f"/v1/devices/{device['id']}/subscriptions",
            json={"subscriptions": [{"municipality": "prishtina"}]},
            headers=headers,
        )
    manager = staff_client("manager", ["prishtina"])
    announcement = manager.post(
        "/v1/admin/announcements",
        json={"municipality": "prishtina", "title": {"en": "T"}, "body": {"en": "B"}},
    ).json
    url = f"/v1/admin/announcements/{announcement['id']}/deliveries"
    assert manager.get(url).json == {
        "total": 0,
        "by_state": STATS_ZERO,
        "errors": {},
        "may_have_arrived": 0,
    }
    fake.fail("tok-a", "unregistered")
    fake.fail("tok-b", "unavailable")
    make_worker(fcm_sender, max_attempts=1).run(until_idle=True)

    assert manager.get(url).json == {
        "total": 3,
        "by_state": STATS_ZERO | {"sent": 1, "failed": 1, "dead": 1},
        "errors": {"UNREGISTERED": 1, "UNAVAILABLE after 1 attempts": 1},
        "may_have_arrived": 0,
    }
    foreign = staff_client("manager", ["drenas"])
    assert foreign.get(url).status_code == 404
    assert foreign.post(f"{url}/requeue").status_code == 404
    assert [m.state for m in messages() if m.state == "dead"] == ["dead"]

    requeued = manager.post(f"{url}/requeue")
    assert requeued.status_code == 200 and requeued.json == {"requeued": 1, "may_have_arrived": 0}
    assert manager.post(f"{url}/requeue").json == {"requeued": 0, "may_have_arrived": 0}
    assert manager.get(url).json["by_state"] == STATS_ZERO | {"sent": 1, "failed": 1, "pending": 1}
    make_worker(fcm_sender).run(until_idle=True)
    assert manager.get(url).json["by_state"] == STATS_ZERO | {"sent": 2, "failed": 1}
    assert fake.attempts == {"tok-a": 1, "tok-b": 2, "tok-c": 1}
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "push.requeue").order_by(AuditEntry.id)
    ).all()
    assert [(e.entity_type, e.entity_id, e.after) for e in entries] == [
        ("announcement", str(announcement["id"]), {"requeued": 1, "may_have_arrived": 0}),
        ("announcement", str(announcement["id"]), {"requeued": 0, "may_have_arrived": 0}),
    ]


def test_unknown_ids_are_404_in_the_error_shape(staff_client):
    admin = staff_client("admin", ())
    response = admin.get("/v1/admin/announcements/999999/deliveries")
    assert response.status_code == 404
    assert response.json == {
        "code": 404,
        "status": "Not Found",
        "message": "No announcement with this id in your municipalities.",
    }
    response = admin.get("/v1/admin/reports/00000000-0000-0000-0000-000000000000/deliveries")
    assert response.json["message"] == "No report with this id in your municipalities."
