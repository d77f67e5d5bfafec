"""The outbox's two steps, in SQL: fan events out to push_message rows, then claim and record.

Every function takes a Connection inside the caller's transaction and never commits. They
are the hot path (10,000 rows per announcement), so rows move in set-based statements,
never one ORM object at a time.

- `fan_out` claims due outbox events (FOR UPDATE SKIP LOCKED), inserts one row per target
  device (unique per event and device, ON CONFLICT DO NOTHING, so a second fan-out of the
  same event adds nothing), supersedes the devices' unsent older status of the same report,
  and marks the events dispatched.
- `claim` retires rows that may not be sent again (attempts used up → dead; a second send
  without an answer → unknown), then takes due pending rows (FOR UPDATE SKIP LOCKED; none
  while the shared throttle holds; a report's messages to a device one at a time, oldest
  event first), counts the attempt, stamps a lease id and moves `next_attempt_at` to the end
  of the lease: until then no other worker sees them.
- `record` writes every message's outcome in one UPDATE, only where the lease is still
  ours, returns the rows it wrote (the others' lease was lost), and deactivates the
  devices whose tokens FCM called dead.
- `pause_all` / `paused_until`: the throttle every worker honours.
"""

import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from civic_api.i18n import translate
from civic_api.push import texts
from civic_api.push.models import STATES
from civic_api.reports.workflow import FEEDBACK_STATUSES
from notifications import PushMessage
from notifications.payload import TOKEN_LIMIT, fit

logger = logging.getLogger(__name__)

ANNOUNCEMENT = "announcement.published"
# Asks the reporter of a closed report for feedback (and reminds once); see _FEEDBACK_WANTED.
FEEDBACK = "report.feedback_requested"


@dataclass(frozen=True)
class ReportEvent:
    """How one kind of report event reaches the devices that follow the report.

    To add a kind (e.g. a request to rate a closed report): add it to
    `outbox.models.EVENT_KINDS` (and to both tables' `kind_known` constraints in a
    migration), write its texts, register it here, and `outbox.enqueue(kind,
    report_id=…, payload=…)` in the transaction of the change.
    """

    texts: Callable[[str, dict], tuple[str, str]]  # (locale, event payload) → (title, body)
    collapse: str  # collapse-key prefix: the phone shows one notification per report and prefix
    supersedes: bool = False  # a newer event drops the older one not yet sent


REPORT_EVENTS = {
    "report.status_changed": ReportEvent(texts.report_status, "report", supersedes=True),
    "report.response": ReportEvent(texts.report_response, "response"),
    FEEDBACK: ReportEvent(texts.feedback_request, "feedback"),
}


def _has_newer_status(row: str) -> str:
    """SQL: the push_message `row` is a status and its device has a newer status of the same
    report (sent, queued or in flight): sent now, `row` would replace that on the phone."""
    kinds = ", ".join(f"'{kind}'" for kind, event in REPORT_EVENTS.items() if event.supersedes)
    return f"""({row}.kind IN ({kinds}) AND EXISTS (
        SELECT 1 FROM push_message n
        WHERE n.report_id = {row}.report_id AND n.device_id = {row}.device_id
          AND n.kind = {row}.kind AND n.event_id > {row}.event_id))"""


_DUE_EVENTS = text("""
    SELECT id, kind, report_id, announcement_id, payload
    FROM outbox_event
    WHERE dispatched_at IS NULL AND available_at <= :now
    ORDER BY available_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
""")

# One fan-out at a time per report (a transaction-scoped lock, tried, never waited for): the
# statements of the next one see the messages of the last, so an older status is superseded
# or holds the newer back (_CLAIM). Two workers' fan-outs that each took one of a report's
# events could otherwise not see each other's rows: the newer was sent, then the older.
_LOCK_REPORTS = text("""
    SELECT r FROM unnest(CAST(:ids AS uuid[])) AS r
    WHERE pg_try_advisory_xact_lock(hashtext('push fan-out'), hashtext(CAST(r AS text)))
""")

_ANNOUNCEMENT_TARGETS = text("""
    INSERT INTO push_message
        (event_id, kind, announcement_id, device_id, payload, next_attempt_at, created_at,
         updated_at)
    SELECT :event_id, :kind, a.id, d.id, '{}', :now, :now, :now
    FROM announcement a
    JOIN push_subscription s ON s.municipality_id = a.municipality_id
        AND (a.category_id IS NULL OR s.category_id IS NULL OR s.category_id = a.category_id)
    JOIN push_device d ON d.id = s.device_id AND d.active
    WHERE a.id = :announcement_id
    GROUP BY a.id, d.id
    ON CONFLICT (event_id, device_id) DO NOTHING
""")

