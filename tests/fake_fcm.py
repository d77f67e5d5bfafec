"""A fake FCM HTTP v1 server with its own OAuth token endpoint, for tests and benchmarks.

The real firebase-admin SDK talks to it: `service_account()` writes a service-account key
with a freshly generated RSA key whose `token_uri` points here, the token endpoint checks
the signed JWT assertion with the public half, and sends must carry a token it issued.
It accepts `token`, `fid` and `topic` targets and answers with FCM's real error bodies
(404 UNREGISTERED, 400 INVALID_ARGUMENT, 403 SENDER_ID_MISMATCH, 429 with Retry-After,
500, 503, 401 THIRD_PARTY_AUTH_ERROR) when scripted to. Faults in time: slow answers
(`slow`: the message is accepted at once, the answer comes late, so a client that times out
has still had it delivered), answers held until released (`hold_after`), a hanging token
endpoint (`hang_tokens`) and short-lived access tokens (`token_lifetime`).

In-process: `FakeFCM().start()` serves from a background thread (asyncio, HTTP/1.1 with
keep-alive). As a process: `python tests/fake_fcm.py --service-account PATH` prints its
URL and is scripted and inspected over HTTP under `/_fake/` (see `_control`).
"""

import argparse
import asyncio
import collections
import json
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
TOKEN_LIMIT, TOPIC_LIMIT = 4096, 2048
RESERVED_DATA_KEYS = ("from", "gcm", "message_type", "notification")


def _error(code: int, status: str, message: str, fcm_code: str | None = None, extra=()):
    error = {"code": code, "message": message, "status": status}
    details = [{"@type": FCM_ERROR, "errorCode": fcm_code}] if fcm_code else []
    details.extend(extra)
    if details:
        error["details"] = details
    return code, {"error": error}


