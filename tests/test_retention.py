"""Retention and erasure: the reporter's erasure, coarsening after closure, purges, the CLI."""

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from h3.api import basic_int as h3i
from photo_files import gps_jpeg
from sqlalchemy import func, select, text

from civic_api import retention
from civic_api.analytics.rollup import cells_of
from civic_api.outbox.models import OutboxEvent
from civic_api.photos.models import Photo
from civic_api.photos.storage import LocalStore
from civic_api.push.models import Device, Message
from civic_api.reports.models import IdempotencyRecord, Report, ReportEvent

NOW = datetime.now(UTC)


@pytest.fixture
def store(app, tmp_path):
    previous = app.extensions.get("photo_store")
    app.extensions["photo_store"] = store = LocalStore(tmp_path / "photos")
    yield store
    app.extensions["photo_store"] = previous


def location(db, report_id) -> tuple[float, float]:
    return db.execute(
        select(func.ST_Y(Report.location), func.ST_X(Report.location)).where(
            Report.id == uuid.UUID(str(report_id))
        )
    ).one()


def rollups_match_reports(db) -> None:
    """heat_cell_day/total equal a recomputation from the report rows' cells."""
    for table, key in (
        ("heat_cell_total", ""),
        ("heat_cell_day", ", report_local_day(occurred_at)"),
    ):
        kept = db.execute(
            text(
                f"SELECT resolution, cell, category_id, status_class{', day' if key else ''}, count"
                f" FROM {table} WHERE count <> 0 ORDER BY 1, 2, 3, 4{', 5' if key else ''}"
            )
        ).all()
        expected = db.execute(
            text(
                " UNION ALL ".join(
                    f"SELECT {r}::smallint AS resolution, h3_{r} AS cell, category_id::smallint,"
                    f" report_status_class(status){key}, count(*)::int FROM report"
                    f" GROUP BY 2, 3, 4{', 5' if key else ''}"
                    for r in (6, 7, 8, 9)
                )
                + f" ORDER BY 1, 2, 3, 4{', 5' if key else ''}"
            )
        ).all()
        assert [tuple(row) for row in kept] == [tuple(row) for row in expected]


def test_reporter_erases_text_answers_photos_and_exact_location(
    client, submit, db, store, staff_client
):
    created = submit(
        category="whistling",
        description="He followed me from the bus stop.",
        attributes={"perpetrator_gender": "group", "place_type": "street"},
        accuracy_m=5,
        headers={"Idempotency-Key": "erase-test-0000000001"},
    ).json
    token = {"Follow-Up-Token": created["follow_up_token"]}
    base = f"/v1/reports/{created['id']}"
    assert (
        client.post(f"{base}/comments", json={"message": "It was 9 pm."}, headers=token).status_code
        == 201
    )
    photo = client.post(
        f"{base}/photos",
        data={"file": (io.BytesIO(gps_jpeg()), "p.jpg")},
        headers=token,
        content_type="multipart/form-data",
    )
    assert photo.status_code == 201
    report_id = uuid.UUID(created["id"])
    report = db.get(Report, report_id)
    cells = {r: getattr(report, f"h3_{r}") for r in (6, 7, 8, 9)}
    original = location(db, report_id)
    rollups_match_reports(db)

    assert client.delete(base, headers={"Follow-Up-Token": "wrong"}).status_code == 404
    assert client.delete(base, headers=token).status_code == 204

    assert client.get(base, headers=token).status_code == 404  # the token is gone too
    assert client.delete(base, headers=token).status_code == 404
    report = db.get(Report, report_id)
    assert (report.description, report.attributes, report.accuracy_m) == (None, {}, None)
    assert report.erased_at is not None and report.location_coarsened_at is not None
    assert report.status == "submitted"  # staff's workflow and the counts stay
    centre = h3i.cell_to_latlng(cells[8])
    assert location(db, report.id) == pytest.approx(centre, abs=1e-9) != original
    assert (report.h3_6, report.h3_7, report.h3_8) == (cells[6], cells[7], cells[8])
    assert report.h3_9 == h3i.cell_to_center_child(cells[8], 9)
    rollups_match_reports(db)
    messages = db.scalars(select(ReportEvent.message).where(ReportEvent.report_id == report.id))
    assert list(messages) == [None]
    assert db.scalar(select(func.count()).select_from(Photo)) == 0
    assert not any(store.directory.iterdir())
    assert db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    dump = db.execute(text("SELECT row_to_json(r)::text FROM report r")).scalars().one()
    assert "bus stop" not in dump and "perpetrator" not in dump
    # Staff still see the report, without what was erased.
    detail = staff_client("staff", ["prishtina"]).get(f"/v1/admin/reports/{report_id}").json
    assert detail["description"] is None and detail["attributes"] == {}
    assert detail["erased_at"] is not None and detail["location_coarsened_at"] is not None
    assert (detail["location"]["lat"], detail["location"]["lon"]) == pytest.approx(centre)


