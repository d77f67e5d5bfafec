"""The OpenAPI document and the self-hosted Swagger UI."""

import re

import pytest

from civic_api.reports.routes import REPORT_EXAMPLE

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
KNOWN_OPERATIONS = {
    ("/v1/categories", "get"),
    ("/v1/categories/{code}", "get"),
    ("/v1/municipalities", "get"),
    ("/v1/municipalities/{slug}", "get"),
    ("/v1/reports", "post"),
    ("/v1/reports/{report_id}", "get"),
}


@pytest.fixture
def spec(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    return r.json


def operations(spec) -> dict[tuple[str, str], dict]:
    return {
        (path, method): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def header_parameters(operation) -> dict[str, dict]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}


def test_is_openapi_3(spec):
    assert spec["openapi"] == "3.0.3"
    assert spec["info"]["title"] == "Civic reports API"
    assert spec["info"]["version"] == "v1"
    assert "{code, status, message, errors?}" in spec["info"]["description"]


def test_documents_the_known_operations(spec):
    assert KNOWN_OPERATIONS <= set(operations(spec))


@pytest.mark.parametrize("key", sorted(KNOWN_OPERATIONS), ids="{0[1]} {0[0]}".format)
def test_known_operation_is_documented(spec, key):
    operation = operations(spec)[key]
    assert operation["summary"].strip()
    assert operation["tags"] == [key[0].split("/")[2]]
    expected = "201" if key == ("/v1/reports", "post") else "200"
    assert operation["responses"][expected]["content"]["application/json"]["schema"]


def test_every_operation_has_summary_tags_and_a_2xx_schema(spec):
    missing = []
    for (path, method), operation in operations(spec).items():
        successes = [
            response
            for status, response in operation.get("responses", {}).items()
            if re.fullmatch(r"2\d\d", status)
        ]
        with_schema = [
            r for r in successes if any("schema" in c for c in r.get("content", {}).values())
        ]
        if not operation.get("summary", "").strip():
            missing.append((method, path, "summary"))
        if not operation.get("tags"):
            missing.append((method, path, "tags"))
        if not with_schema and list(operation["responses"]).count("204") != len(successes):
            missing.append((method, path, "2xx schema"))
    assert missing == []


def test_every_tag_is_described(spec):
    used = {tag for operation in operations(spec).values() for tag in operation["tags"]}
    described = {tag["name"]: tag.get("description", "") for tag in spec["tags"]}
    assert used <= set(described)
    assert all(described[tag].strip() for tag in used)


def test_report_submission_documents_example_and_idempotency_key(spec):
    operation = operations(spec)[("/v1/reports", "post")]
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["example"] == REPORT_EXAMPLE
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReportCreate"
    }
    key = header_parameters(operation)["Idempotency-Key"]
    assert key["required"] is False
    assert key["schema"] == {"type": "string", "pattern": "^[\\x21-\\x7e]{16,255}$"}
    assert "UUID" in key["description"]
    assert "422" in operation["responses"]


def test_report_example_is_itself_a_valid_report(submit):
    r = submit(**{k: v for k, v in REPORT_EXAMPLE.items() if k != "occurred_at"})
    assert r.status_code == 201, r.json
    assert r.json["municipality"] == {
        "slug": "prishtina",
        "name": "Prishtinë",
    }  # the example asks for sq


def test_report_status_documents_follow_up_token(spec):
    operation = operations(spec)[("/v1/reports/{report_id}", "get")]
    token = header_parameters(operation)["Follow-Up-Token"]
    assert token["schema"] == {"type": "string"}
    assert token["description"] == "The token returned when the report was submitted"
    assert operation["responses"]["404"]["description"] == (
        "Unknown report, or a missing or wrong token"
    )


def test_report_create_schema_requires_category_and_location(spec):
    schema = spec["components"]["schemas"]["ReportCreate"]
    assert schema["required"] == ["category", "location"]
    assert schema["properties"]["locale"]["enum"] == ["sq", "sr", "en"]


def test_docs_page_loads_swagger_ui_locally(client):
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert sorted(urls) == [
        "/docs/static/swagger-ui-bundle.js",
        "/docs/static/swagger-ui-standalone-preset.js",
        "/docs/static/swagger-ui.css",
        "/static/docs/docs.css",  # accessibility fixes (docs/map.md)
        "/static/docs/docs.js",
    ]
    assert re.findall(r"https?://", html) == []
    assert '"url": "/openapi.json"' in html  # the configuration docs.js starts Swagger UI with


@pytest.mark.parametrize(
    ("filename", "mimetype", "marker"),
    [
        ("swagger-ui-bundle.js", "text/javascript", b"SwaggerUIBundle"),
        ("swagger-ui-standalone-preset.js", "text/javascript", b"SwaggerUIStandalonePreset"),
        ("swagger-ui.css", "text/css", b".swagger-ui"),
    ],
)
def test_swagger_ui_assets_are_served(client, filename, mimetype, marker):
    r = client.get(f"/docs/static/{filename}")
    assert r.status_code == 200
    assert r.mimetype == mimetype
    assert marker in r.data
    assert r.headers["Cache-Control"] == "public, max-age=86400"
    r.close()


def test_missing_swagger_ui_asset_is_404(client):
    r = client.get("/docs/static/nope.js")
    assert r.status_code == 404


def test_every_admin_operation_documents_bearer_auth(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A staff access token from POST /v1/admin/auth/login, "
        "or a personal API token",
    }
    admin = {key: op for key, op in operations(spec).items() if key[0].startswith("/v1/admin/")}
    assert len(admin) >= 30
    public = {("/v1/admin/auth/login", "post"), ("/v1/admin/auth/refresh", "post")}
    for key, operation in admin.items():
        if key in public:
            assert "security" not in operation, key
            continue
        assert operation.get("security") == [{"bearerAuth": []}], key
        assert "401" in operation["responses"], key
    # Aggregates are public; a researcher token is optional. Other citizen routes: no auth.
    optional = [{}, {"bearerAuth": []}]
    for (path, _method), op in operations(spec).items():
        if path.startswith(("/v1/heatmaps", "/v1/hotspots", "/v1/tiles/", "/v1/indicators/report")):
            assert op["security"] == optional, path
        elif not path.startswith("/v1/admin/"):
            assert "security" not in op, path
