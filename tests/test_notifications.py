"""notifications/: the log sender, error classification, payload limits, and the FCM sender
driving the real firebase-admin SDK against the fake FCM server."""

import json
import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fake_fcm import ERRORS
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account as google_service_account
from push_fixtures import *  # noqa: F403  (fixtures: fake FCM, sender, network guard)

from notifications import LogSender, NotReady, Outcome, PushMessage, PushResult, SendControl
from notifications.errors import Classified, classify, parse_retry_after
from notifications.fcm import CredentialsError, FcmSender
from notifications.payload import TOKEN_LIMIT, TOPIC_LIMIT, fit, payload_size


def test_log_sender_reports_delivery_to_log_and_never_logs_tokens(caplog):
    caplog.set_level(logging.INFO, logger="notifications")
    messages = [
        PushMessage(
            key="report-1:acknowledged",
            title="Updated",
            body="b",
            token="device-tok-123",
            data={"type": "report_status", "report_id": "1"},
        ),
        PushMessage(key="announcement-7:sq", title="Njoftim", body="b", topic="prishtina-sq"),
    ]
    assert LogSender().send(messages) == [
        PushResult(key="report-1:acknowledged", outcome=Outcome.LOGGED),
        PushResult(key="announcement-7:sq", outcome=Outcome.LOGGED),
    ]
    assert "device-tok-123" not in caplog.text
    assert caplog.messages == [
        'push (log transport) report-1:acknowledged to a device: Updated {"report_id": "1", "type": "report_status"}',
        "push (log transport) announcement-7:sq to topic prishtina-sq: Njoftim {}",
    ]


# Error classification: FCM's real bodies, as the fake serves them.


@pytest.mark.parametrize(
    ("name", "outcome", "code"),
    [
        ("unregistered", Outcome.BAD_TOKEN, "UNREGISTERED"),
        ("invalid_token", Outcome.BAD_TOKEN, "INVALID_ARGUMENT"),
        ("sender_id_mismatch", Outcome.BAD_TOKEN, "SENDER_ID_MISMATCH"),
        ("quota_exceeded", Outcome.THROTTLED, "QUOTA_EXCEEDED"),
        ("resource_exhausted", Outcome.THROTTLED, "RESOURCE_EXHAUSTED"),
        ("unavailable", Outcome.RETRY, "UNAVAILABLE"),
        ("internal", Outcome.RETRY, "INTERNAL"),
        ("third_party_auth", Outcome.AUTH, "THIRD_PARTY_AUTH_ERROR"),
        ("invalid_argument", Outcome.REJECTED, "INVALID_ARGUMENT"),
    ],
)
def test_classify_fcm_error_bodies(name, outcome, code):
    status, body = ERRORS[name]
    assert classify(status, json.dumps(body).encode()) == Classified(outcome, code, None)


def test_invalid_argument_blaming_the_token_field_is_a_bad_token():
    body = {
        "error": {
            "code": 400,
            "message": "Request contains an invalid argument.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": "INVALID_ARGUMENT",
                },
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [
                        {"field": "message.token", "description": "Invalid registration token"}
                    ],
                },
            ],
        }
    }
    assert classify(400, body).outcome is Outcome.BAD_TOKEN
    data_violation = json.loads(json.dumps(body).replace("message.token", "message.data[0]"))
    data_violation["error"]["details"][1]["fieldViolations"][0]["description"] = "Invalid data"
    assert classify(400, data_violation).outcome is Outcome.REJECTED


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code"),
    [
        (429, b"", Outcome.THROTTLED, "RESOURCE_EXHAUSTED"),
        (503, b"<html>Service Unavailable</html>", Outcome.RETRY, "UNAVAILABLE"),
        (502, b"<html>502</html>", Outcome.RETRY, "UNAVAILABLE"),
        (None, None, Outcome.RETRY, "UNKNOWN"),
        (
            401,
            {"error": {"code": 401, "status": "UNAUTHENTICATED"}},
            Outcome.AUTH,
            "UNAUTHENTICATED",
        ),
        (
            403,
            {"error": {"code": 403, "status": "PERMISSION_DENIED"}},
            Outcome.AUTH,
            "PERMISSION_DENIED",
        ),
        (413, b"", Outcome.REJECTED, "UNKNOWN"),
    ],
)
def test_classify_by_http_status_when_the_body_says_little(status, body, outcome, code):
    found = classify(status, body)
    assert (found.outcome, found.error) == (outcome, code)


