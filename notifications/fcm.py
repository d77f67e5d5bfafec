"""The Firebase Cloud Messaging sender: the only module that imports firebase_admin.

Each message is one HTTP v1 request (`messaging.send`), run on a bounded thread pool
(`concurrency` threads, one pooled keep-alive connection each) instead of `send_each`, which
starts one thread per message (up to 500). Every per-message exception becomes a
`PushResult` through `notifications.errors.classify` (HTTP status, body, Retry-After).

firebase-admin 7.7 also has `send_each_async` (HTTP/2 through httpx). It is not used: its
transport retries 500/503 inside the call and sleeps on Retry-After, its auth flow refreshes
the token with the SDK's timeout inside the event loop, and its client is bound to one
event loop; at one worker's rate the thread pool is as fast (docs/push.md).

Bounded in time, so that a batch never outlives its lease (docs/push.md):

- `prepare(valid_for)` refreshes the access token before the caller claims anything, with an
  explicit deadline (google-auth's own default is 120 s per request, retried), so that no
  refresh happens while messages are leased; any refresh the SDK still attempts mid-batch is
  bounded by the batch's deadline.
- every FCM request has a total timeout (connect and read together), and none starts unless
  it can end before the `SendControl` deadline; a 429 or an auth error stops new requests.
- a request that was sent but got no answer is UNKNOWN (FCM may have delivered it), not a
  failure; one that never left (connection refused, connect timeout) is RETRY.

Adjustments to the SDK (private attributes, checked against the pinned version by tests):
its URLs are re-pointed at `base_url` (tests, egress proxies); its HTTP adapter, which
retries 500/503 four times and sleeps on Retry-After, is replaced by one without retries;
and its session neither refreshes-and-retries on 401 nor reads proxy settings per request.
"""

import json
import logging
import math
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import firebase_admin
import requests
import urllib3
from firebase_admin import exceptions, messaging
from google.auth import _helpers as google_auth_helpers
from google.auth.exceptions import GoogleAuthError, RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from notifications import (
    CredentialsError,
    NotReady,
    Outcome,
    PushMessage,
    PushResult,
    SendControl,
)
from notifications.errors import classify

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://fcm.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/firebase.messaging"]
APNS_COLLAPSE_ID_MAX = 64  # bytes
DEFAULT_CONCURRENCY = 32

# The deadline of the send running on this thread (time.monotonic()); requests cap to it.
_deadline = threading.local()


def _bounded(timeout, limit: float) -> urllib3.Timeout:
    """A total timeout (connect + read) of at most `limit`, ending no later than this thread's
    deadline; a ConnectTimeout, before anything is sent, when nothing is left."""
    if isinstance(timeout, int | float):
        limit = min(limit, float(timeout))
    limit = min(limit, getattr(_deadline, "at", math.inf) - time.monotonic())
    if limit <= 0:
        raise requests.exceptions.ConnectTimeout("the batch deadline has passed")
    return urllib3.Timeout(total=limit)


class _TotalTimeoutAdapter(requests.adapters.HTTPAdapter):
    """No retries, and one total timeout per request instead of one per socket operation."""

    def __init__(self, timeout: float, **kwargs):
        super().__init__(max_retries=0, **kwargs)
        self.total = timeout

    def send(self, request, stream=False, timeout=None, **kwargs):
        return super().send(request, stream, _bounded(timeout, self.total), **kwargs)


