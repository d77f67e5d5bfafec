"""Alembic migrations: a single head, a clean round trip, and agreement with the models."""

import ast
import os
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import create_database, drop_database, server_url
from geoalchemy2 import alembic_helpers
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

import civic_api.all_models  # noqa: F401  (registers every table on Base.metadata)
from civic_api.cli import ROOT, alembic_config
from civic_api.database import Base, make_engine

SCRIPTS = ScriptDirectory.from_config(alembic_config("postgresql://unused/unused"))
# The newest revision (test_single_head_and_linear_history checks that there is one).
HEAD = SCRIPTS.get_current_head()
VERSIONS = sorted((ROOT / "migrations" / "versions").glob("0*.py"))
APP_TABLES = set(Base.metadata.tables)
# Integer primary keys named id are serial (unless autoincrement=False): each has its sequence.
APP_SEQUENCES = {
    f"{table.name}_id_seq"
    for table in Base.metadata.tables.values()
    if "id" in table.c
    and table.c.id.primary_key
    and table.c.id.type.python_type is int
    and table.c.id.autoincrement is not False
}
# Tables and views that PostGIS and its optional extensions (tiger geocoder, topology,
# raster) create; none of them belongs to the application.
POSTGIS_TABLES = {
    "spatial_ref_sys",
    "geometry_columns",
    "geography_columns",
    "raster_columns",
    "raster_overviews",
    "topology",
    "layer",
}
POSTGIS_SCHEMAS = {"tiger", "tiger_data", "topology"}


def env_include_object():
    """migrations/env.py's include_object, taken from its source (importing env.py runs it)."""
    source = (ROOT / "migrations" / "env.py").read_text()
    tree = ast.parse(source)
    definition = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "include_object"
    )
    namespace = {"alembic_helpers": alembic_helpers}
    exec(compile(ast.Module([definition], type_ignores=[]), "env.py", "exec"), namespace)
    return namespace["include_object"]


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and (name in POSTGIS_TABLES or obj.schema in POSTGIS_SCHEMAS):
        return False
    return env_include_object()(obj, name, type_, reflected, compare_to)


@pytest.fixture(scope="module")
def fresh_url():
    url = create_database(f"{make_url(server_url()).database}_test_{os.getpid()}_migrations")
    yield url
    drop_database(url)


@pytest.fixture
def engine(fresh_url):
    engine = make_engine(fresh_url)
    yield engine
    engine.dispose()


@pytest.fixture
def at_head(fresh_url, engine):
    command.upgrade(alembic_config(fresh_url), "head")
    return engine


def state(engine) -> tuple[set[str], list[str], set[str]]:
    """(tables in public, applied revisions, sequences in public)."""
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        versions = (
            connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            if "alembic_version" in tables
            else []
        )
        sequences = set(inspect(connection).get_sequence_names())
    return tables, versions, sequences


