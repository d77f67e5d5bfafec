"""Backups: pg_dump of a live database restores with pg_restore into an equal, working one."""

import os
import shutil
import subprocess
import uuid

import pytest
from alembic import command
from conftest import create_database, drop_database, server_url
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from civic_api.analytics.rollup import cells_of
from civic_api.cli import alembic_config
from civic_api.database import make_engine

TABLE_DIGESTS = """
SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename
"""


def tool(name: str, connection) -> str:
    """The client of the server's major version (Debian keeps one per version)."""
    major = connection.execute(text("SHOW server_version_num")).scalar()[:2]
    versioned = f"/usr/lib/postgresql/{major}/bin/{name}"
    return versioned if os.path.exists(versioned) else shutil.which(name)


def digests(connection) -> dict[str, tuple[int, str]]:
    """(rows, md5 of the rows in a stable order) of every table."""
    found = {}
    for table in connection.execute(text(TABLE_DIGESTS)).scalars():
        found[table] = connection.execute(
            text(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                f' FROM "{table}" t'
            )
        ).one()
    return found


def libpq(url: str) -> dict:
    """Connection settings for the PostgreSQL tools, password via the environment."""
    parsed = make_url(url)
    env = {**os.environ, "PGPASSWORD": parsed.password or ""}
    args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
    args += ["-U", parsed.username or "postgres", "-d", parsed.database]
    return {"args": args, "env": env}


SEED = """
INSERT INTO municipality (slug, name, boundary) VALUES ('prishtina', '{"en": "Prishtina"}',
    ST_Multi(ST_MakeEnvelope(21.0, 42.5, 21.3, 42.8, 4326)));
INSERT INTO category_group (code, name) VALUES ('environment', '{"en": "Environment"}');
INSERT INTO category (code, group_id, name)
SELECT 'waste', id, '{"en": "Waste"}' FROM category_group;
INSERT INTO audit_entry (action, entity_type, entity_id) VALUES ('seed', 'test', '1');
"""
CELLS = {k: int(v[0]) for k, v in cells_of([42.6629], [21.1655]).items()}
REPORT = """
INSERT INTO report (id, category_id, municipality_id, location, occurred_at,
                    follow_up_token_hash, h3_6, h3_7, h3_8, h3_9, description)
SELECT :id, c.id, m.id, ST_SetSRID(ST_MakePoint(21.1655, 42.6629), 4326), now(),
       '\\x00', :h3_6, :h3_7, :h3_8, :h3_9, 'backup test'
FROM category c, municipality m WHERE c.code = 'waste' AND m.slug = 'prishtina'
"""


def test_pg_dump_and_pg_restore_round_trip(tmp_path):
    name = make_url(server_url()).database
    source_url = create_database(f"{name}_test_{os.getpid()}_backup")
    target_url = create_database(f"{name}_test_{os.getpid()}_restore")
    command.upgrade(alembic_config(source_url), "head")
    source, target = make_engine(source_url), make_engine(target_url)
    try:
        with source.begin() as connection:
            connection.execute(text(SEED))
            connection.execute(text(REPORT), {"id": uuid.uuid4(), **CELLS})
        with source.connect() as connection:
            pg_dump, pg_restore = tool("pg_dump", connection), tool("pg_restore", connection)
            before = digests(connection)
        dump = tmp_path / "civic.dump"
        src, dst = libpq(source_url), libpq(target_url)
        subprocess.run(
            [pg_dump, "--format=custom", "--no-owner", "--file", str(dump), *src["args"]],
            env=src["env"],
            check=True,
            timeout=120,
        )
        subprocess.run(
            [pg_restore, "--no-owner", "--exit-on-error", *dst["args"], str(dump)],
            env=dst["env"],
            check=True,
            timeout=120,
        )
        totals = "SELECT coalesce(sum(count), 0) FROM heat_cell_total WHERE resolution = 8"
        with target.connect() as connection:
            assert digests(connection) == before
            assert before["report"][0] == 1 and before["alembic_version"][0] == 1
            assert connection.execute(text(totals)).scalar() == 1
        # The restored database works: triggers keep the rollups, the audit log stays append-only.
        with target.begin() as connection:
            connection.execute(text(REPORT), {"id": uuid.uuid4(), **CELLS})
            assert connection.execute(text(totals)).scalar() == 2
        with target.connect() as connection, pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text("UPDATE audit_entry SET action = 'x'"))
    finally:
        source.dispose()
        target.dispose()
        drop_database(source_url)
        drop_database(target_url)
