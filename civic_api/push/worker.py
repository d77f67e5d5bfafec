"""The push worker: fan out the outbox, send due messages, and act on every outcome.

Several workers may run at once: events and messages are claimed with FOR UPDATE SKIP
LOCKED, and a claimed message carries a lease. Every network step of a batch ends before
its lease does (`SendControl` deadline), 429s and auth errors pause every worker through
the database, and the worker refuses settings under which one request could outlive a
lease. Time (`now`) and waiting (`sleep`) are injectable, so tests move the clock instead of
waiting for Retry-After or a lease.
"""

import dataclasses
import logging
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import click
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from civic_api.push.delivery import (
    Claimed,
    Decision,
    claim,
    fan_out,
    pause_all,
    paused_until,
    record,
)
from notifications import (
    CredentialsError,
    LogSender,
    NotReady,
    Outcome,
    PushResult,
    PushSender,
    SendControl,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    batch_size: int = 500  # messages per claim (FCM's old batch limit; one request each)
    lease_seconds: float = 60.0  # a dead worker's batch is retried after this
    fcm_timeout: float = 10.0  # one FCM or token request, connect to last byte
    lease_margin: float = 5.0  # kept free at the end of a lease to record the outcomes
    max_attempts: int = 8  # transient failures before a message is dead
    backoff_base: float = 30.0  # first retry after 15–30 s, then doubling
    backoff_max: float = 3600.0
    throttle_default: float = 60.0  # a 429 without Retry-After
    auth_pause: float = 300.0  # after 401 / THIRD_PARTY_AUTH_ERROR
    idle_seconds: float = 1.0  # poll interval when nothing is due
    pause_poll_seconds: float = 0.05  # how often a sending worker checks the shared pause
    fanout_events: int = 20  # outbox events expanded per round

    @classmethod
    def from_config(cls, config) -> "WorkerSettings":
        return cls(
            batch_size=min(500, int(config["PUSH_BATCH_SIZE"])),
            lease_seconds=float(config["PUSH_LEASE_SECONDS"]),
            fcm_timeout=float(config["PUSH_FCM_TIMEOUT_SECONDS"]),
            lease_margin=float(config["PUSH_LEASE_MARGIN_SECONDS"]),
            max_attempts=int(config["PUSH_MAX_ATTEMPTS"]),
            backoff_base=float(config["PUSH_BACKOFF_BASE_SECONDS"]),
            backoff_max=float(config["PUSH_BACKOFF_MAX_SECONDS"]),
            throttle_default=float(config["PUSH_THROTTLE_DEFAULT_SECONDS"]),
            auth_pause=float(config["PUSH_AUTH_PAUSE_SECONDS"]),
            idle_seconds=float(config["PUSH_IDLE_SECONDS"]),
        )

    def problems(self) -> list[str]:
        """Why these settings could send a message twice without any crash (empty: fine)."""
        found = []
        # Two request timeouts: whatever the claim itself took, a full round of requests can
        # still start after it, and end before the margin kept for recording.
        needed = 2 * self.fcm_timeout + self.lease_margin
        if self.lease_seconds < needed:
            found.append(
                f"PUSH_LEASE_SECONDS ({self.lease_seconds:g}) cannot cover two FCM requests "
                f"(PUSH_FCM_TIMEOUT_SECONDS {self.fcm_timeout:g} each) plus the time kept to "
                f"record them (PUSH_LEASE_MARGIN_SECONDS {self.lease_margin:g}): make it at "
                f"least {needed:g}"
            )
        if self.max_attempts < 1:
            found.append("PUSH_MAX_ATTEMPTS must be at least 1")
        return found

    def send_deadline(self, started: float) -> float:
        """The monotonic time by which a batch leased at `started` must have been sent."""
        return started + self.lease_seconds - self.lease_margin


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: between half and all of min(cap, base·2^(n−1))."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Pause:
    seconds: float
    reason: str
    throttled: bool


@dataclass
class Decided:
    decisions: list[Decision] = field(default_factory=list)
    dead_tokens: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)
    pause: Pause | None = None
    counts: dict[int, str] = field(default_factory=dict)  # row id → what happened

    def summary(self, ids: set[int]) -> Counter:
        """How many of these rows had each outcome."""
        return Counter(label for row, label in self.counts.items() if row in ids)


