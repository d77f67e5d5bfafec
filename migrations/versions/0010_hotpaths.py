"""Categories: a version row bumped by triggers, so processes can cache categories safely

Revision ID: 0010_hotpaths
Revises: 0006_releases
Create Date: 2026-12-01 08:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_hotpaths"
down_revision = "0006_releases"
branch_labels = None
depends_on = None

TABLES = ("category_group", "category", "category_attribute")


def upgrade() -> None:
    op.create_table(
        "category_version",
        sa.Column("singleton", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("singleton", name=op.f("ck_category_version_one_row")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_category_version")),
    )
    op.execute("INSERT INTO category_version DEFAULT VALUES")
    # The transaction id: unique for ever, so a rolled-back change never reuses a version.
    op.execute(
        "CREATE FUNCTION bump_category_version() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE category_version SET version = pg_current_xact_id()::text::bigint; "
        "RETURN NULL; END $$"
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER bump_category_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_category_version()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER bump_category_version ON {table}")
    op.execute("DROP FUNCTION bump_category_version()")
    op.drop_table("category_version")
