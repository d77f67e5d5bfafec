"""Municipalities: a version row bumped by a trigger, so processes can hold the boundaries

Revision ID: 0013_ingest
Revises: 0011_interop
Create Date: 2026-12-01 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_ingest"
down_revision = "0011_interop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "municipality_version",
        sa.Column("singleton", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("singleton", name=op.f("ck_municipality_version_one_row")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_municipality_version")),
    )
    op.execute("INSERT INTO municipality_version DEFAULT VALUES")
    # The transaction id: unique for ever, so a rolled-back change never reuses a version.
    op.execute(
        "CREATE FUNCTION bump_municipality_version() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE municipality_version SET version = pg_current_xact_id()::text::bigint; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER bump_municipality_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON municipality FOR EACH STATEMENT EXECUTE FUNCTION bump_municipality_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER bump_municipality_version ON municipality")
    op.execute("DROP FUNCTION bump_municipality_version()")
    op.drop_table("municipality_version")