# A status event fanned out after a newer one (another worker took the newer event first)
# is stored superseded for the devices that already have the newer.
_REPORT_TARGETS = text("""
    INSERT INTO push_message
        (event_id, kind, report_id, device_id, payload, state, next_attempt_at, created_at,
         updated_at)
    SELECT :event_id, :kind, l.report_id, d.id, CAST(:payload AS jsonb),
           CASE WHEN :supersedes AND EXISTS (
                    SELECT 1 FROM push_message n
                    WHERE n.report_id = l.report_id AND n.device_id = d.id
                      AND n.kind = :kind AND n.event_id > :event_id)
                THEN 'superseded' ELSE 'pending' END,
           :now, :now, :now
    FROM push_report_link l JOIN push_device d ON d.id = l.device_id AND d.active
    WHERE l.report_id = :report_id
    ON CONFLICT (event_id, device_id) DO NOTHING
""")

# The newest status replaces the older on the phone (same collapse key), so an older one of
# the same kind not yet sent is dropped. One in flight (leased) is left alone: the claim
# holds the newer back until its outcome is recorded (then superseded, if it is to be sent
# again: _RECORD), so the two never race.
_SUPERSEDE = text(f"""
    UPDATE push_message o
    SET state = 'superseded', updated_at = :now
    WHERE o.report_id = :report_id AND o.state = 'pending'
      AND (o.lease_id IS NULL OR o.next_attempt_at <= :now)
      AND {_has_newer_status("o")}
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

# Rows that may not be sent again: the last attempt is used up (dead), or a send without an
# answer (timeout, or a lease that ran out unrecorded) would be the second (unknown).
_RETIRE = text("""
    UPDATE push_message
    SET state = CASE WHEN unanswered + (lease_id IS NOT NULL)::int >= 2 THEN 'unknown'
                     ELSE 'dead' END,
        last_error = CASE WHEN lease_id IS NOT NULL THEN 'NO_ANSWER'
                          ELSE coalesce(last_error, 'UNKNOWN') END
                     || ' after ' || attempts || ' attempts',
        unanswered = unanswered + (lease_id IS NOT NULL)::int,
        lease_id = NULL, updated_at = :now
    WHERE state = 'pending' AND next_attempt_at <= :now
      AND (attempts >= :max_attempts OR (lease_id IS NOT NULL AND unanswered >= 1))
""")

_CLAIM = text("""
    WITH due AS (
        SELECT m.id FROM push_message m
        WHERE m.state = 'pending' AND m.next_attempt_at <= :now
          AND NOT EXISTS (SELECT 1 FROM push_throttle t WHERE t.paused_until > :now)
          AND (m.report_id IS NULL OR NOT EXISTS (
                SELECT 1 FROM push_message o
                WHERE o.report_id = m.report_id AND o.device_id = m.device_id
                  AND o.state = 'pending' AND o.event_id < m.event_id))
        ORDER BY m.next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE push_message m
    SET attempts = m.attempts + 1, next_attempt_at = :lease_until, lease_id = :lease,
        unanswered = m.unanswered + (m.lease_id IS NOT NULL)::int, updated_at = :now
    FROM due
    WHERE m.id = due.id
    RETURNING m.id, m.key, m.kind, m.device_id, m.report_id, m.announcement_id, m.payload,
              m.attempts, m.unanswered
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

# A status to be sent again (retry, pause) that a newer one has meanwhile followed is
# superseded: the newer would otherwise wait behind its retries.
_RECORD = text(f"""
    UPDATE push_message m
    SET state = CASE WHEN v.state = 'pending' AND {_has_newer_status("m")} THEN 'superseded'
                     ELSE v.state END,
        attempts = m.attempts + v.attempts_delta,
        unanswered = m.unanswered + v.unanswered_delta,
        next_attempt_at = CASE WHEN v.delay IS NULL THEN m.next_attempt_at
                               ELSE CAST(:now AS timestamptz) + make_interval(secs => v.delay) END,
        last_error = v.error,
        fcm_message_id = v.message_id,
        sent_at = CASE WHEN v.state IN ('sent', 'delivered_to_log') THEN :now END,
        lease_id = NULL,
        updated_at = :now
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(
        id bigint, state text, attempts_delta int, unanswered_delta int, delay double precision,
        error text, message_id text
    )
    WHERE m.id = v.id AND m.lease_id = :lease AND m.state = 'pending'
    RETURNING m.id
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
    feedback or were reopened, are dispatched with no messages; a status change supersedes
    the same report's older status not yet sent to each of its devices. Events of a report
    that another worker is fanning out right now are left for the next round.
    """
    events = connection.execute(_DUE_EVENTS, {"now": now, "limit": limit}).all()
    reports = list({str(e.report_id) for e in events if e.report_id is not None})
    if reports:  # another worker is fanning out the same report: its events wait a round
        held = set(connection.scalars(_LOCK_REPORTS, {"ids": reports}))
        events = [e for e in events if e.report_id is None or e.report_id in held]
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
        elif event.kind == FEEDBACK and not connection.scalar(
            _FEEDBACK_WANTED, {"report_id": event.report_id}
        ):
            pass  # answered or reopened meanwhile: nothing to ask
        elif event.kind in REPORT_EVENTS:
            supersedes = REPORT_EVENTS[event.kind].supersedes
            created += connection.execute(
                _REPORT_TARGETS,
                common
                | {
                    "report_id": event.report_id,
                    "payload": json.dumps(event.payload),
                    "supersedes": supersedes,
                },
            ).rowcount
            if supersedes:
                connection.execute(_SUPERSEDE, {"report_id": event.report_id, "now": now})
        else:
            logger.error("outbox event %d of kind %s: nobody fans it out", event.id, event.kind)
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
    device_id: uuid.UUID
    report_id: uuid.UUID | None
    announcement_id: int | None
    payload: dict = field(default_factory=dict)
    unanswered: int = 0  # earlier sends of it that got no answer
    token: str | None = None
    message: PushMessage | None = None  # None: not sendable, see `skip`
    skip: str | None = None


def claim(
    connection: Connection,
    now: datetime,
    limit: int,
    lease_seconds: float,
    lease: uuid.UUID,
    max_attempts: int,
) -> list[Claimed]:
    """Retire what may not be sent again, lease up to `limit` due messages and turn them
    into PushMessages (or skip reasons)."""
    connection.execute(_RETIRE, {"now": now, "max_attempts": max_attempts})
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
    device_ids = list({str(r.device_id) for r in rows})
    devices = {d.id: d for d in connection.execute(_DEVICES, {"ids": device_ids})}
    announcement_ids = list({r.announcement_id for r in rows if r.announcement_id is not None})
    announcements = {
        a.id: a for a in connection.execute(_ANNOUNCEMENTS, {"ids": announcement_ids, "now": now})
    }
    claimed = []
    for row in sorted(rows, key=lambda r: r.id):
        item = Claimed(
            id=row.id,
            key=str(row.key),
            kind=row.kind,
            attempts=row.attempts,
            device_id=row.device_id,
            report_id=row.report_id,
            announcement_id=row.announcement_id,
            payload=row.payload or {},
            unanswered=row.unanswered,
        )
        device = devices[row.device_id]  # rows are deleted with their device
        announcement = announcements.get(row.announcement_id)
        if not device.active:
            item.skip = "DEVICE_INACTIVE"
        elif row.announcement_id is not None and (announcement is None or not announcement.live):
            item.skip = "ANNOUNCEMENT_WITHDRAWN_OR_EXPIRED"
        else:
            item.token = device.fcm_token
            item.message = render(item, device, announcement)
        claimed.append(item)
    return claimed


def collapse_key(item: Claimed) -> str:
    """One per announcement, and per report and kind of report event, so that the newest
    replaces the older on the phone."""
    if item.kind == ANNOUNCEMENT:
        return f"announcement-{item.announcement_id}"
    return f"{REPORT_EVENTS[item.kind].collapse}-{item.report_id}"


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
        if item.payload.get("status"):
            data["status"] = str(item.payload["status"])
        title, body = REPORT_EVENTS[item.kind].texts(locale, item.payload)
    title, body = fit(title, body, data | {"push_key": item.key}, TOKEN_LIMIT)
    target = (
        {"fid": device.fcm_token} if device.token_type == "fid" else {"token": device.fcm_token}
    )
    return PushMessage(
        key=item.key, title=title, body=body, data=data, collapse_key=collapse_key(item), **target
    )


@dataclass(frozen=True)
class Decision:
    """What to write for one message: its next state, and when it may be tried again."""

    id: int
    state: str
    error: str | None = None
    delay: float | None = None  # seconds from now until next_attempt_at; None keeps it
    attempts_delta: int = 0  # -1 gives back an attempt that was not the message's fault
    message_id: str | None = None
    unanswered_delta: int = 0  # 1: sent without an answer


def record(
    connection: Connection,
    now: datetime,
    lease: uuid.UUID,
    decisions: list[Decision],
    dead_tokens: list[tuple[uuid.UUID, str, str]] = (),
) -> set[int]:
    """Write the decisions where our lease still holds and return those rows' ids (the rest
    were lost: leased again by another worker, or deleted); deactivate (device, token,
    reason)."""
    rows = [
        {
            "id": d.id,
            "state": d.state,
            "attempts_delta": d.attempts_delta,
            "unanswered_delta": d.unanswered_delta,
            "delay": d.delay,
            "error": d.error,
            "message_id": d.message_id,
        }
        for d in decisions
    ]
    recorded = set(
        connection.scalars(_RECORD, {"rows": json.dumps(rows), "now": now, "lease": lease})
    )
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
    return recorded


_PAUSE_ALL = text("""
    INSERT INTO push_throttle (id, paused_until, reason, updated_at)
    VALUES (1, :until, :reason, :now)
    ON CONFLICT (id) DO UPDATE
    SET paused_until = GREATEST(push_throttle.paused_until, EXCLUDED.paused_until),
        reason = CASE WHEN EXCLUDED.paused_until > push_throttle.paused_until
                      THEN EXCLUDED.reason ELSE push_throttle.reason END,
        updated_at = EXCLUDED.updated_at
""")


def pause_all(connection: Connection, now: datetime, until: datetime, reason: str) -> None:
    """Stop every worker's claims (and new sends) until `until`; a longer pause stays."""
    connection.execute(_PAUSE_ALL, {"until": until, "reason": reason, "now": now})


def paused_until(connection: Connection, now: datetime) -> datetime | None:
    """The end of the shared pause, if one holds at `now`."""
    until = connection.scalar(text("SELECT paused_until FROM push_throttle WHERE id = 1"))
    return until if until is not None and until > now else None


STATS = text("""
    SELECT state, last_error, unanswered > 0 AS unanswered, count(*) FROM push_message
    WHERE (CAST(:announcement_id AS int) IS NULL OR announcement_id = :announcement_id)
      AND (CAST(:report_id AS uuid) IS NULL OR report_id = :report_id)
    GROUP BY 1, 2, 3
""")


def stats(connection: Connection, *, announcement_id: int | None = None, report_id=None) -> dict:
    """{total, by_state: {state: n}, errors: {code: n}, may_have_arrived: n} for one
    announcement or report.

    `errors` counts failed and dead messages; `unknown` ones (sent twice without an answer)
    are not errors. `may_have_arrived`: unknown ones, and dead ones with such a send."""
    by_state = dict.fromkeys(STATES, 0)
    errors: Counter = Counter()
    maybe = 0
    for state, error, unanswered, count in connection.execute(
        STATS, {"announcement_id": announcement_id, "report_id": report_id}
    ):
        by_state[state] += count
        if state in ("failed", "dead") and error:
            errors[error] += count
        if state == "unknown" or (state == "dead" and unanswered):
            maybe += count
    return {
        "total": sum(by_state.values()),
        "by_state": by_state,
        "errors": dict(errors),
        "may_have_arrived": maybe,
    }


# A dead status the device has a newer one of (sent, or on its way) is superseded instead:
# sent now, it would replace the newer on the phone.
REQUEUE = text(f"""
    WITH dead AS (
        SELECT o.id, {_has_newer_status("o")} AS outdated
        FROM push_message o
        WHERE o.state = 'dead'
          AND (CAST(:announcement_id AS int) IS NULL OR o.announcement_id = :announcement_id)
          AND (CAST(:report_id AS uuid) IS NULL OR o.report_id = :report_id)
        FOR UPDATE
    )
    UPDATE push_message m
    SET state = CASE WHEN dead.outdated THEN 'superseded' ELSE 'pending' END,
        attempts = CASE WHEN dead.outdated THEN m.attempts ELSE 0 END,
        next_attempt_at = :now, updated_at = :now
    FROM dead
    WHERE m.id = dead.id
    RETURNING NOT dead.outdated, m.unanswered > 0
""")


def requeue_dead(
    connection: Connection, now: datetime, *, announcement_id: int | None = None, report_id=None
) -> tuple[int, int]:
    """Make dead messages pending again with a fresh attempt budget; return how many, and
    how many of those may already have arrived (a send got no answer).

    Unknown messages are not requeued: they were sent twice and probably arrived; a dead
    status older than another of the same report to the device is superseded."""
    rows = connection.execute(
        REQUEUE, {"now": now, "announcement_id": announcement_id, "report_id": report_id}
    ).all()
    requeued = [unanswered for pending, unanswered in rows if pending]
    return len(requeued), sum(requeued)
