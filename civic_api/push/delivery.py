"""The outbox's two steps, in SQL: fan events out to push_message rows, then claim and record.

Every function takes a Connection inside the caller's transaction and never commits. They
are the hot path (10,000 rows per announcement), so rows move in set-based statements,
never one ORM object at a time.

- `fan_out` claims due outbox events (FOR UPDATE SKIP LOCKED), inserts one row per target
  device with the unique key "<event id>:<device id>" (ON CONFLICT DO NOTHING, so a
  second fan-out of the same event adds nothing), and marks the events dispatched.
- `claim` takes due pending rows (FOR UPDATE SKIP LOCKED), counts the attempt, stamps a
  lease id and moves `next_attempt_at` to the end of the lease: until then no other worker
  sees them; if this worker dies, they become due again when the lease runs out.
- `record` writes every message's outcome in one UPDATE, only where the lease is still
  ours, and deactivates the devices whose tokens FCM called dead.
"""

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from civic_api.i18n import translate
from civic_api.push import texts
from civic_api.push.models import STATES
from civic_api.reports.workflow import FEEDBACK_STATUSES
from notifications import PushMessage
from notifications.payload import TOKEN_LIMIT, fit

ANNOUNCEMENT = "announcement.published"
FEEDBACK = "report.feedback_requested"

_DUE_EVENTS = text("""
    SELECT id, kind, report_id, announcement_id, payload
    FROM outbox_event
    WHERE dispatched_at IS NULL AND available_at <= :now
    ORDER BY available_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
""")

_ANNOUNCEMENT_TARGETS = text("""
    INSERT INTO push_message
        (key, kind, announcement_id, device_id, payload, next_attempt_at, created_at, updated_at)
    SELECT CAST(:event_id AS text) || ':' || d.id, :kind, a.id, d.id, '{}', :now, :now, :now
    FROM announcement a
    JOIN push_subscription s ON s.municipality_id = a.municipality_id
        AND (a.category_id IS NULL OR s.category_id IS NULL OR s.category_id = a.category_id)
    JOIN push_device d ON d.id = s.device_id AND d.active
    WHERE a.id = :announcement_id
    GROUP BY a.id, d.id
    ON CONFLICT (key) DO NOTHING
""")

_REPORT_TARGETS = text("""
    INSERT INTO push_message
        (key, kind, report_id, device_id, payload, next_attempt_at, created_at, updated_at)
    SELECT CAST(:event_id AS text) || ':' || d.id, :kind, l.report_id, d.id,
           CAST(:payload AS jsonb), :now, :now, :now
    FROM push_report_link l JOIN push_device d ON d.id = l.device_id AND d.active
    WHERE l.report_id = :report_id
    ON CONFLICT (key) DO NOTHING
""")

# A feedback request (or its reminder) goes out only while the report awaits feedback.
_FEEDBACK_WANTED = text(f"""
    SELECT r.status IN {FEEDBACK_STATUSES}
           AND NOT EXISTS (SELECT 1 FROM report_feedback f WHERE f.report_id = r.id)
    FROM report r WHERE r.id = :report_id
""")

_ANNOUNCEMENT_LIVE = text("""
    SELECT withdrawn_at IS NULL AND (expires_at IS NULL OR expires_at > :now)
    FROM announcement WHERE id = :announcement_id
""")

_CLAIM = text("""
    WITH due AS (
        SELECT id FROM push_message
        WHERE state = 'pending' AND next_attempt_at <= :now
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE push_message m
    SET attempts = m.attempts + 1, next_attempt_at = :lease_until, lease_id = :lease,
        updated_at = :now
    FROM due
    WHERE m.id = due.id
    RETURNING m.id, m.key, m.kind, m.device_id, m.report_id, m.announcement_id, m.payload,
              m.attempts
""")

_DEVICES = text("""
    SELECT id, fcm_token, token_type, locale, active FROM push_device
    WHERE id = ANY(CAST(:ids AS uuid[]))
""")

_ANNOUNCEMENTS = text("""
    SELECT id, title, body,
           withdrawn_at IS NULL AND (expires_at IS NULL OR expires_at > :now) AS live
    FROM announcement WHERE id = ANY(:ids)
""")

