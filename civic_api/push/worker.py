"""The push worker: fan out the outbox, send due messages, and act on every outcome.

Several workers may run at once: events and messages are claimed with FOR UPDATE SKIP
LOCKED, and a claimed message carries a lease. Time (`now`) and waiting (`sleep`) are
injectable, so tests move the clock instead of waiting for Retry-After or a lease.
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

from civic_api.push.delivery import Claimed, Decision, claim, fan_out, record
from notifications import CredentialsError, LogSender, Outcome, PushResult, PushSender

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    batch_size: int = 500  # messages per claim and per send_each call (FCM allows 500)
    lease_seconds: float = 60.0  # a dead worker's batch is retried after this
    max_attempts: int = 8  # transient failures before a message is dead
    backoff_base: float = 30.0  # first retry after 15–30 s, then doubling
    backoff_max: float = 3600.0
    throttle_default: float = 60.0  # a 429 without Retry-After
    auth_pause: float = 300.0  # after 401 / THIRD_PARTY_AUTH_ERROR
    idle_seconds: float = 1.0  # poll interval when nothing is due
    fanout_events: int = 20  # outbox events expanded per round

    @classmethod
    def from_config(cls, config) -> "WorkerSettings":
        return cls(
            batch_size=min(500, int(config["PUSH_BATCH_SIZE"])),
            lease_seconds=float(config["PUSH_LEASE_SECONDS"]),
            max_attempts=int(config["PUSH_MAX_ATTEMPTS"]),
            backoff_base=float(config["PUSH_BACKOFF_BASE_SECONDS"]),
            backoff_max=float(config["PUSH_BACKOFF_MAX_SECONDS"]),
            throttle_default=float(config["PUSH_THROTTLE_DEFAULT_SECONDS"]),
            auth_pause=float(config["PUSH_AUTH_PAUSE_SECONDS"]),
            idle_seconds=float(config["PUSH_IDLE_SECONDS"]),
        )


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
    counts: Counter = field(default_factory=Counter)


def decide(
    claimed: list[Claimed],
    results: dict[str, PushResult],
    settings: WorkerSettings,
    rng: random.Random,
) -> Decided:
    """Turn each claimed row and its send result into the row's next state.

    - sent / logged → sent / delivered_to_log;
    - dead token → failed, and the device is deactivated (if it still has that token);
    - rejected, or not sendable (device deleted or inactive, announcement withdrawn) → failed;
    - transient → pending after backoff (or Retry-After, if longer); dead after max_attempts;
    - 429 → pending after Retry-After (throttle_default when absent), the attempt given back,
      and the whole worker pauses as long;
    - auth → pending after auth_pause, the attempt given back, the worker pauses and alerts.
    """
    out = Decided()
    throttled = [r for r in results.values() if r.outcome is Outcome.THROTTLED]
    throttle_wait = max(
        (settings.throttle_default if r.retry_after is None else r.retry_after for r in throttled),
        default=0.0,
    )
    auth = [r for r in results.values() if r.outcome is Outcome.AUTH]
    auth_wait = max([settings.auth_pause] + [r.retry_after or 0.0 for r in auth])
    for item in claimed:
        if item.message is None:
            out.decisions.append(Decision(item.id, "failed", item.skip))
            out.counts["skipped"] += 1
            continue
        result = results[item.key]
        outcome = result.outcome
        out.counts[outcome.value] += 1
        if outcome is Outcome.SENT:
            out.decisions.append(Decision(item.id, "sent", message_id=result.message_id))
        elif outcome is Outcome.LOGGED:
            out.decisions.append(Decision(item.id, "delivered_to_log"))
        elif outcome is Outcome.BAD_TOKEN:
            out.decisions.append(Decision(item.id, "failed", result.error))
            out.dead_tokens.append((item.device_id, item.token, result.error or "BAD_TOKEN"))
        elif outcome is Outcome.REJECTED:
            out.decisions.append(Decision(item.id, "failed", result.error))
        elif outcome is Outcome.THROTTLED:
            out.decisions.append(
                Decision(item.id, "pending", result.error, throttle_wait, attempts_delta=-1)
            )
        elif outcome is Outcome.AUTH:
            out.decisions.append(
                Decision(item.id, "pending", result.error, auth_wait, attempts_delta=-1)
            )
        elif item.attempts >= settings.max_attempts:
            reason = f"{result.error or 'UNKNOWN'} after {item.attempts} attempts"
            out.decisions.append(Decision(item.id, "dead", reason))
            out.counts["dead"] += 1
        else:
            wait = backoff(item.attempts, settings.backoff_base, settings.backoff_max, rng)
            wait = max(wait, result.retry_after or 0.0)
            out.decisions.append(Decision(item.id, "pending", result.error, wait))
    if auth:
        out.pause = Pause(auth_wait, auth[0].error or "UNAUTHENTICATED", throttled=False)
    elif throttled:
        out.pause = Pause(throttle_wait, throttled[0].error or "RESOURCE_EXHAUSTED", throttled=True)
    return out


@dataclass(frozen=True)
class Step:
    events: int
    created: int
    claimed: int
    counts: Counter

    @property
    def idle(self) -> bool:
        return self.events == 0 and self.claimed == 0


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
        lease = uuid.uuid4()
        with self.engine.begin() as connection:
            claimed = claim(connection, self.now(), self.batch_size, settings.lease_seconds, lease)
        if not claimed:
            return Step(events, created, 0, Counter())
        messages = [c.message for c in claimed if c.message is not None]
        results = {r.key: r for r in self.sender.send(messages)} if messages else {}
        decided = decide(claimed, results, settings, self.rng)
        now = self.now()
        with self.engine.begin() as connection:
            record(connection, now, lease, decided.decisions, decided.dead_tokens)
        self._adapt(decided.pause, now)
        summary = ", ".join(f"{n} {name}" for name, n in sorted(decided.counts.items()))
        logger.info("push batch of %d: %s", len(claimed), summary)
        return Step(events, created, len(claimed), decided.counts)

    def _adapt(self, pause: Pause | None, now: datetime) -> None:
        if pause is None:
            self.batch_size = min(self.settings.batch_size, self.batch_size * 2)
            return
        self.paused_until = now + timedelta(seconds=pause.seconds)
        if pause.throttled:
            self.batch_size = max(1, self.batch_size // 2)
            logger.warning(
                "FCM throttled us (%s): pausing %.0f s, then batches of %d",
                pause.reason,
                pause.seconds,
                self.batch_size,
            )
        else:
            logger.critical(
                "ALERT: FCM refused our credentials (%s); check the service account and the "
                "APNs / web-push keys in the Firebase console. Pausing %.0f s.",
                pause.reason,
                pause.seconds,
            )

    def run(self, *, until_idle: bool = False) -> None:
        """Loop until stop(); with until_idle, return once nothing is due."""
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
    )
    logger.info("push: sending through FCM, project %s at %s", sender.project_id, sender.base_url)
    return sender


def run_worker(app, *, once: bool = False, batch_size: int | None = None) -> None:
    """The `flask notifications worker` command: SIGTERM or SIGINT finish the batch, then exit."""
    settings = WorkerSettings.from_config(app.config)
    if batch_size:
        settings = dataclasses.replace(settings, batch_size=batch_size)
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
