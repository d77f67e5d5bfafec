"""Engine, scoped session and the declarative Base with an Alembic-friendly naming convention.

Every wait on the database is bounded: connecting, waiting for a pooled connection, waiting
for a lock, a statement (per role of query: `use_role`), and an idle open transaction.
"""

import re

from sqlalchemy import MetaData, create_engine, text
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
    return create_engine(driver_url(url), pool_pre_ping=True, hide_parameters=True, **options)


def timeout_options(config) -> dict:
    """Engine options that bound every wait, from the DB_* settings."""
    server = {
        "statement_timeout": config["DB_STATEMENT_TIMEOUT_MS"],
        "lock_timeout": config["DB_LOCK_TIMEOUT_MS"],
        "idle_in_transaction_session_timeout": config["DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"],
    }
    return {
        "pool_timeout": config["DB_POOL_TIMEOUT_SECONDS"],
        "pool_size": config["DB_POOL_SIZE"],
        "connect_args": {
            "connect_timeout": config["DB_CONNECT_TIMEOUT_SECONDS"],
            "options": " ".join(f"-c {name}={value}" for name, value in server.items()),
            # A server that vanished without closing the connection is noticed in ~15 s.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 5,
            "keepalives_count": 2,
        },
    }


# Statement timeouts per role of query (settings), applied to the current transaction.
ROLES = {
    "ingest": "DB_INGEST_STATEMENT_TIMEOUT_MS",
    "analytics": "DB_ANALYTICS_STATEMENT_TIMEOUT_MS",
}


def use_role(role: str) -> None:
    """Give the rest of this transaction the statement timeout of `role` (see ROLES)."""
    from flask import current_app

    milliseconds = int(current_app.config[ROLES[role]])
    session.execute(text(f"SET LOCAL statement_timeout = {milliseconds}"))


def init_app(app) -> None:
    url = app.config["DATABASE_URL"]
    if not url:
        raise RuntimeError(
            "DATABASE_URL is not set; scripts/devdb url prints the local development database's URL"
        )
    app.extensions["engine"] = engine = make_engine(url, **timeout_options(app.config))
    session.configure(bind=engine)
    app.teardown_appcontext(lambda exc: session.remove())
