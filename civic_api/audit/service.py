"""Append audit entries in the caller's transaction, and read them back within a scope."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, select

from civic_api.audit.models import AuditEntry
from civic_api.database import session


def record(
    actor_id: int | None,
    action: str,
    entity_type: str,
    entity_id: object,
    *,
    municipality_ids: Iterable[int] = (),
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Append one entry; `before`/`after` must be JSON-ready and hold no secrets or report text."""
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        municipality_ids=sorted(set(municipality_ids)),
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def entries_query(
    municipality_ids: frozenset[int] | None,
    *,
    actor_id: int | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select:
    """Newest first; `municipality_ids` None means every entry (admins)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if municipality_ids is not None:
        query = query.where(AuditEntry.municipality_ids.overlap(sorted(municipality_ids)))
    for column, value in (
        (AuditEntry.actor_id, actor_id),
        (AuditEntry.action, action),
        (AuditEntry.entity_type, entity_type),
        (AuditEntry.entity_id, entity_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    return query
