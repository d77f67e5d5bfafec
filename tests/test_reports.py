"""Citizen report submission, validation, follow-up and idempotency."""

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from conftest import PRISHTINA, round_trips
from sqlalchemy import func, select, text

from civic_api.reports.models import IdempotencyRecord, Report


def count_reports(db) -> int:
    return db.scalar(select(func.count()).select_from(Report))


def test_submit_returns_id_token_municipality(submit, db):
    before = datetime.now(UTC)
    r = submit(
        category="whistling",
        accuracy_m=8.5,
        description="  Two men whistled at me.  ",
        attributes={"perpetrator_gender": "group", "place_type": "street"},
        locale="sq",
    )
    assert r.status_code == 201, r.json
    body = r.json
    assert list(body) == ["id", "follow_up_token", "status", "municipality", "submitted_at"]
    assert body["status"] == "submitted"
    assert body["municipality"] == {"slug": "prishtina", "name": "Prishtinë"}
    assert r.headers["Content-Language"] == "sq"  # answered in the reporter's language
    assert r.headers["Location"] == f"/v1/reports/{body['id']}"
    report = db.get(Report, uuid.UUID(body["id"]))
    assert report.category.code == "whistling"
    assert report.description == "Two men whistled at me."
    assert report.attributes == {"perpetrator_gender": "group", "place_type": "street"}
    assert report.locale == "sq"
    assert report.accuracy_m == 8.5
    assert before <= report.submitted_at == datetime.fromisoformat(body["submitted_at"])
    assert report.occurred_at == report.submitted_at
    lon, lat = db.execute(
        select(func.ST_X(Report.location), func.ST_Y(Report.location)).where(Report.id == report.id)
    ).one()
    assert (lon, lat) == (PRISHTINA["lon"], PRISHTINA["lat"])


def test_token_has_256_bits_and_only_its_hash_is_stored(submit, db):
    body = submit().json
    token = body["follow_up_token"]
    assert len(token) == 43  # 32 random bytes, base64url without padding
    report = db.get(Report, uuid.UUID(body["id"]))
    assert report.follow_up_token_hash == hashlib.sha256(token.encode()).digest()
    dump = db.execute(text("SELECT row_to_json(r)::text FROM report r")).scalars().all()
    assert not any(token in row for row in dump)


def test_geojson_point_and_locale_from_accept_language(client):
    r = client.post(
        "/v1/reports",
        json={
            "category": "waste",
            "location": {"type": "Point", "coordinates": [20.7397, 42.2139]},
        },
        headers={"Accept-Language": "sr-Latn;q=0.9, en;q=0.5"},
    )
    assert r.status_code == 201, r.json
    assert r.json["municipality"] == {"slug": "prizren", "name": "Prizren"}
    assert r.headers["Content-Language"] == "sr"


def test_follow_up_reads_status_and_timeline(client, submit):
    created = submit(occurred_at="2026-11-01T18:30:00+01:00").json
    r = client.get(
        f"/v1/reports/{created['id']}?lang=sq",
        headers={"Follow-Up-Token": created["follow_up_token"]},
    )
    assert r.status_code == 200
    assert r.json == {
        "id": created["id"],
        "status": "submitted",
        "duplicate_of": None,
        "can_reopen_until": None,
        "category": {"code": "commenting", "name": r.json["category"]["name"]},
        "municipality": {"slug": "prishtina", "name": "Prishtinë"},
        "occurred_at": "2026-11-01T17:30:00+00:00",
        "submitted_at": created["submitted_at"],
        "timeline": [{"at": created["submitted_at"], "type": "submitted", "status": "submitted"}],
        "feedback_open": False,
    }
    assert r.json["category"]["name"] != "Commenting"  # Albanian, not English


@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 43])
def test_wrong_or_missing_token_looks_like_unknown_id(client, submit, token):
    created = submit().json
    headers = {} if token is None else {"Follow-Up-Token": token}
    wrong = client.get(f"/v1/reports/{created['id']}", headers=headers)
    unknown = client.get(
        f"/v1/reports/{uuid.uuid4()}", headers={"Follow-Up-Token": created["follow_up_token"]}
    )
    assert wrong.status_code == unknown.status_code == 404
    assert (
        wrong.json
        == unknown.json
        == {
            "code": 404,
            "status": "Not Found",
            "message": "No report matches this id and follow-up token.",
        }
    )