def test_retry_after_seconds_and_http_dates():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after(later, now=now.timestamp()) == 90.0
    assert (
        parse_retry_after(
            format_datetime(now - timedelta(hours=1), usegmt=True), now=now.timestamp()
        )
        == 0.0
    )
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert classify(429, b"", "30").retry_after == 30.0


# Payload limits.


def test_fit_leaves_small_payloads_alone():
    assert fit("Title", "Body", {"type": "x"}) == ("Title", "Body")


@pytest.mark.parametrize("limit", [TOKEN_LIMIT, TOPIC_LIMIT])
@pytest.mark.parametrize("character", ["a", "ë", "ђ", "🙂"])
def test_fit_cuts_the_body_to_the_longest_prefix_within_the_limit(limit, character):
    data = {"type": "announcement.published", "announcement_id": "12", "push_key": "3:abc"}
    body = character * 5000
    title, fitted = fit("Njoftim", body, data, limit)
    assert title == "Njoftim"
    assert fitted.endswith("…") and body.startswith(fitted[:-1])
    assert payload_size(title, fitted, data) <= limit
    longer = body[: len(fitted)] + "…"  # one more character of the original
    assert payload_size(title, longer, data) > limit


def test_fit_caps_the_title_and_refuses_data_that_cannot_fit():
    title, body = fit("T" * 300, "b", {})
    assert title == "T" * 200 + "…" and body == "b"
    with pytest.raises(ValueError, match="exceed 2048 bytes"):
        fit("t", "b", {"k": "v" * 3000}, TOPIC_LIMIT)


# The FCM sender against the fake server.


def message(key, token=None, **kwargs):
    kwargs.setdefault("data", {"type": "test"})
    return PushMessage(key=key, title=f"Title {key}", body="Body", token=token, **kwargs)


def test_sends_token_fid_and_topic_messages_with_the_collapse_key_as_tag(fake, fcm_sender):
    results = fcm_sender.send(
        [
            message("1:a", "tok-a", collapse_key="report-1"),
            message("1:b", fid="fid-b"),
            message("7:sq", topic="prishtina-sq"),
        ]
    )
    # Sent concurrently: FCM numbers them in arrival order.
    assert [(r.key, r.outcome, r.error) for r in results] == [
        ("1:a", Outcome.SENT, None),
        ("1:b", Outcome.SENT, None),
        ("7:sq", Outcome.SENT, None),
    ]
    assert sorted(r.message_id for r in results) == [
        f"projects/civic-fake/messages/{n}" for n in (1, 2, 3)
    ]
    by_key = {m["data"]["push_key"]: m for m in fake.accepted}
    assert by_key["1:a"] == {
        "token": "tok-a",
        "data": {"type": "test", "push_key": "1:a"},
        "notification": {"title": "Title 1:a", "body": "Body"},
        "android": {"notification": {"tag": "report-1"}},
        "apns": {"headers": {"apns-collapse-id": "report-1"}},
    }
    # Without a collapse key, the message's own key is the tag.
    assert by_key["1:b"]["android"] == {"notification": {"tag": "1:b"}}
    assert (by_key["1:b"]["fid"], "token" in by_key["1:b"]) == ("fid-b", False)
    assert (by_key["7:sq"]["topic"], "token" in by_key["7:sq"]) == ("prishtina-sq", False)


