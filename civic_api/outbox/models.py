"""Events written in the same transaction as the change they announce, for push delivery."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from civic_api.database import Base

EVENT_KINDS = (
    "report.status_changed",
    "report.response",
    "announcement.published",
    "report.feedback_requested",
)


class OutboxEvent(Base):
    """One thing to tell phones about; the push worker fans it out and sets dispatched_at."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        CheckConstraint(f"kind IN {EVENT_KINDS}", name="kind_known"),
        CheckConstraint("(report_id IS NULL) <> (announcement_id IS NULL)", name="one_subject"),
        Index(
            "ix_outbox_event_pending",
            "available_at",
            postgresql_where="dispatched_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    report_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcement.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    # Announcements scheduled for later become available at their publish time.
    available_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
