"""Push delivery: the PushSender interface, the log sender, and what a send's outcome means.

Only `notifications/fcm.py` (the FCM sender) imports firebase_admin. Callers turn database
rows into `PushMessage`s and record the `PushResult`s; nothing here touches a database.
"""

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What happened to one message, and so what the caller should do next."""

    SENT = "sent"  # FCM accepted it
    LOGGED = "delivered_to_log"  # the log transport wrote it to the log
    BAD_TOKEN = "bad_token"  # the device token is dead: deactivate it, never retry
    REJECTED = "rejected"  # this message can never be sent (e.g. invalid payload)
    RETRY = "retry"  # transient (500, 503, refused connection): back off and try again
    UNKNOWN = "unknown"  # sent but never answered (timeout, connection lost): may have arrived
    NOT_SENT = "not_sent"  # never started: the batch's deadline or a pause came first
    THROTTLED = "throttled"  # 429: honour Retry-After and slow down
    AUTH = "auth"  # our credentials or project are wrong (401, 403): pause and alert


@dataclass(frozen=True)
class PushMessage:
    """One notification to one device (registration token or installation id) or topic.

    `key` is stable per message and names it in logs and in the data payload (`push_key`),
    so apps can drop a resend. `collapse_key` (default: the key) is the Android
    notification tag and APNs collapse id: a newer notification with the same one replaces
    the older on the phone, e.g. one per report, so the newest status is what shows.
    """

    key: str
    title: str
    body: str
    token: str | None = None
    fid: str | None = None
    topic: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    collapse_key: str | None = None

    @property
    def target_kind(self) -> str:
        return "topic" if self.topic else "fid" if self.fid else "token"


@dataclass(frozen=True)
class PushResult:
    """The outcome of sending one message.

    `error` is FCM's error code (UNREGISTERED, UNAVAILABLE, …), never a token;
    `retry_after` is in seconds, from a Retry-After header when there was one.
    """

    key: str
    outcome: Outcome
    error: str | None = None
    retry_after: float | None = None
    message_id: str | None = None

    @property
    def delivered(self) -> bool:
        return self.outcome in (Outcome.SENT, Outcome.LOGGED)


class CredentialsError(Exception):
    """A sender's credentials are missing, invalid, or refused by the provider."""


class NotReady(Exception):
    """The sender cannot send now (e.g. no access token); `outcome` is AUTH or RETRY."""

    def __init__(self, outcome: Outcome, error: str):
        super().__init__(error)
        self.outcome, self.error = outcome, error


class SendControl:
    """Bounds one send call: no request starts unless it can end before `deadline`
    (`time.monotonic()` seconds), nor once the call is paused.

    A THROTTLED or AUTH result pauses the call (`pause`), and `on_pause` hears of it once,
    so the caller can tell other workers; `shared_pause()` (polled) is how they tell us.
    """

    def __init__(
        self,
        deadline: float = math.inf,
        *,
        shared_pause: Callable[[], bool] | None = None,
        on_pause: Callable[[PushResult], object] | None = None,
    ):
        self.deadline = deadline
        self._shared_pause = shared_pause
        self._on_pause = on_pause
        self._paused = False
        self._lock = threading.Lock()

    @property
    def paused(self) -> bool:
        return self._paused

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def may_start(self, seconds: float) -> bool:
        """True if a request that takes up to `seconds` may start now."""
        if self._paused or self.remaining() < seconds:
            return False
        if self._shared_pause is not None and self._shared_pause():
            self._paused = True
            return False
        return True

    def pause(self, result: PushResult) -> None:
        with self._lock:
            first, self._paused = not self._paused, True
        if first and self._on_pause is not None:
            self._on_pause(result)


class PushSender(Protocol):
    def send(
        self, messages: list[PushMessage], control: SendControl | None = None
    ) -> list[PushResult]:
        """Send messages; return one result per message, in order. Never raises for a send.

        Messages the control did not let start are NOT_SENT."""
        ...


class LogSender:
    """Logs what it would send (never the device token) and reports every message logged."""

    def send(
        self, messages: list[PushMessage], control: SendControl | None = None
    ) -> list[PushResult]:
        """Log each message's key, target kind, title and data; return LOGGED results."""
        for message in messages:
            logger.info(
                "push (log transport) %s to %s: %s %s",
                message.key,
                "topic " + message.topic if message.topic else "a device",
                message.title,
                json.dumps(message.data, sort_keys=True),
            )
        return [PushResult(key=m.key, outcome=Outcome.LOGGED) for m in messages]
