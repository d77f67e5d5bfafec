"""Open-data downloads (the current file of each dataset and format); reports by submission time

Revision ID: 0011_interop
Revises: 0009_photos
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_interop"
down_revision = "0009_photos"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open_data_file",
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("gzip", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "format IN ('csv', 'geojson')", name=op.f("ck_open_data_file_format_known")
        ),
        sa.PrimaryKeyConstraint("dataset", "format", name=op.f("pk_open_data_file")),
    )
    op.create_index("ix_report_submitted_at", "report", ["submitted_at"])


def downgrade() -> None:
    op.drop_index("ix_report_submitted_at", table_name="report")
    op.drop_table("open_data_file")
