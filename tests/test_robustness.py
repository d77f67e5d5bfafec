"""The service stays up: the database away or locked, hostile input, limits, headers, logs."""

import ast
import base64
import hashlib
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import PRISHTINA, create_database, drop_database
from live import free_port, gunicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url

from civic_api import create_app, settings
from civic_api.database import make_engine
from civic_api.i18n import localise
from civic_api.messages import CATALOGUE, translate_message

ROOT = Path(__file__).resolve().parent.parent


class CuttableProxy:
    """A TCP proxy to PostgreSQL whose link can be cut (refused) and restored."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.port = target, free_port()
        self.sockets: list[socket.socket] = []
        self.listener = None
        self.restore()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        try:  # wakes the thread blocked in accept(); close() alone would not
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.sockets.clear()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass


def call(url, method="GET", body=None, headers=None, timeout=20):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def proxied_server(database_url, tmp_path):
    """gunicorn whose database connections go through a proxy the test can cut."""
    real = make_url(database_url)
    proxy = CuttableProxy((real.host, real.port))
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = make_engine(database_url)
    env = {"CIVIC_DB_CONNECT_TIMEOUT_SECONDS": "2", "CIVIC_DB_RETRY_AFTER_SECONDS": "7"}
    try:
        with gunicorn(url, tmp_path / "gunicorn.log", env) as server:
            server.proxy, server.engine = proxy, engine
            yield server
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM report WHERE description LIKE 'robust-%'"))
        engine.dispose()
        proxy.cut()


def count_reports(engine, marker):
    with engine.connect() as connection:
        return connection.scalar(
            text("SELECT count(*) FROM report WHERE description = :d"), {"d": marker}
        )


def test_database_away_is_503_with_retry_after_and_recovers_without_restart(proxied_server):
    server = proxied_server
    report = {"category": "commenting", "location": PRISHTINA}
    status, _, _ = call(server.url + "/v1/reports", "POST", report | {"description": "robust-1"})
    assert status == 201
    assert call(server.url + "/readyz")[0] == 200

    server.proxy.cut()
    started = time.monotonic()
    status, headers, body = call(
        server.url + "/v1/reports?lang=sq", "POST", report | {"description": "robust-2"}
    )
    assert status == 503, body
    assert headers["Retry-After"] == "7"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "code": 503,
        "status": "Service Unavailable",
        "message": "Shërbimi është përkohësisht i padisponueshëm; provoni më vonë.",
    }
    assert time.monotonic() - started < 10
    status, headers, _ = call(server.url + "/readyz")
    assert (status, headers["Retry-After"]) == (503, "7")
    # A staff request fails the same way (its token is checked in the database).
    admin = {"Authorization": "Bearer cva_" + "x" * 43}
    assert call(server.url + "/v1/admin/reports", headers=admin)[0] == 503
    # What needs no database keeps working.
    assert call(server.url + "/healthz")[0] == 200
    assert call(server.url + "/openapi.json")[0] == 200
    assert call(server.url + "/map")[0] == 200
    # Nothing half-written.
    assert count_reports(server.engine, "robust-2") == 0

    server.proxy.restore()
    deadline = time.monotonic() + 20
    while True:
        status, _, _ = call(
            server.url + "/v1/reports", "POST", report | {"description": "robust-3"}
        )
        if status == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 201
    assert count_reports(server.engine, "robust-3") == 1
    assert server.process.poll() is None


def test_a_locked_table_times_out_as_503_and_other_requests_are_served(proxied_server):
    server = proxied_server
    with server.engine.connect() as locker:
        locker.execute(text("LOCK TABLE heat_cell_total IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        status, headers, body = call(server.url + "/v1/heatmaps")
        elapsed = time.monotonic() - started
        # Meanwhile the other workers and threads answer.
        assert call(server.url + "/v1/categories", timeout=5)[0] == 200
        locker.rollback()
    assert status == 503, body
    assert "Retry-After" in headers
    assert elapsed < 6  # lock_timeout is 2 s
    assert call(server.url + "/v1/heatmaps")[0] == 200


def raw_exchange(port: int, *parts: bytes) -> tuple[str, dict | None]:
    """Send raw bytes; return the status line with headers, and the JSON body."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        try:
            for part in parts:
                s.sendall(part)
        except OSError:
            pass  # the server may answer and close before everything is sent
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += s.recv(65536)
        head, _, body = reply.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        while len(body) < length:
            body += s.recv(65536)
    return head.decode(), json.loads(body)


