"""The append-only audit log of staff writes."""

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from civic_api.database import Base


class AuditEntry(Base):
    """Who did what to which entity, with the state before and after. A trigger forbids changes."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_municipality_ids", "municipality_ids", postgresql_using="gin"),
        Index("ix_audit_entry_entity_type_entity_id", "entity_type", "entity_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # NULL for the command line; staff accounts are never deleted.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"), index=True)
    action: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[str] = mapped_column(Text)
    # The municipalities the entity belongs to, for managers' scoped view; empty = national.
    municipality_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)
