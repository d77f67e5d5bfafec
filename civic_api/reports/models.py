"""Reports submitted anonymously by citizens, and idempotency records for their submission."""

import uuid
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civic_api.categories.models import Category
from civic_api.database import Base
from civic_api.models import LOCALES, TEXT_MAX
from civic_api.municipalities.models import Municipality

STATUSES = ("submitted", "acknowledged", "in_progress", "resolved", "rejected", "duplicate")
DESCRIPTION_MAX = TEXT_MAX


class Report(Base):
    """One citizen report. Holds no IP address, user agent, device id or account."""

    __tablename__ = "report"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="status_known"),
        CheckConstraint(f"locale IN {LOCALES}", name="locale_known"),
        CheckConstraint(
            f"char_length(description) <= {DESCRIPTION_MAX}", name="description_length"
        ),
        CheckConstraint("accuracy_m >= 0", name="accuracy_positive"),
        CheckConstraint("jsonb_typeof(attributes) = 'object'", name="attributes_object"),
        Index("ix_report_municipality_id_submitted_at", "municipality_id", "submitted_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"))
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    description: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    status: Mapped[str] = mapped_column(Text, server_default="submitted", index=True)
    locale: Mapped[str] = mapped_column(Text, server_default="en")
    # SHA-256 of the follow-up token; the token itself is shown once and never stored.
    follow_up_token_hash: Mapped[bytes] = mapped_column(LargeBinary)

    category: Mapped[Category] = relationship(lazy="joined")
    municipality: Mapped[Municipality] = relationship(lazy="joined")


class IdempotencyRecord(Base):
    """The first response to a POST with an Idempotency-Key, sealed with a client-held key."""

    __tablename__ = "idempotency_record"

    # HMAC of the Idempotency-Key; the key itself is not stored.
    key_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary)
    # AES-GCM of the response body, keyed from the Idempotency-Key and the server secret.
    sealed_response: Mapped[bytes | None] = mapped_column(LargeBinary)
    report_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("report.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
