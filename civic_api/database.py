"""Engine, scoped session and the declarative Base with an Alembic-friendly naming convention.

Every wait on the database is bounded: connecting, waiting for a pooled connection, waiting
for a lock, a statement (per role of query: `use_role`), and an idle open transaction.
"""

import functools
import re
import select

import psycopg2
from sqlalchemy import Connection, MetaData, create_engine, event, exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


session = scoped_session(sessionmaker())


def driver_url(url: str) -> str:
    """Pin plain postgresql:// URLs to psycopg2 (SQLAlchemy 2.1 would pick psycopg 3)."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg2://", url)


def make_engine(url: str, **options):
    engine = create_engine(driver_url(url), hide_parameters=True, **options)
    event.listen(engine, "checkout", _check_alive)
    return engine


def _check_alive(dbapi_connection, connection_record, connection_proxy) -> None:
    """Refuse a pooled connection that the server has closed, without a round trip.

    An idle pooled connection has nothing to read; a server that terminated it (restart,
    pg_terminate_backend, idle timeout) has sent its goodbye and closed the socket, which
    makes it readable. Raising DisconnectionError makes the pool discard it and check out
    another, as the pessimistic disconnect handling does after a failed pre-ping, but the
    pre-ping's `SELECT 1` on every checkout is saved. A silently dropped network path is not
    seen here; its first statement fails and the pool is invalidated (optimistic handling).
    """
    if dbapi_connection.closed:
        raise exc.DisconnectionError("connection closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        raise exc.DisconnectionError("the server closed the connection")


def timeout_options(config) -> dict:
    """Engine options that bound connecting and waiting for a pooled connection."""
    return {
        "pool_timeout": config["DB_POOL_TIMEOUT_SECONDS"],
        "pool_size": config["DB_POOL_SIZE"],
        "connect_args": {
            "connect_timeout": config["DB_CONNECT_TIMEOUT_SECONDS"],
            # A server that vanished without closing the connection is noticed in ~15 s.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 5,
            "keepalives_count": 2,
        },
    }


# Statement timeouts per role of query (settings). Requests get DB_STATEMENT_TIMEOUT_MS
# unless their blueprint names a role; command-line jobs (seeding, rebuilds) and the
# notification worker use the unbounded `engine`. "maps" (heatmaps, tiles, series, the OGC
# collections) read a few thousand index rows per answer: starting parallel workers would
# cost more than it saves (tens of ms on a small machine).
ROLES = {
    "default": "DB_STATEMENT_TIMEOUT_MS",
    "ingest": "DB_INGEST_STATEMENT_TIMEOUT_MS",
    "analytics": "DB_ANALYTICS_STATEMENT_TIMEOUT_MS",
    "maps": "DB_ANALYTICS_STATEMENT_TIMEOUT_MS",
}


def session_settings(config, role: str) -> dict[str, str]:
    """The server settings of a role's statements."""
    return {
        "statement_timeout": str(int(config[ROLES[role]])),
        "lock_timeout": str(int(config["DB_LOCK_TIMEOUT_MS"])),
        "idle_in_transaction_session_timeout": str(
            int(config["DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"])
        ),
        "max_parallel_workers_per_gather": "0" if role == "maps" else "DEFAULT",
    }


def _assignments(settings: dict[str, str], local: bool = False) -> str:
    scope = "SET LOCAL" if local else "SET"
    return "; ".join(f"{scope} {name} TO {value}" for name, value in settings.items())


def _request_checkout(
    assignments: dict[str, str], dbapi_connection, connection_record, connection_proxy
) -> None:
    """Give a connection checked out for a request its role's settings and mode.

    The settings (`assignments`: the SET statement of each role) are set for the
    connection's session, outside any transaction (so no rollback undoes them), and only
    when its last role was another: a connection serving one role keeps its settings and
    costs no statement per request. Autocommit (`autocommit`) is the driver's flag, set on
    every checkout, which sends nothing."""
    from flask import g, has_request_context

    in_request = has_request_context()
    role = g.get("query_role", "default") if in_request else "default"
    if connection_record.info.get("role") != role:
        try:
            dbapi_connection.autocommit = True
            with dbapi_connection.cursor() as cursor:
                cursor.execute(assignments[role])
        except psycopg2.Error as error:  # the pool replaces it (or fails to connect: 503)
            raise exc.DisconnectionError(f"could not set up the connection: {error}") from None
        connection_record.info["role"] = role
    dbapi_connection.autocommit = in_request and g.get("autocommit", False)


