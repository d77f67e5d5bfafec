"""Public monthly releases of the sensitive categories, and the researchers' epsilon ledger

Revision ID: 0006_releases
Revises: 0008_robust
Create Date: 2026-12-01 08:45:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_releases"
down_revision = "0008_robust"
branch_labels = None
depends_on = None


# A sensitive category's reports were accepted on the promise of never being published
# live: no path (API, seed, SQL) may make it non-sensitive again.
SENSITIVE_STAYS = """
CREATE FUNCTION category_sensitive_stays() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.sensitive AND NOT NEW.sensitive THEN
        RAISE EXCEPTION 'category % is sensitive and cannot become non-sensitive', OLD.code
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER category_sensitive_stays BEFORE UPDATE OF sensitive ON category
FOR EACH ROW EXECUTE FUNCTION category_sensitive_stays();
"""


def upgrade() -> None:
    op.execute(SENSITIVE_STAYS)
    op.create_table(
        "release",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("epsilon_spent", sa.Float(), nullable=False),
        sa.Column("contribution_bound", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("mechanism", sa.Text(), nullable=False),
        sa.Column("groups", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("epsilon > 0", name=op.f("ck_release_epsilon_positive")),
        sa.CheckConstraint("period_start <= period_end", name=op.f("ck_release_period_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release")),
        sa.UniqueConstraint("period_start", name=op.f("uq_release_period_start")),
    )
    op.create_table(
        "release_count",
        sa.Column("release_id", sa.Text(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("node", sa.BigInteger(), nullable=False),
        sa.Column("group_id", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.CheckConstraint("value > 0", name=op.f("ck_release_count_value_positive")),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["release.id"],
            name=op.f("fk_release_count_release_id_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "release_id",
            "level",
            "node",
            "group_id",
            name=op.f("pk_release_count"),
            postgresql_include=["value"],
        ),
    )
    op.add_column("dp_release", sa.Column("period_start", sa.Date(), nullable=True))
    op.add_column("dp_release", sa.Column("period_end", sa.Date(), nullable=True))
    op.add_column("dp_release", sa.Column("requested_by", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_dp_release_requested_by_staff_account"),
        "dp_release",
        "staff_account",
        ["requested_by"],
        ["id"],
    )
    op.create_index(
        "ix_dp_release_requested_by_created_at", "dp_release", ["requested_by", "created_at"]
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER category_sensitive_stays ON category")
    op.execute("DROP FUNCTION category_sensitive_stays()")
    op.drop_index("ix_dp_release_requested_by_created_at", table_name="dp_release")
    op.drop_constraint(
        op.f("fk_dp_release_requested_by_staff_account"), "dp_release", type_="foreignkey"
    )
    op.drop_column("dp_release", "requested_by")
    op.drop_column("dp_release", "period_end")
    op.drop_column("dp_release", "period_start")
    op.drop_table("release_count")
    op.drop_table("release")
