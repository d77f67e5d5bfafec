"""Test fixtures: one migrated PostGIS database per session, one rolled-back transaction per test."""

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from civic_api import create_app
from civic_api.cli import alembic_config
from civic_api.database import make_engine, session
from civic_api.extensions import limiter
from civic_api.staff import service as staff_service
from civic_api.staff.auth import policy

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-not-for-production"


def server_url() -> str:
    """DATABASE_URL, or the local development cluster's URL (started if needed)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    subprocess.run([ROOT / "scripts" / "devdb", "start"], check=True)
    return subprocess.run(
        [ROOT / "scripts" / "devdb", "url"], check=True, capture_output=True, text=True
    ).stdout.strip()


def create_database(name: str) -> str:
    """(Re)create an empty database next to DATABASE_URL's and return its URL."""
    base = make_url(server_url())
    admin = make_engine(base.set(database="postgres").render_as_string(False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for stale in _abandoned_test_databases(connection, base.database):
            connection.execute(text(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)'))
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _abandoned_test_databases(connection, base: str) -> list[str]:
    """Test databases left behind by killed runs (their process no longer exists)."""
    names = connection.scalars(
        text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
        {"pattern": f"{base}\\_test\\_%"},
    )
    owners = {n: re.match(rf"{re.escape(base)}_test_(\d+)", n) for n in names}
    return [n for n, m in owners.items() if m and not _alive(int(m.group(1)))]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = make_engine(parsed.set(database="postgres").render_as_string(False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url():
    """A fresh database migrated to head with Alembic, with municipalities and both profiles."""
    # Per-process name: concurrent test runs against one cluster must not collide.
    name = f"{make_url(server_url()).database}_test_{os.getpid()}"
    url = create_database(name)
    from alembic import command

    command.upgrade(alembic_config(url), "head")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def app(database_url):
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            # Tests change categories and submit at once; the cache's own test sets an age.
            "REFERENCE_CACHE_SECONDS": 0,
            # Cheap argon2 parameters: the suite creates many accounts.
            "PASSWORD_HASH_TIME_COST": 1,
            "PASSWORD_HASH_MEMORY_KIB": 64,
            # Fixtures change reports between requests: no stale national indicators.
            "INDICATORS_CACHE_SECONDS": 0,
            # Tests submit many reports from one address; test_robustness checks the defaults.
            "REPORT_RATE_LIMIT": "1000 per minute",
            "COMMENT_RATE_LIMIT": "1000 per minute",
            "DEVICE_RATE_LIMIT": "1000 per minute",
        }
    )
    runner = app.test_cli_runner()
    for command in (["seed", "municipalities"], ["seed", "walk-freely"], ["seed", "e-komuna"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    yield app
    # Tests roll back or clean up after themselves: rows left behind would leak into others.
    with app.extensions["engine"].connect() as connection:
        leftovers = {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("report", "staff_account", "announcement", "outbox_event", "audit_entry")
        }
    app.extensions["engine"].dispose()
    assert not any(leftovers.values()), f"committed rows left behind: {leftovers}"


@pytest.fixture(autouse=True)
def db(app):
    """Run each test in a transaction that is rolled back; commits become savepoints."""
    engine = app.extensions["engine"]
    connection = engine.connect()
    transaction = connection.begin()
    session.remove()
    session.configure(bind=connection, join_transaction_mode="create_savepoint")
    yield session
    session.remove()
    transaction.rollback()
    connection.close()
    session.configure(bind=engine)


@pytest.fixture
def unjoined(app, db):
    """The session on the app's own engines, outside the test's transaction: real BEGIN,
    COMMIT and autocommit, to count round trips (round_trips). Whatever it commits stays:
    the test removes it."""
    session.remove()
    session.configure(bind=app.extensions["engine"])
    yield
    session.remove()


def round_trips(engine, action) -> list[str]:
    """The first word of every statement sent while `action` runs, and BEGIN, COMMIT and
    ROLLBACK when the driver sends them (not on a connection in autocommit mode)."""
    from sqlalchemy import event

    sent: list[str] = []

    def statement(conn, cursor, sql, *args):
        sent.append(sql.split(None, 1)[0].upper())

    def transaction(word):
        def listener(conn):
            if not conn.connection.dbapi_connection.autocommit:
                sent.append(word)

        return listener

    listeners = [
        ("before_cursor_execute", statement),
        *((word.lower(), transaction(word)) for word in ("BEGIN", "COMMIT", "ROLLBACK")),
    ]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        action()
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)
    return sent


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    limiter.reset()


PASSWORD = "a long test password"


@pytest.fixture
def make_staff(app):
    """Create a staff account (through the service, as `flask staff create` does)."""
    counter = iter(range(1, 10_000))

    def make(role="staff", municipalities=("prishtina",), email=None, password=PASSWORD):
        if role in ("admin", "researcher") and municipalities == ("prishtina",):
            municipalities = ()
        with app.app_context():
            staff = staff_service.create_staff(
                policy(),
                None,
                email=email or f"{role}{next(counter)}@example.org",
                name=f"Test {role}",
                role=role,
                password=password,
                municipalities=list(municipalities),
            )
            session.commit()  # a savepoint release, inside the test's transaction
            session.refresh(staff)
        return staff

    return make


@pytest.fixture
def staff_client(app, make_staff):
    """A test client signed in as a new account: staff_client("manager", ["drenas"])."""

    def make(role="staff", municipalities=("prishtina",)):
        staff = make_staff(role, municipalities)
        with app.app_context():
            tokens = staff_service.issue_session(
                policy(), session.merge(staff), staff_service.utcnow()
            )
            session.commit()
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens.access_token}"
        client.staff = staff
        client.tokens = tokens
        return client

    return make


PRISHTINA = {"lat": 42.6629, "lon": 21.1655}


@pytest.fixture
def submit(client):
    """POST a report (valid by default; keyword arguments override fields)."""

    def submit(headers=None, **fields):
        body = {"category": "commenting", "location": PRISHTINA} | fields
        return client.post("/v1/reports", json=body, headers=headers or {})

    return submit


@pytest.fixture
def live_server(app, db, monkeypatch):
    """The app behind werkzeug's HTTP/1.1 server. Its requests run in the test's transaction
    (the session is bound to the test's connection), so the data a test adds is seen and
    rolled back with it. Connections get threads (clients keep several alive), but requests
    take turns: one at a time on that one connection, each body read in full inside its turn."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

    turn = threading.Lock()

    def one_at_a_time(environ, start_response):
        with turn:
            response = app(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                getattr(response, "close", lambda: None)()

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server = make_server("127.0.0.1", 0, one_at_a_time, threaded=True, request_handler=Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