def test_gunicorn_errors_are_json_and_the_worker_lives_on(proxied_server):
    server = proxied_server
    head, body = raw_exchange(server.port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.startswith("HTTP/1.1 414")
    assert "Content-Type: application/json" in head
    assert body["code"] == 414
    big_header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"
    head, body = raw_exchange(server.port, big_header)
    assert head.startswith(("HTTP/1.1 431", "HTTP/1.1 400")), head
    assert "application/json" in head and body["code"] in (400, 431)
    # A chunked body over the limit is a 413 like any other (no Content-Length to check).
    chunk = b"[" + b"1," * 20000 + b"1]"
    head, body = raw_exchange(
        server.port,
        b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        *[b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 10,
        b"0\r\n\r\n",
    )
    assert head.startswith("HTTP/1.1 413"), head
    assert body["code"] == 413
    log = server.log.read_text()
    assert "ip=" not in log or "ip=-" in log
    assert call(server.url + "/healthz")[0] == 200


def test_access_log_is_json_with_request_id_and_escapes_control_characters(proxied_server):
    server = proxied_server
    status, headers, _ = call(server.url + "/v1/nothing%0A%7B%22forged%22:1%7D")
    assert status == 404
    request_id = headers["X-Request-ID"]
    time.sleep(0.5)
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if "{" in line[:1]]
    ours = [line for line in lines if line.get("request_id") == request_id]
    assert len(ours) == 1
    assert ours[0]["status"] == 404 and "\n" in ours[0]["path"]
    assert not any(line.get("forged") for line in lines)


# In-process checks (test client)


def test_a_stream_that_fails_midway_is_cut_and_logged_without_its_message(caplog):
    from civic_api.extensions import StreamAborted, safe_stream

    def rows():
        yield "header\n"
        raise ValueError("row text: my private description")

    stream = safe_stream(rows())
    assert next(stream) == "header\n"
    with pytest.raises(StreamAborted):
        next(stream)
    assert "stream aborted by ValueError" in caplog.text
    assert "private description" not in caplog.text


def test_the_access_logger_never_raises_on_gunicorns_error_path():
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from civic_api.access_log import RedactingLogger

    logger = RedactingLogger(Config())
    response = SimpleNamespace(status="400 Bad Request", headers=[], sent=0)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/x", "SERVER_PROTOCOL": "HTTP/1.1"}
    atoms = logger.atoms(response, SimpleNamespace(headers=[]), environ, timedelta(0))
    assert atoms["U"] == ""  # PATH_INFO missing: no crash
    line = RedactingLogger.access_line(response, environ | {"PATH_INFO": None}, timedelta(0))
    assert line["status"] == 400 and line["path"] == ""


@pytest.mark.parametrize(
    "pgcode, status",
    [
        ("23505", 409),  # unique violation: two requests raced for one email
        ("23503", 409),
        ("23514", 422),  # a check constraint
        ("22003", 422),  # numeric value out of range
        ("57014", 503),  # statement timeout
        ("55P03", 503),  # lock timeout
        ("08006", 503),  # connection failure
        ("53300", 503),  # too many connections
        ("42P01", 500),  # undefined table: our bug
    ],
)
def test_database_errors_map_to_client_statuses(app, pgcode, status):
    from sqlalchemy.exc import DBAPIError

    from civic_api.errors import database_error

    class DriverError(Exception):
        pass

    driver = DriverError("message that may echo values")
    driver.pgcode = pgcode
    with app.app_context():
        mapped = database_error(DBAPIError("SELECT", {}, driver))
        assert (mapped.status if mapped else 500) == status
        if status == 503:
            assert mapped.headers == {"Retry-After": "5"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/admin/reports/export?category=%00",
        "/v1/admin/reports/export?group=%00",
        "/v1/admin/reports?municipality=%00",
    ],
)
def test_nul_in_admin_filters_is_422(staff_client, path):
    admin = staff_client("admin")
    r = admin.get(path)
    assert r.status_code == 422
    assert list(r.json["errors"]["query"]) == [path.split("?")[1].split("=")[0]]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/municipalities/prishtina/announcements?page=9223372036854775807",
        "/ogc/collections/municipalities/items?offset=99999999999999999999",
        "/ogc/collections/heatmap-cells/items?datetime=9999-12-31T23:59:59Z",
        "/v1/hotspots?from=0001-01-01",
        "/v1/admin/staff/99999999999999",
        "/v1/municipalities/pri%00shtina/announcements",
    ],
)
def test_out_of_range_numbers_and_dates_are_4xx(staff_client, path):
    r = staff_client("admin").get(path)
    assert 400 <= r.status_code < 500, r.json
    assert r.json["code"] == r.status_code


