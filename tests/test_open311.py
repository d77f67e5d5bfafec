"""Open311 GeoReport v2 under /open311/v2: shapes in XML and JSON, every filter and error,
form-encoded posts through the one submission path, privacy of sensitive services, and
third-party clients (georeport, civicbot) against a real HTTP server."""

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from conftest import TEST_SECRET
from h3.api import basic_int as h3i
from sqlalchemy import select, text

from civic_api.categories.models import Category
from civic_api.ogc.service import PointIds
from civic_api.reports.models import Report, ReportEvent

V2 = "/open311/v2"
PRISHTINA = {"lat": "42.6629", "long": "21.1655"}
IDS = PointIds(TEST_SECRET.encode())


def xml_of(r) -> ET.Element:
    assert r.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert r.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(r.data)


def json_of(r):
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    return r.json


def items(root: ET.Element, tag: str) -> list[dict]:
    """Each child element as {tag: text} (nested elements as their element)."""
    assert all(child.tag == tag for child in root)
    return [{e.tag: e.text if len(e) == 0 else e for e in child} for child in root]


def post(client, fmt="json", **form):
    return client.post(f"{V2}/requests.{fmt}", data=PRISHTINA | form)


def request_id(report_id) -> str:
    return IDS.encode([report_id])[0]


def error_of(r, status: int, fmt="json") -> list[str]:
    assert r.status_code == status
    if fmt == "xml":
        root = xml_of(r)
        assert root.tag == "errors"
        found = items(root, "error")
        assert {e["code"] for e in found} == {str(status)}
        return [e["description"] for e in found]
    body = json_of(r)
    assert isinstance(body, list) and body
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in body)
    return [e["description"] for e in body]


# Discovery and services


def test_discovery(client):
    r = client.get(f"{V2}/discovery.json")
    assert r.status_code == 200
    body = json_of(r)
    assert body["endpoints"] == [
        {
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": "http://localhost/open311/v2",
            "changeset": body["changeset"],
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }
    ]
    root = xml_of(client.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    endpoint = root.find("endpoints/endpoint")
    assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]
    assert endpoint.find("url").text == "http://localhost/open311/v2"


def test_services_are_the_active_categories(client, db):
    r = client.get(f"{V2}/services.json?lang=sq")
    services = json_of(r)
    categories = db.scalars(select(Category).where(Category.active)).unique().all()
    assert sorted(s["service_code"] for s in services) == sorted(c.code for c in categories)
    waste = next(s for s in services if s["service_code"] == "waste")
    assert waste == {
        "service_code": "waste",
        "service_name": "Mbeturinat",
        "description": waste["description"],
        "metadata": True,
        "type": "realtime",
        "keywords": "mbeturina,kontejner,plehra,otpad,smeće,waste,garbage,trash,bin",
        "group": "Mjedisi",
    }
    # Sensitive services are listed: they can be posted to, never read back.
    assert "commenting" in {s["service_code"] for s in services}
    root = xml_of(client.get(f"{V2}/services.xml"))
    assert root.tag == "services"
    listed = items(root, "service")
    assert [s["service_code"] for s in listed] == [s["service_code"] for s in services]
    waste_xml = next(s for s in listed if s["service_code"] == "waste")
    assert (waste_xml["metadata"], waste_xml["type"], waste_xml["group"]) == (
        "true",
        "realtime",
        "Environment",
    )


