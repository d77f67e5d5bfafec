"""Alembic environment: imports every model so autogenerate sees the whole schema."""

import os

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import pool

import civic_api.all_models  # noqa: F401  (registers every table on Base.metadata)
from civic_api.database import Base, make_engine

config = context.config
url = (
    config.attributes.get("url")
    or config.get_main_option("sqlalchemy.url")
    or os.environ.get("DATABASE_URL")
)
if not url:
    raise RuntimeError("set DATABASE_URL (scripts/devdb url prints the local one)")


def include_object(obj, name, type_, reflected, compare_to):
    # PostGIS's own tables are not ours to manage.
    if type_ == "table" and name in {"spatial_ref_sys"}:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def run_migrations() -> None:
    connectable = config.attributes.get("connection") or make_engine(url, poolclass=pool.NullPool)
    options = dict(
        target_metadata=Base.metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            context.configure(connection=connection, **options)
            with context.begin_transaction():
                context.run_migrations()
    else:
        context.configure(connection=connectable, **options)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