def test_lone_surrogates_deep_json_and_huge_integers(client, staff_client):
    r = client.post(
        "/v1/admin/auth/login",
        data='{"email": "\\ud800@example.org", "password": "x"}',
        content_type="application/json",
    )
    assert r.status_code == 422
    assert list(r.json["errors"]["json"]) == ["email"]
    r = client.post("/v1/reports", data="[" * 10000 + "]" * 10000, content_type="application/json")
    assert (r.status_code, r.json["code"]) == (400, 400)
    big = "1" * 5000
    r = client.post(
        "/v1/reports",
        data=f'{{"category": "commenting", "location": {{"lat": {big}, "lon": 21}}}}',
        content_type="application/json",
    )
    assert r.status_code == 422
    assert list(r.json["errors"]["json"]) == ["location"]
    admin = staff_client("admin")
    r = admin.post(
        "/v1/admin/announcements",
        json={
            "municipality": "prishtina",
            "title": {"en": "t"},
            "body": {"en": "b"},
            "publish_at": "9999-12-31T23:59:59Z",
        },
    )
    assert r.status_code == 422
    assert list(r.json["errors"]["json"]) == ["publish_at"]
    r = admin.get("/v1/admin/audit?since=0001-01-01T00:00:00Z")
    assert r.status_code == 422
    assert list(r.json["errors"]["query"]) == ["since"]


def test_a_required_body_must_be_sent_and_json_types_are_strict(staff_client):
    admin = staff_client("admin")
    r = admin.patch("/v1/admin/municipalities/prishtina")
    assert r.status_code == 422
    assert r.json["errors"] == {"json": {"_schema": ["A JSON body is required."]}}
    r = admin.patch("/v1/admin/municipalities/prishtina", json={"population": "5"})
    assert r.status_code == 422
    assert list(r.json["errors"]["json"]) == ["population"]


def test_405_has_allow_and_429_is_localised_json(app, client):
    r = client.delete("/v1/categories")
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    body = {"category": "commenting", "location": PRISHTINA}
    app.config["REPORT_RATE_LIMIT"] = settings.DEFAULTS["REPORT_RATE_LIMIT"]
    try:
        statuses = [client.post("/v1/reports?lang=sr", json=body).status_code for _ in range(11)]
        limited = client.post("/v1/reports?lang=sr", json=body)
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "198.51.100.9"
        elsewhere = other.post("/v1/reports", json=body)
    finally:
        app.config["REPORT_RATE_LIMIT"] = "1000 per minute"
    assert statuses == [201] * 10 + [429]
    assert limited.status_code == 429
    assert limited.headers["Content-Language"] == "sr"
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.json == {
        "code": 429,
        "status": "Too Many Requests",
        "message": "Previše zahteva sa ovog klijenta; pokušajte ponovo kasnije (vidi Retry-After).",
    }
    assert elsewhere.status_code == 201


def test_rate_limit_key_is_a_salted_hash_that_rotates(app):
    from civic_api import limits

    with app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.5"}):
        first = limits.client_key()
        assert "203.0.113.5" not in first and len(first) == 32
        limits.salt.reset()  # a new day
        assert limits.client_key() != first
    with app.test_request_context(environ_base={"REMOTE_ADDR": "2001:db8:1:2:3::4"}):
        a = limits.client_key()
    with app.test_request_context(environ_base={"REMOTE_ADDR": "2001:db8:1:2:ffff::9"}):
        assert limits.client_key() == a  # one /64


@pytest.mark.parametrize(
    "path, header",
    [("/v1/categories", "X-Content-Type-Options"), ("/ogc", "X-Content-Type-Options")],
)
def test_security_headers(client, path, header):
    r = client.get(path)
    assert r.headers[header] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_docs_have_a_strict_csp_and_tokens_are_not_cached(client, make_staff):
    docs = client.get("/docs")
    policy = docs.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    # Every inline script the page has (none: docs.js starts Swagger UI) is allowed by hash.
    for script in re.findall(rb"<script>(.*?)</script>", docs.get_data(), re.S):
        digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert docs.headers["X-Frame-Options"] == "DENY"
    make_staff(email="cache@example.org")
    r = client.post(
        "/v1/admin/auth/login",
        json={"email": "cache@example.org", "password": "a long test password"},
    )
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"


