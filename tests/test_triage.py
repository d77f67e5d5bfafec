"""Staff-side report handling: scope, workflow, responses, moderation, concurrency."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from civic_api.audit.models import AuditEntry
from civic_api.database import session
from civic_api.outbox.models import OutboxEvent
from civic_api.reports.models import Report

DRENAS = {"lat": 42.6253, "lon": 20.8937}


@pytest.fixture
def report(submit):
    """A Prishtina report and its follow-up token."""
    response = submit(description="Broken light near the bus stop.")
    assert response.status_code == 201, response.json
    return response.json


def follow(client, report):
    return client.get(
        f"/v1/reports/{report['id']}", headers={"Follow-Up-Token": report["follow_up_token"]}
    )


def test_end_to_end_citizen_staff_reporter(client, staff_client, report):
    staff = staff_client("staff", ["prishtina"])
    outsider = staff_client("manager", ["drenas"])

    listed = staff.get("/v1/admin/reports")
    assert listed.status_code == 200, listed.json
    assert [r["id"] for r in listed.json] == [report["id"]]
    assert listed.json[0]["description"] == "Broken light near the bus stop."
    assert listed.json[0]["location"] == {"lat": 42.6629, "lon": 21.1655}
    assert outsider.get("/v1/admin/reports").json == []

    url = f"/v1/admin/reports/{report['id']}"
    assert outsider.get(url).status_code == 404
    assert outsider.patch(url, json={"status": "acknowledged"}).status_code == 404

    read = staff.get(url)
    etag = read.headers["ETag"]
    acknowledged = staff.patch(url, json={"status": "acknowledged"}, headers={"If-Match": etag})
    assert acknowledged.status_code == 200, acknowledged.json
    assert acknowledged.json["status"] == "acknowledged"
    assert acknowledged.headers["ETag"] != etag
    stale = staff.patch(url, json={"priority": "high"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json["code"] == 412

    responded = staff.post(f"{url}/responses", json={"message": "A crew is on its way."})
    assert responded.status_code == 201, responded.json
    note = staff.post(f"{url}/notes", json={"message": "Call the electricity company."})
    assert note.status_code == 201
    resolved = staff.patch(url, json={"status": "resolved", "message": "Fixed today."})
    assert resolved.status_code == 200, resolved.json
    assert resolved.json["first_resolved_at"] is not None
    assert [e["type"] for e in resolved.json["timeline"]] == [
        "status_changed",
        "public_response",
        "internal_note",
        "status_changed",
    ]

    seen = follow(client, report).json
    assert seen["status"] == "resolved"
    assert [(e["type"], e["status"], e.get("message")) for e in seen["timeline"]] == [
        ("submitted", "submitted", None),
        ("status_changed", "acknowledged", None),
        ("public_response", "acknowledged", "A crew is on its way."),
        ("status_changed", "resolved", "Fixed today."),
    ]
    reopened = client.post(
        f"/v1/reports/{report['id']}/reopen",
        json={"reason": "Still dark."},
        headers={"Follow-Up-Token": report["follow_up_token"]},
    )
    assert reopened.status_code == 200, reopened.json
    assert reopened.json["status"] == "reopened"
    assert staff.get(url).json["status"] == "reopened"
    assert outsider.get(url).status_code == 404

    kinds = session.scalars(
        select(OutboxEvent.kind)
        .where(OutboxEvent.report_id == report["id"])
        .order_by(OutboxEvent.id)
    ).all()
    assert kinds == ["report.status_changed", "report.response", "report.status_changed"]
    actions = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.entity_id == report["id"])
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["report.update", "report.respond", "report.note", "report.update"]


def test_transition_not_allowed_lists_the_allowed_ones(staff_client, report):
    staff = staff_client()
    response = staff.patch(f"/v1/admin/reports/{report['id']}", json={"status": "resolved"})
    assert response.status_code == 409
    assert response.json["allowed"] == ["acknowledged", "rejected", "duplicate"]
    assert response.json["current_status"] == "submitted"
    assert "acknowledged" in response.json["errors"]["json"]["status"][0]