def test_service_definition(client):
    body = json_of(client.get(f"{V2}/services/public_lighting.json"))
    assert body["service_code"] == "public_lighting"
    assert [a["code"] for a in body["attributes"]] == ["severity", "lights_out_count"]
    severity, count = body["attributes"]
    assert severity == {
        "variable": True,
        "code": "severity",
        "datatype": "singlevaluelist",
        "required": severity["required"],
        "order": severity["order"],
        "description": "How serious is the problem?",
        "values": [
            {"key": "low", "name": "Low"},
            {"key": "medium", "name": "Medium"},
            {"key": "high", "name": "High"},
            {"key": "dangerous", "name": "Dangerous"},
        ],
    }
    assert (count["datatype"], count["values"]) == ("number", [])
    root = xml_of(client.get(f"{V2}/services/public_lighting.xml"))
    assert root.tag == "service_definition"
    assert root.find("service_code").text == "public_lighting"
    first = root.find("attributes/attribute")
    assert [first.find(t).text for t in ("variable", "code", "datatype")] == [
        "true",
        "severity",
        "singlevaluelist",
    ]
    assert [v.find("key").text for v in first.find("values")] == [
        "low",
        "medium",
        "high",
        "dangerous",
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_and_jurisdiction_are_404(client, fmt):
    assert error_of(client.get(f"{V2}/services/nope.{fmt}"), 404, fmt) == [
        "service_code 'nope' not found."
    ]
    assert error_of(client.get(f"{V2}/services.{fmt}?jurisdiction_id=atlantis"), 404, fmt) == [
        "jurisdiction_id 'atlantis' not found: use a municipality's slug."
    ]
    assert client.get(f"{V2}/services.{fmt}?jurisdiction_id=prishtina").status_code == 200
    for junk in ("Prishtina", "a%20b"):
        r = client.get(f"{V2}/requests.{fmt}?jurisdiction_id={junk}")
        assert len(error_of(r, 404, fmt)) == 1
    # Control characters are refused before any view (edge.py), in this format too.
    r = client.get(f"{V2}/requests.{fmt}?jurisdiction_id=%00")
    assert error_of(r, 400, fmt) == [
        "jurisdiction_id: Must be plain text without control characters."
    ]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/services.html", 404),
        ("get", "/", 404),
        ("get", "/services", 404),
        ("get", "/nothing.json", 404),
        ("delete", "/services.json", 405),
        ("post", "/services.json", 405),
    ],
)
def test_other_paths_answer_in_the_spec_error_format(client, method, path, status):
    r = getattr(client, method)(V2 + path)
    assert len(error_of(r, status)) == 1


# Posting requests


def test_form_post_creates_a_report_through_the_submission_path(client, db):
    r = post(
        client,
        service_code="public_lighting",
        description="  Three lights out on the main road  ",
        **{"attribute[severity]": "high", "attribute[lights_out_count]": "3"},
        first_name="Arta",
        last_name="Krasniqi",
        email="arta@example.org",
        phone="+38344123456",
        device_id="device-123",
        account_id="acct-9",
        address_string="Rruga Nëna Terezë",
        media_url="https://example.org/photo.jpg",
    )
    assert r.status_code == 201
    (created,) = json_of(r)
    assert set(created) == {"service_request_id", "service_notice"}
    assert created["service_notice"] == "Sent to Prishtina."
    report = db.get(Report, IDS.decode(created["service_request_id"]))
    assert r.headers["Location"] == f"/open311/v2/requests/{created['service_request_id']}.json"
    assert report.category.code == "public_lighting"
    assert report.municipality.slug == "prishtina"
    assert report.description == "Three lights out on the main road"
    assert report.attributes == {"severity": "high", "lights_out_count": 3}
    assert report.status == "submitted"
    assert report.h3_9 == h3i.latlng_to_cell(42.6629, 21.1655, 9)
    # Contact details are accepted and stored nowhere.
    row = db.execute(
        text("SELECT row_to_json(report)::text FROM report WHERE id = :i"), {"i": report.id}
    )
    stored = row.scalar()
    for secret in (
        "Arta",
        "Krasniqi",
        "arta@example.org",
        "38344123456",
        "device-123",
        "acct-9",
        "Nëna",
        "photo",
    ):
        assert secret not in stored
    # The rollup counted it (the triggers on report, as for /v1/reports).
    assert (
        db.execute(
            text("SELECT sum(count) FROM heat_cell_total WHERE resolution = 9 AND cell = :c"),
            {"c": report.h3_9},
        ).scalar()
        == 1
    )