# FCM's own error responses (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode).
ERRORS = {
    "unregistered": _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"),
    "invalid_token": _error(
        400,
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
        "INVALID_ARGUMENT",
    ),
    "sender_id_mismatch": _error(
        403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"
    ),
    "quota_exceeded": _error(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute'.",
        "QUOTA_EXCEEDED",
    ),
    # A project-wide limit: no FCM details, so the SDK raises a plain ResourceExhaustedError.
    "resource_exhausted": _error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted."),
    "unavailable": _error(
        503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"
    ),
    "internal": _error(500, "INTERNAL", "Internal error encountered.", "INTERNAL"),
    "third_party_auth": _error(
        401,
        "UNAUTHENTICATED",
        "Auth error from APNS or Web Push Service",
        "THIRD_PARTY_AUTH_ERROR",
    ),
    # What FCM says about an oversized payload: no details naming the cause.
    "invalid_argument": _error(400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
}
UNAUTHENTICATED = _error(
    401,
    "UNAUTHENTICATED",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential.",
)
PERMISSION_DENIED = _error(
    403,
    "PERMISSION_DENIED",
    "Permission 'cloudmessaging.messages.create' denied on resource (or it may not exist).",
)
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
REASONS |= {404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests"}
REASONS |= {500: "Internal Server Error", 503: "Service Unavailable"}


class FakeFCM:
    """FCM HTTP v1 `messages:send` plus an OAuth 2 token endpoint on 127.0.0.1."""

    def __init__(self, project_id: str = "civic-fake", port: int = 0, latency: float = 0.0):
        self.project_id = project_id
        self.port = port
        self.latency = latency
        self.client_email = f"push@{project_id}.iam.gserviceaccount.com"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._release = asyncio.Event()  # binds to the server's loop on first wait
        self.issued: set[str] = set()  # access tokens handed out; they survive reset()
        self.reset()

    # -- scripting -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything received and scripted (issued access tokens stay valid)."""
        with self._lock:
            self.accepted: list[dict] = []  # messages FCM would deliver, in arrival order
            self.attempts: collections.Counter = collections.Counter()  # send requests by target
            self.responses: list[tuple[str, int]] = []  # (target, HTTP status) of every send
            self._scripts: dict[str, collections.deque] = {}
            self._throttle = 0
            self._throttle_retry_after: str | None = None
            self._hold_after: int | None = None
            self._sends = 0
            self.token_requests = 0
            self.answer_delay = self.latency  # seconds between accepting and answering
            self.token_delay = 0.0  # seconds the token endpoint waits before answering
            self.token_seconds = 3600  # expires_in of new access tokens
            self.arrivals: list[tuple[float, str, int]] = []  # (monotonic answered, target, status)

    def fail(self, target: str, *errors: str, retry_after: str | None = None) -> None:
        """The next sends to `target` get these ERRORS, in order; then it succeeds."""
        with self._lock:
            queue = self._scripts.setdefault(target, collections.deque())
            queue.extend((name, retry_after) for name in errors)

    def throttle(self, count: int, retry_after: str | None = None) -> None:
        """The next `count` sends, whatever their target, get a project-wide 429."""
        with self._lock:
            self._throttle, self._throttle_retry_after = count, retry_after

    def hold_after(self, count: int) -> None:
        """Answer `count` more sends, then accept but hold every later one until release()."""
        with self._lock:
            self._hold_after = self._sends + count
            self._release = asyncio.Event()

    def slow(self, seconds: float) -> None:
        """Accept every later send at once but answer it only after `seconds`."""
        with self._lock:
            self.answer_delay = seconds

    def hang_tokens(self, seconds: float) -> None:
        """The token endpoint waits `seconds` before each answer (0: answers at once)."""
        with self._lock:
            self.token_delay = seconds

    def token_lifetime(self, seconds: int) -> None:
        """New access tokens expire after `seconds` (google-auth refreshes 225 s early)."""
        with self._lock:
            self.token_seconds = seconds

    def release(self) -> None:
        with self._lock:
            self._hold_after = None
        release = self._release
        self._call(release.set)

    def received_keys(self) -> collections.Counter:
        """How many times each push_key was accepted."""
        with self._lock:
            return collections.Counter(m.get("data", {}).get("push_key") for m in self.accepted)

    def stats(self) -> dict:
        with self._lock:
            return {
                "accepted": len(self.accepted),
                "sends": self._sends,
                "token_requests": self.token_requests,
                "by_key": dict(
                    collections.Counter(m.get("data", {}).get("push_key") for m in self.accepted)
                ),
            }

    # -- credentials -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def service_account_info(self) -> dict:
        """A service-account key whose token_uri is this server (never a Google address)."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": "fake-key-1",
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "1",
            "token_uri": f"{self.url}/token",
        }

    def service_account(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.service_account_info()))
        path.chmod(0o600)
        return path

    # -- serving ---------------------------------------------------------------------------

    def start(self) -> "FakeFCM":
        started = threading.Event()

        def serve():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            server = self._loop.run_until_complete(
                asyncio.start_server(self._connection, "127.0.0.1", self.port, backlog=2048)
            )
            self.port = server.sockets[0].getsockname()[1]
            started.set()
            self._loop.run_forever()
            server.close()
            # Close the kept-alive connections while the loop can still run their cleanup.
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="fake-fcm", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self.release()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def _call(self, function) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(function)

    async def _connection(self, reader, writer) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, payload, extra = await self._route(method, target, headers, body)
                data = json.dumps(payload).encode()
                head_out = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
                head_out += ["Content-Type: application/json; charset=UTF-8"]
                head_out += [f"Content-Length: {len(data)}"]
                head_out += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode() + data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping: end quietly rather than as a cancelled task
        finally:
            writer.close()

    async def _route(self, method: str, target: str, headers: dict, body: bytes):
        path, _, query = target.partition("?")
        if path == "/token" and method == "POST":
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            return self._token(body)
        if path.startswith("/_fake/"):
            return self._control(method, path, body)
        prefix = "/v1/projects/"
        if method == "POST" and path.startswith(prefix) and path.endswith("/messages:send"):
            project = path[len(prefix) : -len("/messages:send")]
            return await self._send(project, headers, body)
        return 404, {"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}, {}

    def _token(self, body: bytes):
        form = urllib.parse.parse_qs(body.decode())
        assertion = form.get("assertion", [""])[0]
        try:
            claims = jwt.decode(
                assertion,
                self._key.public_key(),
                algorithms=["RS256"],
                # google-auth addresses the assertion to Google's token URI wherever it posts it.
                audience=GOOGLE_TOKEN_URI,
                issuer=self.client_email,
            )
        except jwt.PyJWTError:
            return (
                400,
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                {},
            )
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {"error": "unsupported_grant_type"}, {}
        if "firebase.messaging" not in claims.get("scope", ""):
            return 400, {"error": "invalid_scope"}, {}
        with self._lock:
            self.token_requests += 1
            token = f"fake-access-{self.token_requests}-{len(self.issued)}"
            self.issued.add(token)
            lifetime = self.token_seconds
        return 200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}, {}

    async def _send(self, project: str, headers: dict, body: bytes):
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.issued:
            return *UNAUTHENTICATED, {}
        if project != self.project_id:
            return *PERMISSION_DENIED, {}
        try:
            message = json.loads(body)["message"]
        except (ValueError, KeyError, TypeError):
            return *_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."), {}
        targets = [k for k in ("token", "fid", "topic", "condition") if k in message]
        if len(targets) != 1 or targets[0] == "condition":
            return *_error(
                400, "INVALID_ARGUMENT", "Recipient of the message is not set.", "INVALID_ARGUMENT"
            ), {}
        kind = targets[0]
        recipient = message[kind]
        problem = _payload_problem(message, TOPIC_LIMIT if kind == "topic" else TOKEN_LIMIT)
        with self._lock:
            self._sends += 1
            self.attempts[recipient] += 1
            script = self._scripts.get(recipient)
            scripted = script.popleft() if script else None
            throttled = scripted is None and self._throttle > 0
            if throttled:
                self._throttle -= 1
            held = self._hold_after is not None and self._sends > self._hold_after
            release = self._release
            delay = self.answer_delay
            if problem is None and scripted is None and not throttled:
                self.accepted.append(message)
                number = len(self.accepted)
        if problem is not None:
            status, payload = problem
        elif scripted is not None:
            name, retry_after = scripted
            status, payload = ERRORS[name]
            extra = {"Retry-After": retry_after} if retry_after is not None else {}
            self._record(recipient, status)
            return status, payload, extra
        elif throttled:
            status, payload = ERRORS["resource_exhausted"]
            retry_after = self._throttle_retry_after
            self._record(recipient, status)
            return status, payload, {"Retry-After": retry_after} if retry_after else {}
        else:
            if held:
                # FCM has it; the answer never comes back (until released).
                await release.wait()
            if delay:
                await asyncio.sleep(delay)  # FCM has it; the answer is late
            status = 200
            payload = {"name": f"projects/{self.project_id}/messages/{number}"}
        self._record(recipient, status)
        return status, payload, {}

    def _record(self, recipient: str, status: int) -> None:
        with self._lock:
            self.responses.append((recipient, status))
            self.arrivals.append((time.monotonic(), recipient, status))

    def _control(self, method: str, path: str, body: bytes):
        request = json.loads(body) if body else {}
        if method == "GET" and path == "/_fake/stats":
            return 200, self.stats(), {}
        if method == "POST" and path == "/_fake/fail":
            self.fail(request["target"], *request["errors"], retry_after=request.get("retry_after"))
        elif method == "POST" and path == "/_fake/throttle":
            self.throttle(request["count"], request.get("retry_after"))
        elif method == "POST" and path == "/_fake/hold":
            self.hold_after(request["after"])
        elif method == "POST" and path == "/_fake/release":
            self.release()
        elif method == "POST" and path == "/_fake/slow":
            self.slow(request["seconds"])
        elif method == "POST" and path == "/_fake/hang_tokens":
            self.hang_tokens(request["seconds"])
        elif method == "POST" and path == "/_fake/reset":
            self.reset()
        else:
            return (
                404,
                {"error": {"code": 404, "message": "Unknown control", "status": "NOT_FOUND"}},
                {},
            )
        return 200, {}, {}


def _payload_problem(message: dict, limit: int):
    data = message.get("data") or {}
    bad = [k for k in data if k in RESERVED_DATA_KEYS or k.startswith(("google", "gcm"))]
    if bad or not all(isinstance(v, str) for v in data.values()):
        field = f"message.data[{bad[0] if bad else 0}]"
        violation = {"@type": "type.googleapis.com/google.rpc.BadRequest"}
        violation["fieldViolations"] = [{"field": field, "description": "Invalid data"}]
        return _error(
            400, "INVALID_ARGUMENT", "Invalid data payload key", "INVALID_ARGUMENT", [violation]
        )
    notification = message.get("notification") or {}
    size = sum(len(str(v).encode()) for v in notification.values())
    size += sum(len(k.encode()) + len(v.encode()) for k, v in data.items())
    if size > limit:
        return ERRORS["invalid_argument"]
    return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service-account", required=True, help="where to write the key file")
    parser.add_argument("--project", default="civic-fake")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    fake = FakeFCM(args.project, args.port, args.latency_ms / 1000).start()
    fake.service_account(args.service_account)
    print(fake.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
