"""Prometheus metrics: per-route latency, 429s, database gauges, and gunicorn's processes merged."""

import http.client
import re
import uuid

from live import gunicorn
from prometheus_client.parser import text_string_to_metric_families

from civic_api import metrics
from civic_api.outbox.models import OutboxEvent


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def scrape(client) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.mimetype == "text/plain"
    return samples(r.get_data(as_text=True))


def samples(text: str) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


COUNT = "civic_http_request_duration_seconds_count"


def test_latency_per_route_template_and_rate_limit_refusals(app, client, submit, monkeypatch):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/v1/categories").status_code == 200
    client.get(f"/v1/reports/{uuid.uuid4()}")  # a 404 on a templated route
    monkeypatch.setitem(app.config, "REPORT_RATE_LIMIT", "1 per minute")
    assert submit().status_code == 201
    assert submit().status_code == 429
    after = scrape(client)
    route = {"route": "/v1/categories", "method": "GET", "status": "200"}
    assert value(after, COUNT, **route) - value(before, COUNT, **route) == 3
    templated = {"route": "/v1/reports/<uuid:report_id>", "method": "GET", "status": "404"}
    assert value(after, COUNT, **templated) - value(before, COUNT, **templated) == 1
    refusals = "civic_rate_limit_refusals_total"
    assert (
        value(after, refusals, route="/v1/reports") - value(before, refusals, route="/v1/reports")
        == 1
    )
    # Never a concrete id in a label.
    assert not any(re.search(r"[0-9a-f]{8}-", str(key)) for key in after)


def test_outbox_push_and_release_gauges_come_from_the_database(client, submit, db):
    report_id = uuid.UUID(submit().json["id"])
    assert value(scrape(client), "civic_outbox_pending_events") == 0
    db.add(OutboxEvent(kind="report.status_changed", report_id=report_id))
    db.flush()
    db.commit()  # a savepoint: visible to the request's session
    found = scrape(client)
    assert value(found, "civic_outbox_pending_events") == 1
    assert value(found, "civic_outbox_oldest_pending_age_seconds") >= 0
    assert value(found, "civic_push_messages", state="pending") == 0
    assert value(found, "civic_database_up") == 1
    assert value(found, "civic_public_releases") == 0


def test_hooks_count_deliveries_and_releases(client):
    before = scrape(client)
    metrics.delivery_outcome("sent", 3)
    metrics.release_published("dp_heatmap")
    after = scrape(client)
    name = "civic_push_delivery_outcomes_total"
    assert value(after, name, outcome="sent") - value(before, name, outcome="sent") == 3
    name = "civic_releases_published_total"
    assert value(after, name, kind="dp_heatmap") - value(before, name, kind="dp_heatmap") == 1


def test_gunicorn_workers_are_merged_in_one_scrape(app, database_url, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(home)}
    with gunicorn(database_url, tmp_path / "gunicorn.log", env, ready="/v1/categories") as live:
        port = live.port
        for _ in range(40):
            assert get(port, "/v1/categories")[0] == 200
        status, body = get(port, "/metrics")
        assert status == 200
        found = samples(body.decode())
        # No control socket ($HOME/.gunicorn/gunicorn.ctl would be shared by every instance).
        assert not (home / ".gunicorn").exists(), list(home.rglob("*"))
    route = {"route": "/v1/categories", "method": "GET", "status": "200"}
    # The readiness probe made one more request; whichever worker served each, all are counted.
    assert value(found, COUNT, **route) == 41
    assert value(found, "civic_database_up") == 1
