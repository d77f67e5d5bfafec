"""Announcements: the staff API, scope, validation, outbox, audit and the public feed."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from civic_api.announcements import routes
from civic_api.announcements.models import Announcement
from civic_api.audit.models import AuditEntry
from civic_api.database import session
from civic_api.municipalities.models import Municipality
from civic_api.outbox.models import OutboxEvent

NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
# Small boxes [[lon, lat], ...]: in central Prishtina, and in Prizren.
IN_PRISHTINA = [[21.15, 42.65], [21.18, 42.65], [21.18, 42.67], [21.15, 42.67], [21.15, 42.65]]
IN_PRIZREN = [[20.72, 42.20], [20.76, 42.20], [20.76, 42.22], [20.72, 42.22], [20.72, 42.20]]
BOWTIE = [[21.15, 42.65], [21.18, 42.67], [21.18, 42.65], [21.15, 42.67], [21.15, 42.65]]
TITLE = {"sq": "Ndërprerje e ujit", "en": "Water cut"}
BODY = {"sq": "Pa ujë deri në ora 14.", "en": "No water until 14:00."}
PRISHTINA_REF = {"slug": "prishtina", "name": "Prishtina"}
WATER = {"code": "water_sewage", "name": "Water and sewage"}


@pytest.fixture
def clock(monkeypatch):
    """The time the announcement routes see; tests move it forward."""

    class Clock:
        now = NOW

    monkeypatch.setattr(routes, "utcnow", lambda: Clock.now)
    return Clock


@pytest.fixture
def manager(staff_client, clock):
    return staff_client("manager", ["prishtina"])


@pytest.fixture
def admin(staff_client, clock):
    return staff_client("admin", ())


def body(**fields):
    """A valid create body; keyword arguments override (None removes) fields."""
    out = {"municipality": "prishtina", "title": TITLE, "body": BODY} | fields
    return {k: v for k, v in out.items() if v is not None}


def create(caller, **fields):
    response = caller.post("/v1/admin/announcements", json=body(**fields))
    assert response.status_code == 201, response.json
    return response.json


def iso(value: datetime) -> str:
    return value.isoformat()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def audit_entries(announcement_id) -> list[AuditEntry]:
    return session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.entity_type == "announcement", AuditEntry.entity_id == str(announcement_id)
        )
        .order_by(AuditEntry.id)
    ).all()


def outbox_events(announcement_id=None) -> list[OutboxEvent]:
    query = select(OutboxEvent).where(OutboxEvent.kind == "announcement.published")
    if announcement_id is not None:
        query = query.where(OutboxEvent.announcement_id == announcement_id)
    return session.scalars(query.order_by(OutboxEvent.id)).all()


def municipality_id(slug) -> int:
    return session.scalar(select(Municipality.id).where(Municipality.slug == slug))


def feed(client, slug="prishtina", **params):
    return client.get(f"/v1/municipalities/{slug}/announcements", query_string=params)


# --------------------------------------------------------------------------- staff API


def test_manager_creates_an_announcement(manager):
    response = manager.post(
        "/v1/admin/announcements",
        json=body(
            category="water_sewage",
            area={"type": "Polygon", "coordinates": [IN_PRISHTINA]},
            publish_at="2026-11-20T09:00:00+01:00",
            expires_at="2026-11-21T00:00:00+01:00",
        ),
    )
    assert response.status_code == 201, response.json
    created = response.json
    assert response.headers["Location"].endswith(f"/v1/admin/announcements/{created['id']}")
    assert {k: v for k, v in created.items() if not k.endswith("_at")} == {
        "id": created["id"],
        "municipality": PRISHTINA_REF,
        "category": WATER,
        "title": TITLE,
        "body": BODY,
        "area": {"type": "MultiPolygon", "coordinates": [[IN_PRISHTINA]]},
        "state": "scheduled",
        "created_by": manager.staff.id,
    }
    assert at(created["publish_at"]) == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert at(created["expires_at"]) == datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert created["withdrawn_at"] is None
    assert at(created["created_at"]) == at(created["updated_at"]) == NOW

    stored = session.get(Announcement, created["id"])
    assert stored.municipality_id == municipality_id("prishtina")
    assert stored.created_by == manager.staff.id
    assert manager.get(f"/v1/admin/announcements/{created['id']}").json == created


def test_publish_at_defaults_to_now_and_texts_are_stripped(manager):
    created = create(manager, title={"sr": "  Radovi na putu "}, body={"sr": "Ulica zatvorena.\n"})
    assert at(created["publish_at"]) == NOW
    assert created["state"] == "published"
    assert created["title"] == {"sr": "Radovi na putu"}
    assert created["body"] == {"sr": "Ulica zatvorena."}
    assert created["category"] is None
    assert created["area"] is None
    assert created["expires_at"] is None


def test_manager_of_one_municipality_may_leave_it_out(manager):
    created = create(manager, municipality=None)
    assert created["municipality"] == PRISHTINA_REF


@pytest.mark.parametrize("places", [(), ("prishtina", "drenas")], ids=["admin", "two"])
def test_municipality_is_required_otherwise(staff_client, clock, places):
    caller = staff_client("admin" if not places else "manager", places)
    response = caller.post("/v1/admin/announcements", json=body(municipality=None))
    assert response.status_code == 422
    assert response.json["errors"] == {
        "json": {"municipality": ["Missing data for required field."]}
    }


def test_unknown_municipality_is_invalid(admin):
    response = admin.post("/v1/admin/announcements", json=body(municipality="atlantis"))
    assert response.status_code == 422
    assert response.json["errors"] == {
        "json": {"municipality": ["No municipality has the slug 'atlantis'."]}
    }


def test_list_is_scoped_filtered_and_paginated(admin, manager, clock):
    published = create(manager)
    scheduled = create(manager, publish_at=iso(NOW + HOUR))
    expired = create(manager, expires_at=iso(NOW + HOUR))
    withdrawn = create(manager)
    assert manager.delete(f"/v1/admin/announcements/{withdrawn['id']}").status_code == 204
    in_drenas = create(admin, municipality="drenas")

    def ids(caller, **params):
        response = caller.get("/v1/admin/announcements", query_string=params)
        assert response.status_code == 200, response.json
        return [a["id"] for a in response.json]

    assert ids(manager, state="scheduled") == [scheduled["id"]]
    assert ids(manager, state="expired") == []
    clock.now = NOW + 2 * HOUR

    # Newest publication first, then newest id.
    everything = [withdrawn["id"], expired["id"], published["id"]]
    assert ids(manager) == [scheduled["id"], *everything]
    assert ids(admin) == [scheduled["id"], in_drenas["id"], *everything]
    assert ids(admin, municipality="drenas") == [in_drenas["id"]]
    assert ids(manager, municipality="drenas") == []
    assert ids(manager, state="published") == [scheduled["id"], published["id"]]
    assert ids(manager, state="scheduled") == []  # its publish_at has passed
    assert ids(manager, state="expired") == [expired["id"]]
    assert ids(manager, state="withdrawn") == [withdrawn["id"]]
    states = {a["id"]: a["state"] for a in manager.get("/v1/admin/announcements").json}
    assert states == {
        published["id"]: "published",
        scheduled["id"]: "published",
        expired["id"]: "expired",
        withdrawn["id"]: "withdrawn",
    }

    page = manager.get("/v1/admin/announcements", query_string={"page": 2, "page_size": 3})
    assert [a["id"] for a in page.json] == [published["id"]]
    assert json.loads(page.headers["X-Pagination"]) == {
        "total": 4,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
    }
    bad = manager.get("/v1/admin/announcements", query_string={"state": "draft"})
    assert bad.status_code == 422
    assert list(bad.json["errors"]["query"]) == ["state"]


def test_update_edits_and_is_audited(manager, clock):
    created = create(manager, publish_at=iso(NOW + HOUR))
    clock.now = NOW + timedelta(minutes=5)
    url = f"/v1/admin/announcements/{created['id']}"
    response = manager.patch(
        url,
        json={
            "title": {"en": "Water cut, extended"},
            "body": {"en": "No water until 18:00."},
            "category": "water_sewage",
            "area": {"type": "MultiPolygon", "coordinates": [[IN_PRISHTINA]]},
            "expires_at": iso(NOW + 10 * HOUR),
        },
    )
    assert response.status_code == 200, response.json
    updated = response.json
    assert updated["title"] == {"en": "Water cut, extended"}
    assert updated["body"] == {"en": "No water until 18:00."}
    assert updated["category"] == WATER
    assert updated["area"] == {"type": "MultiPolygon", "coordinates": [[IN_PRISHTINA]]}
    assert at(updated["expires_at"]) == NOW + 10 * HOUR
    assert at(updated["updated_at"]) == clock.now
    assert at(updated["created_at"]) == NOW

    # null removes optional values
    cleared = manager.patch(url, json={"category": None, "area": None, "expires_at": None}).json
    assert (cleared["category"], cleared["area"], cleared["expires_at"]) == (None, None, None)

    create_entry, update_entry, clear_entry = audit_entries(created["id"])
    prishtina = municipality_id("prishtina")
    scheduled_at = iso(NOW + HOUR)
    first = {
        "municipality": "prishtina",
        "title": TITLE,
        "locales": ["en", "sq"],
        "category": None,
        "has_area": False,
        "publish_at": scheduled_at,
        "expires_at": None,
        "withdrawn_at": None,
    }
    assert (create_entry.action, create_entry.actor_id) == ("announcement.create", manager.staff.id)
    assert create_entry.municipality_ids == [prishtina]
    assert (create_entry.before, create_entry.after) == (None, first)
    assert update_entry.action == "announcement.update"
    assert update_entry.municipality_ids == [prishtina]
    assert update_entry.before == first
    edited = first | {
        "title": {"en": "Water cut, extended"},
        "locales": ["en"],
        "category": "water_sewage",
        "has_area": True,
        "expires_at": iso(NOW + 10 * HOUR),
    }
    assert update_entry.after == edited | {
        "changed": ["area", "body", "category", "expires_at", "title"]
    }
    assert clear_entry.before == edited
    assert clear_entry.after == first | {
        "title": {"en": "Water cut, extended"},
        "locales": ["en"],
        "changed": ["area", "category", "expires_at"],
    }


def test_patch_that_changes_nothing_writes_nothing(manager):
    created = create(manager, category="water_sewage")
    response = manager.patch(
        f"/v1/admin/announcements/{created['id']}",
        json={"title": TITLE, "category": "water_sewage", "area": None},
    )
    assert response.status_code == 200
    assert response.json == created
    assert [e.action for e in audit_entries(created["id"])] == ["announcement.create"]


def test_withdraw_keeps_the_row_and_is_audited(manager, client, clock):
    created = create(manager)
    url = f"/v1/admin/announcements/{created['id']}"
    clock.now = NOW + HOUR
    response = manager.delete(url)
    assert response.status_code == 204
    assert response.get_data() == b""
    shown = manager.get(url).json
    assert shown["state"] == "withdrawn"
    assert at(shown["withdrawn_at"]) == NOW + HOUR
    assert feed(client).json == []

    # Again: nothing changes, no second entry.
    assert manager.delete(url).status_code == 204
    entries = audit_entries(created["id"])
    assert [e.action for e in entries] == ["announcement.create", "announcement.withdraw"]
    assert entries[1].before["withdrawn_at"] is None
    assert entries[1].after["withdrawn_at"] == iso(NOW + HOUR)
    assert entries[1].after["title"] == TITLE

    edit = manager.patch(url, json={"title": {"en": "Back"}, "body": {"en": "Back."}})
    assert edit.status_code == 409
    assert edit.json["message"] == "This announcement was withdrawn; it cannot be edited."


def test_other_municipalities_announcements_are_not_found(manager, staff_client):
    created = create(manager)
    url = f"/v1/admin/announcements/{created['id']}"
    drenas = staff_client("manager", ["drenas"])
    not_found = {
        "code": 404,
        "status": "Not Found",
        "message": "No announcement with this id in your municipalities.",
    }
    for response in (
        drenas.get(url),
        drenas.patch(url, json={"title": {"en": "Mine"}, "body": {"en": "Mine."}}),
        drenas.delete(url),
        manager.get("/v1/admin/announcements/999999999"),
    ):
        assert response.status_code == 404
        assert response.json == not_found
    assert [a["id"] for a in drenas.get("/v1/admin/announcements").json] == []
    assert session.get(Announcement, created["id"]).withdrawn_at is None
    assert [e.action for e in audit_entries(created["id"])] == ["announcement.create"]


def test_manager_cannot_post_for_another_municipality(staff_client, clock):
    drenas = staff_client("manager", ["drenas"])
    response = drenas.post("/v1/admin/announcements", json=body())
    assert response.status_code == 403
    assert response.json["message"] == (
        "You can only post announcements for your own municipalities."
    )
    assert session.scalars(select(Announcement)).all() == []
    assert outbox_events() == []


ADMIN_CALLS = [
    ("GET", "/v1/admin/announcements", None),
    ("POST", "/v1/admin/announcements", body()),
    ("GET", "/v1/admin/announcements/{id}", None),
    ("PATCH", "/v1/admin/announcements/{id}", {"category": "water_sewage"}),
    ("DELETE", "/v1/admin/announcements/{id}", None),
]


@pytest.mark.parametrize("role", ["staff", "researcher", None])
@pytest.mark.parametrize("method, path, payload", ADMIN_CALLS, ids=lambda v: str(v)[:40])
def test_staff_researchers_and_anonymous_are_refused(
    manager, client, staff_client, role, method, path, payload
):
    created = create(manager)
    caller = client if role is None else staff_client(role, ("prishtina",))
    response = caller.open(path.format(id=created["id"]), method=method, json=payload)
    if role is None:
        assert response.status_code == 401
        assert response.json["message"] == "Sign in first: send a valid bearer token."
    else:
        assert response.status_code == 403
        assert response.json["message"] == (
            "This needs the announcements:write permission, which your role or token lacks."
        )
    assert len(session.scalars(select(Announcement)).all()) == 1
    assert session.get(Announcement, created["id"]).category_id is None


# --------------------------------------------------------------------------- validation

MISMATCH = "Title and body must be in the same languages (title: en, sq; body: en)."


@pytest.mark.parametrize(
    "fields, errors",
    [
        ({"title": {}}, {"title": ["Give the text in at least one of sq, sr, en."]}),
        ({"title": None}, {"title": ["Missing data for required field."]}),
        ({"body": {"de": "Wasser"}}, {"body": {"de": {"key": ["Must be one of: sq, sr, en."]}}}),
        ({"body": {"en": "No water."}}, {"body": [MISMATCH]}),
        (
            {"title": {"en": "   "}, "body": {"en": "x"}},
            {"title": {"en": {"value": ["Must not be empty."]}}},
        ),
        (
            {"title": {"en": "Water\x07cut"}, "body": {"en": "x"}},
            {"title": {"en": {"value": ["Must be plain text without control characters."]}}},
        ),
        (
            {"title": {"en": "x" * 201}, "body": {"en": "x"}},
            {"title": {"en": {"value": ["Longer than maximum length 200."]}}},
        ),
        (
            {"title": {"en": "x"}, "body": {"en": "x" * 4001}},
            {"body": {"en": {"value": ["Longer than maximum length 4000."]}}},
        ),
        (
            {"title": {"en": None}, "body": {"en": "x"}},
            {"title": {"en": {"value": ["Field may not be null."]}}},
        ),
        ({"category": "unicorns"}, {"category": ["No active category has the code 'unicorns'."]}),
        (
            {"area": {"type": "Point", "coordinates": [21.16, 42.66]}},
            {"area": ["Must be a GeoJSON Polygon or MultiPolygon."]},
        ),
        (
            {"area": {"type": "Polygon", "coordinates": [BOWTIE]}},
            {"area": ["Not a valid area: invalid geometry: Self-intersection[21.165 42.66]."]},
        ),
        (
            {"area": {"type": "Polygon", "coordinates": [IN_PRISHTINA[:-1]]}},
            {"area": ["Each linear ring must end where it starts."]},
        ),
        (
            {"area": {"type": "Polygon", "coordinates": [[[21.15, "42.65"], *IN_PRISHTINA[1:]]]}},
            {"area": ["Each position must be [lon, lat] (two or three numbers)."]},
        ),
        (
            {"area": {"type": "Polygon", "coordinates": [[[x + 200, y] for x, y in IN_PRISHTINA]]}},
            {
                "area": [
                    "Not a valid area: coordinates are not WGS84 longitude/latitude (EPSG:4326)."
                ]
            },
        ),
        (
            {"area": {"type": "Polygon", "coordinates": [IN_PRIZREN]}},
            {"area": ["The area does not overlap the municipality 'prishtina'."]},
        ),
        (
            {"publish_at": iso(NOW + 2 * HOUR), "expires_at": iso(NOW + HOUR)},
            {"expires_at": ["expires_at must be later than publish_at."]},
        ),
        ({"expires_at": iso(NOW)}, {"expires_at": ["expires_at must be later than publish_at."]}),
        (
            {"publish_at": "2026-11-20T09:00:00"},
            {"publish_at": ["Must include a UTC offset."]},
        ),
        (
            {"publish_at": iso(NOW - HOUR)},
            {"publish_at": ["Must not be in the past; leave it out to publish now."]},
        ),
        ({"pinned": True}, {"pinned": ["Unknown field."]}),
    ],
    ids=lambda v: json.dumps(v)[:50] if isinstance(v, dict) else v,
)
def test_invalid_announcements_are_refused_and_leave_nothing(manager, fields, errors):
    response = manager.post("/v1/admin/announcements", json=body(**fields))
    assert response.status_code == 422, response.json
    assert response.json["code"] == 422
    assert response.json["errors"] == {"json": errors}
    assert session.scalars(select(Announcement)).all() == []
    assert outbox_events() == []
    assert (
        session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "announcement")).all()
        == []
    )


def test_nan_coordinates_are_refused(manager):
    raw = json.dumps(body(area={"type": "Polygon", "coordinates": [IN_PRISHTINA]}))
    raw = raw.replace("21.18, 42.67", "NaN, 42.67")
    response = manager.post("/v1/admin/announcements", data=raw, content_type="application/json")
    assert response.status_code == 422, response.json
    # Refused at the edge, with the path to the number (ring 0, position 2, longitude).
    assert response.json["errors"] == {
        "json": {
            "area": {
                "coordinates": {
                    "0": {
                        "2": {"0": ["Numbers must be finite and at most 9007199254740992 in size."]}
                    }
                }
            }
        }
    }


@pytest.mark.parametrize(
    "patch, errors",
    [
        (
            {"title": {"sr": "Voda"}},
            {"title": ["Title and body must be in the same languages (title: sr; body: en, sq)."]},
        ),
        (
            {"expires_at": iso(NOW + HOUR)},
            {"expires_at": ["expires_at must be later than publish_at."]},
        ),
        (
            {"publish_at": iso(NOW + 5 * HOUR)},
            {"publish_at": ["expires_at must be later than publish_at."]},
        ),
        ({"publish_at": None}, {"publish_at": ["Field may not be null."]}),
        ({"municipality": "drenas"}, {"municipality": ["Unknown field."]}),
        (
            {"area": {"type": "Polygon", "coordinates": [IN_PRIZREN]}},
            {"area": ["The area does not overlap the municipality 'prishtina'."]},
        ),
    ],
)
def test_invalid_edits_are_refused(manager, patch, errors):
    created = create(manager, publish_at=iso(NOW + 2 * HOUR), expires_at=iso(NOW + 4 * HOUR))
    response = manager.patch(f"/v1/admin/announcements/{created['id']}", json=patch)
    assert response.status_code == 422, response.json
    assert response.json["errors"] == {"json": errors}
    assert manager.get(f"/v1/admin/announcements/{created['id']}").json == created
    assert len(audit_entries(created["id"])) == 1


# --------------------------------------------------------------------------- outbox


def test_create_queues_one_push_at_publish_at(manager):
    created = create(manager, publish_at=iso(NOW + 3 * HOUR))
    (event,) = outbox_events()
    assert event.announcement_id == created["id"]
    assert event.report_id is None
    assert event.available_at == NOW + 3 * HOUR
    assert event.dispatched_at is None
    assert event.payload == {"publish_at": iso(NOW + 3 * HOUR)}


def test_immediate_announcement_is_available_now(manager):
    created = create(manager)
    assert [(e.announcement_id, e.available_at) for e in outbox_events()] == [(created["id"], NOW)]


def test_rescheduling_before_publication_replaces_the_push(manager, clock):
    created = create(manager, publish_at=iso(NOW + 3 * HOUR))
    url = f"/v1/admin/announcements/{created['id']}"
    assert manager.patch(url, json={"title": {"en": "A"}, "body": {"en": "B"}}).status_code == 200
    assert [e.available_at for e in outbox_events(created["id"])] == [NOW + 3 * HOUR]

    moved = manager.patch(url, json={"publish_at": iso(NOW + 5 * HOUR)})
    assert moved.status_code == 200, moved.json
    assert [e.available_at for e in outbox_events(created["id"])] == [NOW + 5 * HOUR]
    assert audit_entries(created["id"])[-1].after["changed"] == ["publish_at"]

    # Once published, the time is fixed and nothing is queued again.
    clock.now = NOW + 6 * HOUR
    late = manager.patch(url, json={"publish_at": iso(NOW + 7 * HOUR)})
    assert late.status_code == 422
    assert late.json["errors"] == {
        "json": {"publish_at": ["Already published: withdraw it and post a new one instead."]}
    }
    assert manager.patch(url, json={"title": {"en": "C"}, "body": {"en": "D"}}).status_code == 200
    assert [e.available_at for e in outbox_events(created["id"])] == [NOW + 5 * HOUR]


def test_dispatched_push_is_kept_when_rescheduled(manager, app):
    created = create(manager, publish_at=iso(NOW + 3 * HOUR))
    (event,) = outbox_events(created["id"])
    event.dispatched_at = NOW  # as if a worker had already sent it
    session.commit()
    url = f"/v1/admin/announcements/{created['id']}"
    assert manager.patch(url, json={"publish_at": iso(NOW + 4 * HOUR)}).status_code == 200
    events = outbox_events(created["id"])
    assert [(e.available_at, e.dispatched_at) for e in events] == [
        (NOW + 3 * HOUR, NOW),
        (NOW + 4 * HOUR, None),
    ]


def test_withdrawing_keeps_the_queued_event(manager):
    created = create(manager, publish_at=iso(NOW + HOUR))
    manager.delete(f"/v1/admin/announcements/{created['id']}")
    assert len(outbox_events(created["id"])) == 1  # the push worker skips withdrawn ones


# --------------------------------------------------------------------------- public feed


def test_feed_shows_published_announcements_newest_first(manager, client, clock):
    first = create(manager, category="water_sewage")
    clock.now = NOW + HOUR
    second = create(
        manager,
        title={"en": "Roadworks"},
        body={"en": "Main street closed."},
        area={"type": "Polygon", "coordinates": [IN_PRISHTINA]},
        expires_at=iso(NOW + 5 * HOUR),
    )
    response = feed(client, lang="en")
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "en"
    assert json.loads(response.headers["X-Pagination"])["total"] == 2
    items = response.json
    assert [{k: v for k, v in item.items() if not k.endswith("_at")} for item in items] == [
        {
            "id": second["id"],
            "municipality": PRISHTINA_REF,
            "category": None,
            "lang": "en",
            "title": "Roadworks",
            "body": "Main street closed.",
            "area": {"type": "MultiPolygon", "coordinates": [[IN_PRISHTINA]]},
        },
        {
            "id": first["id"],
            "municipality": PRISHTINA_REF,
            "category": WATER,
            "lang": "en",
            "title": "Water cut",
            "body": "No water until 14:00.",
            "area": None,
        },
    ]
    assert [(at(i["publish_at"]), i["expires_at"] and at(i["expires_at"])) for i in items] == [
        (NOW + HOUR, NOW + 5 * HOUR),
        (NOW, None),
    ]
    one = client.get(f"/v1/municipalities/prishtina/announcements/{first['id']}?lang=en")
    assert one.status_code == 200
    assert one.json == items[1]
    assert [i["id"] for i in feed(client, category="water_sewage").json] == [first["id"]]
    assert feed(client, category="roads_potholes").json == []
    assert feed(client, "drenas").json == []


@pytest.mark.parametrize(
    "title, params, headers, lang",
    [
        ({"sq": "T-sq", "en": "T-en"}, {"lang": "sq"}, {}, "sq"),
        ({"sq": "T-sq", "en": "T-en"}, {}, {"Accept-Language": "sq-AL,en;q=0.5"}, "sq"),
        ({"sq": "T-sq", "en": "T-en"}, {"lang": "sr"}, {}, "en"),
        ({"sq": "T-sq", "en": "T-en"}, {}, {}, "en"),
        ({"sq": "T-sq", "sr": "T-sr"}, {"lang": "en"}, {}, "sq"),
        ({"sq": "T-sq", "sr": "T-sr"}, {}, {"Accept-Language": "hr"}, "sr"),
        ({"sr": "T-sr"}, {"lang": "en"}, {}, "sr"),
        ({"sr": "T-sr"}, {"lang": "sq"}, {}, "sr"),
        ({"en": "T-en", "sr": "T-sr"}, {"lang": "sq"}, {}, "en"),
    ],
)
def test_feed_is_localised_with_fallback(manager, client, title, params, headers, lang):
    text = {loc: f"B-{loc}" for loc in title}
    created = create(manager, title=title, body=text, category="water_sewage")
    response = (
        feed(client, **params)
        if not headers
        else client.get("/v1/municipalities/prishtina/announcements", headers=headers)
    )
    (item,) = response.json
    assert (item["lang"], item["title"], item["body"]) == (lang, f"T-{lang}", f"B-{lang}")
    # Names follow the requested language, whatever the announcement's language.
    requested = response.headers["Content-Language"]
    names = {"sq": "Prishtinë", "sr": "Priština", "en": "Prishtina"}
    assert item["municipality"]["name"] == names[requested]
    assert item["id"] == created["id"]


def test_scheduled_announcements_appear_at_publish_at(manager, client, clock):
    created = create(manager, publish_at=iso(NOW + 2 * HOUR))
    item_url = f"/v1/municipalities/prishtina/announcements/{created['id']}"
    clock.now = NOW + 2 * HOUR - timedelta(seconds=1)
    assert feed(client).json == []
    assert client.get(item_url).status_code == 404
    clock.now = NOW + 2 * HOUR
    assert [i["id"] for i in feed(client).json] == [created["id"]]
    assert client.get(item_url).status_code == 200


def test_expired_and_withdrawn_announcements_disappear(manager, client, clock):
    expiring = create(manager, expires_at=iso(NOW + HOUR))
    withdrawn = create(manager)
    kept = create(manager)
    assert len(feed(client).json) == 3
    manager.delete(f"/v1/admin/announcements/{withdrawn['id']}")
    clock.now = NOW + HOUR
    assert [i["id"] for i in feed(client).json] == [kept["id"]]
    for gone in (expiring, withdrawn):
        response = client.get(f"/v1/municipalities/prishtina/announcements/{gone['id']}")
        assert response.status_code == 404
        assert response.json == {
            "code": 404,
            "status": "Not Found",
            "message": "No published announcement with this id in this municipality.",
        }


def test_feed_item_must_belong_to_the_municipality(manager, client):
    created = create(manager)
    response = client.get(f"/v1/municipalities/drenas/announcements/{created['id']}")
    assert response.status_code == 404


@pytest.mark.parametrize("slug", ["atlantis", "Prishtina"])
def test_feed_of_unknown_municipality_is_404(client, slug):
    response = client.get(f"/v1/municipalities/{slug}/announcements")
    assert response.status_code == 404
    assert response.json["code"] == 404
    assert response.json["status"] == "Not Found"
    assert response.json["message"].startswith("No municipality has the slug ")


@pytest.mark.parametrize(
    "path, field",
    [
        ("/v1/admin/announcements?municipality=pri%00shtina", "municipality"),
        ("/v1/municipalities/prishtina/announcements?category=wa%07ter", "category"),
    ],
)
def test_control_characters_in_filters_are_422(manager, path, field):
    response = manager.get(path)
    assert response.status_code == 422
    assert response.json["errors"] == {
        "query": {field: ["Must be plain text without control characters."]}
    }


def test_documented_example_is_a_valid_announcement(manager):
    created = create(manager, **routes.ANNOUNCEMENT_EXAMPLE)
    assert created["state"] == "published"
    assert created["category"] == WATER


def test_times_are_compared_and_audited_as_instants(manager):
    created = create(manager, publish_at="2026-11-20T10:00:00+02:00")
    (entry,) = audit_entries(created["id"])
    assert entry.after["publish_at"] == "2026-11-20T08:00:00+00:00"
    assert outbox_events()[0].payload == {"publish_at": "2026-11-20T08:00:00+00:00"}
    url = f"/v1/admin/announcements/{created['id']}"
    same = manager.patch(url, json={"publish_at": "2026-11-20T09:00:00+01:00"})
    assert same.status_code == 200
    assert len(audit_entries(created["id"])) == 1
    assert len(outbox_events()) == 1