class _TokenRequest(Request):
    """google-auth's transport with an explicit total timeout on every token request."""

    def __init__(self, timeout: float):
        session = requests.Session()
        session.mount("http://", _TotalTimeoutAdapter(timeout))
        session.mount("https://", _TotalTimeoutAdapter(timeout))
        super().__init__(session)


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

    `base_url` replaces https://fcm.googleapis.com; `timeout` bounds each HTTP request (FCM
    and token endpoint) from connect to the last byte; `concurrency` is the number of sending
    threads and pooled connections.
    """

    def __init__(
        self,
        credentials_file: str | Path,
        *,
        project_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        concurrency: int = DEFAULT_CONCURRENCY,
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
        self.timeout = float(timeout)
        custom = self.base_url != DEFAULT_BASE_URL
        credentials_class = _OffGoogleCredentials if custom else service_account.Credentials
        try:
            self._credentials = credentials_class.from_service_account_info(info, scopes=SCOPES)
        except (KeyError, ValueError) as exc:
            raise CredentialsError(f"invalid service-account key: {exc}") from None
        self._app = firebase_admin.initialize_app(
            self._credentials,
            {"projectId": self.project_id, "httpTimeout": self.timeout},
            name=f"civic-push-{uuid.uuid4().hex}",
        )
        self._token_request = _TokenRequest(self.timeout)
        self._refresh_lock = threading.Lock()
        self._point_at_base_url(concurrency)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="fcm-send")

    def _point_at_base_url(self, concurrency: int) -> None:
        service = messaging._get_messaging_service(self._app)
        project = f"{self.base_url}/v1/projects/{self.project_id}"
        service._fcm_url = f"{project}/messages:send"
        service._fcm_topic_url = f"{project}/registrations"
        adapter = _TotalTimeoutAdapter(
            self.timeout, pool_connections=1, pool_maxsize=concurrency, pool_block=True
        )
        session = service._client.session
        session.mount(self.base_url + "/", adapter)
        # A 401 is an answer to act on (pause, alert), not a reason to refresh and send again.
        session._max_refresh_attempts = 0
        # Token refreshes the SDK still makes get the same explicit, deadline-capped timeout.
        session._auth_request = self._token_request
        # requests reads proxy and CA settings from the environment on every request, which
        # was half of the CPU per message; read them once here instead.
        session.proxies = requests.utils.get_environ_proxies(self.base_url)
        session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        session.trust_env = False

    def _token_fresh_for(self, seconds: float) -> bool:
        credentials = self._credentials
        if not credentials.token or credentials.expiry is None:
            return False
        # google-auth refreshes REFRESH_THRESHOLD before expiry: stay clear of that too.
        usable_until = credentials.expiry - google_auth_helpers.REFRESH_THRESHOLD
        now = datetime.now(UTC).replace(tzinfo=None)  # google-auth keeps naive UTC
        return usable_until - now > timedelta(seconds=seconds)

    def prepare(self, valid_for: float = 0.0) -> None:
        """Make sure the access token stays valid for `valid_for` seconds, refreshing it now if
        needed, within one `timeout` in all (google-auth retries a 5xx token answer).

        Raises NotReady(AUTH) if the token endpoint refuses our key, NotReady(RETRY) if it
        does not answer in time."""
        with self._refresh_lock:
            if self._token_fresh_for(valid_for):
                return
            _deadline.at = time.monotonic() + self.timeout
            try:
                self._credentials.refresh(self._token_request)
            except RefreshError as exc:
                raise NotReady(Outcome.AUTH, "TOKEN_REFRESH_FAILED") from exc
            except GoogleAuthError as exc:
                raise NotReady(Outcome.RETRY, "TOKEN_ENDPOINT_UNAVAILABLE") from exc
            finally:
                del _deadline.at
        if not self._token_fresh_for(valid_for):
            raise NotReady(Outcome.AUTH, "TOKEN_TOO_SHORT_LIVED")

    def check(self) -> None:
        """Fetch an access token now, so that bad credentials show at startup."""
        try:
            self.prepare()
        except NotReady as exc:
            cause = exc.__cause__
            if exc.outcome is Outcome.AUTH:
                detail = cause.args[0] if cause is not None and cause.args else exc.error
                raise CredentialsError(f"the token endpoint refused the key: {detail}") from None
            raise CredentialsError(f"cannot reach the token endpoint: {cause}") from None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        firebase_admin.delete_app(self._app)

    def send(
        self, messages: list[PushMessage], control: SendControl | None = None
    ) -> list[PushResult]:
        """Send each message on the thread pool; one result per message, in order."""
        control = control or SendControl()
        return list(self._pool.map(lambda m: self._send_one(m, control), messages))

    def _send_one(self, message: PushMessage, control: SendControl) -> PushResult:
        if not control.may_start(self.timeout):
            return PushResult(message.key, Outcome.NOT_SENT, "NOT_STARTED")
        _deadline.at = control.deadline
        try:
            message_id = messaging.send(to_fcm_message(message), app=self._app)
            result = PushResult(message.key, Outcome.SENT, message_id=message_id)
        except ValueError as exc:  # a message the SDK refuses to encode
            logger.warning("push %s refused by the SDK: %s", message.key, exc)
            result = PushResult(message.key, Outcome.REJECTED, "INVALID_MESSAGE")
        except exceptions.FirebaseError as exc:
            result = _error_result(message, exc)
        except RefreshError:
            result = PushResult(message.key, Outcome.AUTH, "TOKEN_REFRESH_FAILED")
        except GoogleAuthError:  # the token endpoint did not answer: nothing went to FCM
            result = PushResult(message.key, Outcome.RETRY, "TOKEN_ENDPOINT_UNAVAILABLE")
        except Exception as exc:  # a bug must not take the batch (or the worker) down
            logger.error("push %s: unexpected %s", message.key, type(exc).__name__)
            result = PushResult(message.key, Outcome.UNKNOWN, "SENDER_ERROR")
        finally:
            del _deadline.at
        if result.outcome in (Outcome.THROTTLED, Outcome.AUTH):
            control.pause(result)
        return result


def _collapse_id(key: str) -> str:
    if len(key.encode()) <= APNS_COLLAPSE_ID_MAX:
        return key
    return uuid.uuid5(uuid.NAMESPACE_URL, key).hex


def to_fcm_message(message: PushMessage) -> messaging.Message:
    """The firebase-admin Message for a PushMessage, its collapse key as tag and collapse id."""
    tag = _collapse_id(message.collapse_key or message.key)
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


def _never_left(cause: BaseException | None) -> bool:
    """True if the request certainly did not reach FCM (refused, connect timeout)."""
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(cause, requests.exceptions.ConnectionError) and cause.args:
        reason = getattr(cause.args[0], "reason", None)
        return isinstance(reason, urllib3.exceptions.NewConnectionError)
    return False


def _error_result(message: PushMessage, error: exceptions.FirebaseError) -> PushResult:
    response = getattr(error, "http_response", None)
    if response is None:
        cause = error.cause
        if _never_left(cause):
            return PushResult(message.key, Outcome.RETRY, "UNAVAILABLE")
        if isinstance(cause, requests.exceptions.Timeout):
            return PushResult(message.key, Outcome.UNKNOWN, "TIMEOUT")
        if isinstance(cause, requests.exceptions.ConnectionError):
            return PushResult(message.key, Outcome.UNKNOWN, "CONNECTION_LOST")
        return PushResult(message.key, Outcome.RETRY, error.code or type(error).__name__)
    found = classify(response.status_code, response.content, response.headers.get("Retry-After"))
    return PushResult(message.key, found.outcome, found.error, found.retry_after)
