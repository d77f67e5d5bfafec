"""Reports submitted anonymously by citizens, and idempotency records for their submission."""

import uuid
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civic_api.categories.models import Category
from civic_api.database import Base
from civic_api.models import LOCALES, TEXT_MAX
from civic_api.municipalities.models import Municipality

STATUSES = (
    "submitted",
    "acknowledged",
    "in_progress",
    "resolved",
    "rejected",
    "duplicate",
    "reopened",
)
OPEN_STATUSES = ("submitted", "acknowledged", "in_progress", "reopened")
CLOSED_STATUSES = ("resolved", "rejected", "duplicate")
PRIORITIES = ("low", "normal", "high", "urgent")
EVENT_TYPES = (
    "status_changed",
    "public_response",
    "internal_note",
    "reporter_comment",
    "assigned",
    "priority_changed",
    "description_hidden",
    "description_restored",
)
# What the reporter sees of the history; the rest is for staff only.
PUBLIC_EVENT_TYPES = ("status_changed", "public_response", "reporter_comment")
DESCRIPTION_MAX = TEXT_MAX
FIXED_ANSWERS = ("yes", "no", "dont_know")
FEEDBACK_COMMENT_MAX = 2000


# The columns a new report is inserted with (reports.service.INSERT_REPORT and the
# idempotent insert of reports.idempotency).
INSERTED_COLUMNS = (
    *("id", "category_id", "municipality_id", "location", "accuracy_m", "occurred_at"),
    *("submitted_at", "updated_at", "description", "attributes", "status", "locale"),
    *("follow_up_token_hash", "h3_6", "h3_7", "h3_8", "h3_9", "response_due_at"),
)


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
        CheckConstraint(f"priority IN {PRIORITIES}", name="priority_known"),
        CheckConstraint(
            "(status = 'duplicate') = (duplicate_of_id IS NOT NULL)", name="duplicate_has_original"
        ),
        CheckConstraint("duplicate_of_id <> id", name="not_own_duplicate"),
        # Covering: the indicators read one municipality's period without touching the table.
        Index(
            "ix_report_indicators",
            "municipality_id",
            "submitted_at",
            postgresql_include=[
                "category_id",
                "status",
                "occurred_at",
                "first_acknowledged_at",
                "first_responded_at",
                "first_resolved_at",
                "first_closed_at",
                "first_reopened_at",
                "response_due_at",
                "duplicate_of_id",
                "h3_8",
                "id",
            ],
        ),
        # Backlog at a period's end: the reports not closed by then.
        Index(
            "ix_report_open_until",
            text("coalesce(first_closed_at, 'infinity'::timestamptz)"),
            postgresql_include=[
                "municipality_id",
                "category_id",
                "submitted_at",
                "first_acknowledged_at",
                "response_due_at",
            ],
        ),
        # The public points layer joins reports to their res-9 cells.
        Index("ix_report_h3_9", "h3_9"),
        # Open311 lists the newest requests of a date window first.
        Index("ix_report_submitted_at", "submitted_at"),
        Index(
            "ix_report_closed_exact",
            "updated_at",
            postgresql_where="location_coarsened_at IS NULL"
            " AND status IN ('resolved', 'rejected', 'duplicate')",
        ),
        Index(
            "ix_report_response_due_at_open",
            "response_due_at",
            postgresql_where="first_acknowledged_at IS NULL",
        ),
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

    # Handling by staff.
    priority: Mapped[str] = mapped_column(Text, server_default="normal")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"), index=True)
    # submitted_at + the category's response target when it was submitted.
    response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duplicate_of_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("report.id"), index=True)
    # Moderation: a hidden description is shown to admins only.
    description_hidden_reason: Mapped[str | None] = mapped_column(Text)
    # Kept for the indicators: the first acknowledgement, public response and resolution.
    first_acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The first time it was resolved, rejected or marked duplicate, and first reopened.
    first_closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_reopened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # H3 cells containing the location at the rollup resolutions (geo.cells), set at ingest.
    h3_6: Mapped[int | None] = mapped_column(BigInteger)
    h3_7: Mapped[int | None] = mapped_column(BigInteger)
    h3_8: Mapped[int | None] = mapped_column(BigInteger)
    h3_9: Mapped[int | None] = mapped_column(BigInteger)
    # Retention (civic_api/retention.py): erased by its reporter (text, answers, photos and
    # exact location gone), and the exact location replaced by its res-8 cell's centre.
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    location_coarsened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    # Optimistic concurrency: every UPDATE checks and bumps the version (the ETag).
    __mapper_args__ = {"version_id_col": version}

    category: Mapped[Category] = relationship(lazy="joined")
    municipality: Mapped[Municipality] = relationship(lazy="joined")


class ReportEvent(Base):
    """One step in a report's history: status changes, responses, notes, comments."""

    __tablename__ = "report_event"
    __table_args__ = (
        CheckConstraint(f"type IN {EVENT_TYPES}", name="type_known"),
        CheckConstraint(f"char_length(message) <= {TEXT_MAX}", name="message_length"),
        Index("ix_report_event_report_id_id", "report_id", "id"),
        # The indicators count reporter comments per report.
        Index(
            "ix_report_event_reporter_comment",
            "report_id",
            postgresql_where="type = 'reporter_comment'",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    report_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("report.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    type: Mapped[str] = mapped_column(Text)
    # NULL with type reporter_comment: the anonymous reporter.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_account.id"))
    from_status: Mapped[str | None] = mapped_column(Text)
    to_status: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    # Type-specific details: assignee, priority, duplicate_of, template.
    data: Mapped[dict] = mapped_column(JSONB, server_default="{}")


class ReportFeedback(Base):
    """The reporter's answer once the report is closed: fixed?, a 1–5 rating, a comment."""

    __tablename__ = "report_feedback"
    __table_args__ = (
        CheckConstraint(f"fixed IN {FIXED_ANSWERS}", name="fixed_known"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint(f"char_length(comment) <= {FEEDBACK_COMMENT_MAX}", name="comment_length"),
    )

    report_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    fixed: Mapped[str] = mapped_column(Text)
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    # The reporter's own answer to "is this your first report?"; NULL when not answered.
    first_report: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