def has_postgis(engine) -> bool:
    with engine.connect() as connection:
        return bool(
            connection.execute(
                text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
        )


def test_single_head_and_linear_history():
    assert SCRIPTS.get_heads() == [HEAD]
    assert SCRIPTS.get_bases() == ["0001"]
    walked = list(SCRIPTS.walk_revisions())
    revisions = [r.revision for r in walked]
    assert revisions[-5:] == ["0005", "0004", "0003", "0002", "0001"]
    assert [r.down_revision for r in walked] == revisions[1:] + [None]
    # Every revision file is named after its id (0001_postgis.py, 0006_releases.py).
    named = [Path(r.path).stem for r in walked]
    assert all(n == r or n.startswith(f"{r}_") for n, r in zip(named, revisions, strict=True))
    assert len(walked) == len(VERSIONS)  # no file left out of the chain


def test_revision_files_match_their_ids():
    scripts = ScriptDirectory.from_config(alembic_config("postgresql://unused/unused"))
    for revision in scripts.walk_revisions():
        assert os.path.basename(revision.path).startswith(revision.revision)
    versions = [p.name for p in VERSIONS]
    assert versions[:4] == [
        "0001_postgis.py",
        "0002_municipalities_categories_and_reports.py",
        "0003_staff_workflow_announcements.py",
        "0004_push_devices_and_messages.py",
    ]


def test_upgrade_downgrade_upgrade_on_a_fresh_database(fresh_url):
    # Recreated empty, whatever other tests of this module did to it before.
    url = create_database(make_url(fresh_url).database)
    assert url == fresh_url
    engine = make_engine(url)
    config = alembic_config(url)
    assert state(engine) == (set(), [], set())
    assert has_postgis(engine) is False

    command.upgrade(config, "0001")
    assert state(engine) == ({"alembic_version", "spatial_ref_sys"}, ["0001"], set())
    assert has_postgis(engine) is True

    command.upgrade(config, "head")
    tables, versions, sequences = state(engine)
    assert tables == APP_TABLES | {"alembic_version", "spatial_ref_sys"}
    assert versions == [HEAD]
    assert sequences == APP_SEQUENCES
    assert {"report", "staff_account", "audit_entry", "municipality"} <= tables

    command.downgrade(config, "base")
    # Every application table and sequence is gone; the PostGIS extension deliberately stays.
    assert state(engine) == ({"alembic_version", "spatial_ref_sys"}, [], set())
    assert has_postgis(engine) is True

    command.upgrade(config, "head")
    tables, versions, _ = state(engine)
    assert tables == APP_TABLES | {"alembic_version", "spatial_ref_sys"}
    assert versions == [HEAD]
    engine.dispose()


def test_postgis_extension_exists_after_upgrade(at_head):
    assert has_postgis(at_head) is True
    with at_head.connect() as connection:
        version = connection.execute(text("SELECT postgis_lib_version()")).scalar()
    assert version.split(".")[0] == "3"


def diff(connection) -> list:
    context = MigrationContext.configure(
        connection, opts={"include_object": include_object, "compare_type": True}
    )
    return compare_metadata(context, Base.metadata)


def test_models_and_migrations_agree(at_head):
    with at_head.connect() as connection:
        assert diff(connection) == []


def test_model_comparison_detects_a_difference(at_head):
    """The comparison above is not vacuous: a column missing from the database is noticed."""
    with at_head.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("ALTER TABLE municipality DROP COLUMN timezone"))
        found = diff(connection)
        transaction.rollback()
    assert [(d[0], d[2], d[3].name) for d in found] == [("add_column", "municipality", "timezone")]


def test_spatial_ref_sys_is_ignored_only_through_include_object(at_head):
    with at_head.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        found = compare_metadata(context, Base.metadata)
    assert [(d[0], d[1].name) for d in found] == [("remove_table", "spatial_ref_sys")]


def test_gist_indexes_exist(at_head):
    with at_head.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = 'public' AND indexdef LIKE '%USING gist%' ORDER BY indexname"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (
            "idx_h3_cell_geom",
            "CREATE INDEX idx_h3_cell_geom ON public.h3_cell USING gist (geom)",
        ),
        (
            "idx_municipality_boundary",
            "CREATE INDEX idx_municipality_boundary ON public.municipality USING gist (boundary)",
        ),
        (
            "idx_report_location",
            "CREATE INDEX idx_report_location ON public.report USING gist (location)",
        ),
        *(
            (
                f"ix_h3_cell_geom_3857_res{r}",
                f"CREATE INDEX ix_h3_cell_geom_3857_res{r} ON public.h3_cell USING gist"
                f" (geom_3857) WHERE (resolution = {r})",
            )
            for r in (6, 7, 8, 9)
        ),
    ]


def test_geometry_columns_are_registered(at_head):
    with at_head.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT f_table_name, f_geometry_column, coord_dimension, srid, type "
                "FROM geometry_columns WHERE f_table_schema = 'public'"
                " ORDER BY f_table_name, f_geometry_column"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("announcement", "area", 2, 4326, "MULTIPOLYGON"),
        ("h3_cell", "geom", 2, 4326, "POLYGON"),
        ("h3_cell", "geom_3857", 2, 3857, "POLYGON"),
        ("municipality", "boundary", 2, 4326, "MULTIPOLYGON"),
        ("report", "location", 2, 4326, "POINT"),
    ]
