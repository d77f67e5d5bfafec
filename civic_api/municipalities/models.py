"""Municipalities: the bodies that receive reports, with their boundaries."""

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, DateTime, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from civic_api.database import Base
from civic_api.models import Translations, VersionRow, all_locales


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


class MunicipalityVersion(VersionRow, Base):
    """Changes with every committed change to `municipality` (MunicipalityIndex)."""

    __tablename__ = "municipality_version"
