"""Announcements: a municipality's updates to its citizens (E-Komuna)."""

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civic_api.categories.models import Category
from civic_api.database import Base
from civic_api.models import LOCALES, Translations
from civic_api.municipalities.models import Municipality

SOME_LOCALE = " OR ".join(f"{{column}} ? '{loc}'" for loc in LOCALES)


class Announcement(Base):
    __tablename__ = "announcement"
    __table_args__ = (
        CheckConstraint(f"({SOME_LOCALE.format(column='title')})", name="title_translated"),
        CheckConstraint(f"({SOME_LOCALE.format(column='body')})", name="body_translated"),
        CheckConstraint("expires_at IS NULL OR expires_at > publish_at", name="expires_after"),
        Index("ix_announcement_municipality_id_publish_at", "municipality_id", "publish_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    # {locale: text} for at least one of sq, sr, en, with the same locales in both.
    title: Mapped[dict] = mapped_column(Translations)
    body: Mapped[dict] = mapped_column(Translations)
    area = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    publish_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    category: Mapped[Category | None] = relationship(lazy="joined")
