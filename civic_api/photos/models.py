"""A photo of a report: only the re-encoded pixels are kept, never the uploaded file."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from civic_api.database import Base

MODERATION = ("pending", "approved", "rejected")


class Photo(Base):
    """One stored JPEG; the public sees it only when approved and the category is not sensitive."""

    __tablename__ = "photo"
    __table_args__ = (CheckConstraint(f"moderation IN {MODERATION}", name="moderation_known"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    # A random name in the photo store, unrelated to the report, the upload or its name.
    storage_key: Mapped[str] = mapped_column(Text, unique=True)
    content_type: Mapped[str] = mapped_column(Text)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    moderation: Mapped[str] = mapped_column(Text, server_default="pending")
    moderated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    moderated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
