"""Drop login_throttle: sign-in lockouts are per client and account, in the rate limiter's storage.

Revision ID: 0008_robust
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_robust"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_login_throttle_window_started_at"), table_name="login_throttle")
    op.drop_table("login_throttle")


def downgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_login_throttle")),
    )
    op.create_index(
        op.f("ix_login_throttle_window_started_at"),
        "login_throttle",
        ["window_started_at"],
        unique=False,
    )