def use_role(role: str) -> None:
    """Give this request's statements the settings of `role` (ROLES): its connection gets
    them when checked out; once a transaction is open (an export that turns out to be
    long) they are set for the rest of it with SET LOCAL. A session bound to a connection
    (the tests' outer transaction) is left alone."""
    from flask import current_app, g

    g.query_role = role
    current = session()
    if isinstance(current.bind, Connection) or not current.in_transaction():
        return
    settings = session_settings(current_app.config, role)
    current.connection().exec_driver_sql(_assignments(settings, local=True))


def autocommit() -> None:
    """Run this request's statements each in its own implicit transaction: no BEGIN and
    COMMIT (or ROLLBACK) round trips. For a request that only reads, or writes in one
    statement (report submission, tiles, public maps); called before its first statement
    (after it, the request keeps its transaction). A session bound to a connection (the
    tests' outer transaction) is left alone."""
    from flask import g

    current = session()
    if not isinstance(current.bind, Connection) and not current.in_transaction():
        g.autocommit = True


# Statements prepared on each pooled connection (they live as long as it does).
PREPARED_MAX = 64


def prepared(connection: Connection, sql: str) -> str:
    """The name of `sql` (with $1, $2 … parameters) prepared on this connection, preparing
    it on first use: the hot paths (tiles, report submission) are not parsed or planned on
    every request."""
    names = connection.connection.info.setdefault("prepared", {})
    name = names.get(sql)
    if name is None:
        if len(names) >= PREPARED_MAX:
            connection.exec_driver_sql("DEALLOCATE ALL")
            names.clear()
        name = f"civic_{len(names)}"
        connection.exec_driver_sql(f"PREPARE {name} AS {sql}")
        names[sql] = name
    return name


class PreparedStatement:
    """A SQLAlchemy statement compiled once with $n parameters and run by name on the
    session's connection (`prepared`). Its values are given as psycopg2 adapts them
    (UUIDs and JSON as text, for instance): no type processing per call either."""

    def __init__(self, statement):
        compiled = statement.compile(dialect=postgresql.dialect(paramstyle="numeric_dollar"))
        self.sql = str(compiled)
        self.names = compiled.positiontup
        self._arguments = ", ".join(["%s"] * len(self.names))

    def execute(self, values: dict):
        connection = session.connection()
        name = prepared(connection, self.sql)
        return connection.exec_driver_sql(
            f"EXECUTE {name}({self._arguments})", tuple(values[n] for n in self.names)
        )


def init_app(app) -> None:
    url = app.config["DATABASE_URL"]
    if not url:
        raise RuntimeError(
            "DATABASE_URL is not set; scripts/devdb url prints the local development database's URL"
        )
    # Unbounded: command-line jobs and the notification worker (which bounds its own waits).
    app.extensions["engine"] = make_engine(url, **timeout_options(app.config))
    # Requests: one pool, each connection given its request's role settings and mode.
    app.extensions["request_engine"] = engine = make_engine(url, **timeout_options(app.config))
    assignments = {role: _assignments(session_settings(app.config, role)) for role in ROLES}
    event.listen(engine, "checkout", functools.partial(_request_checkout, assignments))
    session.configure(bind=app.extensions["engine"])
    app.before_request(bind_request)
    app.teardown_appcontext(lambda exc: session.remove())


def bind_request() -> None:
    """Bind the session to the requests' engine: before each request, and again in a
    streamed response (which runs after the request's session was removed)."""
    from flask import current_app

    current = session()
    if not isinstance(current.bind, Connection):  # (the tests' outer transaction stays)
        current.bind = current_app.extensions["request_engine"]