def test_each_error_is_classified_and_nothing_is_retried_inside_the_sdk(fake, fcm_sender):
    for token, error in [
        ("t-unreg", "unregistered"),
        ("t-invalid", "invalid_token"),
        ("t-mismatch", "sender_id_mismatch"),
        ("t-quota", "quota_exceeded"),
        ("t-exhausted", "resource_exhausted"),
        ("t-503", "unavailable"),
        ("t-500", "internal"),
    ]:
        fake.fail(
            token, error, retry_after="45" if error in ("quota_exceeded", "unavailable") else None
        )
    tokens = [
        "t-unreg",
        "t-invalid",
        "t-mismatch",
        "t-quota",
        "t-exhausted",
        "t-503",
        "t-500",
        "t-ok",
    ]
    # One call each: a 429 would stop the rest of its call.
    results = [r for t in tokens for r in fcm_sender.send([message(t, t)])]
    assert [(r.outcome, r.error, r.retry_after) for r in results] == [
        (Outcome.BAD_TOKEN, "UNREGISTERED", None),
        (Outcome.BAD_TOKEN, "INVALID_ARGUMENT", None),
        (Outcome.BAD_TOKEN, "SENDER_ID_MISMATCH", None),
        (Outcome.THROTTLED, "QUOTA_EXCEEDED", 45.0),
        (Outcome.THROTTLED, "RESOURCE_EXHAUSTED", None),
        (Outcome.RETRY, "UNAVAILABLE", 45.0),
        (Outcome.RETRY, "INTERNAL", None),
        (Outcome.SENT, None, None),
    ]
    # One request each: the SDK's own retries (4 on 500/503, sleeping on Retry-After) are off.
    assert fake.attempts == {t: 1 for t in tokens}
    assert fake.received_keys() == {"t-ok": 1}


def test_a_401_is_auth_at_once_without_refreshing_and_resending(fake, fcm_sender):
    fake.fail("t-ios", "third_party_auth", "third_party_auth", "third_party_auth")
    before = fake.stats()["token_requests"]
    [result] = fcm_sender.send([message("k", "t-ios")])
    assert (result.outcome, result.error) == (Outcome.AUTH, "THIRD_PARTY_AUTH_ERROR")
    # google-auth would refresh the token and send twice more (three requests in one lease).
    assert fake.attempts["t-ios"] == 1
    assert fake.stats()["token_requests"] - before == 0


def test_a_payload_over_the_limit_is_rejected_by_fcm(fake, fcm_sender):
    [result] = fcm_sender.send([message("big", "t-big", data={"text": "x" * 5000})])
    assert (result.outcome, result.error) == (Outcome.REJECTED, "INVALID_ARGUMENT")


def test_a_message_the_sdk_cannot_encode_fails_alone(fake, fcm_sender):
    results = fcm_sender.send([message("ok", "t1"), message("bad", topic="no spaces allowed")])
    assert [(r.key, r.outcome, r.error) for r in results] == [
        ("ok", Outcome.SENT, None),
        ("bad", Outcome.REJECTED, "INVALID_MESSAGE"),
    ]


def test_a_thousand_messages_go_out_on_a_bounded_pool_of_threads(fake, service_account):
    sender = FcmSender(service_account, base_url=fake.url, concurrency=4)
    seen = set()
    fake.slow(0.002)
    original = sender._send_one

    def spy(message, control):
        seen.add(threading.get_ident())
        return original(message, control)

    sender._send_one = spy
    results = sender.send([message(f"k{i}", f"t{i}") for i in range(1001)])
    sender.close()
    assert len(results) == 1001 and all(r.outcome is Outcome.SENT for r in results)
    assert [r.key for r in results] == [f"k{i}" for i in range(1001)]
    assert fake.received_keys() == {f"k{i}": 1 for i in range(1001)}
    assert len(seen) == 4  # send_each would have started 1,001 threads


def test_credentials_come_from_the_fake_token_endpoint_only(fake, service_account, no_network):
    sender = FcmSender(service_account, base_url=fake.url)
    before = fake.stats()["token_requests"]
    sender.check()
    assert sender.send([message("k", "t")])[0].outcome is Outcome.SENT
    sender.close()
    assert fake.stats()["token_requests"] - before == 1
    assert no_network == []


def test_wrong_project_is_an_auth_problem(fake, service_account):
    sender = FcmSender(service_account, project_id="someone-else", base_url=fake.url)
    [result] = sender.send([message("k", "t")])
    sender.close()
    assert (result.outcome, result.error) == (Outcome.AUTH, "PERMISSION_DENIED")