_RECORD = text("""
    UPDATE push_message m
    SET state = v.state,
        attempts = m.attempts + v.attempts_delta,
        next_attempt_at = CASE WHEN v.delay IS NULL THEN m.next_attempt_at
                               ELSE CAST(:now AS timestamptz) + make_interval(secs => v.delay) END,
        last_error = v.error,
        fcm_message_id = v.message_id,
        sent_at = CASE WHEN v.state IN ('sent', 'delivered_to_log') THEN :now END,
        lease_id = NULL,
        updated_at = :now
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(
        id bigint, state text, attempts_delta int, delay double precision, error text,
        message_id text
    )
    WHERE m.id = v.id AND m.lease_id = :lease
""")

_DEACTIVATE = text("""
    UPDATE push_device d
    SET active = false, deactivated_at = :now, deactivated_reason = v.reason, updated_at = :now
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id uuid, token text, reason text)
    WHERE d.id = v.id AND d.fcm_token = v.token AND d.active
""")


def fan_out(connection: Connection, now: datetime, limit: int = 20) -> tuple[int, int]:
    """Expand due outbox events into push_message rows; return (events, messages created).

    Withdrawn and expired announcements, and feedback requests for reports that have
    feedback or were reopened, are dispatched with no messages.
    """
    events = connection.execute(_DUE_EVENTS, {"now": now, "limit": limit}).all()
    created = 0
    for event in events:
        common = {"event_id": event.id, "kind": event.kind, "now": now}
        if event.announcement_id is not None:
            live = connection.scalar(
                _ANNOUNCEMENT_LIVE, {"announcement_id": event.announcement_id, "now": now}
            )
            if live:
                created += connection.execute(
                    _ANNOUNCEMENT_TARGETS, common | {"announcement_id": event.announcement_id}
                ).rowcount
        elif event.kind != FEEDBACK or connection.scalar(
            _FEEDBACK_WANTED, {"report_id": event.report_id}
        ):
            created += connection.execute(
                _REPORT_TARGETS,
                common | {"report_id": event.report_id, "payload": json.dumps(event.payload)},
            ).rowcount
    if events:
        connection.execute(
            text("UPDATE outbox_event SET dispatched_at = :now WHERE id = ANY(:ids)"),
            {"now": now, "ids": [e.id for e in events]},
        )
    return len(events), created


@dataclass
class Claimed:
    """A claimed push_message row, with what is needed to send it and to judge the result."""

    id: int
    key: str
    kind: str
    attempts: int
    device_id: uuid.UUID | None
    report_id: uuid.UUID | None
    announcement_id: int | None
    payload: dict = field(default_factory=dict)
    token: str | None = None
    message: PushMessage | None = None  # None: not sendable, see `skip`
    skip: str | None = None


def claim(
    connection: Connection, now: datetime, limit: int, lease_seconds: float, lease: uuid.UUID
) -> list[Claimed]:
    """Lease up to `limit` due messages and turn them into PushMessages (or skip reasons)."""
    rows = connection.execute(
        _CLAIM,
        {
            "now": now,
            "limit": limit,
            "lease": lease,
            "lease_until": now + timedelta(seconds=lease_seconds),
        },
    ).all()
    if not rows:
        return []
    device_ids = list({str(r.device_id) for r in rows if r.device_id is not None})
    devices = {d.id: d for d in connection.execute(_DEVICES, {"ids": device_ids})}
    announcement_ids = list({r.announcement_id for r in rows if r.announcement_id is not None})
    announcements = {
        a.id: a for a in connection.execute(_ANNOUNCEMENTS, {"ids": announcement_ids, "now": now})
    }
    claimed = []
    for row in sorted(rows, key=lambda r: r.id):
        item = Claimed(
            id=row.id,
            key=row.key,
            kind=row.kind,
            attempts=row.attempts,
            device_id=row.device_id,
            report_id=row.report_id,
            announcement_id=row.announcement_id,
            payload=row.payload or {},
        )
        device = devices.get(row.device_id)
        announcement = announcements.get(row.announcement_id)
        if device is None:
            item.skip = "DEVICE_DELETED"
        elif not device.active:
            item.skip = "DEVICE_INACTIVE"
        elif row.announcement_id is not None and (announcement is None or not announcement.live):
            item.skip = "ANNOUNCEMENT_WITHDRAWN_OR_EXPIRED"
        else:
            item.token = device.fcm_token
            item.message = render(item, device, announcement)
        claimed.append(item)
    return claimed


