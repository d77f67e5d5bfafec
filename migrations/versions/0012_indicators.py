"""Indicators: reporter feedback, the closed/reopened milestones, feedback push requests

Revision ID: 0012_indicators
Revises: 0010_hotpaths
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_indicators"
down_revision = "0010_hotpaths"
branch_labels = None
depends_on = None

OLD_KINDS = "('report.status_changed', 'report.response', 'announcement.published')"
NEW_KINDS = (
    "('report.status_changed', 'report.response', 'announcement.published',"
    " 'report.feedback_requested')"
)
# What the indicators read, per municipality and period, without touching the table.
INDICATOR_COLUMNS = [
    "category_id",
    "status",
    "occurred_at",
    "first_acknowledged_at",
    "first_responded_at",
    "first_resolved_at",
    "first_closed_at",
    "first_reopened_at",
    "response_due_at",
    "duplicate_of_id",
    "h3_8",
    "id",
]


def _kinds(kinds: str) -> None:
    for table in ("outbox_event", "push_message"):
        op.drop_constraint(op.f(f"ck_{table}_kind_known"), table, type_="check")
        op.create_check_constraint("kind_known", table, f"kind IN {kinds}")


def upgrade() -> None:
    op.add_column("report", sa.Column("first_closed_at", sa.DateTime(timezone=True)))
    op.add_column("report", sa.Column("first_reopened_at", sa.DateTime(timezone=True)))
    # Reports made before this revision: closed when they were last updated into a closed status.
    op.execute(
        "UPDATE report SET first_closed_at = coalesce(first_resolved_at, updated_at)"
        " WHERE status IN ('resolved', 'rejected', 'duplicate')"
    )
    op.execute(
        "UPDATE report r SET first_reopened_at = e.at FROM ("
        " SELECT report_id, min(at) AS at FROM report_event"
        " WHERE type = 'status_changed' AND to_status = 'reopened' GROUP BY report_id) e"
        " WHERE e.report_id = r.id"
    )
    op.drop_index("ix_report_municipality_id_submitted_at", table_name="report")
    op.create_index(
        "ix_report_indicators",
        "report",
        ["municipality_id", "submitted_at"],
        postgresql_include=INDICATOR_COLUMNS,
    )
    # Backlog at a period's end: the reports not closed by then, from the end date on.
    op.create_index(
        "ix_report_open_until",
        "report",
        [sa.text("coalesce(first_closed_at, 'infinity'::timestamptz)")],
        postgresql_include=[
            "municipality_id",
            "category_id",
            "submitted_at",
            "first_acknowledged_at",
            "response_due_at",
        ],
    )
    op.create_index(
        "ix_report_event_reporter_comment",
        "report_event",
        ["report_id"],
        postgresql_where=sa.text("type = 'reporter_comment'"),
    )
    op.create_table(
        "report_feedback",
        sa.Column("report_id", sa.UUID(), nullable=False),
        sa.Column("fixed", sa.Text(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("first_report", sa.Boolean(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "fixed IN ('yes', 'no', 'dont_know')", name=op.f("ck_report_feedback_fixed_known")
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_report_feedback_rating_range")),
        sa.CheckConstraint(
            "char_length(comment) <= 2000", name=op.f("ck_report_feedback_comment_length")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_report_feedback_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_report_feedback")),
    )
    _kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM push_message WHERE kind = 'report.feedback_requested'")
    op.execute("DELETE FROM outbox_event WHERE kind = 'report.feedback_requested'")
    _kinds(OLD_KINDS)
    op.drop_table("report_feedback")
    op.drop_index("ix_report_event_reporter_comment", table_name="report_event")
    op.drop_index("ix_report_open_until", table_name="report")
    op.drop_index("ix_report_indicators", table_name="report")
    op.create_index(
        "ix_report_municipality_id_submitted_at", "report", ["municipality_id", "submitted_at"]
    )
    op.drop_column("report", "first_reopened_at")
    op.drop_column("report", "first_closed_at")
