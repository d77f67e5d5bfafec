"""Engine, scoped session and the declarative Base with an Alembic-friendly naming convention.

Every wait on the database is bounded: connecting, waiting for a pooled connection, waiting
for a lock, a statement (per role of query: `use_role`), and an idle open transaction.
"""

import re

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker

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
    return create_engine(driver_url(url), pool_pre_ping=True, hide_parameters=True, **options)


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
# unless their blueprint names a role; command-line jobs (seeding, rebuilds) are unbounded.
ROLES = {
    "default": "DB_STATEMENT_TIMEOUT_MS",
    "ingest": "DB_INGEST_STATEMENT_TIMEOUT_MS",
    "analytics": "DB_ANALYTICS_STATEMENT_TIMEOUT_MS",
}


def _request_timeouts(sql_session, transaction, connection) -> None:
    """Bound every transaction a request opens: statements, lock waits, idling."""
    from flask import current_app, g, has_request_context

    # (A session joined into an outer transaction, as the tests do, is left alone: SET LOCAL
    # would outlive the request there. Live-server tests check these timeouts.)
    if not has_request_context() or transaction.nested or connection.in_nested_transaction():
        return
    config = current_app.config
    statement = int(config[ROLES[g.get("query_role", "default")]])
    lock = int(config["DB_LOCK_TIMEOUT_MS"])
    idle = int(config["DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"])
    connection.exec_driver_sql(
        f"SET LOCAL statement_timeout = {statement}; SET LOCAL lock_timeout = {lock}; "
        f"SET LOCAL idle_in_transaction_session_timeout = {idle}"
    )


def use_role(role: str) -> None:
    """Give this request's transactions the statement timeout of `role` (see ROLES)."""
    from flask import g

    g.query_role = role
    current = session()
    if current.in_transaction():  # already begun: set it now, as _request_timeouts would
        _request_timeouts(current, current.get_transaction(), current.connection())


def init_app(app) -> None:
    url = app.config["DATABASE_URL"]
    if not url:
        raise RuntimeError(
            "DATABASE_URL is not set; scripts/devdb url prints the local development database's URL"
        )
    app.extensions["engine"] = engine = make_engine(url, **timeout_options(app.config))
    session.configure(bind=engine)
    if not event.contains(Session, "after_begin", _request_timeouts):
        event.listen(Session, "after_begin", _request_timeouts)
    app.teardown_appcontext(lambda exc: session.remove())
