"""H3 cells over Kosovo and the count rollups that heatmaps, tiles and series read."""

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from civic_api.database import Base

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
    )

    cell: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    resolution: Mapped[int] = mapped_column(SmallInteger)
    centre_lon: Mapped[float] = mapped_column(Float)
    centre_lat: Mapped[float] = mapped_column(Float)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"))
    geom = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=True), nullable=False)
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
    """A differentially private release, computed once and served unchanged afterwards."""

    __tablename__ = "dp_release"
    __table_args__ = (CheckConstraint("epsilon > 0", name="epsilon_positive"),)

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
