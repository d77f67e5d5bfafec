"""Anonymity: a report's submitter leaves no address or user agent in the database or the logs."""

import http.client
import json
import logging
import uuid
from pathlib import Path

import pytest
from conftest import PRISHTINA
from live import gunicorn
from sqlalchemy import text

from civic_api.database import make_engine

CLIENT_IP = "127.77.66.55"  # a loopback address the tests can really connect from
FORWARDED_IP = "203.0.113.201"
USER_AGENT = "DistinctiveProbe/9.9 (walk-freely; probe-5417)"
MARKERS = (CLIENT_IP, FORWARDED_IP, USER_AGENT, "probe-5417")


def every_value_as_text(connection) -> str:
    """All rows of all tables in the public schema, as JSON text."""
    tables = connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ).scalars()
    return "\n".join(
        row
        for table in tables
        for row in connection.execute(
            text(f'SELECT row_to_json(t)::text FROM "{table}" t')
        ).scalars()
    )


def test_no_address_or_user_agent_in_tables_or_logs(client, db, caplog):
    caplog.set_level(logging.DEBUG)
    r = client.post(
        "/v1/reports",
        json={"category": "touching", "location": PRISHTINA},
        headers={
            "User-Agent": USER_AGENT,
            "X-Forwarded-For": FORWARDED_IP,
            "X-Real-IP": FORWARDED_IP,
            "Forwarded": f"for={FORWARDED_IP}",
        },
        environ_base={"REMOTE_ADDR": CLIENT_IP},
    )
    assert r.status_code == 201
    stored = every_value_as_text(db.connection())
    assert r.json["id"] in stored  # the scan does see the report
    for marker in MARKERS:
        assert marker not in stored
        assert marker not in caplog.text


def request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(CLIENT_IP, 0)
    )
    payload = json.dumps(body) if body is not None else None
    connection.request(
        method,
        path,
        body=payload,
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})},
    )
    response = connection.getresponse()
    data = json.loads(response.read())
    connection.close()
    return response.status, data


def serve_and_submit(database_url: str, log_path: Path, extra_env: dict) -> tuple[str, str]:
    """Run the real gunicorn configuration, submit a report from CLIENT_IP; return (id, log)."""
    env = {"CIVIC_SECRET_KEY": "privacy-test", "CIVIC_WORKERS": "1", **extra_env}
    with gunicorn(database_url, log_path, env) as server:
        status, created = request(
            server.port,
            "POST",
            "/v1/reports",
            {"category": "stalking", "location": PRISHTINA},
            {"X-Forwarded-For": FORWARDED_IP, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert status == 201, created
        status, _ = request(
            server.port,
            "GET",
            f"/v1/reports/{created['id']}",
            headers={"Follow-Up-Token": created["follow_up_token"]},
        )
        assert status == 200
    return created["id"], log_path.read_text()


@pytest.mark.parametrize("opt_in", [False, True], ids=["default", "operator-opt-in"])
def test_served_app_logs_no_client_address(app, database_url, tmp_path, opt_in):
    engine = make_engine(database_url)
    extra = {"CIVIC_ACCESS_LOG_CLIENT_IP": "1"} if opt_in else {}
    report_id, log = serve_and_submit(database_url, tmp_path / "gunicorn.log", extra)
    try:
        # The access log is on: one JSON line per request, ids redacted.
        assert '"method": "POST", "path": "/v1/reports", "status": 201' in log
        assert '"method": "GET", "path": "/v1/reports/{id}", "status": 200' in log
        assert (CLIENT_IP in log) is opt_in
        for marker in (FORWARDED_IP, USER_AGENT, report_id):
            assert marker not in log
        with engine.connect() as connection:
            stored = every_value_as_text(connection)
        assert report_id in stored
        for marker in MARKERS:
            assert marker not in stored
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM report WHERE id = :id"), {"id": report_id})
        engine.dispose()
