"""Staff accounts, their municipalities and their tokens."""

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civic_api.database import Base
from civic_api.municipalities.models import Municipality

ROLES = ("admin", "manager", "staff", "researcher")
TOKEN_KINDS = ("access", "refresh", "personal")

staff_municipality = Table(
    "staff_municipality",
    Base.metadata,
    Column("staff_id", ForeignKey("staff_account.id", ondelete="CASCADE"), primary_key=True),
    Column("municipality_id", ForeignKey("municipality.id"), primary_key=True, index=True),
)


class StaffAccount(Base):
    """A person who works on reports, announcements or analytics. Never deleted, deactivated."""

    __tablename__ = "staff_account"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES}", name="role_known"),
        CheckConstraint(
            "email = lower(email) AND position('@' IN email) > 1", name="email_normalised"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    municipalities: Mapped[list[Municipality]] = relationship(
        secondary=staff_municipality, order_by=Municipality.slug, lazy="selectin"
    )


class StaffToken(Base):
    """A bearer token, stored only as its SHA-256. Access and refresh tokens share a session id."""

    __tablename__ = "staff_token"
    __table_args__ = (
        CheckConstraint(f"kind IN {TOKEN_KINDS}", name="kind_known"),
        CheckConstraint("(kind = 'personal') = (session_id IS NULL)", name="session_or_personal"),
        Index("ix_staff_token_staff_id_kind", "staff_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    session_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    staff: Mapped[StaffAccount] = relationship(lazy="joined")