def close(staff, report_id, status, days_ago, db):
    r = staff.patch(f"/v1/admin/reports/{report_id}", json={"status": status})
    assert r.status_code == 200, r.json
    db.execute(
        text("UPDATE report_event SET at = :at WHERE report_id = :id"),
        {"at": NOW - timedelta(days=days_ago), "id": report_id},
    )


def test_sensitive_locations_are_coarsened_90_days_after_closure(app, submit, db, staff_client):
    staff = staff_client("staff", ["prishtina"])
    old_sensitive = submit(category="whistling").json["id"]
    recent_sensitive = submit(category="whistling").json["id"]
    old_open_sensitive = submit(category="whistling").json["id"]
    old_public = submit(category="waste").json["id"]
    close(staff, old_sensitive, "rejected", 91, db)
    close(staff, recent_sensitive, "rejected", 89, db)
    close(staff, old_public, "rejected", 91, db)
    db.execute(
        text("UPDATE report SET updated_at = :at WHERE id = :id"),
        {"at": NOW - timedelta(days=200), "id": old_open_sensitive},
    )
    before = {
        i: location(db, i)
        for i in (old_sensitive, recent_sensitive, old_open_sensitive, old_public)
    }
    h3_8, version = db.execute(
        select(Report.h3_8, Report.version).where(Report.id == uuid.UUID(old_sensitive))
    ).one()

    assert retention.coarsen_due(NOW, 90) == 1
    assert retention.coarsen_due(NOW, 90) == 0  # idempotent
    db.expire_all()
    assert location(db, old_sensitive) == pytest.approx(h3i.cell_to_latlng(h3_8), abs=1e-9)
    report = db.get(Report, uuid.UUID(old_sensitive))
    # A new version: staff holding the old ETag reload before they write.
    assert report.h3_8 == h3_8 and report.version == version + 1
    for untouched in (recent_sensitive, old_open_sensitive, old_public):
        assert location(db, untouched) == before[untouched]
    rollups_match_reports(db)