def pause_seconds(result: PushResult, settings: WorkerSettings) -> float:
    """How long every worker pauses after this THROTTLED or AUTH result."""
    if result.outcome is Outcome.AUTH:
        return max(settings.auth_pause, result.retry_after or 0.0)
    return settings.throttle_default if result.retry_after is None else result.retry_after


def decide(
    claimed: list[Claimed],
    results: dict[str, PushResult],
    settings: WorkerSettings,
    rng: random.Random,
) -> Decided:
    """Turn each claimed row and its send result into the row's next state.

    - sent / logged → sent / delivered_to_log;
    - dead token → failed, and the device is deactivated (if it still has that token);
    - rejected, or not sendable (device inactive, announcement withdrawn) → failed;
    - transient → pending after backoff (or Retry-After, if longer); dead after max_attempts;
    - no answer (timeout) → pending after backoff, sent once more at most; a second send
      without an answer, or none left, → unknown (it may have arrived: never "failed");
    - not started (deadline, pause) → pending, the attempt given back, due at once or when
      the pause ends;
    - 429 → pending after Retry-After (throttle_default when absent), the attempt given back,
      and every worker pauses as long;
    - auth → pending after auth_pause, the attempt given back, every worker pauses; alert.
    """
    out = Decided()
    paused = [r for r in results.values() if r.outcome in (Outcome.THROTTLED, Outcome.AUTH)]
    auth = [r for r in paused if r.outcome is Outcome.AUTH]
    waits = {r.outcome: 0.0 for r in paused}
    for r in paused:
        waits[r.outcome] = max(waits[r.outcome], pause_seconds(r, settings))
    for item in claimed:
        if item.message is None:
            out.decisions.append(Decision(item.id, "failed", item.skip))
            out.counts[item.id] = "skipped"
            continue
        result = results[item.key]
        outcome = result.outcome
        label = outcome.value
        if outcome is Outcome.SENT:
            decision = Decision(item.id, "sent", message_id=result.message_id)
        elif outcome is Outcome.LOGGED:
            decision = Decision(item.id, "delivered_to_log")
        elif outcome is Outcome.BAD_TOKEN:
            decision = Decision(item.id, "failed", result.error)
            out.dead_tokens.append((item.device_id, item.token, result.error or "BAD_TOKEN"))
        elif outcome is Outcome.REJECTED:
            decision = Decision(item.id, "failed", result.error)
        elif outcome is Outcome.NOT_SENT:  # after a pause, due when the pause ends
            wait = max(waits.values(), default=0.0)
            reason = paused[0].error if paused else result.error
            decision = Decision(item.id, "pending", reason, wait, attempts_delta=-1)
        elif outcome in (Outcome.THROTTLED, Outcome.AUTH):
            wait = waits[outcome]
            decision = Decision(item.id, "pending", result.error, wait, attempts_delta=-1)
        elif outcome is Outcome.UNKNOWN and (
            item.unanswered >= 1 or item.attempts >= settings.max_attempts
        ):
            sends = item.unanswered + 1
            reason = f"{result.error}: {sends} sends without an answer, may have arrived"
            decision = Decision(item.id, "unknown", reason, unanswered_delta=1)
        elif outcome is Outcome.RETRY and item.attempts >= settings.max_attempts:
            reason = f"{result.error or 'UNKNOWN'} after {item.attempts} attempts"
            decision = Decision(item.id, "dead", reason)
            label = "dead"
        else:  # RETRY, or the first UNKNOWN
            wait = backoff(item.attempts, settings.backoff_base, settings.backoff_max, rng)
            wait = max(wait, result.retry_after or 0.0)
            decision = Decision(
                item.id,
                "pending",
                result.error,
                wait,
                unanswered_delta=int(outcome is Outcome.UNKNOWN),
            )
        out.decisions.append(decision)
        out.counts[item.id] = label
    if auth:
        out.pause = Pause(waits[Outcome.AUTH], auth[0].error or "UNAUTHENTICATED", throttled=False)
    elif paused:
        reason = paused[0].error or "RESOURCE_EXHAUSTED"
        out.pause = Pause(waits[Outcome.THROTTLED], reason, throttled=True)
    return out


