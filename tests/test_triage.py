"""Staff-side report handling: scope, workflow, responses, moderation, concurrency."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from conftest import PRISHTINA
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from civic_api.audit.models import AuditEntry
from civic_api.database import session
from civic_api.outbox.models import OutboxEvent
from civic_api.reports.models import Report

DRENAS = {"lat": 42.6253, "lon": 20.8937}
WATER_ISSUE = "no_water"


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
    # Resolving asks the reporter for feedback now and once more later.
    assert kinds == [
        "report.status_changed",
        "report.response",
        "report.status_changed",
        "report.feedback_requested",
        "report.feedback_requested",
    ]
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


def set_submitted_at(report_id, when):
    session.execute(
        update(Report)
        .where(Report.id == report_id)
        .values(submitted_at=when, response_due_at=when + timedelta(hours=72))
    )
    session.commit()


def ids(response):
    assert response.status_code == 200, response.json
    return [r["id"] for r in response.json]


def test_filters_sorting_and_pagination(staff_client, submit):
    staff = staff_client("staff", ["prishtina", "drenas"])
    light = submit(category="public_lighting", description="Lamp out", location=PRISHTINA).json
    pothole = submit(
        category="roads_potholes",
        description="Deep hole",
        location={"lat": 42.6700, "lon": 21.1700},
    ).json
    drenas = submit(category="public_lighting", description="Dark road", location=DRENAS).json
    harassment = submit(category="commenting", description="Shouting at the bus stop").json
    now = datetime.now(UTC)
    set_submitted_at(light["id"], now - timedelta(days=5))
    set_submitted_at(pothole["id"], now - timedelta(days=3))
    set_submitted_at(drenas["id"], now - timedelta(days=1))
    staff.patch(
        f"/v1/admin/reports/{pothole['id']}",
        json={"status": "acknowledged", "priority": "urgent", "assignee_id": staff.staff.id},
    )

    everything = ids(staff.get("/v1/admin/reports"))
    assert everything == [harassment["id"], drenas["id"], pothole["id"], light["id"]]
    assert ids(staff.get("/v1/admin/reports?sort=submitted_at")) == everything[::-1]
    assert ids(staff.get("/v1/admin/reports?status=acknowledged")) == [pothole["id"]]
    assert ids(
        staff.get("/v1/admin/reports?status=submitted,acknowledged&category=public_lighting")
    ) == [drenas["id"], light["id"]]
    assert ids(staff.get("/v1/admin/reports?group=harassment")) == [harassment["id"]]
    assert ids(staff.get("/v1/admin/reports?municipality=drenas")) == [drenas["id"]]
    assert ids(staff.get("/v1/admin/reports?q=LAMP")) == [light["id"]]
    assert ids(staff.get("/v1/admin/reports?q=50%25")) == []
    assert ids(staff.get("/v1/admin/reports?bbox=21.168,42.668,21.172,42.672")) == [pothole["id"]]
    assert ids(staff.get("/v1/admin/reports?assignee=me")) == [pothole["id"]]
    assert ids(staff.get(f"/v1/admin/reports?assignee={staff.staff.id}")) == [pothole["id"]]
    assert ids(staff.get("/v1/admin/reports?assignee=none&group=utilities")) == [
        drenas["id"],
        light["id"],
    ]
    assert ids(staff.get("/v1/admin/reports?priority=urgent")) == [pothole["id"]]
    assert ids(staff.get("/v1/admin/reports?sort=-priority"))[0] == pothole["id"]
    since = (now - timedelta(days=4)).isoformat()
    until = (now - timedelta(days=2)).isoformat()
    window = staff.get(
        "/v1/admin/reports", query_string={"submitted_from": since, "submitted_to": until}
    )
    assert ids(window) == [pothole["id"]]
    # 72 h target: the 5-day-old light is overdue; the acknowledged pothole is not.
    assert ids(staff.get("/v1/admin/reports?overdue=true")) == [light["id"]]
    overdue = staff.get(f"/v1/admin/reports/{light['id']}").json
    assert overdue["overdue"] is True
    assert ids(staff.get("/v1/admin/reports?overdue=false")) == [
        harassment["id"],
        drenas["id"],
        pothole["id"],
    ]

    page = staff.get("/v1/admin/reports?page=2&page_size=3")
    assert ids(page) == [light["id"]]
    assert json.loads(page.headers["X-Pagination"]) == {
        "total": 4,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
    }


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=closed", "status"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=22,42,21,43", "bbox"),
        ("sort=description", "sort"),
        ("assignee=someone", "assignee"),
        ("submitted_from=2026-01-01", "submitted_from"),
        ("submitted_from=2026-02-01T00:00:00Z&submitted_to=2026-01-01T00:00:00Z", "submitted_to"),
        ("q=%00", "q"),
    ],
)
def test_bad_filters_are_422(staff_client, query, field):
    response = staff_client().get(f"/v1/admin/reports?{query}")
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["query"]


def test_csv_export_has_the_filtered_rows_and_defuses_formulas(staff_client, submit):
    staff = staff_client()
    formula = submit(category="public_lighting", description='=HYPERLINK("http://x")').json
    submit(category="roads_potholes", description="Hole")
    submit(category="public_lighting", location=DRENAS)
    response = staff.get("/v1/admin/reports/export?category=public_lighting")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="reports.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["id"] for r in rows] == [formula["id"]]
    assert rows[0]["description"] == '\'=HYPERLINK("http://x")'
    assert (rows[0]["lat"], rows[0]["lon"], rows[0]["municipality"]) == (
        "42.6629",
        "21.1655",
        "prishtina",
    )
    assert rows[0]["overdue"] == "false"


def test_assignment_needs_staff_of_the_report_municipality(staff_client, make_staff, report):
    manager = staff_client("manager", ["prishtina"])
    url = f"/v1/admin/reports/{report['id']}"
    colleague = make_staff("staff", ["prishtina"])
    foreign = make_staff("staff", ["drenas"])
    researcher = make_staff("researcher")
    for bad in (foreign.id, researcher.id, 999_999):
        response = manager.patch(url, json={"assignee_id": bad})
        assert response.status_code == 422, bad
        assert list(response.json["errors"]["json"]) == ["assignee_id"]
    assigned = manager.patch(url, json={"assignee_id": colleague.id})
    assert assigned.json["assignee"] == {"id": colleague.id, "name": "Test staff"}
    assert assigned.json["timeline"][-1]["type"] == "assigned"
    assert manager.patch(url, json={"assignee_id": None}).json["assignee"] is None


def test_duplicates_candidates_marking_and_the_reporters_view(client, staff_client, submit):
    staff = staff_client()
    original = submit(category="public_lighting", location={"lat": 42.6629, "lon": 21.1655}).json
    near = submit(
        category="public_lighting", location={"lat": 42.6638, "lon": 21.1655}
    ).json  # ~100 m
    same_group = submit(
        category="water_sewage",
        attributes={"water_issue": WATER_ISSUE},
        location={"lat": 42.6631, "lon": 21.1655},
    ).json  # ~22 m
    other_group = submit(category="roads_potholes", location={"lat": 42.6630, "lon": 21.1655}).json
    far = submit(
        category="public_lighting", location={"lat": 42.6729, "lon": 21.1655}
    ).json  # ~1.1 km
    found = staff.get(f"/v1/admin/reports/{original['id']}/duplicate-candidates?radius_m=500")
    assert found.status_code == 200
    assert [(c["id"], round(c["distance_m"])) for c in found.json] == [
        (same_group["id"], 22),
        (near["id"], 100),
    ]
    assert other_group["id"] not in found.text and far["id"] not in found.text
    assert (
        staff.get(f"/v1/admin/reports/{original['id']}/duplicate-candidates?radius_m=50").json[0][
            "id"
        ]
        == same_group["id"]
    )

    url = f"/v1/admin/reports/{near['id']}"
    missing = staff.patch(url, json={"status": "duplicate"})
    assert missing.status_code == 422
    assert list(missing.json["errors"]["json"]) == ["duplicate_of"]
    itself = staff.patch(url, json={"status": "duplicate", "duplicate_of": near["id"]})
    assert itself.status_code == 422
    marked = staff.patch(url, json={"status": "duplicate", "duplicate_of": original["id"]})
    assert marked.status_code == 200, marked.json
    assert marked.json["duplicate_of"] == original["id"]
    # A duplicate of the duplicate points at the first report.
    chained = staff.patch(
        f"/v1/admin/reports/{same_group['id']}",
        json={"status": "duplicate", "duplicate_of": near["id"]},
    )
    assert chained.json["duplicate_of"] == original["id"]

    staff.patch(f"/v1/admin/reports/{original['id']}", json={"status": "acknowledged"})
    staff.patch(f"/v1/admin/reports/{original['id']}", json={"status": "in_progress"})
    seen = follow(client, near).json
    assert seen["status"] == "duplicate"
    # Only the original's status: not when it last changed (its reporter's activity).
    assert seen["duplicate_of"] == {"status": "in_progress"}
    assert follow(client, original).json["duplicate_of"] is None
    undone = staff.patch(url, json={"status": "acknowledged"})
    assert undone.json["duplicate_of"] is None


def test_moderation_hides_the_description_from_all_but_admins(staff_client, report):
    staff = staff_client("staff")
    admin = staff_client("admin")
    url = f"/v1/admin/reports/{report['id']}"
    no_reason = staff.put(f"{url}/moderation", json={"description_hidden": True})
    assert no_reason.status_code == 422
    hidden = staff.put(
        f"{url}/moderation", json={"description_hidden": True, "reason": "Names a person"}
    )
    assert hidden.status_code == 200, hidden.json
    assert (hidden.json["description"], hidden.json["description_hidden"]) == (None, True)
    assert hidden.json["description_hidden_reason"] == "Names a person"
    assert staff.get("/v1/admin/reports").json[0]["description"] is None
    assert ids(staff.get("/v1/admin/reports?q=bus")) == []
    assert "Broken light" not in staff.get("/v1/admin/reports/export").get_data(as_text=True)
    assert admin.get(url).json["description"] == "Broken light near the bus stop."
    assert ids(admin.get("/v1/admin/reports?q=bus")) == [report["id"]]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.moderate")).one()
    assert entry.before["description_hidden"] is False and entry.after["description_hidden"] is True
    assert "Broken light" not in json.dumps([entry.before, entry.after])
    restored = staff.put(f"{url}/moderation", json={"description_hidden": False})
    assert restored.json["description"] == "Broken light near the bus stop."


def test_templates_answer_in_the_reporters_language(client, staff_client, submit):
    admin = staff_client("admin")
    staff = staff_client("staff")
    report = submit(category="public_lighting", locale="sr").json
    made = admin.post(
        "/v1/admin/response-templates",
        json={
            "category": "public_lighting",
            "name": "Crew sent",
            "body": {"sq": "Ekipi u dërgua.", "sr": "Ekipa je poslata.", "en": "A crew was sent."},
        },
    )
    assert made.status_code == 201, made.json
    other = admin.post(
        "/v1/admin/response-templates",
        json={"category": "waste", "name": "Bins", "body": {"sq": "a", "sr": "b", "en": "c"}},
    ).json
    assert [
        t["name"] for t in staff.get("/v1/admin/response-templates?category=public_lighting").json
    ] == ["Crew sent"]
    incomplete = admin.post(
        "/v1/admin/response-templates", json={"name": "x", "body": {"en": "only"}}
    )
    assert incomplete.status_code == 422
    url = f"/v1/admin/reports/{report['id']}/responses"
    assert staff.post(url, json={"template_id": other["id"]}).status_code == 422
    assert staff.post(url, json={"message": "x", "template_id": made.json["id"]}).status_code == 422
    sent = staff.post(url, json={"template_id": made.json["id"]})
    assert sent.status_code == 201, sent.json
    assert sent.json["message"] == "Ekipa je poslata."
    assert follow(client, report).json["timeline"][-1]["message"] == "Ekipa je poslata."
    retired = admin.patch(f"/v1/admin/response-templates/{made.json['id']}", json={"active": False})
    assert retired.json["active"] is False
    assert staff.post(url, json={"template_id": made.json["id"]}).status_code == 422


def test_reporter_comments_reach_the_staff_timeline(client, staff_client, report):
    staff = staff_client()
    headers = {"Follow-Up-Token": report["follow_up_token"]}
    url = f"/v1/reports/{report['id']}/comments"
    assert (
        client.post(url, json={"message": "hi"}, headers={"Follow-Up-Token": "wrong"}).status_code
        == 404
    )
    assert client.post(url, json={"message": ""}, headers=headers).status_code == 422
    added = client.post(
        url, json={"message": "It is the third lamp from the corner."}, headers=headers
    )
    assert added.status_code == 201, added.json
    assert added.json["type"] == "reporter_comment"
    event = staff.get(f"/v1/admin/reports/{report['id']}").json["timeline"][-1]
    assert (event["type"], event["actor"], event["public"]) == ("reporter_comment", None, True)
    assert event["message"] == "It is the third lamp from the corner."
    staff.post(f"/v1/admin/reports/{report['id']}/notes", json={"message": "Secret"})
    assert "Secret" not in json.dumps(follow(client, report).json)


def test_reopen_only_resolved_and_within_the_window(app, client, staff_client, report):
    staff = staff_client()
    headers = {"Follow-Up-Token": report["follow_up_token"]}
    url = f"/v1/reports/{report['id']}/reopen"
    early = client.post(url, json={}, headers=headers)
    assert early.status_code == 409
    assert early.json["current_status"] == "submitted"
    admin_url = f"/v1/admin/reports/{report['id']}"
    staff.patch(admin_url, json={"status": "acknowledged"})
    staff.patch(admin_url, json={"status": "resolved"})
    deadline = follow(client, report).json["can_reopen_until"]
    resolved_at = staff.get(admin_url).json["resolved_at"]
    assert datetime.fromisoformat(deadline) - datetime.fromisoformat(resolved_at) == timedelta(
        days=30
    )
    session.execute(
        update(Report)
        .where(Report.id == report["id"])
        .values(resolved_at=Report.resolved_at - timedelta(days=31))
    )
    session.commit()
    late = client.post(url, json={}, headers=headers)
    assert late.status_code == 409
    assert "30 days" in late.json["message"]
    assert follow(client, report).json["status"] == "resolved"


def test_indicator_timestamps_are_kept_on_the_first_occurrence(staff_client, report):
    staff = staff_client()
    url = f"/v1/admin/reports/{report['id']}"
    first = staff.patch(url, json={"status": "acknowledged"}).json
    staff.patch(url, json={"status": "resolved", "message": "Done"})
    staff.patch(url, json={"status": "in_progress"})
    again = staff.patch(url, json={"status": "resolved"}).json
    assert again["first_acknowledged_at"] == first["first_acknowledged_at"]
    assert again["first_resolved_at"] < again["resolved_at"]
    assert again["first_responded_at"] is not None


def test_message_without_status_change_is_422(staff_client, report):
    response = staff_client().patch(f"/v1/admin/reports/{report['id']}", json={"message": "Hi"})
    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["message"]
    empty = staff_client().patch(f"/v1/admin/reports/{report['id']}", json={})
    assert empty.status_code == 422


def test_concurrent_update_of_a_stale_row_is_412(app, staff_client, report):
    """Two requests read version n; the second write must fail, not overwrite."""
    from civic_api.staff.service import utcnow
    from civic_api.triage import service

    staff = staff_client()
    with app.app_context():
        principal = service_principal(staff)
        mine = session.get(Report, uuid.UUID(report["id"]))
        session.execute(
            update(Report)
            .where(Report.id == mine.id)
            .values(version=Report.version + 1)
            .execution_options(synchronize_session=False)  # as if another transaction did it
        )
        with pytest.raises(StaleDataError):
            service.update_report(principal, mine, {"priority": "high"}, utcnow())
            session.flush()
        session.rollback()


def service_principal(client):
    from civic_api.staff.service import authenticate, utcnow

    return authenticate(client.tokens.access_token, utcnow())
