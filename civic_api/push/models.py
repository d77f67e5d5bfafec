"""Anonymous devices, what they follow, and one row per push message with its delivery state."""

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from civic_api.database import Base
from civic_api.models import LOCALES
from civic_api.outbox.models import EVENT_KINDS

PLATFORMS = ("android", "ios", "web")
# An FCM registration token, or a Firebase installation id (FCM's newer target).
TOKEN_TYPES = ("token", "fid")
TOKEN_MAX = 4096
# pending → sent | delivered_to_log | failed (never retried) | dead (retries used up; requeue)
# | unknown (sent twice without an answer: it may have arrived) | superseded (a newer status of
# the same report was fanned out to the device before this one went out).
STATES = ("pending", "sent", "failed", "dead", "delivered_to_log", "unknown", "superseded")


class Device(Base):
    """A phone that receives pushes. No account, no identity: an FCM token and a language."""

    __tablename__ = "push_device"
    __table_args__ = (
        CheckConstraint(f"platform IN {PLATFORMS}", name="platform_known"),
        CheckConstraint(f"token_type IN {TOKEN_TYPES}", name="token_type_known"),
        CheckConstraint(f"locale IN {LOCALES}", name="locale_known"),
        CheckConstraint(
            f"char_length(fcm_token) BETWEEN 1 AND {TOKEN_MAX}", name="fcm_token_length"
        ),
        CheckConstraint("active = (deactivated_at IS NULL)", name="deactivated_when_inactive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # SHA-256 of the device secret (256 random bits, shown once at registration).
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary)
    # One device per token: registering a token again replaces the older device.
    fcm_token: Mapped[str] = mapped_column(Text, unique=True)
    token_type: Mapped[str] = mapped_column(Text, server_default="token")
    platform: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(Text)
    # FCM said the token is dead (UNREGISTERED, SENDER_ID_MISMATCH, invalid): stop sending.
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deactivated_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Last registration or change; retention deletes devices inactive for long.
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class Subscription(Base):
    """A device follows a municipality's announcements, in one category or (NULL) in all."""

    __tablename__ = "push_subscription"
    __table_args__ = (
        UniqueConstraint(
            "device_id", "municipality_id", "category_id", postgresql_nulls_not_distinct=True
        ),
        Index("ix_push_subscription_municipality_id_category_id", "municipality_id", "category_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("push_device.id", ondelete="CASCADE")
    )
    municipality_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("municipality.id", ondelete="CASCADE")
    )
    category_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("category.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReportLink(Base):
    """A device hears about a report's status changes and responses (proved by its token)."""

    __tablename__ = "push_report_link"

    report_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("push_device.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Message(Base):
    """One notification to one device, created by fan-out from an outbox event.

    (event, device) is unique, so fanning an event out twice creates nothing new. `key` is
    random: it travels with the message (`push_key`) so that phones can drop a resend, and
    it is what logs name, so neither shows the device id.
    A worker claims a pending row by moving `next_attempt_at` past its lease and stamping
    `lease_id`; a crashed worker's rows become claimable again when the lease runs out.
    """

    __tablename__ = "push_message"
    __table_args__ = (
        CheckConstraint(f"state IN {STATES}", name="state_known"),
        CheckConstraint(f"kind IN {EVENT_KINDS}", name="kind_known"),
        CheckConstraint("(report_id IS NULL) <> (announcement_id IS NULL)", name="one_subject"),
        CheckConstraint("attempts >= 0", name="attempts_positive"),
        CheckConstraint("unanswered >= 0", name="unanswered_positive"),
        UniqueConstraint("event_id", "device_id"),
        Index(
            "ix_push_message_due",
            "next_attempt_at",
            postgresql_where="state = 'pending'",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), unique=True, server_default=func.gen_random_uuid()
    )
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("outbox_event.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(Text)
    report_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    announcement_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("announcement.id", ondelete="CASCADE"), index=True
    )
    # Deleting the device deletes its messages: nothing keeps a trace of what it followed.
    device_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("push_device.id", ondelete="CASCADE"), index=True
    )
    # The outbox event's payload (report events: event_id and status).
    payload: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    state: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    lease_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Sends that got no answer (timeout, connection lost after the request): FCM may have
    # delivered them, so such a message is sent at most once more.
    unanswered: Mapped[int] = mapped_column(Integer, server_default="0")
    # FCM's error code and a short reason; never a token.
    last_error: Mapped[str | None] = mapped_column(Text)
    fcm_message_id: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Retention purges finished messages by age.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Throttle(Base):
    """The one pause every worker honours: FCM said 429 (Retry-After) or refused our keys."""

    __tablename__ = "push_throttle"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    paused_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
