"""Push notifications: anonymous devices, subscriptions, report links and push messages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:41:31.348455
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_device",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("fcm_token", sa.Text(), nullable=False),
        sa.Column("token_type", sa.Text(), server_default="token", nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deactivated_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "locale IN ('sq', 'sr', 'en')", name=op.f("ck_push_device_locale_known")
        ),
        sa.CheckConstraint(
            "platform IN ('android', 'ios', 'web')", name=op.f("ck_push_device_platform_known")
        ),
        sa.CheckConstraint(
            "token_type IN ('token', 'fid')", name=op.f("ck_push_device_token_type_known")
        ),
        sa.CheckConstraint(
            "active = (deactivated_at IS NULL)",
            name=op.f("ck_push_device_deactivated_when_inactive"),
        ),
        sa.CheckConstraint(
            "char_length(fcm_token) BETWEEN 1 AND 4096",
            name=op.f("ck_push_device_fcm_token_length"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_device")),
        sa.UniqueConstraint("fcm_token", name=op.f("uq_push_device_fcm_token")),
    )
    op.create_table(
        "push_subscription",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_push_subscription_category_id_category"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["push_device.id"],
            name=op.f("fk_push_subscription_device_id_push_device"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_push_subscription_municipality_id_municipality"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscription")),
        sa.UniqueConstraint(
            "device_id",
            "municipality_id",
            "category_id",
            name=op.f("uq_push_subscription_device_id"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "ix_push_subscription_municipality_id_category_id",
        "push_subscription",
        ["municipality_id", "category_id"],
        unique=False,
    )
    op.create_table(
        "push_message",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("report_id", sa.UUID(), nullable=True),
        sa.Column("announcement_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.UUID(), nullable=True),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("state", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("lease_id", sa.UUID(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("fcm_message_id", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('report.status_changed', 'report.response', 'announcement.published')",
            name=op.f("ck_push_message_kind_known"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'failed', 'dead', 'delivered_to_log')",
            name=op.f("ck_push_message_state_known"),
        ),
        sa.CheckConstraint(
            "(report_id IS NULL) <> (announcement_id IS NULL)",
            name=op.f("ck_push_message_one_subject"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_push_message_attempts_positive")),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_push_message_announcement_id_announcement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["push_device.id"],
            name=op.f("fk_push_message_device_id_push_device"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_push_message_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_message")),
        sa.UniqueConstraint("key", name=op.f("uq_push_message_key")),
    )
    op.create_index(
        op.f("ix_push_message_announcement_id"), "push_message", ["announcement_id"], unique=False
    )
    op.create_index(op.f("ix_push_message_device_id"), "push_message", ["device_id"], unique=False)
    op.create_index(
        "ix_push_message_due",
        "push_message",
        ["next_attempt_at"],
        unique=False,
        postgresql_where="state = 'pending'",
    )
    op.create_index(op.f("ix_push_message_report_id"), "push_message", ["report_id"], unique=False)
    op.create_table(
        "push_report_link",
        sa.Column("report_id", sa.UUID(), nullable=False),
        sa.Column("device_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["push_device.id"],
            name=op.f("fk_push_report_link_device_id_push_device"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_push_report_link_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "device_id", name=op.f("pk_push_report_link")),
    )
    op.create_index(
        op.f("ix_push_report_link_device_id"), "push_report_link", ["device_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_push_report_link_device_id"), table_name="push_report_link")
    op.drop_table("push_report_link")
    op.drop_index(op.f("ix_push_message_report_id"), table_name="push_message")
    op.drop_index(
        "ix_push_message_due", table_name="push_message", postgresql_where="state = 'pending'"
    )
    op.drop_index(op.f("ix_push_message_device_id"), table_name="push_message")
    op.drop_index(op.f("ix_push_message_announcement_id"), table_name="push_message")
    op.drop_table("push_message")
    op.drop_index(
        "ix_push_subscription_municipality_id_category_id", table_name="push_subscription"
    )
    op.drop_table("push_subscription")
    op.drop_table("push_device")
