"""Cells: the hexagon in web mercator, stored, with one spatial index per resolution

Tiles select the cells of one resolution touching the tile and clip them in EPSG:3857;
with the polygon stored in 3857 neither the selection nor the clipping transforms it.

Revision ID: 0014_tiles
Revises: 0013_ingest
Create Date: 2026-12-01 12:10:00
"""

from alembic import op

revision = "0014_tiles"
down_revision = "0013_ingest"
branch_labels = None
depends_on = None

RESOLUTIONS = (6, 7, 8, 9)  # geo.cells.ROLLUP_RESOLUTIONS when this was written


def upgrade() -> None:
    op.execute(
        "ALTER TABLE h3_cell ADD COLUMN geom_3857 geometry(POLYGON, 3857)"
        " GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED"
    )
    for r in RESOLUTIONS:
        op.execute(
            f"CREATE INDEX ix_h3_cell_geom_3857_res{r} ON h3_cell USING gist (geom_3857)"
            f" WHERE resolution = {r}"
        )


def downgrade() -> None:
    for r in RESOLUTIONS:
        op.execute(f"DROP INDEX ix_h3_cell_geom_3857_res{r}")
    op.execute("ALTER TABLE h3_cell DROP COLUMN geom_3857")