def test_form_post_with_list_attributes_in_xml(client, db):
    r = post(
        client,
        "xml",
        service_code="waste",
        **{"attribute[waste_type][]": ["household", "bulky"]},
    )
    assert r.status_code == 201
    root = xml_of(r)
    assert root.tag == "service_requests"
    (created,) = items(root, "request")
    report = db.get(Report, IDS.decode(created["service_request_id"]))
    assert report.attributes == {"waste_type": ["household", "bulky"]}


def test_sensitive_posts_are_accepted_and_never_readable(client, db):
    r = post(client, service_code="commenting", **{"attribute[place_type]": "street"})
    assert r.status_code == 201
    (created,) = json_of(r)
    report = db.get(Report, IDS.decode(created["service_request_id"]))
    assert report.category.sensitive and report.attributes == {"place_type": "street"}
    rid = created["service_request_id"]
    for fmt in ("json", "xml"):
        assert error_of(client.get(f"{V2}/requests/{rid}.{fmt}"), 404, fmt) == [
            f"service_request_id {rid!r} not found."
        ]
    assert json_of(client.get(f"{V2}/requests.json?service_request_id={rid}")) == []
    assert json_of(client.get(f"{V2}/requests.json?service_code=commenting")) == []
    assert rid not in client.get(f"{V2}/requests.json").get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "status", "messages"),
    [
        ({"service_code": ""}, 400, ["service_code is required."]),
        (
            {"service_code": "nope"},
            400,
            ["service_code: No active category has the code 'nope'."],
        ),
        (
            {"service_code": "waste", "lat": ""},
            400,
            [
                "lat and long are required: addresses (address_string, address_id) are not "
                "geocoded here."
            ],
        ),
        ({"service_code": "waste", "long": "east"}, 400, ["lat and long must be decimal degrees."]),
        (
            {"service_code": "waste", "lat": "95"},
            400,
            ["lat/long: Latitude must be between -90 and 90."],
        ),
        (
            {"service_code": "waste", "lat": "45.0", "long": "10.0"},
            400,
            ["lat/long: This location is outside every municipality served by this service."],
        ),
        (
            {"service_code": "public_lighting", "attribute[lights_out_count]": "many"},
            400,
            ["attribute[lights_out_count]: Must be a number."],
        ),
        (
            {"service_code": "waste", "attribute[waste_type][]": ["household", "gold"]},
            400,
            [
                "attribute[waste_type]: Unknown keys ['gold']; allowed: household, "
                "construction, bulky, green, hazardous, other."
            ],
        ),
        (
            {"service_code": "waste", "attribute[colour]": "red"},
            400,
            ["attribute[colour]: This category has no such attribute."],
        ),
        (
            {"service_code": "waste", "description": "x" * 4001},
            400,
            ["description: Longer than maximum length 4000."],
        ),
        (
            {"service_code": "waste", "description": "bad\x00text"},
            400,
            ["description: Must be plain text without control characters."],
        ),
        (
            {"service_code": "waste", "jurisdiction_id": "atlantis"},
            404,
            ["jurisdiction_id 'atlantis' not found: use a municipality's slug."],
        ),
        (
            {"service_code": "waste", "jurisdiction_id": "peja"},
            400,
            ["This location is in Prishtina, not in jurisdiction peja."],
        ),
    ],
)
def test_form_post_errors(client, db, form, status, messages):
    before = db.scalar(text("SELECT count(*) FROM report"))
    assert error_of(post(client, **form), status) == messages
    assert error_of(post(client, "xml", **form), status, "xml") == messages
    assert db.scalar(text("SELECT count(*) FROM report")) == before


def test_form_post_with_the_jurisdiction_of_its_location(client):
    assert post(client, service_code="waste", jurisdiction_id="prishtina").status_code == 201


def test_json_bodies_are_refused(client):
    r = client.post(f"{V2}/requests.json", json={"service_code": "waste"})
    assert error_of(r, 415) == [
        "Send the request form-encoded (application/x-www-form-urlencoded)."
    ]


