"""Categories (Open311 services), their groups and their attribute definitions."""

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civic_api.database import Base
from civic_api.models import Translations, VersionRow, all_locales

DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
CODE_FORMAT = "^[a-z0-9]+(_[a-z0-9]+)*$"


class CategoryGroup(Base):
    __tablename__ = "category_group"
    __table_args__ = (
        all_locales("name", "name_translated"),
        CheckConstraint(f"code ~ '{CODE_FORMAT}'", name="code_format"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[dict] = mapped_column(Translations)


class Category(Base):
    __tablename__ = "category"
    __table_args__ = (
        all_locales("name", "name_translated"),
        CheckConstraint(f"code ~ '{CODE_FORMAT}'", name="code_format"),
        CheckConstraint("response_target_hours > 0", name="response_target_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("category_group.id"), index=True)
    name: Mapped[dict] = mapped_column(Translations)
    description: Mapped[dict] = mapped_column(Translations, server_default="{}")
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    # Sensitive reports (harassment, misconduct) are never published as points.
    sensitive: Mapped[bool] = mapped_column(Boolean, server_default="false")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    response_target_hours: Mapped[int | None] = mapped_column(Integer)

    group: Mapped[CategoryGroup] = relationship(lazy="joined")
    attributes: Mapped[list["CategoryAttribute"]] = relationship(
        order_by="CategoryAttribute.order",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class CategoryAttribute(Base):
    """An Open311 attribute definition: a question the citizen answers with the report."""

    __tablename__ = "category_attribute"
    __table_args__ = (
        UniqueConstraint("category_id", "code"),
        CheckConstraint(f"datatype IN {DATATYPES}", name="datatype_known"),
        CheckConstraint(f"code ~ '{CODE_FORMAT}'", name="code_format"),
        all_locales("description", "description_translated"),
        CheckConstraint("jsonb_typeof(\"values\") = 'array'", name="values_array"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(Text)
    datatype: Mapped[str] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(Boolean, server_default="false")
    order: Mapped[int] = mapped_column("order", Integer, server_default="0")
    # The prompt shown to the citizen, translated.
    description: Mapped[dict] = mapped_column(Translations)
    # [{"key": ..., "name": {"sq": ..., "sr": ..., "en": ...}}] for the list datatypes.
    values: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")


class CategoryVersion(VersionRow, Base):
    """Changes with every committed change to the category tables (CategoryCache)."""

    __tablename__ = "category_version"
