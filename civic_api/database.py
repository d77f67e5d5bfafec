"""Engine, scoped session and the declarative Base with an Alembic-friendly naming convention."""

import re
import select

from sqlalchemy import MetaData, create_engine, event, exc
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


def init_app(app) -> None:
    url = app.config["DATABASE_URL"]
    if not url:
        raise RuntimeError(
            "DATABASE_URL is not set; scripts/devdb url prints the local development database's URL"
        )
    app.extensions["engine"] = engine = make_engine(url)
    session.configure(bind=engine)
    app.teardown_appcontext(lambda exc: session.remove())
