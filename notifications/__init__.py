"""Push delivery: the PushSender interface, the log sender, and what a send's outcome means.

Only `notifications/fcm.py` (the FCM sender) imports firebase_admin. Callers turn database
rows into `PushMessage`s and record the `PushResult`s; nothing here touches a database.
"""

import json
import logging
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
    RETRY = "retry"  # transient (500, 503, network): back off and try again
    THROTTLED = "throttled"  # 429: honour Retry-After and slow down
    AUTH = "auth"  # our credentials or project are wrong (401, 403): pause and alert


@dataclass(frozen=True)
class PushMessage:
    """One notification to one device (registration token or installation id) or topic.

    `key` is stable per message: it goes into the data payload (`push_key`) and is used as
    the Android notification tag and APNs collapse id, so a resend replaces the first copy
    on the phone instead of showing twice.
    """

    key: str
    title: str
    body: str
    token: str | None = None
    fid: str | None = None
    topic: str | None = None
    data: dict[str, str] = field(default_factory=dict)

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


class PushSender(Protocol):
    def send(self, messages: list[PushMessage]) -> list[PushResult]:
        """Send messages; return one result per message, in order. Never raises for a send."""
        ...


class LogSender:
    """Logs what it would send (never the device token) and reports every message logged."""

    def send(self, messages: list[PushMessage]) -> list[PushResult]:
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
