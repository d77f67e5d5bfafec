"""Response templates: localised answers staff reuse per category."""

from sqlalchemy import Boolean, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civic_api.categories.models import Category
from civic_api.database import Base
from civic_api.models import Translations, all_locales


class ResponseTemplate(Base):
    __tablename__ = "response_template"
    __table_args__ = (all_locales("body", "body_translated"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL: offered for every category.
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    body: Mapped[dict] = mapped_column(Translations)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")

    category: Mapped[Category | None] = relationship(lazy="joined")
