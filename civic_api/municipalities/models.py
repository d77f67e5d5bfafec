"""Municipalities: the bodies that receive reports, with their boundaries."""

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from civic_api.database import Base
from civic_api.models import Translations, all_locales


class Municipality(Base):
    __tablename__ = "municipality"
    __table_args__ = (
        all_locales("name", "name_translated"),
        CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name="slug_format"),
        CheckConstraint("ST_IsValid(boundary)", name="boundary_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[dict] = mapped_column(Translations)
    boundary = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )
    population: Mapped[int | None] = mapped_column(
        Integer, CheckConstraint("population >= 0", name="population_positive")
    )
    timezone: Mapped[str] = mapped_column(Text, server_default="Europe/Belgrade")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MunicipalityVersion(Base):
    """One row whose version changes with every committed change to `municipality`
    (set by a trigger to the changing transaction's id), for the processes that hold the
    boundaries in memory (municipalities.service.MunicipalityIndex)."""

    __tablename__ = "municipality_version"
    __table_args__ = (CheckConstraint("singleton", name="one_row"),)

    singleton: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default="true")
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
