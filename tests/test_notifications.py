"""notifications/: the log sender, error classification, payload limits, and the FCM sender
driving the real firebase-admin SDK against the fake FCM server."""

import json
import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fake_fcm import ERRORS
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account as google_service_account
from push_fixtures import *  # noqa: F403  (fixtures: fake FCM, sender, network guard)

from notifications import LogSender, Outcome, PushMessage, PushResult
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


def test_sends_token_fid_and_topic_messages_with_the_key_as_tag(fake, fcm_sender):
    results = fcm_sender.send(
        [
            message("1:a", "tok-a"),
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
        "android": {"notification": {"tag": "1:a"}},
        "apns": {"headers": {"apns-collapse-id": "1:a"}},
    }
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
    results = fcm_sender.send([message(t, t) for t in tokens])
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


def test_third_party_auth_error_is_auth_after_the_sdks_token_refreshes(fake, fcm_sender):
    fake.fail("t-ios", "third_party_auth", "third_party_auth", "third_party_auth")
    before = fake.stats()["token_requests"]
    [result] = fcm_sender.send([message("k", "t-ios")])
    assert (result.outcome, result.error) == (Outcome.AUTH, "THIRD_PARTY_AUTH_ERROR")
    # google-auth refreshes the access token twice on a 401 before giving up.
    assert fake.attempts["t-ios"] == 3
    assert fake.stats()["token_requests"] - before == 2


def test_a_payload_over_the_limit_is_rejected_by_fcm(fake, fcm_sender):
    [result] = fcm_sender.send([message("big", "t-big", data={"text": "x" * 5000})])
    assert (result.outcome, result.error) == (Outcome.REJECTED, "INVALID_ARGUMENT")


def test_a_message_the_sdk_cannot_encode_fails_alone(fake, fcm_sender):
    results = fcm_sender.send([message("ok", "t1"), message("bad", topic="no spaces allowed")])
    assert [(r.key, r.outcome, r.error) for r in results] == [
        ("ok", Outcome.SENT, None),
        ("bad", Outcome.REJECTED, "INVALID_MESSAGE"),
    ]


def test_more_than_500_messages_go_in_calls_of_500(fake, fcm_sender):
    results = fcm_sender.send([message(f"k{i}", f"t{i}") for i in range(1001)])
    assert len(results) == 1001 and all(r.outcome is Outcome.SENT for r in results)
    assert fake.received_keys() == {f"k{i}": 1 for i in range(1001)}


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