def test_a_key_the_token_endpoint_refuses_is_an_auth_problem(fake, tmp_path):
    info = fake.service_account_info()
    other = type(fake)(fake.project_id)  # same endpoint, a different (unknown) RSA key
    info["private_key"] = other.service_account_info()["private_key"]
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    sender = FcmSender(path, base_url=fake.url)
    [result] = sender.send([message("k", "t")])
    sender.close()
    assert (result.outcome, result.error) == (Outcome.AUTH, "TOKEN_REFRESH_FAILED")
    assert fake.attempts == {}


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "cannot read"),
        ("not json", "cannot read"),
        ('{"type": "authorized_user"}', "not a service-account key"),
        ('{"type": "service_account"}', "no FCM project id"),
        ('{"type": "service_account", "project_id": "p"}', "invalid service-account key"),
    ],
)
def test_bad_credential_files_are_refused_clearly(tmp_path, content, error):
    path = tmp_path / "sa.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CredentialsError, match=error):
        FcmSender(path)


def test_the_network_guard_refuses_other_hosts(no_network):
    with pytest.raises(OSError, match="test network guard"):
        socket.create_connection(("fcm.googleapis.com", 443), timeout=1)
    assert no_network == ["fcm.googleapis.com"]
    no_network.clear()


def test_plain_google_auth_would_call_google_from_a_background_thread(fake, no_network):
    """Why fcm.py subclasses the credentials: google-auth looks up a regional access
    boundary at iamcredentials.googleapis.com after fetching a token."""
    credentials = google_service_account.Credentials.from_service_account_info(
        fake.service_account_info(), scopes=["https://www.googleapis.com/auth/firebase.messaging"]
    )
    AuthorizedSession(credentials).post(
        f"{fake.url}/v1/projects/civic-fake/messages:send", json={"message": {"token": "t"}}
    )
    deadline = time.monotonic() + 5
    while not no_network and time.monotonic() < deadline:
        time.sleep(0.01)
    # The lookup is retried in the background (urllib3, with backoff): wait for quiet.
    seen, quiet_since = len(no_network), time.monotonic()
    while time.monotonic() - quiet_since < 2 and time.monotonic() < deadline + 10:
        time.sleep(0.05)
        if len(no_network) != seen:
            seen, quiet_since = len(no_network), time.monotonic()
    assert no_network and set(no_network) == {"iamcredentials.googleapis.com"}
    no_network.clear()


def test_an_unreachable_token_endpoint_is_transient_and_refused_at_startup(fake, tmp_path):
    info = fake.service_account_info()
    with socket.socket() as closed:  # a local port with nobody listening
        closed.bind(("127.0.0.1", 0))
        info["token_uri"] = f"http://127.0.0.1:{closed.getsockname()[1]}/token"
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    sender = FcmSender(path, base_url=fake.url)
    [result] = sender.send([message("k", "t")])
    assert (result.outcome, result.error) == (Outcome.RETRY, "TOKEN_ENDPOINT_UNAVAILABLE")
    with pytest.raises(CredentialsError, match="cannot reach the token endpoint"):
        sender.check()
    sender.close()
    assert fake.attempts == {}


# Time: every network step is bounded, and a request without an answer is not a failure.


@pytest.fixture
def quick_sender(fake, service_account):
    sender = FcmSender(service_account, base_url=fake.url, timeout=0.5, concurrency=4)
    sender.prepare()
    yield sender
    sender.close()


def test_an_answer_slower_than_the_timeout_is_an_unknown_outcome_not_a_failure(fake, quick_sender):
    fake.slow(2)
    started = time.monotonic()
    [result] = quick_sender.send([message("k", "t")])
    elapsed = time.monotonic() - started
    assert (result.outcome, result.error) == (Outcome.UNKNOWN, "TIMEOUT")
    assert 0.5 <= elapsed < 1.0  # one total timeout, connect to last byte
    assert fake.received_keys() == {"k": 1}  # FCM had it: it may well have been delivered


def test_a_refused_connection_never_reached_fcm_and_is_a_plain_retry(fake, service_account):
    with socket.socket() as closed:  # a local port with nobody listening
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    sender = FcmSender(service_account, base_url=url, timeout=0.5)
    [result] = sender.send([message("k", "t")])
    sender.close()
    assert (result.outcome, result.error) == (Outcome.RETRY, "UNAVAILABLE")