def render(item: Claimed, device, announcement) -> PushMessage:
    """The localised notification and deep-link data for one claimed row."""
    locale = device.locale
    if item.kind == ANNOUNCEMENT:
        data = {"type": item.kind, "announcement_id": str(item.announcement_id)}
        title = translate(announcement.title, locale)
        body = translate(announcement.body, locale)
    else:
        data = {"type": item.kind, "report_id": str(item.report_id)}
        if "event_id" in item.payload:
            data["event_id"] = str(item.payload["event_id"])
        status = item.payload.get("status")
        if status:
            data["status"] = str(status)
        if item.kind == "report.status_changed":
            title, body = texts.report_status(locale, status or "")
        elif item.kind == FEEDBACK:
            title, body = texts.feedback_request(locale)
        else:
            title, body = texts.report_response(locale)
    title, body = fit(title, body, data | {"push_key": item.key}, TOKEN_LIMIT)
    target = (
        {"fid": device.fcm_token} if device.token_type == "fid" else {"token": device.fcm_token}
    )
    return PushMessage(key=item.key, title=title, body=body, data=data, **target)


@dataclass(frozen=True)
class Decision:
    """What to write for one message: its next state, and when it may be tried again."""

    id: int
    state: str
    error: str | None = None
    delay: float | None = None  # seconds from now until next_attempt_at; None keeps it
    attempts_delta: int = 0  # -1 gives back an attempt that was not the message's fault
    message_id: str | None = None


def record(
    connection: Connection,
    now: datetime,
    lease: uuid.UUID,
    decisions: list[Decision],
    dead_tokens: list[tuple[uuid.UUID, str, str]] = (),
) -> int:
    """Write the decisions where our lease still holds; deactivate (device, token, reason)."""
    rows = [
        {
            "id": d.id,
            "state": d.state,
            "attempts_delta": d.attempts_delta,
            "delay": d.delay,
            "error": d.error,
            "message_id": d.message_id,
        }
        for d in decisions
    ]
    updated = connection.execute(
        _RECORD, {"rows": json.dumps(rows), "now": now, "lease": lease}
    ).rowcount
    if dead_tokens:
        connection.execute(
            _DEACTIVATE,
            {
                "rows": json.dumps(
                    [{"id": str(d), "token": t, "reason": r} for d, t, r in dead_tokens]
                ),
                "now": now,
            },
        )
    return updated


STATS = text("""
    SELECT state, last_error, count(*) FROM push_message
    WHERE (CAST(:announcement_id AS int) IS NULL OR announcement_id = :announcement_id)
      AND (CAST(:report_id AS uuid) IS NULL OR report_id = :report_id)
    GROUP BY state, last_error
""")


def stats(connection: Connection, *, announcement_id: int | None = None, report_id=None) -> dict:
    """{total, by_state: {state: n}, errors: {code: n}} for one announcement or report."""
    by_state = dict.fromkeys(STATES, 0)
    errors: Counter = Counter()
    for state, error, count in connection.execute(
        STATS, {"announcement_id": announcement_id, "report_id": report_id}
    ):
        by_state[state] += count
        if state in ("failed", "dead") and error:
            errors[error] += count
    return {"total": sum(by_state.values()), "by_state": by_state, "errors": dict(errors)}


REQUEUE = text("""
    UPDATE push_message
    SET state = 'pending', attempts = 0, next_attempt_at = :now, updated_at = :now
    WHERE state = 'dead'
      AND (CAST(:announcement_id AS int) IS NULL OR announcement_id = :announcement_id)
      AND (CAST(:report_id AS uuid) IS NULL OR report_id = :report_id)
""")


def requeue_dead(
    connection: Connection, now: datetime, *, announcement_id: int | None = None, report_id=None
) -> int:
    """Make dead messages pending again with a fresh attempt budget; return how many."""
    return connection.execute(
        REQUEUE, {"now": now, "announcement_id": announcement_id, "report_id": report_id}
    ).rowcount