def test_token_of_one_report_does_not_open_another(client, submit):
    first, second = submit().json, submit().json
    r = client.get(
        f"/v1/reports/{second['id']}", headers={"Follow-Up-Token": first["follow_up_token"]}
    )
    assert r.status_code == 404


def test_malformed_report_id_is_404(client):
    assert client.get("/v1/reports/not-a-uuid").status_code == 404


NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"category": None}, "category", "Field may not be null."),
        ({"category": "no_such"}, "category", "No active category has the code 'no_such'."),
        ({"location": None}, "location", "Field may not be null."),
        (
            {"location": [21.1, 42.6]},
            "location",
            "Must be an object {lat, lon} or a GeoJSON Point.",
        ),
        ({"location": {"lat": 42.6}}, "location", "Must have exactly the keys lat and lon."),
        ({"location": {"lat": "42.6", "lon": 21.1}}, "location", "Coordinates must be numbers."),
        ({"location": {"lat": True, "lon": 21.1}}, "location", "Coordinates must be numbers."),
        (
            {"location": {"lat": 91, "lon": 21.1}},
            "location",
            "Latitude must be between -90 and 90.",
        ),
        (
            {"location": {"lat": 42, "lon": 181}},
            "location",
            "Longitude must be between -180 and 180.",
        ),
        (
            {"location": {"type": "LineString", "coordinates": [[21, 42], [21.1, 42.1]]}},
            "location",
            'A GeoJSON location must be {"type": "Point", "coordinates": [lon, lat]}.',
        ),
        (
            {"location": {"lat": 44.8176, "lon": 20.4633}},
            "location",
            "This location is outside every municipality served by this service.",
        ),
        (
            {"accuracy_m": -1},
            "accuracy_m",
            "Must be greater than or equal to 0 and less than or equal to 10000.",
        ),
        ({"accuracy_m": "12"}, "accuracy_m", "Not a valid number."),
        ({"description": "x" * 4001}, "description", "Longer than maximum length 4000."),
        (
            {"description": "nul \x00 byte"},
            "description",
            "Must not contain NUL or unpaired surrogate characters.",
        ),
        (
            {"description": "bell \x07"},
            "description",
            "Must be plain text without control characters.",
        ),
        ({"locale": "de"}, "locale", "Must be one of: sq, sr, en."),
        ({"occurred_at": "yesterday"}, "occurred_at", "Not a valid datetime."),
        (
            {"occurred_at": "2026-11-20T18:45:00"},
            "occurred_at",
            "Must include a UTC offset, e.g. 2026-11-20T18:45:00+01:00.",
        ),
        (
            {"occurred_at": (NOW + timedelta(hours=1)).isoformat()},
            "occurred_at",
            "Must not be in the future.",
        ),
        (
            {"occurred_at": (NOW - timedelta(days=366)).isoformat()},
            "occurred_at",
            "Must be within the last 365 days.",
        ),
        ({"attributes": ["street"]}, "attributes", "Not a valid mapping type."),
        ({"surprise": 1}, "surprise", "Unknown field."),
        ({"ip": "203.0.113.9"}, "ip", "Unknown field."),
    ],
)
def test_invalid_fields_are_422_with_field_messages(submit, db, fields, field, message):
    r = submit(**fields)
    assert r.status_code == 422, r.json
    assert r.json["code"] == 422
    assert r.json["status"] == "Unprocessable Entity"
    assert list(r.json["errors"]["json"]) == [field]
    if message:
        assert r.json["errors"]["json"][field] == [message]
    assert count_reports(db) == 0


def test_occurred_at_just_inside_the_limits_is_accepted(submit):
    assert submit(occurred_at=(NOW + timedelta(seconds=60)).isoformat()).status_code == 201
    assert submit(occurred_at=(NOW - timedelta(days=364)).isoformat()).status_code == 201


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_coordinates_in_raw_json_are_422(client, db, literal):
    raw = '{"category": "commenting", "location": {"lat": LAT, "lon": 21.16}}'.replace(
        "LAT", literal
    )
    r = client.post("/v1/reports", data=raw, content_type="application/json")
    assert r.status_code == 422, r.json
    assert list(r.json["errors"]["json"]) == ["location"]
    assert count_reports(db) == 0


