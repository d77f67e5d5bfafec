"""H3 cells over Kosovo and the count rollups that heatmaps, tiles and series read."""

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from civic_api.database import Base
from geo.cells import ROLLUP_RESOLUTIONS

# Report statuses grouped for analytics (the rollup's status_class column).
STATUS_CLASSES = {"open": 0, "resolved": 1, "rejected": 2, "duplicate": 3}
STATUS_CLASS_OF = {
    "submitted": 0,
    "acknowledged": 0,
    "in_progress": 0,
    "reopened": 0,
    "resolved": 1,
    "rejected": 2,
    "duplicate": 3,
}


class H3Cell(Base):
    """Every rollup cell that overlaps Kosovo, with its shape and the municipality of its centre."""

    __tablename__ = "h3_cell"
    __table_args__ = (
        Index("ix_h3_cell_resolution_centre", "resolution", "centre_lat", "centre_lon"),
        Index("ix_h3_cell_resolution_municipality_id", "resolution", "municipality_id"),
        *(
            Index(
                f"ix_h3_cell_geom_3857_res{r}",
                "geom_3857",
                postgresql_using="gist",
                postgresql_where=text(f"resolution = {r}"),
            )
            for r in ROLLUP_RESOLUTIONS
        ),
    )

    cell: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    resolution: Mapped[int] = mapped_column(SmallInteger)
    centre_lon: Mapped[float] = mapped_column(Float)
    centre_lat: Mapped[float] = mapped_column(Float)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"))
    geom = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=True), nullable=False)
    # The hexagon in web mercator, computed once: tiles select and clip it with no transform
    # (one GiST index per resolution, migration 0014).
    geom_3857 = mapped_column(
        Geometry("POLYGON", srid=3857, spatial_index=False),
        Computed("ST_Transform(geom, 3857)", persisted=True),
    )
    # The hexagon as GeoJSON text, written once: heatmaps splice it into their answers.
    geojson: Mapped[str] = mapped_column(Text)


class HeatCellDay(Base):
    """Reports per cell, category, local day of occurrence and status class; kept exact by
    statement triggers on report (migration 0005) in the same transaction as the change."""

    __tablename__ = "heat_cell_day"
    # Per cell, days in order, count included: a dated heatmap reads each area cell's days in
    # range with an index-only scan.
    __table_args__ = (
        PrimaryKeyConstraint(
            "resolution",
            "cell",
            "day",
            "category_id",
            "status_class",
            postgresql_include=["count"],
        ),
    )

    resolution: Mapped[int] = mapped_column(SmallInteger)
    cell: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)
    category_id: Mapped[int] = mapped_column(SmallInteger)
    status_class: Mapped[int] = mapped_column(SmallInteger)
    count: Mapped[int] = mapped_column(Integer)


class HeatCellTotal(Base):
    """The same counts over all time: what undated heatmaps and tiles read."""

    __tablename__ = "heat_cell_total"
    # count in the primary key's index: a heatmap is an index-only scan in cell order.
    __table_args__ = (
        PrimaryKeyConstraint(
            "resolution", "cell", "category_id", "status_class", postgresql_include=["count"]
        ),
    )

    resolution: Mapped[int] = mapped_column(SmallInteger)
    cell: Mapped[int] = mapped_column(BigInteger)
    category_id: Mapped[int] = mapped_column(SmallInteger)
    status_class: Mapped[int] = mapped_column(SmallInteger)
    count: Mapped[int] = mapped_column(Integer)


class DpRelease(Base):
    """A researcher's differentially private answer, computed once and served unchanged
    afterwards; its epsilon is charged to the account that first asked it."""

    __tablename__ = "dp_release"
    __table_args__ = (
        CheckConstraint("epsilon > 0", name="epsilon_positive"),
        Index("ix_dp_release_requested_by_created_at", "requested_by", "created_at"),
    )

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    query: Mapped[dict] = mapped_column(JSONB)
    epsilon: Mapped[float] = mapped_column(Float)
    epsilon_spent: Mapped[float] = mapped_column(Float)
    sensitivity: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    mechanism: Mapped[str] = mapped_column(Text)
    domain_size: Mapped[int] = mapped_column(Integer)
    # {cell hex: noisy count} for the cells whose noisy count passed the threshold.
    counts: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The closed whole months the answer covers (inclusive), for the per-month ledger.
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))


# Levels of a public release: the national total, municipalities, then H3 resolutions.
NATIONAL, MUNICIPALITY = 0, 1
RELEASE_RESOLUTIONS: tuple[int, ...] = (6, 7, 8)
RELEASE_LEVELS: tuple[int, ...] = (NATIONAL, MUNICIPALITY, *RELEASE_RESOLUTIONS)
LEVEL_NAMES = {NATIONAL: "national", MUNICIPALITY: "municipality"} | {
    r: f"h3 res {r}" for r in RELEASE_RESOLUTIONS
}


class Release(Base):
    """The public, differentially private counts of the sensitive categories for one closed
    calendar month (Europe/Belgrade), computed once by `flask analytics publish`."""

    __tablename__ = "release"
    __table_args__ = (
        CheckConstraint("epsilon > 0", name="epsilon_positive"),
        CheckConstraint("period_start <= period_end", name="period_ordered"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # the month, "2026-10"
    period_start: Mapped[date] = mapped_column(Date, unique=True)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    epsilon: Mapped[float] = mapped_column(Float)
    epsilon_spent: Mapped[float] = mapped_column(Float)
    contribution_bound: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    mechanism: Mapped[str] = mapped_column(Text)
    # [{"id", "code", "category_ids"}]: the sensitive categories of each group it covers.
    groups: Mapped[list] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReleaseCount(Base):
    """One released value: level (0 national, 1 municipality, 6-8 H3 resolution), the node
    (0, a municipality id or a cell id) and the category group. Zeros are not stored."""

    __tablename__ = "release_count"
    # A heatmap reads each area cell's value with an index-only probe.
    __table_args__ = (
        PrimaryKeyConstraint(
            "release_id", "level", "node", "group_id", postgresql_include=["value"]
        ),
        CheckConstraint("value > 0", name="value_positive"),
    )

    release_id: Mapped[str] = mapped_column(ForeignKey("release.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(SmallInteger)
    node: Mapped[int] = mapped_column(BigInteger)
    group_id: Mapped[int] = mapped_column(SmallInteger)
    value: Mapped[int] = mapped_column(Integer)
