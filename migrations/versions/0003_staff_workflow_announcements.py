"""Staff accounts and tokens, report handling, announcements, audit log and push outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:34:00.907740
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    op.create_table(
        "staff_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "password_changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "email = lower(email) AND position('@' IN email) > 1",
            name=op.f("ck_staff_account_email_normalised"),
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'manager', 'staff', 'researcher')",
            name=op.f("ck_staff_account_role_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_account")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_account_email")),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("municipality_ids", sa.ARRAY(sa.Integer()), server_default="{}", nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["staff_account.id"], name=op.f("fk_audit_entry_actor_id_staff_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    op.create_index(op.f("ix_audit_entry_actor_id"), "audit_entry", ["actor_id"], unique=False)
    op.create_index(
        "ix_audit_entry_entity_type_entity_id",
        "audit_entry",
        ["entity_type", "entity_id"],
        unique=False,
    )
    op.create_index(
        "ix_audit_entry_municipality_ids",
        "audit_entry",
        ["municipality_ids"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "staff_municipality",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_staff_municipality_municipality_id_municipality"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_account.id"],
            name=op.f("fk_staff_municipality_staff_id_staff_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "municipality_id", name=op.f("pk_staff_municipality")),
    )
    op.create_index(
        op.f("ix_staff_municipality_municipality_id"),
        "staff_municipality",
        ["municipality_id"],
        unique=False,
    )
    op.create_table(
        "staff_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("scopes", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(kind = 'personal') = (session_id IS NULL)",
            name=op.f("ck_staff_token_session_or_personal"),
        ),
        sa.CheckConstraint(
            "kind IN ('access', 'refresh', 'personal')", name=op.f("ck_staff_token_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_account.id"],
            name=op.f("fk_staff_token_staff_id_staff_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_token_token_hash")),
    )
    op.create_index(op.f("ix_staff_token_session_id"), "staff_token", ["session_id"], unique=False)
    op.create_index(
        "ix_staff_token_staff_id_kind", "staff_token", ["staff_id", "kind"], unique=False
    )
    op.create_geospatial_table(
        "announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("title", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "area",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("publish_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
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
            "(body ? 'sq' OR body ? 'sr' OR body ? 'en')",
            name=op.f("ck_announcement_body_translated"),
        ),
        sa.CheckConstraint(
            "(title ? 'sq' OR title ? 'sr' OR title ? 'en')",
            name=op.f("ck_announcement_title_translated"),
        ),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at > publish_at",
            name=op.f("ck_announcement_expires_after"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_announcement_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_account.id"],
            name=op.f("fk_announcement_created_by_staff_account"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_announcement_municipality_id_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement")),
    )
    op.create_index(
        "ix_announcement_municipality_id_publish_at",
        "announcement",
        ["municipality_id", "publish_at"],
        unique=False,
    )
    op.create_table(
        "response_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.CheckConstraint(
            "jsonb_typeof(body->'sq') = 'string' AND length(body->>'sq') > 0 AND jsonb_typeof(body->'sr') = 'string' AND length(body->>'sr') > 0 AND jsonb_typeof(body->'en') = 'string' AND length(body->>'en') > 0",
            name=op.f("ck_response_template_body_translated"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_response_template_category_id_category")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_template")),
    )
    op.create_index(
        op.f("ix_response_template_category_id"), "response_template", ["category_id"], unique=False
    )
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("report_id", sa.UUID(), nullable=True),
        sa.Column("announcement_id", sa.Integer(), nullable=True),
        sa.Column(
            "payload", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "available_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('report.status_changed', 'report.response', 'announcement.published')",
            name=op.f("ck_outbox_event_kind_known"),
        ),
        sa.CheckConstraint(
            "(report_id IS NULL) <> (announcement_id IS NULL)",
            name=op.f("ck_outbox_event_one_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_outbox_event_announcement_id_announcement"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_outbox_event_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    op.create_index(
        op.f("ix_outbox_event_announcement_id"), "outbox_event", ["announcement_id"], unique=False
    )
    op.create_index(
        "ix_outbox_event_pending",
        "outbox_event",
        ["available_at"],
        unique=False,
        postgresql_where="dispatched_at IS NULL",
    )
    op.create_index(op.f("ix_outbox_event_report_id"), "outbox_event", ["report_id"], unique=False)
    op.create_table(
        "report_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("report_id", sa.UUID(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("from_status", sa.Text(), nullable=True),
        sa.Column("to_status", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "data", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint(
            "type IN ('status_changed', 'public_response', 'internal_note', 'reporter_comment', 'assigned', 'priority_changed', 'description_hidden', 'description_restored')",
            name=op.f("ck_report_event_type_known"),
        ),
        sa.CheckConstraint(
            "char_length(message) <= 4000", name=op.f("ck_report_event_message_length")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["staff_account.id"], name=op.f("fk_report_event_actor_id_staff_account")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_report_event_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_event")),
    )
    op.create_index(
        "ix_report_event_report_id_id", "report_event", ["report_id", "id"], unique=False
    )
    op.add_column(
        "report", sa.Column("priority", sa.Text(), server_default="normal", nullable=False)
    )
    op.add_column("report", sa.Column("assignee_id", sa.Integer(), nullable=True))
    op.add_column("report", sa.Column("response_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("report", sa.Column("duplicate_of_id", sa.UUID(), nullable=True))
    op.add_column("report", sa.Column("description_hidden_reason", sa.Text(), nullable=True))
    op.add_column(
        "report", sa.Column("first_acknowledged_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "report", sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "report", sa.Column("first_resolved_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("report", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "report",
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column("report", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_index(op.f("ix_report_assignee_id"), "report", ["assignee_id"], unique=False)
    op.create_index(op.f("ix_report_duplicate_of_id"), "report", ["duplicate_of_id"], unique=False)
    op.create_index(
        "ix_report_response_due_at_open",
        "report",
        ["response_due_at"],
        unique=False,
        postgresql_where="first_acknowledged_at IS NULL",
    )
    op.create_foreign_key(
        op.f("fk_report_assignee_id_staff_account"),
        "report",
        "staff_account",
        ["assignee_id"],
        ["id"],
    )
    op.create_foreign_key(
        op.f("fk_report_duplicate_of_id_report"), "report", "report", ["duplicate_of_id"], ["id"]
    )
    op.drop_constraint(op.f("ck_report_status_known"), "report", type_="check")
    op.create_check_constraint(
        op.f("ck_report_status_known"),
        "report",
        "status IN ('submitted', 'acknowledged', 'in_progress', 'resolved', 'rejected', 'duplicate', 'reopened')",
    )
    op.create_check_constraint(
        op.f("ck_report_priority_known"),
        "report",
        "priority IN ('low', 'normal', 'high', 'urgent')",
    )
    op.create_check_constraint(
        op.f("ck_report_duplicate_has_original"),
        "report",
        "(status = 'duplicate') = (duplicate_of_id IS NOT NULL)",
    )
    op.create_check_constraint(
        op.f("ck_report_not_own_duplicate"), "report", "duplicate_of_id <> id"
    )
    # Reports submitted before this revision get the response target of their category.
    op.execute(
        "UPDATE report SET response_due_at = report.submitted_at + make_interval(hours => category.response_target_hours) "
        "FROM category WHERE category.id = report.category_id AND category.response_target_hours IS NOT NULL"
    )
    # The audit log is append-only, whoever connects.
    op.execute(
        "CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_entry is append-only' USING ERRCODE = 'insufficient_privilege'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()"
    )


def downgrade() -> None:
    op.execute("UPDATE report SET status = 'in_progress' WHERE status = 'reopened'")
    op.drop_constraint(op.f("ck_report_not_own_duplicate"), "report", type_="check")
    op.drop_constraint(op.f("ck_report_duplicate_has_original"), "report", type_="check")
    op.drop_constraint(op.f("ck_report_priority_known"), "report", type_="check")
    op.drop_constraint(op.f("ck_report_status_known"), "report", type_="check")
    op.create_check_constraint(
        op.f("ck_report_status_known"),
        "report",
        "status IN ('submitted', 'acknowledged', 'in_progress', 'resolved', 'rejected', 'duplicate')",
    )
    op.drop_constraint(op.f("fk_report_duplicate_of_id_report"), "report", type_="foreignkey")
    op.drop_constraint(op.f("fk_report_assignee_id_staff_account"), "report", type_="foreignkey")
    op.drop_index(
        "ix_report_response_due_at_open",
        table_name="report",
        postgresql_where="first_acknowledged_at IS NULL",
    )
    op.drop_index(op.f("ix_report_duplicate_of_id"), table_name="report")
    op.drop_index(op.f("ix_report_assignee_id"), table_name="report")
    op.drop_column("report", "version")
    op.drop_column("report", "updated_at")
    op.drop_column("report", "resolved_at")
    op.drop_column("report", "first_resolved_at")
    op.drop_column("report", "first_responded_at")
    op.drop_column("report", "first_acknowledged_at")
    op.drop_column("report", "description_hidden_reason")
    op.drop_column("report", "duplicate_of_id")
    op.drop_column("report", "response_due_at")
    op.drop_column("report", "assignee_id")
    op.drop_column("report", "priority")
    op.drop_index("ix_report_event_report_id_id", table_name="report_event")
    op.drop_table("report_event")
    op.drop_index(op.f("ix_outbox_event_report_id"), table_name="outbox_event")
    op.drop_index(
        "ix_outbox_event_pending",
        table_name="outbox_event",
        postgresql_where="dispatched_at IS NULL",
    )
    op.drop_index(op.f("ix_outbox_event_announcement_id"), table_name="outbox_event")
    op.drop_table("outbox_event")
    op.drop_index(op.f("ix_response_template_category_id"), table_name="response_template")
    op.drop_table("response_template")
    op.drop_index("ix_announcement_municipality_id_publish_at", table_name="announcement")
    op.drop_geospatial_table("announcement")
    op.drop_index("ix_staff_token_staff_id_kind", table_name="staff_token")
    op.drop_index(op.f("ix_staff_token_session_id"), table_name="staff_token")
    op.drop_table("staff_token")
    op.drop_index(op.f("ix_staff_municipality_municipality_id"), table_name="staff_municipality")
    op.drop_table("staff_municipality")
    op.drop_index("ix_audit_entry_municipality_ids", table_name="audit_entry")
    op.drop_index("ix_audit_entry_entity_type_entity_id", table_name="audit_entry")
    op.drop_index(op.f("ix_audit_entry_actor_id"), table_name="audit_entry")
    op.drop_table("audit_entry")
    op.execute("DROP FUNCTION audit_entry_append_only()")
    op.drop_table("staff_account")
    op.drop_index(op.f("ix_login_throttle_window_started_at"), table_name="login_throttle")
    op.drop_table("login_throttle")