def test_api_keys_when_the_deployment_sets_them(app, client):
    app.config["OPEN311_API_KEYS"] = ["key-one", "key-two"]
    try:
        assert error_of(post(client, service_code="waste"), 403) == [
            "api_key is missing or invalid."
        ]
        assert error_of(post(client, service_code="waste", api_key="key-3"), 403) == [
            "api_key is missing or invalid."
        ]
        assert post(client, service_code="waste", api_key="key-two").status_code == 201
    finally:
        app.config["OPEN311_API_KEYS"] = []


def test_idempotent_form_posts(client, db):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    form = PRISHTINA | {"service_code": "waste"}
    first = client.post(f"{V2}/requests.json", data=form, headers=headers)
    again = client.post(f"{V2}/requests.json", data=form, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json == again.json
    assert db.scalar(text("SELECT count(*) FROM report")) == 1
    other = client.post(
        f"{V2}/requests.json", data=form | {"description": "changed"}, headers=headers
    )
    assert error_of(other, 400) == [
        "Idempotency-Key: This Idempotency-Key was already used with a different request body."
    ]


# Reading requests


@pytest.fixture
def published(client, db):
    """Reports through the API, then handled: two open, one resolved with a response, one
    rejected, one duplicate, one sensitive. Returns their service_request_ids by name."""
    made = {}
    for name, code in [
        ("lights", "public_lighting"),
        ("waste", "waste"),
        ("fixed", "roads_potholes"),
        ("rejected", "waste"),
        ("duplicate", "waste"),
        ("sensitive", "commenting"),
    ]:
        r = post(client, service_code=code)
        assert r.status_code == 201, r.json
        made[name] = r.json[0]["service_request_id"]
    report = {name: db.get(Report, IDS.decode(rid)) for name, rid in made.items()}
    base = datetime.now(UTC) - timedelta(days=10)
    for i, name in enumerate(made):
        report[name].submitted_at = base + timedelta(days=i)
    fixed = report["fixed"]
    fixed.status, fixed.resolved_at = "resolved", base + timedelta(days=5)
    report["rejected"].status = "rejected"
    report["duplicate"].status = "duplicate"
    report["duplicate"].duplicate_of_id = report["waste"].id
    db.add_all(
        [
            ReportEvent(
                report_id=fixed.id,
                type="status_changed",
                at=base + timedelta(days=3),
                from_status="submitted",
                to_status="acknowledged",
            ),
            ReportEvent(
                report_id=fixed.id,
                type="public_response",
                at=base + timedelta(days=4),
                message="A crew is on its way.",
            ),
            ReportEvent(
                report_id=fixed.id,
                type="internal_note",
                at=base + timedelta(days=4, hours=1),
                message="Internal: crew B",
            ),
            ReportEvent(
                report_id=fixed.id,
                type="status_changed",
                at=base + timedelta(days=5),
                from_status="acknowledged",
                to_status="resolved",
                message="Only for the reporter",
            ),
            ReportEvent(
                report_id=fixed.id,
                type="public_response",
                at=base + timedelta(days=5, hours=1),
                message="Filled on Monday.",
            ),
            ReportEvent(
                report_id=report["sensitive"].id,
                type="public_response",
                at=base + timedelta(days=6),
                message="We are looking into it.",
            ),
        ]
    )
    db.commit()
    return made


def test_requests_list_only_published_reports_newest_first(client, published):
    body = json_of(client.get(f"{V2}/requests.json"))
    assert [r["service_request_id"] for r in body] == [
        published["fixed"],
        published["waste"],
        published["lights"],
    ]
    fixed = body[0]
    assert fixed == {
        "service_request_id": published["fixed"],
        "status": "closed",
        "status_notes": "Filled on Monday.",
        "service_name": "Roads and potholes",
        "service_code": "roads_potholes",
        "agency_responsible": "Prishtina",
        "requested_datetime": fixed["requested_datetime"],
        "updated_datetime": fixed["updated_datetime"],
        "lat": fixed["lat"],
        "long": fixed["long"],
    }
    # The centre of the res-9 cell, never the reported point.
    cell = h3i.latlng_to_cell(42.6629, 21.1655, 9)
    assert (fixed["lat"], fixed["long"]) == h3i.cell_to_latlng(cell)
    assert (fixed["lat"], fixed["long"]) != (42.6629, 21.1655)
    # Local time with the offset; updated at the last public event.
    requested = datetime.fromisoformat(fixed["requested_datetime"])
    updated = datetime.fromisoformat(fixed["updated_datetime"])
    assert fixed["requested_datetime"][-6:] in ("+01:00", "+02:00")
    assert updated - requested == timedelta(days=3, hours=1)
    assert body[1]["status"] == "open" and "status_notes" not in body[1]


def test_requests_in_xml(client, published):
    root = xml_of(client.get(f"{V2}/requests.xml"))
    assert root.tag == "service_requests"
    listed = items(root, "request")
    assert [r["service_request_id"] for r in listed] == [
        published["fixed"],
        published["waste"],
        published["lights"],
    ]
    assert listed[0]["status_notes"] == "Filled on Monday."
    assert listed[0]["status"] == "closed"
    assert "description" not in listed[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("service_code=waste", ["waste"]),
        ("service_code=waste,roads_potholes", ["fixed", "waste"]),
        ("service_code=waste&service_code=public_lighting", ["waste", "lights"]),
        ("status=open", ["waste", "lights"]),
        ("status=closed", ["fixed"]),
        ("status=open,closed", ["fixed", "waste", "lights"]),
        ("jurisdiction_id=prishtina", ["fixed", "waste", "lights"]),
        ("jurisdiction_id=peja", []),
        ("page_size=2", ["fixed", "waste"]),
        ("page_size=2&page=2", ["lights"]),
        ("page=3&page_size=2", []),
        ("start_date={d2}", ["fixed"]),
        ("end_date={d2}", ["waste", "lights"]),
        ("start_date={d1}&end_date={d2}", ["waste"]),
        ("start_date={d3}&end_date={d9}", []),
        # A list of ids overrides every other filter, and never shows unpublished ones.
        (
            "service_request_id={lights},{fixed}&status=closed&service_code=waste",
            ["fixed", "lights"],
        ),
        ("service_request_id={sensitive},{rejected},{duplicate}", []),
        ("service_request_id=junk,{waste}", ["waste"]),
    ],
)
def test_request_filters(client, published, query, expected):
    now = datetime.now(UTC)
    # Half a day before the n-th day of the fixture's reports.
    days = {
        f"d{n}": (now - timedelta(days=10 - n, hours=12)).isoformat().replace("+00:00", "Z")
        for n in range(11)
    }
    query = query.format(**published, **days)
    body = json_of(client.get(f"{V2}/requests.json?{query}"))
    assert [r["service_request_id"] for r in body] == [published[n] for n in expected]


