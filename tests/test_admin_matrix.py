"""Every admin route, called by every role and from a foreign municipality, refuses correctly.

MATRIX lists each (method, route) with the scope it needs and whether it reaches into one
municipality's data. A route registered under /v1/admin/ but missing here fails the suite.
"""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from civic_api.announcements.models import Announcement
from civic_api.database import session
from civic_api.municipalities.models import Municipality
from civic_api.reports.models import Report
from civic_api.staff.service import ROLE_SCOPES
from civic_api.triage.models import ResponseTemplate

PUBLIC = {("POST", "/v1/admin/auth/login"), ("POST", "/v1/admin/auth/refresh")}

# (method, rule) -> (scope or None for any signed-in account, reach, JSON body)
# reach: "municipal" = Prishtina's data (foreign staff get 404 or see nothing),
#        "national" = not tied to a municipality, "own" = the caller's own account.
MATRIX = {
    ("POST", "/v1/admin/auth/logout"): (None, "own", None),
    ("GET", "/v1/admin/me"): (None, "own", None),
    ("PUT", "/v1/admin/me/password"): (
        None,
        "own",
        {"current_password": "wrong password here", "new_password": "another long password"},
    ),
    ("GET", "/v1/admin/tokens"): (None, "own", None),
    ("POST", "/v1/admin/tokens"): (
        None,
        "own",
        {"name": "ci", "scopes": ["analytics:read"], "expires_in_days": 30},
    ),
    ("DELETE", "/v1/admin/tokens/<int:token_id>"): (None, "own", None),
    ("GET", "/v1/admin/staff"): ("staff:write", "municipal", None),
    ("POST", "/v1/admin/staff"): (
        "staff:write",
        "municipal",
        {
            "email": "new@example.org",
            "role": "staff",
            "municipalities": ["prishtina"],
            "password": "a long new password",
        },
    ),
    ("GET", "/v1/admin/staff/<int:staff_id>"): ("staff:write", "municipal", None),
    ("PATCH", "/v1/admin/staff/<int:staff_id>"): ("staff:write", "municipal", {"name": "X"}),
    ("GET", "/v1/admin/reports"): ("reports:read", "municipal", None),
    ("GET", "/v1/admin/reports/export"): ("reports:read", "municipal", None),
    ("GET", "/v1/admin/reports/<uuid:report_id>"): ("reports:read", "municipal", None),
    ("PATCH", "/v1/admin/reports/<uuid:report_id>"): (
        "reports:write",
        "municipal",
        {"priority": "high"},
    ),
    ("POST", "/v1/admin/reports/<uuid:report_id>/responses"): (
        "reports:write",
        "municipal",
        {"message": "We are on it."},
    ),
    ("POST", "/v1/admin/reports/<uuid:report_id>/notes"): (
        "reports:write",
        "municipal",
        {"message": "Internal."},
    ),
    ("PUT", "/v1/admin/reports/<uuid:report_id>/moderation"): (
        "reports:write",
        "municipal",
        {"description_hidden": True, "reason": "Personal data"},
    ),
    ("GET", "/v1/admin/reports/<uuid:report_id>/duplicate-candidates"): (
        "reports:read",
        "municipal",
        None,
    ),
    ("GET", "/v1/admin/response-templates"): ("reports:read", "national", None),
    ("POST", "/v1/admin/response-templates"): (
        "catalog:write",
        "national",
        {"name": "T", "body": {"sq": "Faleminderit", "sr": "Hvala", "en": "Thanks"}},
    ),
    ("PATCH", "/v1/admin/response-templates/<int:template_id>"): (
        "catalog:write",
        "national",
        {"name": "Renamed"},
    ),
    ("PATCH", "/v1/admin/categories/<code>"): (
        "catalog:write",
        "national",
        {"response_target_hours": 48},
    ),
    ("PATCH", "/v1/admin/municipalities/<slug>"): ("catalog:write", "national", {"population": 1}),
    ("GET", "/v1/admin/audit"): ("audit:read", "municipal", None),
    ("GET", "/v1/admin/announcements"): ("announcements:write", "municipal", None),
    ("POST", "/v1/admin/announcements"): (
        "announcements:write",
        "municipal",
        {"municipality": "prishtina", "title": {"en": "Water cut"}, "body": {"en": "Until 18:00."}},
    ),
    ("GET", "/v1/admin/announcements/<int:announcement_id>"): (
        "announcements:write",
        "municipal",
        None,
    ),
    ("PATCH", "/v1/admin/announcements/<int:announcement_id>"): (
        "announcements:write",
        "municipal",
        {"title": {"en": "Water cut extended"}, "body": {"en": "Until 20:00."}},
    ),
    ("DELETE", "/v1/admin/announcements/<int:announcement_id>"): (
        "announcements:write",
        "municipal",
        None,
    ),
    # Push delivery (civic_api/push/admin_routes.py).
    ("GET", "/v1/admin/announcements/<int:announcement_id>/deliveries"): (
        "announcements:write",
        "municipal",
        None,
    ),
    ("POST", "/v1/admin/announcements/<int:announcement_id>/deliveries/requeue"): (
        "announcements:write",
        "municipal",
        None,
    ),
    ("GET", "/v1/admin/reports/<uuid:report_id>/deliveries"): ("reports:read", "municipal", None),
    # Indicators: exact figures of the caller's municipalities only.
    ("GET", "/v1/admin/indicators"): ("reports:read", "municipal", None),
    ("POST", "/v1/admin/reports/<uuid:report_id>/deliveries/requeue"): (
        "reports:write",
        "municipal",
        None,
    ),
}

