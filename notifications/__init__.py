"""Push delivery: the PushSender interface and the log sender used when FCM is not configured.

Only `notifications/fcm.py` (the FCM sender, to come with the notifications issue) will
import firebase_admin. Callers turn database rows into `PushMessage`s.
"""

import json
import logging
from dataclasses import dataclass, field
from typing import Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushMessage:
    """One notification to one device token or topic, with a data payload for deep links."""

    key: str  # stable per message, so a resend can be recognised
    title: str
    body: str
    token: str | None = None
    topic: str | None = None
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PushResult:
    """The outcome of sending one message: delivered, or an error code and whether to retry."""

    key: str
    delivered: bool
    error: str | None = None
    retryable: bool = False


class PushSender(Protocol):
    def send(self, messages: list[PushMessage]) -> list[PushResult]:
        """Send messages; return one result per message, in order."""
        ...


class LogSender:
    """Logs what it would send (never the device token) and reports every message delivered."""

    def send(self, messages: list[PushMessage]) -> list[PushResult]:
        """Log each message's key, target kind, title and data; return delivered results."""
        for message in messages:
            logger.info(
                "push (log transport) %s to %s: %s %s",
                message.key,
                "topic " + message.topic if message.topic else "a device",
                message.title,
                json.dumps(message.data, sort_keys=True),
            )
        return [PushResult(key=m.key, delivered=True) for m in messages]