def test_attribute_answers_are_checked_against_the_category(submit, db):
    r = submit(
        category="water_sewage",
        attributes={"severity": "apocalyptic", "colour": "brown"},
    )
    assert r.status_code == 422
    assert r.json["errors"]["json"]["attributes"] == {
        "colour": ["This category has no such attribute."],
        "water_issue": ["An answer is required."],
        "severity": ["Must be one of: low, medium, high, dangerous."],
    }
    ok = submit(category="water_sewage", attributes={"water_issue": "leak", "severity": "high"})
    assert ok.status_code == 201


def test_idempotent_retry_returns_first_response_and_creates_nothing(submit, db):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = submit(headers=key, description="retry me")
    again = submit(headers=key, description="retry me")
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert count_reports(db) == 1


def test_idempotency_key_with_another_body_is_422(submit, db):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert submit(headers=key, description="one").status_code == 201
    r = submit(headers=key, description="two")
    assert r.status_code == 422
    assert r.json["errors"] == {
        "headers": {
            "Idempotency-Key": [
                "This Idempotency-Key was already used with a different request body."
            ]
        }
    }
    assert count_reports(db) == 1


def test_idempotency_record_keeps_neither_key_nor_token(submit, db):
    key = str(uuid.uuid4())
    body = submit(headers={"Idempotency-Key": key}).json
    record = db.scalars(select(IdempotencyRecord)).one()
    stored = b"".join([record.key_hash, record.request_hash, record.sealed_response])
    assert key.encode() not in stored
    assert body["follow_up_token"].encode() not in stored
    assert str(record.report_id) == body["id"]


def test_retry_gets_its_first_answer_even_if_it_would_now_fail(submit, db):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = submit(headers=key)
    db.execute(text("UPDATE category SET active = false WHERE code = 'commenting'"))
    assert submit().status_code == 422  # without the key: the category is gone
    again = submit(headers=key)
    assert again.status_code == 201 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_reports(db) == 1


def test_failed_request_does_not_burn_the_key(submit, db):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    assert submit(headers=key, category="no_such").status_code == 422
    assert submit(headers=key).status_code == 201


def test_expired_idempotency_key_starts_afresh(app, submit, db):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = submit(headers=key).json
    db.execute(text("UPDATE idempotency_record SET created_at = now() - interval '25 hours'"))
    second = submit(headers=key).json
    assert second["id"] != first["id"]
    assert count_reports(db) == 2


@pytest.mark.parametrize("key", ["short", "has space in the key ....", "ä" * 20, "k" * 256])
def test_malformed_idempotency_key_is_422(submit, db, key):
    r = submit(headers={"Idempotency-Key": key})
    assert r.status_code == 422
    assert list(r.json["errors"]["headers"]) == ["Idempotency-Key"]
    assert count_reports(db) == 0


def test_error_shapes_for_400_404_405_413_415(client):
    bad_json = client.post("/v1/reports", data="{oops", content_type="application/json")
    assert bad_json.status_code == 400
    assert bad_json.json == {
        "code": 400,
        "status": "Bad Request",
        "errors": {"json": ["Invalid JSON body."]},
        "message": "The request could not be parsed; see errors.",
    }
    form = client.post("/v1/reports", data={"category": "commenting"})
    assert form.status_code == 415
    assert form.json["message"] == (
        "The request body must be JSON (Content-Type: application/json)."
    )
    too_big = client.post(
        "/v1/reports",
        data=json.dumps({"description": "x" * 300_000}),
        content_type="application/json",
    )
    assert too_big.status_code == 413
    assert set(too_big.json) == {"code", "status", "message"}
    assert client.get("/v1/nothing-here").json["code"] == 404
    assert client.put("/v1/reports").json["code"] == 405
    for r in (bad_json, form, too_big):
        assert r.content_type == "application/json"