@dataclass(frozen=True)
class Step:
    events: int
    created: int
    claimed: int
    counts: Counter
    paused: bool = False  # nothing claimed: every worker is paused, or the sender not ready
    unready: bool = False  # the sender could not get ready (e.g. no access token)

    @property
    def idle(self) -> bool:
        return self.events == 0 and self.claimed == 0 and not self.paused


class Worker:
    """Runs rounds of fan-out and send until stopped; `step()` is one round."""

    def __init__(
        self,
        engine: Engine,
        sender: PushSender,
        settings: WorkerSettings = WorkerSettings(),
        *,
        now: Callable[[], datetime] | None = None,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
    ):
        self.engine = engine
        self.sender = sender
        self.settings = settings
        self._stop = threading.Event()
        self.now = now or (lambda: datetime.now(UTC))
        self.sleep = sleep or self._stop.wait
        self.rng = rng or random.Random()
        self.batch_size = settings.batch_size  # halves after a 429, then grows back
        self.paused_until: datetime | None = None
        self._db_lock = threading.Lock()  # sender threads poll and write the shared pause
        self._polled_at = -1e9
        self._shared_until: datetime | None = None

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def step(self) -> Step:
        """Fan out due events, then claim, send and record one batch of due messages."""
        settings = self.settings
        with self.engine.begin() as connection:
            events, created = fan_out(connection, self.now(), settings.fanout_events)
            self.paused_until = paused_until(connection, self.now())
        if self.paused_until is not None:
            return Step(events, created, 0, Counter(), paused=True)
        if not self._ready():
            return Step(events, created, 0, Counter(), paused=True, unready=True)
        lease = uuid.uuid4()
        started = time.monotonic()
        with self.engine.begin() as connection:
            claimed = claim(
                connection,
                self.now(),
                self.batch_size,
                settings.lease_seconds,
                lease,
                settings.max_attempts,
            )
        if not claimed:
            return Step(events, created, 0, Counter())
        messages = [c.message for c in claimed if c.message is not None]
        control = SendControl(
            settings.send_deadline(started),
            shared_pause=self._shared_pause,
            on_pause=self._pause_everyone,
        )
        results = {r.key: r for r in self.sender.send(messages, control)} if messages else {}
        decided = decide(claimed, results, settings, self.rng)
        now = self.now()
        with self.engine.begin() as connection:
            recorded = record(connection, now, lease, decided.decisions, decided.dead_tokens)
            if decided.pause is not None:
                until = now + timedelta(seconds=decided.pause.seconds)
                pause_all(connection, now, until, decided.pause.reason)
        self._adapt(decided.pause, now)
        counts = decided.summary(recorded)
        lost = len(claimed) - len(recorded)
        if lost:
            logger.warning(
                "push lease lost for %d of %d messages (the batch outlived its lease, or they "
                "were deleted): their outcomes are not recorded and not counted",
                lost,
                len(claimed),
            )
            counts["lease_lost"] = lost
        summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
        logger.info("push batch of %d: %s", len(claimed), summary)
        return Step(events, created, len(claimed), counts)

    def _ready(self) -> bool:
        """Get the sender ready (a fresh access token) before anything is leased."""
        prepare = getattr(self.sender, "prepare", None)
        if prepare is None:
            return True
        try:
            prepare(self.settings.lease_seconds)
            return True
        except NotReady as exc:
            now = self.now()
            if exc.outcome is Outcome.AUTH:
                with self.engine.begin() as connection:
                    pause = Pause(self.settings.auth_pause, exc.error, throttled=False)
                    pause_all(connection, now, now + timedelta(seconds=pause.seconds), exc.error)
                self._adapt(pause, now)
            else:
                logger.error("push: %s; retrying in %.0f s", exc.error, self.settings.fcm_timeout)
                self.paused_until = now + timedelta(seconds=self.settings.fcm_timeout)
            return False

    def _shared_pause(self) -> bool:
        """Whether another worker has paused everyone (polled by one sender thread at a time;
        the others read the last answer instead of waiting for it)."""
        due = time.monotonic() - self._polled_at >= self.settings.pause_poll_seconds
        if due and self._db_lock.acquire(blocking=False):
            try:
                self._polled_at = time.monotonic()
                with self.engine.begin() as connection:
                    self._shared_until = paused_until(connection, self.now())
            except DBAPIError:
                self._shared_until = None  # the record step will meet the error
            finally:
                self._db_lock.release()
        until = self._shared_until
        return until is not None and until > self.now()

    def _pause_everyone(self, result: PushResult) -> None:
        """The first 429 or auth error of a batch: tell every worker at once."""
        now = self.now()
        until = now + timedelta(seconds=pause_seconds(result, self.settings))
        with self._db_lock:
            try:
                with self.engine.begin() as connection:
                    pause_all(connection, now, until, result.error or result.outcome.value)
            except DBAPIError:
                pass  # recorded again with the batch

    def _adapt(self, pause: Pause | None, now: datetime) -> None:
        if pause is None:
            self.batch_size = min(self.settings.batch_size, self.batch_size * 2)
            return
        self.paused_until = now + timedelta(seconds=pause.seconds)
        if pause.throttled:
            self.batch_size = max(1, self.batch_size // 2)
            logger.warning(
                "FCM throttled us (%s): every worker pauses %.0f s, then batches of %d",
                pause.reason,
                pause.seconds,
                self.batch_size,
            )
        else:
            logger.critical(
                "ALERT: FCM refused our credentials (%s); check the service account and the "
                "APNs / web-push keys in the Firebase console. Every worker pauses %.0f s.",
                pause.reason,
                pause.seconds,
            )

    def run(self, *, until_idle: bool = False) -> None:
        """Loop until stop(); with until_idle, return once nothing is due, or when the sender
        cannot get ready (a run from cron must not wait for the token endpoint forever)."""
        while not self.stopped:
            now = self.now()
            if self.paused_until is not None and now < self.paused_until:
                self.sleep((self.paused_until - now).total_seconds())
                continue
            try:
                step = self.step()
            except DBAPIError as exc:
                # The claimed batch, if any, is retried when its lease runs out.
                logger.error("push worker database error: %s", type(exc.orig).__name__)
                self.sleep(self.settings.idle_seconds)
                continue
            if step.unready and until_idle:
                return
            if step.idle:
                if until_idle:
                    return
                self.sleep(self.settings.idle_seconds)


def make_sender(config) -> PushSender:
    """FCM when credentials are configured (setting, else GOOGLE_APPLICATION_CREDENTIALS);
    otherwise the log transport."""
    path = config.get("PUSH_FCM_CREDENTIALS") or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path:
        logger.warning(
            "push: no FCM credentials (CIVIC_PUSH_FCM_CREDENTIALS or "
            "GOOGLE_APPLICATION_CREDENTIALS); using the log transport: messages are logged "
            "and marked delivered_to_log, not sent to phones"
        )
        return LogSender()
    from notifications.fcm import FcmSender

    sender = FcmSender(
        path,
        project_id=config.get("PUSH_FCM_PROJECT_ID"),
        base_url=config["PUSH_FCM_BASE_URL"],
        timeout=float(config["PUSH_FCM_TIMEOUT_SECONDS"]),
        concurrency=int(config["PUSH_FCM_CONCURRENCY"]),
    )
    logger.info("push: sending through FCM, project %s at %s", sender.project_id, sender.base_url)
    return sender


def run_worker(app, *, once: bool = False, batch_size: int | None = None) -> None:
    """The `flask notifications worker` command: SIGTERM or SIGINT finish the batch, then exit."""
    settings = WorkerSettings.from_config(app.config)
    if batch_size:
        settings = dataclasses.replace(settings, batch_size=batch_size)
    problems = settings.problems()
    if problems:
        raise click.ClickException("push worker: " + "; ".join(problems))
    try:
        sender = make_sender(app.config)
        check = getattr(sender, "check", None)
        if check is not None:
            check()  # bad credentials fail here, at startup, not on the first message
    except CredentialsError as exc:
        raise click.ClickException(f"push worker: {exc}") from None
    worker = Worker(app.extensions["engine"], sender, settings)
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    for signum in previous:
        signal.signal(signum, lambda *_: worker.stop())
    logger.info("push worker %d started (batches of %d)", os.getpid(), settings.batch_size)
    started = time.monotonic()
    try:
        worker.run(until_idle=once)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        close = getattr(sender, "close", None)
        if close is not None:
            close()
    logger.info("push worker %d stopped after %.0f s", os.getpid(), time.monotonic() - started)
