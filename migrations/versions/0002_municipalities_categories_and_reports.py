"""Municipalities, categories and reports

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:34:48.830824
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "category_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "code ~ '^[a-z0-9]+(_[a-z0-9]+)*$'", name=op.f("ck_category_group_code_format")
        ),
        sa.CheckConstraint(
            "jsonb_typeof(name->'sq') = 'string' AND length(name->>'sq') > 0 AND jsonb_typeof(name->'sr') = 'string' AND length(name->>'sr') > 0 AND jsonb_typeof(name->'en') = 'string' AND length(name->>'en') > 0",
            name=op.f("ck_category_group_name_translated"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_group")),
        sa.UniqueConstraint("code", name=op.f("uq_category_group_code")),
    )
    op.create_geospatial_table(
        "municipality",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "boundary",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.Text(), server_default="Europe/Belgrade", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "jsonb_typeof(name->'sq') = 'string' AND length(name->>'sq') > 0 AND jsonb_typeof(name->'sr') = 'string' AND length(name->>'sr') > 0 AND jsonb_typeof(name->'en') = 'string' AND length(name->>'en') > 0",
            name=op.f("ck_municipality_name_translated"),
        ),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_municipality_slug_format")
        ),
        sa.CheckConstraint("ST_IsValid(boundary)", name=op.f("ck_municipality_boundary_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_municipality")),
        sa.UniqueConstraint("slug", name=op.f("uq_municipality_slug")),
    )
    op.create_geospatial_index(
        "idx_municipality_boundary",
        "municipality",
        ["boundary"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "description",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("keywords", sa.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("sensitive", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("response_target_hours", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "code ~ '^[a-z0-9]+(_[a-z0-9]+)*$'", name=op.f("ck_category_code_format")
        ),
        sa.CheckConstraint(
            "jsonb_typeof(name->'sq') = 'string' AND length(name->>'sq') > 0 AND jsonb_typeof(name->'sr') = 'string' AND length(name->>'sr') > 0 AND jsonb_typeof(name->'en') = 'string' AND length(name->>'en') > 0",
            name=op.f("ck_category_name_translated"),
        ),
        sa.CheckConstraint(
            "response_target_hours > 0", name=op.f("ck_category_response_target_positive")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["category_group.id"], name=op.f("fk_category_group_id_category_group")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        sa.UniqueConstraint("code", name=op.f("uq_category_code")),
    )
    op.create_index(op.f("ix_category_group_id"), "category", ["group_id"], unique=False)
    op.create_table(
        "category_attribute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("datatype", sa.Text(), nullable=False),
        sa.Column("required", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("order", sa.Integer(), server_default="0", nullable=False),
        sa.Column("description", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "values", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.CheckConstraint(
            "code ~ '^[a-z0-9]+(_[a-z0-9]+)*$'", name=op.f("ck_category_attribute_code_format")
        ),
        sa.CheckConstraint(
            "datatype IN ('string', 'number', 'datetime', 'text', 'singlevaluelist', 'multivaluelist')",
            name=op.f("ck_category_attribute_datatype_known"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(description->'sq') = 'string' AND length(description->>'sq') > 0 AND jsonb_typeof(description->'sr') = 'string' AND length(description->>'sr') > 0 AND jsonb_typeof(description->'en') = 'string' AND length(description->>'en') > 0",
            name=op.f("ck_category_attribute_description_translated"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(\"values\") = 'array'", name=op.f("ck_category_attribute_values_array")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_category_attribute_category_id_category"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_attribute")),
        sa.UniqueConstraint("category_id", "code", name=op.f("uq_category_attribute_category_id")),
    )
    op.create_geospatial_table(
        "report",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column(
            "location",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "submitted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("status", sa.Text(), server_default="submitted", nullable=False),
        sa.Column("locale", sa.Text(), server_default="en", nullable=False),
        sa.Column("follow_up_token_hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "jsonb_typeof(attributes) = 'object'", name=op.f("ck_report_attributes_object")
        ),
        sa.CheckConstraint("locale IN ('sq', 'sr', 'en')", name=op.f("ck_report_locale_known")),
        sa.CheckConstraint(
            "status IN ('submitted', 'acknowledged', 'in_progress', 'resolved', 'rejected', 'duplicate')",
            name=op.f("ck_report_status_known"),
        ),
        sa.CheckConstraint("accuracy_m >= 0", name=op.f("ck_report_accuracy_positive")),
        sa.CheckConstraint(
            "char_length(description) <= 4000", name=op.f("ck_report_description_length")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_report_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_report_municipality_id_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
    )
    op.create_geospatial_index(
        "idx_report_location",
        "report",
        ["location"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_report_category_id"), "report", ["category_id"], unique=False)
    op.create_index(
        "ix_report_municipality_id_submitted_at",
        "report",
        ["municipality_id", "submitted_at"],
        unique=False,
    )
    op.create_index(op.f("ix_report_status"), "report", ["status"], unique=False)
    op.create_table(
        "idempotency_record",
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_response", sa.LargeBinary(), nullable=True),
        sa.Column("report_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_idempotency_record_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_idempotency_record")),
    )
    op.create_index(
        op.f("ix_idempotency_record_created_at"), "idempotency_record", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_idempotency_record_created_at"), table_name="idempotency_record")
    op.drop_table("idempotency_record")
    op.drop_index(op.f("ix_report_status"), table_name="report")
    op.drop_index("ix_report_municipality_id_submitted_at", table_name="report")
    op.drop_index(op.f("ix_report_category_id"), table_name="report")
    op.drop_geospatial_index(
        "idx_report_location", table_name="report", postgresql_using="gist", column_name="location"
    )
    op.drop_geospatial_table("report")
    op.drop_table("category_attribute")
    op.drop_index(op.f("ix_category_group_id"), table_name="category")
    op.drop_table("category")
    op.drop_geospatial_index(
        "idx_municipality_boundary",
        table_name="municipality",
        postgresql_using="gist",
        column_name="boundary",
    )
    op.drop_geospatial_table("municipality")
    op.drop_table("category_group")
