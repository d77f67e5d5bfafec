"""Queue push events inside the caller's transaction: they exist exactly when the change does."""

import uuid
from datetime import datetime

from civic_api.database import session
from civic_api.outbox.models import OutboxEvent


def enqueue(
    kind: str,
    *,
    report_id: uuid.UUID | None = None,
    announcement_id: int | None = None,
    payload: dict | None = None,
    available_at: datetime | None = None,
) -> OutboxEvent:
    event = OutboxEvent(
        kind=kind, report_id=report_id, announcement_id=announcement_id, payload=payload or {}
    )
    if available_at is not None:
        event.available_at = available_at
    session.add(event)
    return event