def test_requests_default_to_the_last_90_days(client, db, published):
    lights = db.get(Report, IDS.decode(published["lights"]))
    lights.submitted_at = datetime.now(UTC) - timedelta(days=91)
    db.commit()
    body = json_of(client.get(f"{V2}/requests.json"))
    assert published["lights"] not in [r["service_request_id"] for r in body]
    old = (datetime.now(UTC) - timedelta(days=100)).date().isoformat()
    body = json_of(client.get(f"{V2}/requests.json?start_date={old}"))
    assert [r["service_request_id"] for r in body] == [published["lights"]]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
            "end_date: start_date and end_date may not be more than 90 days apart.",
        ),
        (
            "start_date=2026-03-01T00:00:00Z&end_date=2026-02-01T00:00:00Z",
            "end_date: end_date must not be before start_date.",
        ),
        (
            "start_date=yesterday",
            "start_date: start_date must be a W3C date-time with an offset, e.g. 2026-01-01T00:00:00Z.",
        ),
        (
            "end_date=2026-01-01T00:00:00",
            "end_date: end_date must be a W3C date-time with an offset, e.g. 2026-01-01T00:00:00Z.",
        ),
        ("status=pending", "status: status must be open, closed or both."),
        ("service_code=nope,waste", "service_code: Unknown service_code: nope."),
        ("page=0", "page: page must be a whole number from 1 to 1000000."),
        ("page_size=1001", "page_size: page_size must be a whole number from 1 to 1000."),
        ("page_size=-1", "page_size: page_size must be a whole number from 1 to 1000."),
    ],
)
def test_request_filter_errors(client, query, message):
    assert error_of(client.get(f"{V2}/requests.json?{query}"), 400) == [message]
    assert error_of(client.get(f"{V2}/requests.xml?{query}"), 400, "xml") == [message]


