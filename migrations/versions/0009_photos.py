"""Photos of reports; reports erased by their reporter or coarsened after closure

Revision ID: 0009_photos
Revises: 0012_indicators
Create Date: 2026-12-01 08:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_photos"
down_revision = "0012_indicators"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "photo",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("report_id", sa.UUID(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("moderation", sa.Text(), server_default="pending", nullable=False),
        sa.Column("moderated_by", sa.Integer(), nullable=True),
        sa.Column("moderated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "moderation IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_photo_moderation_known"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_photo_report_id_report"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["moderated_by"], ["staff_account.id"], name=op.f("fk_photo_moderated_by_staff_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_photo_storage_key")),
    )
    op.create_index(op.f("ix_photo_report_id"), "photo", ["report_id"], unique=False)
    op.add_column("report", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "report", sa.Column("location_coarsened_at", sa.DateTime(timezone=True), nullable=True)
    )
    # Retention looks for closed reports whose location is still exact.
    op.create_index(
        "ix_report_closed_exact",
        "report",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text(
            "location_coarsened_at IS NULL AND status IN ('resolved', 'rejected', 'duplicate')"
        ),
    )
    op.create_index(op.f("ix_push_device_updated_at"), "push_device", ["updated_at"], unique=False)
    op.create_index(
        op.f("ix_push_message_created_at"), "push_message", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_push_message_created_at"), table_name="push_message")
    op.drop_index(op.f("ix_push_device_updated_at"), table_name="push_device")
    op.drop_index("ix_report_closed_exact", table_name="report")
    op.drop_column("report", "location_coarsened_at")
    op.drop_column("report", "erased_at")
    op.drop_index(op.f("ix_photo_report_id"), table_name="photo")
    op.drop_table("photo")
