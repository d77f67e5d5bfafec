"""Reporter feedback on closed reports, and the push that asks for it (once, then a reminder)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from push_fixtures import add_device
from sqlalchemy import select

from civic_api.database import session
from civic_api.outbox.models import OutboxEvent
from civic_api.push import delivery
from civic_api.push import service as devices
from civic_api.push.models import Message
from civic_api.reports.models import ReportFeedback

ANSWER = {"fixed": "yes", "rating": 4, "comment": "Quick, thank you.", "first_report": True}


@pytest.fixture
def report(submit):
    response = submit(category="public_lighting", description="The lamp is out.")
    assert response.status_code == 201, response.json
    return response.json


def close(staff, report, status="resolved"):
    url = f"/v1/admin/reports/{report['id']}"
    for step in ("acknowledged", status):
        response = staff.patch(url, json={"status": step})
        assert response.status_code == 200, response.json


def answer(client, report, body=ANSWER, token=None):
    return client.post(
        f"/v1/reports/{report['id']}/feedback",
        json=body,
        headers={"Follow-Up-Token": token or report["follow_up_token"]},
    )


def follow(client, report):
    return client.get(
        f"/v1/reports/{report['id']}", headers={"Follow-Up-Token": report["follow_up_token"]}
    ).json


@pytest.mark.parametrize("status", ["resolved", "rejected"])
def test_feedback_once_on_a_closed_report(client, staff_client, report, status):
    assert answer(client, report).status_code == 409  # still open
    assert follow(client, report)["feedback_open"] is False
    assert staff_client().get(f"/v1/admin/reports/{report['id']}").json["feedback"] is None
    close(staff_client(), report, status)
    assert follow(client, report)["feedback_open"] is True

    given = answer(client, report)
    assert given.status_code == 201, given.json
    assert {k: given.json[k] for k in ANSWER} == ANSWER
    stored = session.get(ReportFeedback, uuid.UUID(report["id"]))
    assert (stored.fixed, stored.rating, stored.comment, stored.first_report) == (
        "yes",
        4,
        "Quick, thank you.",
        True,
    )
    detail = staff_client().get(f"/v1/admin/reports/{report['id']}").json
    assert {k: detail["feedback"][k] for k in ANSWER} == ANSWER  # staff read it
    again = answer(client, report, {"fixed": "no", "rating": 1})
    assert again.status_code == 409 and again.json["code"] == 409
    assert session.get(ReportFeedback, uuid.UUID(report["id"])).rating == 4
    assert follow(client, report)["feedback_open"] is False


@pytest.mark.parametrize(
    "body, field",
    [
        ({"fixed": "maybe", "rating": 3}, "fixed"),
        ({"fixed": "yes", "rating": 6}, "rating"),
        ({"fixed": "yes", "rating": 0}, "rating"),
        ({"fixed": "yes", "rating": "5"}, "rating"),
        ({"fixed": "yes"}, "rating"),
        ({"rating": 3}, "fixed"),
        ({"fixed": "yes", "rating": 3, "comment": "x" * 2001}, "comment"),
        ({"fixed": "yes", "rating": 3, "comment": "bad\u0000byte"}, "comment"),
    ],
)
def test_invalid_feedback_is_a_422_naming_the_field(client, staff_client, report, body, field):
    close(staff_client(), report)
    response = answer(client, report, body)
    assert response.status_code == 422
    assert set(response.json) >= {"code", "status", "message", "errors"}
    assert field in response.json["errors"]["json"]
    assert session.get(ReportFeedback, uuid.UUID(report["id"])) is None


def test_a_wrong_token_cannot_give_feedback(client, staff_client, report):
    close(staff_client(), report)
    assert answer(client, report, token="not-the-token").status_code == 404
    assert session.get(ReportFeedback, uuid.UUID(report["id"])) is None


def feedback_messages(report):
    return session.scalars(
        select(Message.payload)
        .where(
            Message.report_id == uuid.UUID(report["id"]),
            Message.kind == "report.feedback_requested",
        )
        .order_by(Message.id)
    ).all()


def test_closing_asks_for_feedback_and_reminds_only_if_unanswered(
    client, staff_client, submit, report, db
):
    other = submit(category="waste").json
    phones = {}
    for r, token in ((report, "tok-a"), (other, "tok-b")):
        phones[r["id"]] = add_device(token, locale="sq")
        devices.link_report(phones[r["id"]], uuid.UUID(r["id"]), r["follow_up_token"])
    staff = staff_client()
    close(staff, report)
    close(staff, other, "rejected")
    events = session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.kind == "report.feedback_requested")
        .order_by(OutboxEvent.id)
    ).all()
    assert len(events) == 4
    now = datetime.now(UTC)
    reminders = [e for e in events if e.payload.get("reminder")]
    assert len(reminders) == 2
    for event in reminders:
        assert abs(event.available_at - (now + timedelta(hours=72))) < timedelta(minutes=5)

    session.flush()
    delivery.fan_out(db.connection(), now + timedelta(minutes=1))
    assert len(feedback_messages(report)) == 1 and len(feedback_messages(other)) == 1

    assert answer(client, report).status_code == 201
    delivery.fan_out(db.connection(), now + timedelta(hours=73))
    # Answered: no reminder. Unanswered: the reminder goes out.
    assert len(feedback_messages(report)) == 1
    assert [p.get("reminder") for p in feedback_messages(other)] == [None, True]


def test_a_reopened_report_gets_no_reminder(client, staff_client, report, db):
    devices.link_report(add_device("tok-r"), uuid.UUID(report["id"]), report["follow_up_token"])
    close(staff_client(), report)
    reopened = client.post(
        f"/v1/reports/{report['id']}/reopen",
        json={"reason": "Still dark."},
        headers={"Follow-Up-Token": report["follow_up_token"]},
    )
    assert reopened.status_code == 200
    assert answer(client, report).status_code == 409
    session.flush()
    delivery.fan_out(db.connection(), datetime.now(UTC) + timedelta(hours=80))
    assert feedback_messages(report) == []


def test_the_feedback_request_is_localised_and_says_nothing_of_the_report():
    from civic_api.push.delivery import Claimed, render

    item = Claimed(
        id=1,
        key="9:x",
        kind="report.feedback_requested",
        device_id=uuid.uuid4(),
        report_id=uuid.uuid4(),
        announcement_id=None,
        payload={"event_id": 9, "status": "resolved"},
        attempts=1,
    )

    class Phone:
        locale, fcm_token, token_type = "sr", "tok", "token"

    message = render(item, Phone(), None)
    assert (message.title, message.body) == (
        "Kako je prošlo?",
        "Vaša prijava je zatvorena. Da li je problem rešen? Recite nam u aplikaciji.",
    )
    assert message.data["type"] == "report.feedback_requested"
