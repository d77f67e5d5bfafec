"""Classify FCM HTTP v1 error responses into outcomes, from the status, body and Retry-After.

Pure functions: they work on what came over the wire, so they do not depend on which
exception class firebase-admin chose (a project-wide 429 without FCM details arrives as a
plain ResourceExhaustedError, not a QuotaExceededError; the HTTP status decides).
"""

import email.utils
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from notifications import Outcome

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"

# FCM error codes that mean the token will never work again.
DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
# Fields whose violation blames the target rather than the message.
TARGET_FIELDS = frozenset({"message.token", "message.fid"})
TOKEN_MESSAGE = re.compile(r"registration token|installation id", re.IGNORECASE)

STATUS_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class Classified:
    outcome: Outcome
    error: str
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date; None if absent
    or unparseable. Never negative."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, parsed.timestamp() - now)


def _error_object(body: Any) -> dict:
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _details(error: dict) -> list[dict]:
    details = error.get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def classify(status: int | None, body: Any = None, retry_after: str | None = None) -> Classified:
    """The outcome of an FCM error response.

    - UNREGISTERED, SENDER_ID_MISMATCH, or INVALID_ARGUMENT blaming the token → BAD_TOKEN;
    - any other 400 (payload too big, bad data key) and unknown 4xx → REJECTED;
    - 429 (QUOTA_EXCEEDED or a plain RESOURCE_EXHAUSTED) → THROTTLED;
    - 401, THIRD_PARTY_AUTH_ERROR, and 403/404 that do not blame the token → AUTH, because
      they mean our credentials, APNs/web-push keys or project id are wrong: retrying each
      message would burn its attempts, so the worker pauses and alerts instead;
    - 5xx, 408 and no response at all (`status` None: connection reset, timeout) → RETRY.
    """
    error = _error_object(body)
    details = _details(error)
    fcm_code = next((d.get("errorCode") for d in details if d.get("@type") == FCM_ERROR_TYPE), None)
    code = fcm_code or error.get("status") or STATUS_CODES.get(status or 0) or "UNKNOWN"
    wait = parse_retry_after(retry_after)

    if fcm_code in DEAD_TOKEN_CODES:
        return Classified(Outcome.BAD_TOKEN, fcm_code)
    if fcm_code in ("THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR") or status == 401:
        return Classified(Outcome.AUTH, code, wait)
    if status == 429 or code in ("QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"):
        return Classified(Outcome.THROTTLED, code, wait)
    if status is None or status >= 500 or status == 408:
        return Classified(Outcome.RETRY, code, wait)
    if status == 400 or code == "INVALID_ARGUMENT":
        fields = {
            violation.get("field")
            for d in details
            if d.get("@type") == BAD_REQUEST_TYPE
            for violation in d.get("fieldViolations") or []
            if isinstance(violation, dict)
        }
        message = error.get("message")
        if fields & TARGET_FIELDS or (isinstance(message, str) and TOKEN_MESSAGE.search(message)):
            return Classified(Outcome.BAD_TOKEN, "INVALID_ARGUMENT")
        return Classified(Outcome.REJECTED, code)
    if status in (403, 404):
        return Classified(Outcome.AUTH, code, wait)
    return Classified(Outcome.REJECTED, code)
