"""Engine, scoped session and the declarative Base with an Alembic-friendly naming convention."""

import re

from sqlalchemy import MetaData, create_engine
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


def init_app(app) -> None:
    url = app.config["DATABASE_URL"]
    if not url:
        raise RuntimeError(
            "DATABASE_URL is not set; scripts/devdb url prints the local development database's URL"
        )
    app.extensions["engine"] = engine = make_engine(url)
    session.configure(bind=engine)
    app.teardown_appcontext(lambda exc: session.remove())