def test_cli_run_purges_devices_push_rows_idempotency_and_orphans(app, submit, db, store):
    report_id = submit(headers={"Idempotency-Key": "retention-key-00000001"}).json["id"]
    db.execute(text("UPDATE idempotency_record SET created_at = now() - interval '25 hours'"))
    stale = Device(secret_hash=b"x", fcm_token="stale", platform="android", locale="sq")
    fresh = Device(secret_hash=b"y", fcm_token="fresh", platform="ios", locale="en")
    db.add_all([stale, fresh])
    db.flush()
    db.execute(
        text("UPDATE push_device SET updated_at = now() - interval '181 days' WHERE id = :id"),
        {"id": stale.id},
    )
    # One outbox event per message (a message is one event for one device).
    states = ["sent", "dead", "pending", "sent"]
    events = [
        OutboxEvent(kind="report.status_changed", report_id=uuid.UUID(report_id)) for _ in states
    ]
    db.add_all(events)
    db.flush()
    db.add_all(
        Message(
            event_id=event.id,
            kind=event.kind,
            report_id=event.report_id,
            device_id=fresh.id,
            state=state,
        )
        for event, state in zip(events, states, strict=True)
    )
    db.flush()
    # All but the last are a month old; the last event and its message are recent.
    event_ids = [e.id for e in events]
    old = event_ids[:3]
    db.execute(
        text(
            "UPDATE push_message SET created_at = now() - interval '31 days'"
            " WHERE event_id = ANY(:ids)"
        ),
        {"ids": old},
    )
    db.execute(
        text(
            "UPDATE outbox_event SET dispatched_at = now() - interval '31 days'"
            " WHERE id = ANY(:ids)"
        ),
        {"ids": old},
    )
    db.execute(
        text("UPDATE outbox_event SET dispatched_at = now() WHERE id = :id"), {"id": event_ids[3]}
    )
    store.put("orphan.jpg", b"x", "image/jpeg")
    import os

    os.utime(store.directory / "orphan.jpg", (0, 0))
    store.put("recent.jpg", b"x", "image/jpeg")  # an upload whose row may still commit

    runner = app.test_cli_runner()
    result = runner.invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "locations_coarsened": 0,
        "devices_expired": 1,
        # Two old finished messages and their events; the pending one keeps its event.
        "push_rows_purged": 4,
        "idempotency_records_purged": 1,
        "orphan_photo_files_deleted": 1,
    }
    assert db.scalars(select(Device.fcm_token)).all() == ["fresh"]
    assert sorted(db.scalars(select(Message.state))) == ["pending", "sent"]
    assert sorted(db.scalars(select(OutboxEvent.id))) == event_ids[2:]
    assert sorted(p.name for p in store.directory.iterdir()) == ["recent.jpg"]
    again = runner.invoke(args=["retention", "run"])
    assert json.loads(again.output) == dict.fromkeys(json.loads(result.output), 0)


def test_coarsening_skips_rows_in_use_instead_of_waiting(app, database_url):
    """Safe while serving: a report a staff transaction holds is skipped, taken next run."""
    from civic_api.database import make_engine

    engine = make_engine(database_url)
    report_id = uuid.uuid4()
    insert = text("""
        INSERT INTO report (id, category_id, municipality_id, location, occurred_at, status,
                            follow_up_token_hash, h3_6, h3_7, h3_8, h3_9, updated_at)
        SELECT :id, c.id, m.id, ST_SetSRID(ST_MakePoint(21.1655, 42.6629), 4326), now(),
               'rejected', '\\x00', :h3_6, :h3_7, :h3_8, :h3_9, now() - interval '200 days'
        FROM category c, municipality m WHERE c.code = 'whistling' AND m.slug = 'prishtina'
    """)
    cells = {k: int(v[0]) for k, v in cells_of([42.6629], [21.1655]).items()}
    with engine.begin() as connection:
        connection.execute(insert, {"id": report_id, **cells})
    holder = engine.connect()
    runner = engine.connect()
    try:
        held = holder.begin()
        holder.execute(text("SELECT 1 FROM report WHERE id = :id FOR UPDATE"), {"id": report_id})
        runner.execute(text("SET lock_timeout = '2s'"))  # waiting would fail the test
        runner.commit()
        with runner.begin():
            session_for(runner)
            assert retention.coarsen_due(NOW, 90) == 0
        held.rollback()
        with runner.begin():
            session_for(runner)
            assert retention.coarsen_due(NOW, 90) == 1
    finally:
        from civic_api.database import session

        session.remove()
        holder.close()
        runner.close()
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM report WHERE id = :id"), {"id": report_id})
        engine.dispose()


def session_for(connection) -> None:
    from civic_api.database import session

    session.remove()
    session.configure(bind=connection, join_transaction_mode="create_savepoint")
