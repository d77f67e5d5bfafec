"""Push: random message keys, messages deleted with their device, unanswered sends, one throttle

Revision ID: 0007_push
Revises: 0008_robust
Create Date: 2026-12-01 08:50:00

- `push_message.key` becomes a random UUID (it was "<event id>:<device id>", which put the
  device id into every log line and every payload); (event_id, device_id) is the unique
  fan-out key instead, and event_id references the outbox event.
- Deleting a device deletes its messages (they kept its id before).
- `unanswered` counts sends without an answer; states `unknown` and `superseded`.
- `push_throttle`: one row, the pause every worker honours after 429 or an auth error.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_push"
down_revision = "0008_robust"
branch_labels = None
depends_on = None

OLD_STATES = "('pending', 'sent', 'failed', 'dead', 'delivered_to_log')"
NEW_STATES = "('pending', 'sent', 'failed', 'dead', 'delivered_to_log', 'unknown', 'superseded')"


def upgrade() -> None:
    op.add_column("push_message", sa.Column("event_id", sa.BigInteger(), nullable=True))
    op.execute("""
        UPDATE push_message SET event_id = CAST(split_part(key, ':', 1) AS bigint)
        WHERE key ~ '^[0-9]+:'
    """)
    op.execute("""
        DELETE FROM push_message m
        WHERE m.device_id IS NULL OR m.event_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM outbox_event e WHERE e.id = m.event_id)
    """)
    op.alter_column("push_message", "event_id", nullable=False)
    op.create_foreign_key(
        op.f("fk_push_message_event_id_outbox_event"),
        "push_message",
        "outbox_event",
        ["event_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.drop_constraint(
        op.f("fk_push_message_device_id_push_device"), "push_message", type_="foreignkey"
    )
    op.create_foreign_key(
        op.f("fk_push_message_device_id_push_device"),
        "push_message",
        "push_device",
        ["device_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.alter_column("push_message", "device_id", nullable=False)
    op.create_unique_constraint(
        op.f("uq_push_message_event_id"), "push_message", ["event_id", "device_id"]
    )
    op.drop_constraint(op.f("uq_push_message_key"), "push_message", type_="unique")
    op.execute(
        "ALTER TABLE push_message ALTER COLUMN key TYPE uuid USING gen_random_uuid(), "
        "ALTER COLUMN key SET DEFAULT gen_random_uuid()"
    )
    op.create_unique_constraint(op.f("uq_push_message_key"), "push_message", ["key"])
    op.add_column(
        "push_message",
        sa.Column("unanswered", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_push_message_unanswered_positive"), "push_message", "unanswered >= 0"
    )
    op.drop_constraint(op.f("ck_push_message_state_known"), "push_message", type_="check")
    op.create_check_constraint(
        op.f("ck_push_message_state_known"), "push_message", f"state IN {NEW_STATES}"
    )
    op.create_table(
        "push_throttle",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name=op.f("ck_push_throttle_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_throttle")),
    )
    op.execute("INSERT INTO push_throttle (id, paused_until, reason) VALUES (1, 'epoch', '')")


def downgrade() -> None:
    op.drop_table("push_throttle")
    op.execute("UPDATE push_message SET state = 'dead' WHERE state = 'unknown'")
    op.execute(
        "UPDATE push_message SET state = 'failed', last_error = 'SUPERSEDED' "
        "WHERE state = 'superseded'"
    )
    op.drop_constraint(op.f("ck_push_message_state_known"), "push_message", type_="check")
    op.create_check_constraint(
        op.f("ck_push_message_state_known"), "push_message", f"state IN {OLD_STATES}"
    )
    op.drop_constraint(op.f("ck_push_message_unanswered_positive"), "push_message", type_="check")
    op.drop_column("push_message", "unanswered")
    op.drop_constraint(op.f("uq_push_message_key"), "push_message", type_="unique")
    op.execute(
        "ALTER TABLE push_message ALTER COLUMN key DROP DEFAULT, "
        "ALTER COLUMN key TYPE text USING CAST(event_id AS text) || ':' || device_id"
    )
    op.create_unique_constraint(op.f("uq_push_message_key"), "push_message", ["key"])
    op.drop_constraint(op.f("uq_push_message_event_id"), "push_message", type_="unique")
    op.alter_column("push_message", "device_id", nullable=True)
    op.drop_constraint(
        op.f("fk_push_message_device_id_push_device"), "push_message", type_="foreignkey"
    )
    op.create_foreign_key(
        op.f("fk_push_message_device_id_push_device"),
        "push_message",
        "push_device",
        ["device_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.drop_constraint(
        op.f("fk_push_message_event_id_outbox_event"), "push_message", type_="foreignkey"
    )
    op.drop_column("push_message", "event_id")
