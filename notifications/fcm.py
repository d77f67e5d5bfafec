"""The Firebase Cloud Messaging sender: the only module that imports firebase_admin.

It sends with `messaging.send_each` (at most 500 messages a call, each its own HTTP v1
request) and turns every per-message exception into a `PushResult` through
`notifications.errors.classify`, using the HTTP status, body and Retry-After header.

Two adjustments to the SDK, both needed so that the outbox, not the HTTP layer, owns
retries and so that the endpoint can be moved (tests, egress proxies):

- firebase-admin 7.7.0 hard-codes https://fcm.googleapis.com; the messaging service's URLs
  are re-pointed at `base_url` (private attributes, checked against the pinned version by
  the tests).
- Its HTTP adapter retries 500/503 four times and sleeps on Retry-After inside the call; we
  mount one without retries, so a 503 or 429 comes straight back to the worker, which
  backs off per message and slows down as a whole.
"""

import json
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import firebase_admin
import requests
from firebase_admin import exceptions, messaging
from google.auth.exceptions import GoogleAuthError, RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from notifications import CredentialsError, Outcome, PushMessage, PushResult
from notifications.errors import classify

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://fcm.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/firebase.messaging"]
BATCH_LIMIT = 500  # send_each's own limit
APNS_COLLAPSE_ID_MAX = 64  # bytes


class _OffGoogleCredentials(service_account.Credentials):
    """Service-account credentials that skip Google's regional-access-boundary lookup.

    google-auth looks the boundary up at iamcredentials.googleapis.com in the background
    after each refresh. When FCM is reached through another base URL (the tests' fake, a
    proxy) nothing but the token endpoint and that URL may be contacted.
    """

    def _is_regional_access_boundary_lookup_required(self):
        return False