def test_unexpected_errors_are_json_without_internals(app, client, monkeypatch):
    from civic_api.reports import service

    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(service, "new_report", explode)
    r = client.post("/v1/reports", json={"category": "commenting", "location": PRISHTINA})
    assert r.status_code == 500
    assert r.json == {
        "code": 500,
        "status": "Internal Server Error",
        "message": "An unexpected error occurred; it has been logged.",
    }


def test_concurrent_retries_create_one_report(app, db):
    """Two simultaneous requests with one key: real commits, each in its own session."""
    import threading

    from civic_api.database import session

    engine = app.extensions["engine"]
    session.remove()
    session.configure(bind=engine)  # each thread's scoped session commits for real
    key = str(uuid.uuid4())
    barrier = threading.Barrier(2)
    results = []

    def post():
        with app.test_client() as client:
            barrier.wait()
            r = client.post(
                "/v1/reports",
                json={"category": "commenting", "location": PRISHTINA},
                headers={"Idempotency-Key": key},
            )
            results.append((r.status_code, r.json))
            session.remove()

    threads = [threading.Thread(target=post) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert [status for status, _ in results] == [201, 201]
        assert results[0][1] == results[1][1]
        with engine.connect() as connection:
            ids = (
                connection.execute(
                    text("SELECT id::text FROM report WHERE id = :id"), {"id": results[0][1]["id"]}
                )
                .scalars()
                .all()
            )
            assert ids == [results[0][1]["id"]]
            assert connection.execute(text("SELECT count(*) FROM idempotency_record")).scalar() == 1
    finally:
        with engine.begin() as connection:
            for _, body in results:
                connection.execute(text("DELETE FROM report WHERE id = :id"), {"id": body["id"]})
        session.remove()


def test_database_errors_are_logged_without_row_values(client, monkeypatch, caplog):
    from sqlalchemy.exc import IntegrityError

    from civic_api.reports import service

    class FakeDriverError(Exception):
        pgcode = "23514"

    def violate(*args, **kwargs):
        raise IntegrityError(
            "INSERT INTO report ...",
            {},
            FakeDriverError("DETAIL: Failing row contains (..., my private description, ...)"),
        )

    monkeypatch.setattr(service, "new_report", violate)
    r = client.post("/v1/reports", json={"category": "commenting", "location": PRISHTINA})
    # A check constraint the schema did not anticipate is still the client's value: 422.
    assert r.status_code == 422
    assert "private description" not in caplog.text
    assert "database error FakeDriverError (SQLSTATE 23514, constraint None)" in caplog.text


@pytest.mark.parametrize(
    "coordinates, expected",
    [
        ([21.1655, 42.6629, "x"], 422),
        ([21.1655, 42.6629, 1, 2], 422),
        ([21.1655, 42.6629, 650.0], 201),
    ],
)
def test_geojson_point_with_elevation(submit, coordinates, expected):
    r = submit(location={"type": "Point", "coordinates": coordinates})
    assert r.status_code == expected, r.json
    if expected == 422:
        assert r.json["errors"]["json"]["location"] == ["Coordinates must be two or three numbers."]


@pytest.fixture
def committing(app, unjoined):
    """The requests' engine with real commits; the reports stored are deleted after."""
    yield app.extensions["request_engine"]
    with app.extensions["engine"].begin() as connection:
        connection.execute(text("DELETE FROM report WHERE description = 'round trips'"))
        connection.execute(text("DELETE FROM idempotency_record"))


def test_a_report_is_one_statement(app, client, committing, monkeypatch):
    for cache in ("category_cache", "municipality_index"):
        monkeypatch.setattr(app.extensions[cache], "max_age", 60.0)
    body = {"category": "commenting", "location": PRISHTINA, "description": "round trips"}

    def post(key=None):
        headers = {"Idempotency-Key": key} if key else {}
        return round_trips(
            committing, lambda: client.post("/v1/reports", json=body, headers=headers)
        )

    # The first of each kind loads the caches and prepares its statement on the connection
    # (unless an earlier test did).
    assert post()[-1:] == post(str(uuid.uuid4()))[-1:] == ["EXECUTE"]
    # Then no pre-ping, no timeouts (they are the connection's), no category or municipality
    # query (the process's caches), no purge, no BEGIN or COMMIT (autocommit), no parsing or
    # planning: the report is one EXECUTE; with a key too (the key, its sealed response and
    # the report are one statement).
    assert post() == ["EXECUTE"]
    key = str(uuid.uuid4())
    assert post(key) == ["EXECUTE"]
    assert post(key) == ["EXECUTE", "SELECT"]  # the replay: the key is live, its answer read
    with committing.connect() as connection:
        stored = connection.scalar(
            text("SELECT count(*) FROM report WHERE description = 'round trips'")
        )
    assert stored == 4


def test_each_role_runs_with_its_settings(app, client, committing):
    """What the server had set while the request's statement ran: the role's timeouts
    (set on the connection when it changes role, not per request)."""
    from sqlalchemy import event

    seen = []

    def record(conn, cursor, sql, *args):
        if sql.startswith(("EXECUTE", "SELECT category")):
            with conn.connection.dbapi_connection.cursor() as probe:
                probe.execute(
                    "SELECT current_setting('statement_timeout'),"
                    " current_setting('max_parallel_workers_per_gather')"
                )
                seen.append(probe.fetchone())

    body = {"category": "commenting", "location": PRISHTINA, "description": "round trips"}
    event.listen(committing, "after_cursor_execute", record)
    try:
        for _ in range(2):  # the second time on a connection that already had the role
            for request, expected in (
                # DB_INGEST_STATEMENT_TIMEOUT_MS, parallel workers as the server has them
                (lambda: client.post("/v1/reports", json=body), ("3s", "2")),
                # DB_ANALYTICS_STATEMENT_TIMEOUT_MS, no parallel workers (maps)
                (lambda: client.get("/v1/tiles/heatmap/10/571/375.mvt"), ("15s", "0")),
                # DB_STATEMENT_TIMEOUT_MS
                (lambda: client.get("/v1/categories"), ("5s", "2")),
            ):
                seen.clear()
                assert request().status_code in (200, 201)
                assert seen and set(seen) == {expected}
    finally:
        event.remove(committing, "after_cursor_execute", record)


def test_requests_do_not_purge_expired_keys_the_command_does(app, submit, db):
    db.execute(
        text(
            "INSERT INTO idempotency_record (key_hash, request_hash, created_at) VALUES"
            " ('\\x01', '\\x01', now() - interval '25 hours'),"
            " ('\\x02', '\\x02', now() - interval '23 hours')"
        )
    )
    assert submit(headers={"Idempotency-Key": str(uuid.uuid4())}).status_code == 201
    assert db.scalar(text("SELECT count(*) FROM idempotency_record")) == 3
    result = app.test_cli_runner().invoke(args=["reports", "purge-idempotency"])
    assert result.exit_code == 0, result.output
    assert result.output == "purged 1 expired idempotency records\n"
    kept = db.scalars(text("SELECT key_hash FROM idempotency_record ORDER BY created_at")).all()
    assert len(kept) == 2 and bytes(kept[0]) == b"\x02"  # the expired one went, not the others


def test_wrong_token_and_unknown_id_run_the_same_query(app, submit, db):
    """One look-up by id and token hash: a wrong token sends what an unknown id sends and
    gets no row back either, so nothing is loaded or compared in Python (the timing is
    measured in bench/ingest_bench.py)."""
    from sqlalchemy import event

    created = submit().json
    engine = db.get_bind().engine
    client = app.test_client()
    sent: dict[str, list[str]] = {"wrong token": [], "unknown id": []}
    for kind, report_id in (("wrong token", created["id"]), ("unknown id", uuid.uuid4())):

        def record(conn, cursor, sql, *args, kind=kind):
            if "SAVEPOINT" not in sql:
                sent[kind].append((sql, cursor.rowcount))

        event.listen(engine, "after_cursor_execute", record)
        try:
            r = client.get(f"/v1/reports/{report_id}", headers={"Follow-Up-Token": "x" * 43})
        finally:
            event.remove(engine, "after_cursor_execute", record)
        assert r.status_code == 404
    assert sent["wrong token"] == sent["unknown id"]
    assert [rows for _, rows in sent["wrong token"]] == [0]