def test_field_level_422_in_the_requested_language(client):
    r = client.post(
        "/v1/reports?lang=sq",
        json={"category": "commenting", "location": {"lat": 45.0, "lon": 21.0}},
    )
    assert r.status_code == 422
    assert r.headers["Content-Language"] == "sq"
    assert r.json["errors"]["json"]["location"] == [
        "Kjo vendndodhje është jashtë çdo komune që mbulon ky shërbim."
    ]
    r = client.post("/v1/reports", json={}, headers={"Accept-Language": "sr-Latn-RS"})
    assert r.headers["Content-Language"] == "sr"
    assert r.json["errors"]["json"]["category"] == ["Nedostaju podaci za obavezno polje."]


def _raised_messages():
    """Every message literal (f-strings as templates) passed to an error in civic_api/."""
    names = {
        "InvalidInput",
        "field",
        "NotFound",
        "Forbidden",
        "Conflict",
        "Unauthorized",
        "PreconditionFailed",
        "Locked",
        "Unavailable",
        "BudgetExhausted",
        "ValidationError",
        "InvalidParameter",
        "bad_parameter",
        "_reject",
        "ValueError",
        "append",
        "ImageRejected",
        "_rejected",
        "StorageUnavailable",
    }
    for path in (ROOT / "civic_api").rglob("*.py"):
        if "seed" in path.parts or path.name == "messages.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name not in names:
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    message = arg.value
                elif isinstance(arg, ast.JoinedStr):
                    message = "".join(
                        v.value if isinstance(v, ast.Constant) else "{}" for v in arg.values
                    )
                else:
                    continue
                # Messages are sentences; other strings (names, SQL) are not.
                if " " in message and message[:1].isupper() and message.endswith("."):
                    yield path.name, message


def test_every_error_message_has_albanian_and_serbian_texts():
    templates = {english for english, _, _ in CATALOGUE}
    missing = []
    for where, message in _raised_messages():
        if message in templates:
            continue
        sample = message.replace("{}", "x")
        if translate_message(sample, "sq") == sample:
            missing.append((where, message))
    assert missing == []
    for english, sq, sr in CATALOGUE:
        assert english.count("{}") == sq.count("{}") == sr.count("{}"), english
    assert localise({"json": {"f": ["Unknown field."]}}, "sq") == {
        "json": {"f": ["Fushë e panjohur."]}
    }
    assert translate_message("No category has the code 'x'.", "sr") == (
        "Nijedna kategorija nema šifru 'x'."
    )


def test_readyz_checks_the_migration(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json["status"] == "ok"
    assert r.json["migration"]
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_is_503_on_a_database_never_migrated():
    url = create_database("civic_test_unmigrated")
    try:
        empty = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x" * 32})
        r = empty.test_client().get("/readyz")
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "5"
        assert r.json["message"] == "The database schema is not at the expected migration."
        empty.extensions["engine"].dispose()
    finally:
        drop_database(url)


@pytest.fixture
def redis_url(tmp_path):
    """A real redis-server (Debian's, installed by scripts/test) on a free loopback port."""
    import os
    import shutil
    import subprocess

    binary = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    assert binary, "redis-server is missing: scripts/test installs it (scripts/need)"
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", client
    process.terminate()
    process.wait(timeout=10)


def test_redis_shares_limits_and_the_salt_between_processes(database_url, tmp_path, redis_url):
    url, redis = redis_url
    env = {
        "CIVIC_RATELIMIT_STORAGE_URI": url,
        "CIVIC_REPORT_RATE_LIMIT": "3 per minute",
        "CIVIC_WORKERS": "3",
        "CIVIC_THREADS": "1",
    }
    report = {"category": "commenting", "location": PRISHTINA, "description": "robust-redis"}
    engine = make_engine(database_url)
    try:
        with gunicorn(database_url, tmp_path / "gunicorn.log", env) as server:
            # New connections spread over the workers; one budget for all of them.
            statuses = [call(server.url + "/v1/reports", "POST", report)[0] for _ in range(6)]
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM report WHERE description = 'robust-redis'"))
        engine.dispose()
    assert statuses == [201, 201, 201, 429, 429, 429]
    keys = [k.decode() for k in redis.keys("*")]
    assert any(k.startswith("civic:ratelimit-salt:") for k in keys)
    assert not any("127.0.0.1" in k for k in keys)
    assert (
        0 < redis.ttl(next(k for k in keys if k.startswith("civic:ratelimit-salt:"))) <= 25 * 3600
    )