def test_accepted_date_spellings(client, published):
    for start in ("2026-01-01T00:00:00+01:00", "2026-01-01T00:00:00 01:00", "2026-01-01"):
        r = client.get(f"{V2}/requests.json?start_date={start}&end_date=2026-02-01T00:00:00Z")
        assert r.status_code == 200, r.json


def test_request_by_id(client, published):
    rid = published["fixed"]
    (one,) = json_of(client.get(f"{V2}/requests/{rid}.json"))
    assert one == json_of(client.get(f"{V2}/requests.json?service_request_id={rid}"))[0]
    root = xml_of(client.get(f"{V2}/requests/{rid}.xml"))
    assert root.tag == "service_requests"
    (listed,) = items(root, "request")
    assert listed["service_request_id"] == rid and listed["status_notes"] == "Filled on Monday."
    for name in ("rejected", "duplicate", "sensitive"):
        assert len(error_of(client.get(f"{V2}/requests/{published[name]}.json"), 404)) == 1
    unknown = request_id(uuid.uuid4())
    assert error_of(client.get(f"{V2}/requests/{unknown}.xml"), 404, "xml") == [
        f"service_request_id {unknown!r} not found."
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_tokens_are_never_issued(client, fmt):
    assert error_of(client.get(f"{V2}/tokens/abc123.{fmt}"), 404, fmt) == [
        "token 'abc123' not found: this server returns the service_request_id when a "
        "request is posted and issues no tokens."
    ]


def test_service_request_updates(client, published):
    start = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    body = json_of(
        client.get(f"{V2}/servicerequestupdates.json", query_string={"start_date": start})
    )
    assert [(u["service_request_id"], u["status"], u["description"]) for u in body] == [
        (published["fixed"], "investigating", ""),
        (published["fixed"], "investigating", "A crew is on its way."),
        (published["fixed"], "fixed", ""),
        (published["fixed"], "fixed", "Filled on Monday."),
    ]
    assert len({u["update_id"] for u in body}) == 4
    assert all(len(u["update_id"]) == 26 for u in body)
    times = [datetime.fromisoformat(u["updated_datetime"]) for u in body]
    assert times == sorted(times)
    root = xml_of(client.get(f"{V2}/servicerequestupdates.xml", query_string={"start_date": start}))
    assert root.tag == "service_requests_updates"
    listed = items(root, "request_update")
    assert [u["update_id"] for u in listed] == [u["update_id"] for u in body]
    assert listed[1]["description"] == "A crew is on its way."
    recent = (datetime.now(UTC) - timedelta(days=5, hours=12)).isoformat()
    later = json_of(
        client.get(f"{V2}/servicerequestupdates.json", query_string={"start_date": recent})
    )
    assert [u["description"] for u in later] == ["", "Filled on Monday."]


def test_database_unavailable_is_503(app, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from civic_api.open311 import service

    def down(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(service, "published_requests", down)
    r = client.get(f"{V2}/requests.xml")
    assert error_of(r, 503, "xml") == ["The service is temporarily unavailable; retry later."]
    assert r.headers["Retry-After"] == str(app.config["DB_RETRY_AFTER_SECONDS"])


# Third-party clients against a real server


def test_georeport_client_reads_services_and_requests(live_server, published):
    from georeport import GeoReport

    for fmt in ("json", "xml"):
        api = GeoReport(f"{live_server}/open311/v2", jurisdiction="prishtina", output_format=fmt)
        services = api.get_service_list()
        assert "waste" in [s["service_code"] for s in services]
        definition = api.get_service_definition("public_lighting")
        attributes = definition["attributes"]
        if fmt == "xml":
            attributes = attributes["attribute"]
        assert [a["code"] for a in attributes] == ["severity", "lights_out_count"]
        listed = api.get_service_requests(status="open")
        assert [r["service_request_id"] for r in listed] == [
            published["waste"],
            published["lights"],
        ]
        one = api.get_service_request(published["fixed"])
        assert (one["service_request_id"], one["status"], one["status_notes"]) == (
            published["fixed"],
            "closed",
            "Filled on Monday.",
        )


def test_civicbot_client_posts_a_form(live_server, db):
    from civicbot.http import HttpTransport, RateLimiter
    from civicbot.open311 import Open311Client
    from civicbot.registry import Endpoint

    endpoint = Endpoint(
        id="kosovo",
        name="Kosovo",
        base_url=f"{live_server}/open311/v2",
        write=True,
        api_key_required_for_write=False,
    )
    api = Open311Client(endpoint, HttpTransport(rate_limiter=RateLimiter(0)), "prishtina")
    prepared = api.create_request(
        "waste",
        dry_run=False,
        confirm="SEND",
        validate_remote=True,  # reads the services and the definition first
        lat=42.6629,
        lng=21.1655,
        description="Overflowing bins",
        attributes={"waste_type": ["household", "green"]},
        email="someone@example.org",
    )
    (created,) = prepared.response
    report = db.get(Report, IDS.decode(created["service_request_id"]))
    assert report.category.code == "waste"
    assert report.attributes == {"waste_type": ["household", "green"]}
    assert report.description == "Overflowing bins"
    listed = api.list_requests(service_request_ids=[created["service_request_id"]])
    assert [r["service_request_id"] for r in listed] == [created["service_request_id"]]
    assert api.get_request(created["service_request_id"])["status"] == "open"


HOSTILE = [
    "\x00",
    "%",
    "'; DROP TABLE report; --",
    "9" * 400,
    "-1",
    "1e309",
    "nan",
    "ü" * 300,
    "[]",
    "{}",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_never_break_anything(client, value):
    names = (
        "jurisdiction_id",
        "service_request_id",
        "service_code",
        "start_date",
        "end_date",
        "status",
        "page",
        "page_size",
        "lang",
    )
    for name in names:
        for path in (
            "/requests.json",
            "/requests.xml",
            "/servicerequestupdates.json",
            "/services.xml",
        ):
            r = client.get(V2 + path, query_string={name: value})
            assert r.status_code in (200, 400, 404), (path, name, r.data)
    for path in (f"/requests/{value}.json", f"/services/{value}.xml", f"/tokens/{value}.json"):
        assert client.get(V2 + path).status_code in (400, 404)
    fields = (
        "service_code",
        "lat",
        "long",
        "description",
        "jurisdiction_id",
        "attribute[severity]",
        "attribute[lights_out_count]",
        "attribute[waste_type][]",
        "api_key",
        "email",
    )
    for name in fields:
        form = PRISHTINA | {"service_code": "public_lighting", name: value}
        r = client.post(f"{V2}/requests.xml", data=form)
        assert r.status_code in (201, 400, 404), (name, r.data)


def test_error_descriptions_are_in_the_requests_language(client):
    form = PRISHTINA | {"service_code": "public_lighting", "attribute[lights_out_count]": "many"}
    r = client.post(f"{V2}/requests.json?lang=sq", data=form)
    assert error_of(r, 400) == ["attribute[lights_out_count]: Duhet të jetë numër."]
    r = client.post(f"{V2}/requests.xml", data=form, headers={"Accept-Language": "sr"})
    assert error_of(r, 400, "xml") == ["attribute[lights_out_count]: Mora biti broj."]
    r = client.post(
        f"{V2}/requests.json?lang=sq", data=PRISHTINA | {"service_code": "waste", "lat": "95"}
    )
    assert error_of(r, 400) == ["lat/long: Gjerësia gjeografike duhet të jetë ndërmjet -90 dhe 90."]
