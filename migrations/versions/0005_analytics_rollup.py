"""Analytics: H3 cells of reports, the cell table, count rollups kept by triggers, DP releases

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:01:42.905562
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


# The rollups are kept exact in the transaction of every change to report, by statement-level
# triggers over transition tables: one aggregated upsert per statement, so a COPY of 10,000
# rows costs one upsert per (cell, category, day, status class), and a status change costs a
# decrement and an increment. Rows are upserted in key order, so concurrent writers queue on
# the same rows instead of deadlocking.
FUNCTIONS = """
CREATE FUNCTION report_status_class(status text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE status WHEN 'resolved' THEN 1 WHEN 'rejected' THEN 2
                        WHEN 'duplicate' THEN 3 ELSE 0 END)::smallint
$$;
CREATE FUNCTION report_local_day(at timestamptz) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT (at AT TIME ZONE 'Europe/Belgrade')::date $$;
"""

# `rows` yields (sign, report columns) for the statement's changes.
APPLY = """
WITH changes AS (
    SELECT c.cell, r.category_id::smallint AS category_id, report_local_day(r.occurred_at) AS day,
           report_status_class(r.status) AS status_class, sum(r.sign)::int AS delta
    FROM ({rows}) AS r
    CROSS JOIN LATERAL (VALUES (r.h3_6), (r.h3_7), (r.h3_8), (r.h3_9)) AS c(cell)
    WHERE c.cell IS NOT NULL
    GROUP BY 1, 2, 3, 4
), day_rows AS (
    INSERT INTO heat_cell_day AS h (cell, category_id, day, status_class, resolution, count)
    SELECT cell, category_id, day, status_class, ((cell >> 52) & 15)::smallint, delta
    FROM changes WHERE delta <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (resolution, cell, day, category_id, status_class)
    DO UPDATE SET count = h.count + EXCLUDED.count
)
INSERT INTO heat_cell_total AS t (resolution, cell, category_id, status_class, count)
SELECT ((cell >> 52) & 15)::smallint, cell, category_id, status_class, sum(delta)::int
FROM changes GROUP BY 2, 3, 4 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3, 4
ON CONFLICT (resolution, cell, category_id, status_class)
DO UPDATE SET count = t.count + EXCLUDED.count;
"""

COLUMNS = "category_id, occurred_at, status, h3_6, h3_7, h3_8, h3_9"
TRIGGERS = {
    "insert": ("NEW TABLE AS new_rows", f"SELECT 1 AS sign, {COLUMNS} FROM new_rows"),
    "delete": ("OLD TABLE AS old_rows", f"SELECT -1 AS sign, {COLUMNS} FROM old_rows"),
    "update": (
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        f"SELECT 1 AS sign, {COLUMNS} FROM new_rows"
        f" UNION ALL SELECT -1 AS sign, {COLUMNS} FROM old_rows",
    ),
}


def upgrade() -> None:
    op.create_table(
        "dp_release",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("query", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("epsilon_spent", sa.Float(), nullable=False),
        sa.Column("sensitivity", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("mechanism", sa.Text(), nullable=False),
        sa.Column("domain_size", sa.Integer(), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("epsilon > 0", name=op.f("ck_dp_release_epsilon_positive")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dp_release")),
    )
    op.create_table(
        "heat_cell_day",
        sa.Column("cell", sa.BigInteger(), nullable=False),
        sa.Column("category_id", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status_class", sa.SmallInteger(), nullable=False),
        sa.Column("resolution", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "resolution",
            "cell",
            "day",
            "category_id",
            "status_class",
            name=op.f("pk_heat_cell_day"),
            postgresql_include=["count"],
        ),
    )
    op.create_table(
        "heat_cell_total",
        sa.Column("resolution", sa.SmallInteger(), nullable=False),
        sa.Column("cell", sa.BigInteger(), nullable=False),
        sa.Column("category_id", sa.SmallInteger(), nullable=False),
        sa.Column("status_class", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "resolution",
            "cell",
            "category_id",
            "status_class",
            name=op.f("pk_heat_cell_total"),
            postgresql_include=["count"],
        ),
    )
    op.create_geospatial_table(
        "h3_cell",
        sa.Column("cell", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("resolution", sa.SmallInteger(), nullable=False),
        sa.Column("centre_lon", sa.Float(), nullable=False),
        sa.Column("centre_lat", sa.Float(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=True),
        sa.Column("geojson", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_h3_cell_municipality_id_municipality"),
        ),
        sa.PrimaryKeyConstraint("cell", name=op.f("pk_h3_cell")),
    )
    op.create_geospatial_index(
        "idx_h3_cell_geom",
        "h3_cell",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_h3_cell_resolution_centre",
        "h3_cell",
        ["resolution", "centre_lat", "centre_lon"],
        unique=False,
    )
    op.create_index(
        "ix_h3_cell_resolution_municipality_id",
        "h3_cell",
        ["resolution", "municipality_id"],
        unique=False,
    )
    op.add_column("report", sa.Column("h3_6", sa.BigInteger(), nullable=True))
    op.add_column("report", sa.Column("h3_7", sa.BigInteger(), nullable=True))
    op.add_column("report", sa.Column("h3_8", sa.BigInteger(), nullable=True))
    op.add_column("report", sa.Column("h3_9", sa.BigInteger(), nullable=True))
    op.create_index("ix_report_h3_9", "report", ["h3_9"], unique=False)
    op.execute(FUNCTIONS)
    for event, (referencing, rows) in TRIGGERS.items():
        op.execute(
            f"CREATE FUNCTION heat_after_report_{event}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {APPLY.format(rows=rows)} RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER heat_after_report_{event} AFTER {event.upper()} ON report"
            f" REFERENCING {referencing} FOR EACH STATEMENT"
            f" EXECUTE FUNCTION heat_after_report_{event}()"
        )
    # Reports stored before this revision get their cells and counts from
    # `flask analytics rebuild`.


def downgrade() -> None:
    for event in TRIGGERS:
        op.execute(f"DROP TRIGGER heat_after_report_{event} ON report")
        op.execute(f"DROP FUNCTION heat_after_report_{event}()")
    op.drop_index("ix_report_h3_9", table_name="report")
    op.execute("DROP FUNCTION report_local_day(timestamptz)")
    op.execute("DROP FUNCTION report_status_class(text)")
    op.drop_column("report", "h3_9")
    op.drop_column("report", "h3_8")
    op.drop_column("report", "h3_7")
    op.drop_column("report", "h3_6")
    op.drop_index("ix_h3_cell_resolution_municipality_id", table_name="h3_cell")
    op.drop_index("ix_h3_cell_resolution_centre", table_name="h3_cell")
    op.drop_geospatial_index(
        "idx_h3_cell_geom",
        table_name="h3_cell",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("h3_cell")
    op.drop_table("heat_cell_total")
    op.drop_table("heat_cell_day")
    op.drop_table("dp_release")
