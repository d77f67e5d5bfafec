"""The audit log: read-only API within the reader's scope, and append-only in the database."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from civic_api.announcements import routes as announcement_routes
from civic_api.announcements import service as announcements
from civic_api.announcements.models import Announcement
from civic_api.audit import service as audit
from civic_api.audit.models import AuditEntry
from civic_api.database import session
from civic_api.municipalities.models import Municipality
from civic_api.outbox.models import OutboxEvent

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ANNOUNCEMENT = {"title": {"en": "Water cut"}, "body": {"en": "No water until 14:00."}}


def municipality_id(slug) -> int:
    return session.scalar(select(Municipality.id).where(Municipality.slug == slug))


def entries(caller, **params):
    response = caller.get("/v1/admin/audit", query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def count(model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def logged(make_staff):
    """Four hand-made entries, an hour apart, by one actor, in Prishtina, Drenas, both, none."""
    actor = make_staff("admin")
    prishtina, drenas = municipality_id("prishtina"), municipality_id("drenas")
    rows = [
        AuditEntry(
            at=T0 + n * HOUR,
            actor_id=actor.id,
            action=action,
            entity_type=kind,
            entity_id=str(entity),
            municipality_ids=places,
            before=None if n == 0 else {"n": n - 1},
            after={"n": n},
        )
        for n, (action, kind, entity, places) in enumerate(
            [
                ("announcement.create", "announcement", 7, [prishtina]),
                ("announcement.update", "announcement", 8, [drenas]),
                ("staff.update", "staff", 7, sorted([prishtina, drenas])),
                ("token.create", "token", 9, []),
            ]
        )
    ]
    session.add_all(rows)
    session.commit()
    return {"actor": actor, "ids": [row.id for row in rows]}


def test_admin_sees_every_entry_newest_first(staff_client, logged):
    admin = staff_client("admin", ())
    found = entries(admin, actor_id=logged["actor"].id)
    assert [e["id"] for e in found] == logged["ids"][::-1]
    prishtina, drenas = municipality_id("prishtina"), municipality_id("drenas")
    assert found[1] == {
        "id": logged["ids"][2],
        "at": found[1]["at"],
        "actor_id": logged["actor"].id,
        "action": "staff.update",
        "entity_type": "staff",
        "entity_id": "7",
        "municipality_ids": sorted([prishtina, drenas]),
        "before": {"n": 1},
        "after": {"n": 2},
    }
    assert datetime.fromisoformat(found[1]["at"]) == T0 + 2 * HOUR
    assert found[3]["before"] is None


def test_manager_sees_entries_touching_their_municipalities(staff_client, logged):
    manager = staff_client("manager", ["prishtina"])
    ids = logged["ids"]
    assert [e["id"] for e in entries(manager, actor_id=logged["actor"].id)] == [ids[2], ids[0]]
    drenas = staff_client("manager", ["drenas"])
    assert [e["id"] for e in entries(drenas, actor_id=logged["actor"].id)] == [ids[2], ids[1]]
    # Their own creation (by the command line) is in their scope too.
    own = entries(manager, entity_type="staff", entity_id=str(manager.staff.id))
    # (Without the hand-made entries, whose entity id 7 may be this manager's id.)
    own = [e for e in own if e["id"] not in ids]
    assert [(e["action"], e["actor_id"]) for e in own] == [("staff.create", None)]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"action": "announcement.update"}, [1]),
        ({"entity_type": "announcement"}, [1, 0]),
        ({"entity_type": "announcement", "entity_id": "7"}, [0]),
        ({"entity_id": "7"}, [2, 0]),
        ({"since": (T0 + HOUR).isoformat()}, [3, 2, 1]),
        ({"until": (T0 + HOUR).isoformat()}, [0]),
        ({"since": (T0 + HOUR).isoformat(), "until": (T0 + 3 * HOUR).isoformat()}, [2, 1]),
        ({"since": "2026-11-20T09:00:00+01:00"}, [3, 2, 1]),
        ({"action": "staff.delete"}, []),
    ],
)
def test_filters(staff_client, logged, params, expected):
    admin = staff_client("admin", ())
    found = entries(admin, actor_id=logged["actor"].id, **params)
    assert [e["id"] for e in found] == [logged["ids"][i] for i in expected]


def test_filter_by_actor(staff_client, logged, make_staff):
    other = make_staff("admin")
    session.add(AuditEntry(actor_id=other.id, action="x.y", entity_type="x", entity_id="1"))
    session.commit()
    admin = staff_client("admin", ())
    assert [e["action"] for e in entries(admin, actor_id=other.id)] == ["x.y"]
    assert len(entries(admin, actor_id=logged["actor"].id)) == 4


def test_pagination(staff_client, logged):
    admin = staff_client("admin", ())
    response = admin.get(
        "/v1/admin/audit",
        query_string={"actor_id": logged["actor"].id, "page": 2, "page_size": 3},
    )
    assert [e["id"] for e in response.json] == [logged["ids"][0]]
    assert json.loads(response.headers["X-Pagination"]) == {
        "total": 4,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
    }


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"since": "2026-11-20T09:00:00"}, "since", "Must include a UTC offset."),
        (
            {"since": "2026-11-20T09:00:00Z", "until": "2026-11-20T09:00:00Z"},
            "until",
            "Must be later than since.",
        ),
        ({"actor_id": "abc"}, "actor_id", "Not a valid integer."),
        (
            {"actor_id": "99999999999"},
            "actor_id",
            "Must be greater than or equal to 1 and less than or equal to 2147483647.",
        ),
        ({"action": "staff\x00update"}, "action", "Must be plain text without control characters."),
    ],
)
def test_invalid_filters_are_422(staff_client, params, field, message):
    admin = staff_client("admin", ())
    response = admin.get("/v1/admin/audit", query_string=params)
    assert response.status_code == 422
    assert response.json["errors"] == {"query": {field: [message]}}


@pytest.mark.parametrize("role", ["staff", "researcher"])
def test_staff_and_researchers_are_refused(staff_client, role):
    response = staff_client(role, ("prishtina",)).get("/v1/admin/audit")
    assert response.status_code == 403
    assert response.json["message"] == (
        "This needs the audit:read permission, which your role or token lacks."
    )


def test_anonymous_is_refused(client):
    response = client.get("/v1/admin/audit")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_there_are_no_write_endpoints(staff_client):
    admin = staff_client("admin", ())
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert admin.open("/v1/admin/audit", method=method, json={}).status_code == 405
    assert admin.delete("/v1/admin/audit/1").status_code == 404


# --------------------------------------------------------------------------- append-only


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET action = 'forged' WHERE id = :id",
        "UPDATE audit_entry SET after = NULL",
        "DELETE FROM audit_entry WHERE id = :id",
        "TRUNCATE audit_entry",
    ],
)
def test_the_database_refuses_to_change_entries(statement):
    entry = audit.record(None, "test.append", "test", 1, after={"n": 1})
    session.flush()
    with pytest.raises(DBAPIError) as raised:
        with session.begin_nested():
            session.execute(text(statement), {"id": entry.id})
    assert raised.value.orig.pgcode == "42501"  # insufficient_privilege, from the trigger
    assert "audit_entry is append-only" in str(raised.value.orig)
    session.expire_all()
    stored = session.get(AuditEntry, entry.id)
    assert (stored.action, stored.after) == ("test.append", {"n": 1})


def test_a_rolled_back_write_leaves_no_entry(make_staff, app):
    staff = make_staff("manager", ["prishtina"])
    from civic_api.staff.service import Principal

    principal = Principal(
        staff_id=staff.id,
        role="manager",
        municipality_ids=frozenset({municipality_id("prishtina")}),
        scopes=frozenset(),
        token_id=0,
        session_id=None,
    )
    before = count(AuditEntry)
    savepoint = session.begin_nested()
    created = announcements.create_announcement(principal, T0, **ANNOUNCEMENT)
    assert session.get(Announcement, created.id) is not None
    assert count(AuditEntry) == before + 1
    savepoint.rollback()
    assert count(AuditEntry) == before
    assert count(Announcement) == 0
    assert count(OutboxEvent) == 0


def test_a_write_failing_after_flush_leaves_no_entry(staff_client, monkeypatch):
    manager = staff_client("manager", ["prishtina"])
    before = count(AuditEntry)
    flushed = []

    def fail(*args, **kwargs):
        # The announcement row is flushed and its audit entry added by now.
        flushed.append(session.scalar(select(func.count()).select_from(Announcement)))
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(announcements.outbox, "enqueue", fail)
    monkeypatch.setattr(announcement_routes, "utcnow", lambda: T0)
    response = manager.post("/v1/admin/announcements", json=ANNOUNCEMENT)
    assert response.status_code == 500
    assert response.json["message"] == "An unexpected error occurred; it has been logged."
    assert flushed == [1]
    assert count(Announcement) == 0
    assert count(AuditEntry) == before
    assert count(OutboxEvent) == 0


def audited(action: str) -> list[AuditEntry]:
    return session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ).all()


def test_exports_and_reads_of_sensitive_reports_are_audited_without_citizen_text(
    submit, staff_client
):
    sensitive = submit(category="whistling", description="He grabbed my arm at Ulpiana.").json
    ordinary = submit(category="waste", description="Bins overflowing at Ulpiana.").json
    staff = staff_client("staff", ["prishtina"])
    assert staff.get(f"/v1/admin/reports/{ordinary['id']}").status_code == 200
    assert audited("report.read") == []
    assert staff.get(f"/v1/admin/reports/{sensitive['id']}").status_code == 200
    [read] = audited("report.read")
    assert (read.actor_id, read.entity_type, read.entity_id) == (
        staff.staff.id,
        "report",
        sensitive["id"],
    )
    assert read.municipality_ids == [municipality_id("prishtina")]
    assert (read.before, read.after) == (None, None)
    export = staff.get("/v1/admin/reports/export?status=submitted&q=Ulpiana")
    assert "Ulpiana" in export.get_data(as_text=True)
    [entry] = audited("report.export")
    assert entry.actor_id == staff.staff.id
    assert entry.municipality_ids == [municipality_id("prishtina")]
    assert entry.after["format"] == "csv"
    assert entry.after["filters"]["status"] == ["submitted"]
    assert entry.after["filters"]["q"] is True
    assert "Ulpiana" not in json.dumps(entry.after)


def test_sign_ins_and_failed_sign_ins_are_audited_never_the_typed_email(
    app, client, make_staff, monkeypatch
):
    # The policy is rebuilt from the patched config, and the original restored afterwards.
    monkeypatch.setitem(app.extensions, "auth_policy", None)
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", 2)
    del app.extensions["auth_policy"]
    staff = make_staff("staff", ["prishtina"], email="signin@example.org")

    def login(email, password):
        return client.post("/v1/admin/auth/login", json={"email": email, "password": password})

    assert login("signin@example.org", "a long test password").status_code == 200
    assert login("signin@example.org", "wrong password!!").status_code == 401
    assert login("typo-mypassword@example.org", "whatever password").status_code == 401
    assert login("signin@example.org", "wrong password!!").status_code == 401  # now locked
    assert login("signin@example.org", "a long test password").status_code == 423
    [ok] = audited("auth.login")
    assert (ok.actor_id, ok.entity_type, ok.entity_id) == (staff.id, "staff", str(staff.id))
    assert ok.municipality_ids == [municipality_id("prishtina")]
    failed = audited("auth.login_failed")
    assert [(e.actor_id, e.entity_id, e.after) for e in failed] == [
        (None, str(staff.id), {"reason": "bad_credentials"}),
        (None, "unknown", {"reason": "bad_credentials"}),
        (None, str(staff.id), {"reason": "bad_credentials"}),
        (None, str(staff.id), {"reason": "locked"}),
    ]
    dump = session.execute(text("SELECT json_agg(a)::text FROM audit_entry a")).scalar()
    assert "typo-mypassword" not in dump and "wrong password" not in dump
