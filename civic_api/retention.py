"""Retention and erasure: what is forgotten, when, and the reporter's own erasure.

Every step works in small batches that skip rows other transactions hold, so
`flask retention run` is safe while the service runs, and running it twice changes
nothing the second time. The analytics rollups stay exact: coarsening keeps a report's
res-6/7/8 cells (its res-8 cell's centre lies in that cell) and moves only its res-9 cell,
through the same statement triggers that count every other change.
"""

import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update

from civic_api.categories.models import Category
from civic_api.database import session
from civic_api.outbox.models import OutboxEvent
from civic_api.photos import service as photos
from civic_api.push.models import Device, Message, ReportLink
from civic_api.reports import idempotency
from civic_api.reports.models import IdempotencyRecord, Report, ReportEvent
from civic_api.reports.service import token_hash
from geo.cells import cell_centres, cells_for

logger = logging.getLogger(__name__)

CLOSED_STATUSES = ("resolved", "rejected", "duplicate")
BATCH = 500
# A stored photo file no row points to is deleted once it is this old (an upload in flight
# writes its file a moment before its row commits).
ORPHAN_GRACE = timedelta(hours=1)

COARSEN_SQL = text("""
UPDATE report AS r
SET location = ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326), h3_9 = v.h3_9,
    accuracy_m = NULL, location_coarsened_at = :now, version = r.version + 1
FROM unnest(CAST(:ids AS uuid[]), CAST(:lons AS float8[]), CAST(:lats AS float8[]),
            CAST(:cells AS bigint[])) AS v(id, lon, lat, h3_9)
WHERE r.id = v.id AND r.location_coarsened_at IS NULL
""")


def coarsen(report_ids: list[uuid.UUID], now: datetime) -> int:
    """Move these reports to the centre of their res-8 cell (one statement: one trigger run)."""
    rows = session.execute(
        select(Report.id, Report.h3_8).where(
            Report.id.in_(report_ids), Report.location_coarsened_at.is_(None)
        )
    ).all()
    if not rows:
        return 0
    lats, lons = cell_centres([cell for _, cell in rows])
    session.execute(
        COARSEN_SQL,
        {
            "ids": [str(id_) for id_, _ in rows],
            "lons": lons.tolist(),
            "lats": lats.tolist(),
            "cells": cells_for(lats, lons, 9).tolist(),
            "now": now,
        },
    )
    return len(rows)


def erase_report(report: Report, now: datetime) -> list[str]:
    """The reporter's erasure: text, answers, comments, photos and exact location go.

    Kept: the category, municipality, dates and status (staff's workflow and the released
    counts), the res-8 cell, and staff's own events. The follow-up token stops working.
    Returns the photo files to delete once the transaction has committed.
    """
    keys = photos.delete_rows([report.id])
    report.description = None
    report.description_hidden_reason = None
    report.attributes = {}
    report.erased_at = now
    report.updated_at = now
    report.follow_up_token_hash = token_hash(secrets.token_urlsafe(32))
    # The reporter's words: comments and reopening reasons (events without a staff actor).
    session.execute(
        update(ReportEvent)
        .where(ReportEvent.report_id == report.id, ReportEvent.actor_id.is_(None))
        .values(message=None)
    )
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.report_id == report.id))
    session.execute(delete(ReportLink).where(ReportLink.report_id == report.id))
    session.flush()
    coarsen([report.id], now)
    session.expire(report)
    return keys


def coarsen_due(now: datetime, days: int) -> int:
    """One batch of sensitive reports closed more than `days` days ago."""
    cutoff = now - timedelta(days=days)
    last_change = (
        select(ReportEvent.at)
        .where(ReportEvent.report_id == Report.id, ReportEvent.type == "status_changed")
        .order_by(ReportEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    ids = session.scalars(
        select(Report.id)
        .join(Category, Category.id == Report.category_id)
        .where(
            Category.sensitive.is_(True),
            Report.status.in_(CLOSED_STATUSES),
            Report.location_coarsened_at.is_(None),
            # Without a status event (imported data), the last update stands for the closure.
            (last_change < cutoff) | (last_change.is_(None) & (Report.updated_at < cutoff)),
        )
        .limit(BATCH)
        .with_for_update(of=Report, skip_locked=True)
    ).all()
    return coarsen(list(ids), now) if ids else 0


def _delete_batch(model, *conditions) -> int:
    """Delete up to BATCH matching rows, skipping those another transaction holds."""
    key = model.__table__.primary_key.columns[0]
    batch = select(key).where(*conditions).limit(BATCH).with_for_update(skip_locked=True)
    return session.execute(delete(model).where(key.in_(batch))).rowcount


def expire_devices(now: datetime, days: int) -> int:
    """Devices not registered again or changed for `days` days (with what they follow)."""
    return _delete_batch(Device, Device.updated_at < now - timedelta(days=days))


def purge_push_messages(now: datetime, days: int) -> int:
    """Finished push messages and dispatched outbox events older than `days` days."""
    cutoff = now - timedelta(days=days)
    messages = _delete_batch(Message, Message.state != "pending", Message.created_at < cutoff)
    # Deleting an event deletes its messages: only once none of them is still pending.
    pending = select(Message.id).where(
        Message.event_id == OutboxEvent.id, Message.state == "pending"
    )
    events = _delete_batch(
        OutboxEvent,
        OutboxEvent.dispatched_at.is_not(None),
        OutboxEvent.dispatched_at < cutoff,
        ~pending.exists(),
    )
    return messages + events


def purge_idempotency(now: datetime, hours: int) -> int:
    """Idempotency records (sealed first responses) past their TTL."""
    return idempotency.purge_expired(timedelta(hours=hours))


@dataclass(frozen=True)
class RetentionPolicy:
    coarsen_after_days: int
    device_inactive_days: int
    push_message_days: int
    idempotency_hours: int

    @classmethod
    def from_config(cls, config) -> "RetentionPolicy":
        return cls(
            config["RETENTION_COARSEN_AFTER_DAYS"],
            config["RETENTION_DEVICE_INACTIVE_DAYS"],
            config["RETENTION_PUSH_MESSAGE_DAYS"],
            config["IDEMPOTENCY_TTL_HOURS"],
        )


def run(policy: RetentionPolicy, store, now: datetime, commit: Callable[[], None]) -> dict:
    """Every retention step, each batch in its own short transaction; returns counts."""
    steps = {
        "locations_coarsened": lambda: coarsen_due(now, policy.coarsen_after_days),
        "devices_expired": lambda: expire_devices(now, policy.device_inactive_days),
        "push_rows_purged": lambda: purge_push_messages(now, policy.push_message_days),
        "idempotency_records_purged": lambda: purge_idempotency(now, policy.idempotency_hours),
    }
    counts = {}
    for name, step in steps.items():
        counts[name] = 0
        while done := step():
            counts[name] += done
            commit()
        commit()
    try:
        orphans = photos.orphan_keys(store, now - ORPHAN_GRACE)
    except Exception as exc:  # the photo store being away must not stop the other steps
        logger.warning("retention: photo store not listed (%s)", type(exc).__name__)
        orphans = []
    photos.discard(store, orphans)
    counts["orphan_photo_files_deleted"] = len(orphans)
    logger.info("retention run: %s", counts)
    return counts