class FcmSender:
    """Sends PushMessages through FCM HTTP v1 with a service-account key file.

    `base_url` replaces https://fcm.googleapis.com; `timeout` bounds each HTTP request;
    `connections` is the connection-pool size (send_each runs one thread per message).
    """

    def __init__(
        self,
        credentials_file: str | Path,
        *,
        project_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        connections: int = BATCH_LIMIT,
    ):
        try:
            info = json.loads(Path(credentials_file).read_text())
        except (OSError, ValueError) as exc:
            raise CredentialsError(f"cannot read the FCM service-account file: {exc}") from None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise CredentialsError("the FCM credentials file is not a service-account key")
        self.project_id = project_id or info.get("project_id")
        if not self.project_id:
            raise CredentialsError("no FCM project id: set it or use a key that names one")
        self.base_url = base_url.rstrip("/")
        custom = self.base_url != DEFAULT_BASE_URL
        credentials_class = _OffGoogleCredentials if custom else service_account.Credentials
        try:
            self._credentials = credentials_class.from_service_account_info(info, scopes=SCOPES)
        except (KeyError, ValueError) as exc:
            raise CredentialsError(f"invalid service-account key: {exc}") from None
        self._app = firebase_admin.initialize_app(
            self._credentials,
            {"projectId": self.project_id, "httpTimeout": timeout},
            name=f"civic-push-{uuid.uuid4().hex}",
        )
        self._point_at_base_url(connections)

    def _point_at_base_url(self, connections: int) -> None:
        service = messaging._get_messaging_service(self._app)
        project = f"{self.base_url}/v1/projects/{self.project_id}"
        service._fcm_url = f"{project}/messages:send"
        service._fcm_topic_url = f"{project}/registrations"
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=connections, max_retries=0
        )
        session = service._client.session
        session.mount(self.base_url + "/", adapter)
        # requests reads proxy and CA settings from the environment on every request, which
        # was half of the CPU per message; read them once here instead.
        session.proxies = requests.utils.get_environ_proxies(self.base_url)
        session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        session.trust_env = False

    def check(self) -> None:
        """Fetch an access token now, so that bad credentials show at startup."""
        try:
            self._credentials.refresh(Request())
        except RefreshError as exc:
            raise CredentialsError(f"the token endpoint refused the key: {exc.args[0]}") from None
        except GoogleAuthError as exc:
            raise CredentialsError(f"cannot reach the token endpoint: {exc}") from None

    def close(self) -> None:
        firebase_admin.delete_app(self._app)

    def send(self, messages: list[PushMessage]) -> list[PushResult]:
        """Send in calls of at most 500; one result per message, in order."""
        results: list[PushResult] = []
        for start in range(0, len(messages), BATCH_LIMIT):
            results.extend(self._send_batch(messages[start : start + BATCH_LIMIT]))
        return results

    def _send_batch(self, batch: Sequence[PushMessage], isolate: bool = True) -> list[PushResult]:
        if not batch:
            return []
        try:
            # One refresh here rather than one per thread when the token has expired.
            if not self._credentials.valid:
                self._credentials.refresh(Request())
            fcm_messages = [to_fcm_message(m) for m in batch]
            response = messaging.send_each(fcm_messages, app=self._app)
        except RefreshError as exc:
            logger.error("FCM token refresh failed: %s", type(exc).__name__)
            return [PushResult(m.key, Outcome.AUTH, "TOKEN_REFRESH_FAILED") for m in batch]
        except GoogleAuthError as exc:  # the token endpoint is unreachable: transient
            logger.error("FCM token endpoint unreachable: %s", type(exc).__name__)
            return [PushResult(m.key, Outcome.RETRY, "TOKEN_ENDPOINT_UNAVAILABLE") for m in batch]
        except ValueError as exc:
            if isolate:
                # A message the SDK refuses to encode: find it without failing the others.
                return [r for m in batch for r in self._send_batch([m], isolate=False)]
            logger.warning("push %s refused by the SDK: %s", batch[0].key, exc)
            return [PushResult(m.key, Outcome.REJECTED, "INVALID_MESSAGE") for m in batch]
        except exceptions.FirebaseError as exc:
            code = "TOKEN_REFRESH_FAILED" if isinstance(exc.cause, RefreshError) else exc.code
            outcome = Outcome.AUTH if isinstance(exc.cause, RefreshError) else Outcome.RETRY
            logger.error("FCM batch failed: %s (%s)", type(exc).__name__, code)
            return [PushResult(m.key, outcome, code) for m in batch]
        return [
            _result(m, r.message_id, r.exception)
            for m, r in zip(batch, response.responses, strict=True)
        ]


def _collapse_id(key: str) -> str:
    if len(key.encode()) <= APNS_COLLAPSE_ID_MAX:
        return key
    return uuid.uuid5(uuid.NAMESPACE_URL, key).hex


def to_fcm_message(message: PushMessage) -> messaging.Message:
    """The firebase-admin Message for a PushMessage, with its key as tag and collapse id."""
    tag = _collapse_id(message.key)
    fcm_message = messaging.Message(
        data={**message.data, "push_key": message.key},
        notification=messaging.Notification(title=message.title, body=message.body),
        android=messaging.AndroidConfig(notification=messaging.AndroidNotification(tag=tag)),
        apns=messaging.APNSConfig(headers={"apns-collapse-id": tag}),
        topic=message.topic,
        fid=message.fid,
    )
    # The v1 API still takes registration tokens; assigning after construction skips the
    # SDK's per-call DeprecationWarning, which nudges towards installation ids (`fid`).
    fcm_message.token = message.token
    return fcm_message


def _result(message: PushMessage, message_id: str | None, error: Exception | None) -> PushResult:
    if error is None:
        return PushResult(message.key, Outcome.SENT, message_id=message_id)
    response = getattr(error, "http_response", None)
    if response is None:
        code = getattr(error, "code", None) or type(error).__name__
        return PushResult(message.key, Outcome.RETRY, code)
    found = classify(response.status_code, response.content, response.headers.get("Retry-After"))
    return PushResult(message.key, found.outcome, found.error, found.retry_after)