# Signed-in callers: (role, municipalities). The foreign ones work only in Drenas.
CALLERS = {
    "researcher": ("researcher", ()),
    "staff_foreign": ("staff", ("drenas",)),
    "manager_foreign": ("manager", ("drenas",)),
    "staff": ("staff", ("prishtina",)),
    "manager": ("manager", ("prishtina",)),
    "admin": ("admin", ()),
}
FOREIGN = {"staff_foreign", "manager_foreign"}


def admin_routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1/admin/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_admin_route_is_in_the_matrix(app):
    assert admin_routes(app) - PUBLIC - set(MATRIX) == set()
    assert set(MATRIX) - admin_routes(app) == set()


def test_every_admin_route_requires_the_scope_the_matrix_says(app):
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if not rule.rule.startswith("/v1/admin/") or (method, rule.rule) in PUBLIC:
                continue
            handler = getattr(view_class, method.lower())
            assert hasattr(handler, "required_scope"), (method, rule.rule)
            assert handler.required_scope == MATRIX[(method, rule.rule)][0], (method, rule.rule)


@pytest.fixture
def targets(submit, make_staff, staff_client, app):
    """Prishtina's data that the foreign callers must not reach."""
    report = submit(description="Matrix report").json
    colleague = make_staff("staff", ["prishtina"])
    template = ResponseTemplate(
        name="Thanks", body={"sq": "Faleminderit", "sr": "Hvala", "en": "Thanks"}
    )
    owner = staff_client("staff", ["prishtina"])
    token = owner.post(
        "/v1/admin/tokens", json={"name": "x", "scopes": ["reports:read"], "expires_in_days": 1}
    ).json
    with app.app_context():
        prishtina = session.scalar(select(Municipality).where(Municipality.slug == "prishtina"))
        announcement = Announcement(
            municipality_id=prishtina.id,
            title={"en": "Roadworks"},
            body={"en": "Main street closed."},
            publish_at=datetime.now(UTC),
        )
        session.add_all([template, announcement])
        session.commit()
        template_id, announcement_id = template.id, announcement.id
    return {
        "code": "public_lighting",
        "slug": "prishtina",
        "announcement_id": announcement_id,
        "report_id": report["id"],
        "staff_id": colleague.id,
        "template_id": template_id,
        "token_id": token["id"],
    }


def url_for_rule(rule: str, targets: dict) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(targets[m.group(1)]), rule)


def report_state(app, report_id):
    with app.app_context():
        report = session.get(Report, report_id)
        return report.version, report.priority, report.description_hidden_reason


@pytest.mark.parametrize("method, rule", sorted(MATRIX), ids=lambda v: v)
def test_roles_and_foreign_municipalities_are_refused(
    app, client, staff_client, targets, method, rule
):
    scope, reach, body = MATRIX[(method, rule)]
    url = url_for_rule(rule, targets)
    before = report_state(app, targets["report_id"])

    anonymous = client.open(url, method=method, json=body)
    assert anonymous.status_code == 401, anonymous.json
    assert anonymous.json["code"] == 401

    for name, (role, places) in CALLERS.items():
        caller = staff_client(role, places)
        response = caller.open(url, method=method, json=body)
        text = response.get_data(as_text=True)  # also drains streamed exports
        allowed = scope is None or scope in ROLE_SCOPES[role]
        if not allowed:
            assert response.status_code == 403, (name, response.json)
            assert response.json["code"] == 403
        elif reach == "own" and "<" in rule:
            # Another account's personal token: not found, whoever asks.
            assert response.status_code == 404, (name, response.json)
        elif reach == "municipal" and name in FOREIGN:
            if "<" in rule:
                assert response.status_code == 404, (name, response.json)
            else:
                # Lists and exports: Prishtina's rows never appear; creation for it is refused.
                assert response.status_code in (200, 403), (name, response.json)
                assert targets["report_id"] not in text
                assert f'"id": {targets["staff_id"]},' not in text
        else:
            assert response.status_code not in (401, 403, 404), (name, response.json)
        if name in FOREIGN or not allowed:
            assert report_state(app, targets["report_id"]) == before, name