def test_no_request_starts_that_could_end_after_the_deadline(fake, quick_sender):
    fake.slow(0.3)
    control = SendControl(time.monotonic() + 1.2)
    started = time.monotonic()
    results = quick_sender.send([message(f"k{i}", f"t{i}") for i in range(40)], control)
    elapsed = time.monotonic() - started
    outcomes = [r.outcome for r in results]
    # 4 threads, 0.3 s each, a request starts only with 0.5 s (the timeout) left: rounds
    # start at 0, 0.3 and 0.6 s (fewer on a busy machine), none at 0.9 s.
    assert outcomes.count(Outcome.SENT) in (8, 12)
    assert outcomes.count(Outcome.NOT_SENT) == 40 - outcomes.count(Outcome.SENT)
    assert {r.error for r in results if r.outcome is Outcome.NOT_SENT} == {"NOT_STARTED"}
    assert elapsed < 1.2 + 0.1  # the deadline, plus scheduling
    assert len(fake.received_keys()) == outcomes.count(Outcome.SENT)


def test_a_429_stops_new_requests_and_is_announced_once(fake, service_account):
    sender = FcmSender(service_account, base_url=fake.url, concurrency=1)
    fake.throttle(1, retry_after="30")
    heard = []
    control = SendControl(on_pause=heard.append)
    results = sender.send([message(f"k{i}", f"t{i}") for i in range(5)], control)
    sender.close()
    assert [r.outcome for r in results] == [Outcome.THROTTLED] + [Outcome.NOT_SENT] * 4
    assert [(r.key, r.retry_after) for r in heard] == [("k0", 30.0)]
    assert fake.stats()["sends"] == 1


def test_another_workers_pause_stops_new_requests(fake, quick_sender):
    polls = []

    def shared_pause():
        polls.append(1)
        return len(polls) > 3

    results = quick_sender.send(
        [message(f"k{i}", f"t{i}") for i in range(10)], SendControl(shared_pause=shared_pause)
    )
    assert [r.outcome for r in results].count(Outcome.SENT) == 3
    assert fake.stats()["sends"] == 3


def test_a_hanging_token_endpoint_is_given_one_timeout_before_anything_is_sent(
    fake, service_account
):
    sender = FcmSender(service_account, base_url=fake.url, timeout=0.5)
    fake.hang_tokens(30)  # google-auth would wait 120 s per try, three tries
    started = time.monotonic()
    with pytest.raises(NotReady) as refused:
        sender.prepare(60)
    elapsed = time.monotonic() - started
    fake.hang_tokens(0)
    assert (refused.value.outcome, refused.value.error) == (
        Outcome.RETRY,
        "TOKEN_ENDPOINT_UNAVAILABLE",
    )
    assert 0.5 <= elapsed < 1.0
    sender.prepare(60)
    assert sender.send([message("k", "t")])[0].outcome is Outcome.SENT
    sender.close()


def test_prepare_refreshes_a_token_that_would_expire_within_the_lease(fake, service_account):
    sender = FcmSender(service_account, base_url=fake.url, timeout=1)
    fake.token_lifetime(225 + 30)  # google-auth counts it expired 225 s early: 30 s of use
    before = fake.stats()["token_requests"]
    sender.prepare(10)
    sender.prepare(10)  # still good for 10 s: no second request
    assert fake.stats()["token_requests"] - before == 1
    with pytest.raises(NotReady) as refused:
        sender.prepare(60)  # a fresh token cannot cover 60 s either
    assert (refused.value.outcome, refused.value.error) == (Outcome.AUTH, "TOKEN_TOO_SHORT_LIVED")
    fake.token_lifetime(3600)
    sender.close()


def test_a_refresh_the_sdk_attempts_mid_batch_ends_by_the_batch_deadline(fake, service_account):
    sender = FcmSender(service_account, base_url=fake.url, timeout=5)  # token never fetched
    fake.hang_tokens(30)
    started = time.monotonic()
    [result] = sender.send([message("k", "t")], SendControl(time.monotonic() + 5.5))
    elapsed = time.monotonic() - started
    fake.hang_tokens(0)
    sender.close()
    assert (result.outcome, result.error) == (Outcome.RETRY, "TOKEN_ENDPOINT_UNAVAILABLE")
    assert elapsed < 5.5
    assert fake.attempts == {}
