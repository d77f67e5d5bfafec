"""The outbox worker in one process: fan-out, localisation, and what each FCM outcome does.

The worker runs inside the test's rolled-back transaction (SessionEngine) with its clock
and sleep injected, and sends through the real firebase-admin SDK to the fake FCM server.
"""

import json
import logging
import random
import uuid
from datetime import timedelta

import pytest
from push_fixtures import *  # noqa: F403  (fixtures: fake FCM, sender, worker, clock, guard)
from push_fixtures import (
    T0,
    add_announcement,
    add_device,
    count_by_state,
    key,
    messages,
    report_event,
    subscribe,
)
from sqlalchemy import select

from civic_api.categories.models import Category
from civic_api.database import session
from civic_api.outbox.models import OutboxEvent
from civic_api.push import delivery
from civic_api.push.models import Device
from civic_api.push.worker import WorkerSettings, backoff, decide
from notifications import LogSender, NotReady, Outcome, PushResult


def category(code):
    return session.scalar(select(Category).where(Category.code == code))


def test_announcement_reaches_exactly_its_subscribers_once(make_worker, fcm_sender, fake):
    roads = category("roads_potholes")
    everything = add_device("tok-all")
    subscribe(everything)
    roads_only = add_device("tok-roads")
    subscribe(roads_only, categories=["roads_potholes"])
    water_only = add_device("tok-water")
    subscribe(water_only, categories=["water_sewage"])
    both = add_device("tok-both")  # two matching subscriptions, one message
    subscribe(both, categories=["roads_potholes", "water_sewage"])
    elsewhere = add_device("tok-peja")
    subscribe(elsewhere, slug="peja")
    gone = add_device("tok-dead")
    subscribe(gone)
    gone.active, gone.deactivated_at, gone.deactivated_reason = False, T0, "UNREGISTERED"
    announcement, event = add_announcement(category_id=roads.id)

    step = make_worker(fcm_sender).step()

    assert (step.events, step.created, step.claimed) == (1, 3, 3)
    expected = {key(event, d) for d in (everything, roads_only, both)}
    assert {str(m.key) for m in messages()} == expected
    assert {m.state for m in messages()} == {"sent"}
    assert fake.received_keys() == dict.fromkeys(expected, 1)
    session.refresh(event)
    assert event.dispatched_at == T0


def test_a_general_announcement_reaches_category_subscribers_too(make_worker, fcm_sender, fake):
    roads_only = add_device("tok-roads")
    subscribe(roads_only, categories=["roads_potholes"])
    _, event = add_announcement(category_id=None)
    make_worker(fcm_sender).step()
    assert fake.received_keys() == {key(event, roads_only): 1}


def test_fanning_out_an_event_twice_creates_no_second_message(db, clock):
    device = add_device("tok-1")
    subscribe(device)
    _, event = add_announcement()
    db.flush()
    connection = db.connection()
    assert delivery.fan_out(connection, T0) == (1, 1)
    connection.exec_driver_sql("UPDATE outbox_event SET dispatched_at = NULL")
    assert delivery.fan_out(connection, T0) == (1, 0)
    assert len(messages()) == 1


def test_scheduled_events_wait_for_their_time(make_worker, fcm_sender, clock, fake):
    device = add_device("tok-1")
    subscribe(device)
    add_announcement(publish_at=T0 + timedelta(minutes=10))
    worker = make_worker(fcm_sender)
    assert worker.step().idle
    clock.advance(600)
    assert worker.step().claimed == 1
    assert len(fake.accepted) == 1


def test_messages_are_localised_with_deep_link_data(make_worker, fcm_sender, fake):
    for locale in ("sq", "sr", "en"):
        subscribe(add_device(f"tok-{locale}", locale=locale))
    announcement, event = add_announcement(
        title={"sq": "Ndërprerje uji", "en": "Water cut"},
        body={"sq": "Nesër nga ora 8.", "en": "Tomorrow from 8."},
    )
    make_worker(fcm_sender).step()
    by_token = {m["token"]: m for m in fake.accepted}
    assert {t: m["notification"] for t, m in by_token.items()} == {
        "tok-sq": {"title": "Ndërprerje uji", "body": "Nesër nga ora 8."},
        "tok-sr": {"title": "Water cut", "body": "Tomorrow from 8."},  # no sr: English
        "tok-en": {"title": "Water cut", "body": "Tomorrow from 8."},
    }
    device = session.scalar(select(Device).where(Device.fcm_token == "tok-sq"))
    assert by_token["tok-sq"]["data"] == {
        "type": "announcement.published",
        "announcement_id": str(announcement.id),
        "push_key": key(event, device),
    }


def test_a_long_announcement_is_shortened_to_fcms_limit(make_worker, fcm_sender, fake):
    subscribe(add_device("tok-1", locale="sq"))
    add_announcement(body={"sq": "ë" * 5000})
    make_worker(fcm_sender).step()
    [sent] = fake.accepted
    body = sent["notification"]["body"]
    assert body.endswith("…") and 1900 < len(body) < 2040  # two bytes per ë
    assert count_by_state() == {"sent": 1}


def test_report_status_change_reaches_the_linked_devices_only(
    make_worker, fcm_sender, fake, submit
):
    created = submit(description="Someone followed me.").get_json()
    report_id = uuid.UUID(created["id"])
    phone = add_device("tok-reporter", locale="sq")
    from civic_api.push import service as devices

    devices.link_report(phone, report_id, created["follow_up_token"])
    add_device("tok-bystander")
    report_event(report_id, status="in_progress")

    make_worker(fcm_sender).step()

    [sent] = fake.accepted
    assert sent["token"] == "tok-reporter"
    assert sent["notification"] == {
        "title": "Përditësim për raportin tuaj",
        "body": "Statusi tani është: Në proces.",
    }
    assert sent["data"]["type"] == "report.status_changed"
    assert sent["data"]["report_id"] == str(report_id)
    assert sent["data"]["event_id"] == "41" and sent["data"]["status"] == "in_progress"
    assert "followed" not in str(sent) and "commenting" not in str(sent)


def test_report_response_says_only_that_there_is_one(make_worker, fcm_sender, fake, submit):
    created = submit().get_json()
    report_id = uuid.UUID(created["id"])
    from civic_api.push import service as devices

    devices.link_report(add_device("tok-1", locale="sr"), report_id, created["follow_up_token"])
    report_event(report_id, kind="report.response")
    make_worker(fcm_sender).step()
    assert fake.accepted[0]["notification"]["body"] == (
        "Opština je odgovorila na vašu prijavu. Otvorite aplikaciju da pročitate odgovor."
    )


@pytest.mark.parametrize("field", ["withdrawn_at", "expires_at"])
def test_withdrawn_or_expired_announcements_are_not_fanned_out(
    make_worker, fcm_sender, fake, field
):
    subscribe(add_device("tok-1"))
    _, event = add_announcement(publish_at=T0 - timedelta(hours=2), **{field: T0})
    step = make_worker(fcm_sender).step()
    assert (step.events, step.created) == (1, 0)
    session.refresh(event)
    assert event.dispatched_at == T0 and fake.accepted == []


def test_withdrawn_after_fan_out_is_not_sent(db, make_worker, fcm_sender, fake, clock):
    subscribe(add_device("tok-1"))
    announcement, _ = add_announcement()
    db.flush()
    delivery.fan_out(db.connection(), T0)
    announcement.withdrawn_at = T0
    make_worker(fcm_sender).step()
    assert [(m.state, m.last_error) for m in messages()] == [
        ("failed", "ANNOUNCEMENT_WITHDRAWN_OR_EXPIRED")
    ]
    assert fake.attempts == {}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("unregistered", "UNREGISTERED"),
        ("invalid_token", "INVALID_ARGUMENT"),
        ("sender_id_mismatch", "SENDER_ID_MISMATCH"),
    ],
)
def test_a_dead_token_fails_its_message_and_deactivates_the_device(
    make_worker, fcm_sender, fake, error, code
):
    dead = add_device("tok-dead")
    subscribe(dead)
    ok = add_device("tok-ok")
    subscribe(ok)
    fake.fail("tok-dead", error)
    _, first = add_announcement()
    worker = make_worker(fcm_sender)

    worker.step()

    assert [
        (str(m.key), m.state, m.last_error, m.attempts) for m in messages(device_id=dead.id)
    ] == [(key(first, dead), "failed", code, 1)]
    session.refresh(dead)
    assert (dead.active, dead.deactivated_reason, dead.deactivated_at) == (False, code, T0)
    assert fake.received_keys() == {key(first, ok): 1}
    assert worker.step().idle  # never retried
    _, second = add_announcement()
    worker.step()
    assert fake.received_keys() == {key(first, ok): 1, key(second, ok): 1}
    assert fake.attempts["tok-dead"] == 1


def test_pending_messages_of_a_deactivated_device_fail_without_a_send(
    db, make_worker, fcm_sender, fake
):
    device = add_device("tok-1")
    subscribe(device)
    add_announcement()
    db.flush()
    delivery.fan_out(db.connection(), T0)
    device.active, device.deactivated_at, device.deactivated_reason = False, T0, "UNREGISTERED"
    make_worker(fcm_sender).step()
    assert [(m.state, m.last_error) for m in messages()] == [("failed", "DEVICE_INACTIVE")]
    assert fake.attempts == {}


def test_a_token_refreshed_during_the_send_keeps_the_device_active(db, fcm_sender, fake, clock):
    device = add_device("tok-old")
    subscribe(device)
    add_announcement()
    db.flush()
    connection = db.connection()
    delivery.fan_out(connection, T0)
    lease = uuid.uuid4()
    [claimed] = delivery.claim(connection, T0, 10, 60, lease, 8)
    fake.fail("tok-old", "unregistered")
    results = {r.key: r for r in fcm_sender.send([claimed.message])}
    connection.exec_driver_sql("UPDATE push_device SET fcm_token = 'tok-new'")
    decided = decide([claimed], results, WorkerSettings(), random.Random(1))
    delivery.record(connection, T0, lease, decided.decisions, decided.dead_tokens)
    session.refresh(device)
    assert (device.active, device.fcm_token) == (True, "tok-new")


def test_503_backs_off_exponentially_with_jitter_then_dead_letters(
    make_worker, fcm_sender, fake, clock
):
    device = add_device("tok-1")
    subscribe(device)
    _, event = add_announcement()
    fake.fail("tok-1", "unavailable", "unavailable", "internal")
    worker = make_worker(fcm_sender, max_attempts=3, backoff_base=30, backoff_max=3600)
    worker.rng = random.Random(7)
    expected_rng = random.Random(7)

    delays = []
    for attempt in (1, 2):
        worker.step()
        [m] = messages()
        delay = backoff(attempt, 30, 3600, expected_rng)
        assert 15 * 2 ** (attempt - 1) <= delay <= 30 * 2 ** (attempt - 1)
        assert (m.state, m.attempts, m.last_error) == ("pending", attempt, "UNAVAILABLE")
        assert m.next_attempt_at == clock() + timedelta(seconds=delay)
        delays.append(delay)
        assert worker.step().idle  # not due before its time
        clock.current = m.next_attempt_at
    worker.step()
    [m] = messages()
    assert (m.state, m.attempts, m.last_error) == ("dead", 3, "INTERNAL after 3 attempts")
    assert fake.attempts == {"tok-1": 3}
    assert worker.step().idle


def test_backoff_is_capped_and_jittered():
    rng = random.Random(3)
    values = [backoff(20, 30, 3600, rng) for _ in range(200)]
    assert min(values) >= 1800 and max(values) <= 3600 and len(set(values)) == 200


def test_a_503_retry_after_longer_than_the_backoff_is_honoured(make_worker, fcm_sender, fake):
    subscribe(add_device("tok-1"))
    add_announcement()
    fake.fail("tok-1", "unavailable", retry_after="900")
    worker = make_worker(fcm_sender)
    worker.step()
    [m] = messages()
    assert m.next_attempt_at == T0 + timedelta(seconds=900)


@pytest.mark.parametrize(("retry_after", "pause"), [("120", 120.0), (None, 60.0), ("5", 5.0)])
def test_429_honours_retry_after_and_slows_the_whole_worker(
    make_worker, fcm_sender, fake, clock, retry_after, pause
):
    for i in range(4):
        subscribe(add_device(f"tok-{i}"))
    add_announcement()
    fake.throttle(2, retry_after=retry_after)  # project-wide: plain RESOURCE_EXHAUSTED
    worker = make_worker(fcm_sender, batch_size=4)

    worker.step()

    # Two 429s; the other two sent, unless a 429 came back before they started (not sent).
    states = count_by_state()
    assert states["pending"] >= 2 and states["pending"] + states.get("sent", 0) == 4
    throttled = [m for m in messages() if m.state == "pending"]
    assert {(m.attempts, m.last_error) for m in throttled} == {(0, "RESOURCE_EXHAUSTED")}
    assert {m.next_attempt_at for m in throttled} == {T0 + timedelta(seconds=pause)}
    assert worker.paused_until == T0 + timedelta(seconds=pause)
    assert worker.batch_size == 2  # halved; it grows back after clean batches

    worker.run(until_idle=True)

    assert clock.sleeps == [pause]  # waited out the pause before the next claim
    assert count_by_state() == {"sent": 4}
    assert worker.batch_size == 4
    assert sorted(fake.received_keys().values()) == [1, 1, 1, 1]


def test_third_party_auth_error_pauses_the_worker_and_alerts(
    make_worker, fcm_sender, fake, clock, caplog
):
    subscribe(add_device("tok-ios", platform="ios"))
    add_announcement()
    fake.fail("tok-ios", "third_party_auth")
    worker = make_worker(fcm_sender, auth_pause=300)
    with caplog.at_level(logging.CRITICAL, logger="civic_api.push.worker"):
        worker.step()
    [m] = messages()
    assert (m.state, m.attempts, m.last_error) == ("pending", 0, "THIRD_PARTY_AUTH_ERROR")
    assert m.next_attempt_at == T0 + timedelta(seconds=300)
    assert worker.paused_until == T0 + timedelta(seconds=300)
    [alert] = caplog.records
    assert alert.getMessage().startswith(
        "ALERT: FCM refused our credentials (THIRD_PARTY_AUTH_ERROR)"
    )
    worker.run(until_idle=True)
    assert clock.sleeps == [300]
    assert [m.state for m in messages()] == ["sent"]


def test_the_log_transport_marks_messages_delivered_to_log(make_worker, caplog):
    subscribe(add_device("secret-token-value"))
    add_announcement()
    with caplog.at_level(logging.INFO):
        make_worker(LogSender()).step()
    assert [m.state for m in messages()] == ["delivered_to_log"]
    assert "secret-token-value" not in caplog.text
    assert "push (log transport)" in caplog.text


def test_a_crashed_workers_batch_returns_after_its_lease_and_stale_writes_are_ignored(
    db, make_worker, fcm_sender, fake, clock
):
    subscribe(add_device("tok-1"))
    add_announcement()
    db.flush()
    connection = db.connection()
    delivery.fan_out(connection, T0)
    crashed = uuid.uuid4()
    [claimed] = delivery.claim(connection, T0, 10, 60, crashed, 8)  # ...and the worker died
    worker = make_worker(fcm_sender, lease_seconds=60)

    clock.advance(59)
    assert worker.step().idle
    clock.advance(1)
    assert worker.step().claimed == 1
    [m] = messages()
    # The second send counts as one that may repeat an unanswered first.
    assert (m.state, m.attempts, m.unanswered) == ("sent", 2, 1)
    # The crashed worker's late write changes nothing: its lease is gone.
    stale = delivery.Decision(claimed.id, "dead", "late")
    assert delivery.record(connection, clock(), crashed, [stale]) == set()
    assert [m.state for m in messages()] == ["sent"]


def test_decide_gives_back_the_attempt_on_throttling_only():
    settings = WorkerSettings(max_attempts=2)
    claimed = [
        delivery.Claimed(
            i,
            f"k{i}",
            "announcement.published",
            2,
            uuid.uuid4(),
            None,
            1,
            token="t",
            message=object(),
        )
        for i in range(3)
    ]
    results = {
        "k0": PushResult("k0", Outcome.THROTTLED, "QUOTA_EXCEEDED", 30.0),
        "k1": PushResult("k1", Outcome.RETRY, "UNAVAILABLE"),
        "k2": PushResult("k2", Outcome.REJECTED, "INVALID_ARGUMENT"),
    }
    for item in claimed:
        item.message = object()  # sendable
    decided = decide(claimed, results, settings, random.Random(0))
    assert decided.decisions == [
        delivery.Decision(0, "pending", "QUOTA_EXCEEDED", 30.0, attempts_delta=-1),
        delivery.Decision(1, "dead", "UNAVAILABLE after 2 attempts"),
        delivery.Decision(2, "failed", "INVALID_ARGUMENT"),
    ]
    assert decided.pause.seconds == 30.0 and decided.pause.throttled


def test_stats_and_requeue_of_dead_letters(db, make_worker, fcm_sender, fake, clock):
    devices = [add_device(f"tok-{i}") for i in range(4)]
    for device in devices:
        subscribe(device)
    announcement, _ = add_announcement()
    fake.fail("tok-0", "unregistered")
    fake.fail("tok-1", "unavailable")
    worker = make_worker(fcm_sender, max_attempts=1)
    worker.step()
    db.flush()
    connection = db.connection()
    assert delivery.stats(connection, announcement_id=announcement.id) == {
        "total": 4,
        "by_state": {
            "pending": 0,
            "sent": 2,
            "failed": 1,
            "dead": 1,
            "delivered_to_log": 0,
            "unknown": 0,
            "superseded": 0,
        },
        "errors": {"UNREGISTERED": 1, "UNAVAILABLE after 1 attempts": 1},
        "may_have_arrived": 0,
    }
    assert delivery.stats(connection, announcement_id=announcement.id + 1)["total"] == 0

    assert delivery.requeue_dead(connection, clock(), announcement_id=announcement.id) == (1, 0)
    [requeued] = [m for m in messages() if m.device_id == devices[1].id]
    assert (requeued.state, requeued.attempts) == ("pending", 0)
    worker.step()
    assert delivery.stats(connection, announcement_id=announcement.id)["by_state"]["sent"] == 3
    assert fake.received_keys()[str(requeued.key)] == 1


def test_two_claims_never_share_a_message(db, clock):
    for i in range(10):
        subscribe(add_device(f"tok-{i}"))
    add_announcement()
    db.flush()
    connection = db.connection()
    delivery.fan_out(connection, T0)
    first = delivery.claim(connection, T0, 6, 60, uuid.uuid4(), 8)
    second = delivery.claim(connection, T0, 6, 60, uuid.uuid4(), 8)
    assert (len(first), len(second)) == (6, 4)
    assert not {c.id for c in first} & {c.id for c in second}
    assert delivery.claim(connection, T0, 6, 60, uuid.uuid4(), 8) == []


def test_outbox_events_of_other_kinds_leave_no_trace_when_nobody_follows(
    make_worker, fcm_sender, submit
):
    created = submit().get_json()
    event = report_event(uuid.UUID(created["id"]))
    step = make_worker(fcm_sender).step()
    assert (step.events, step.created, step.claimed) == (1, 0, 0)
    assert session.scalar(select(OutboxEvent.dispatched_at).where(OutboxEvent.id == event.id)) == T0


# The command: which transport, and a clear refusal of bad credentials at startup.


def run_command(app, caplog, **config):
    saved = {k: app.config[k] for k in config}
    app.config.update(config)
    try:
        with caplog.at_level(logging.INFO, logger="civic_api.push.worker"):
            return app.test_cli_runner().invoke(args=["notifications", "worker", "--once"])
    finally:
        app.config.update(saved)


def test_without_credentials_the_worker_says_it_only_logs(app, caplog, monkeypatch):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    result = run_command(app, caplog, PUSH_FCM_CREDENTIALS=None)
    assert result.exit_code == 0, result.output
    assert caplog.messages[0] == (
        "push: no FCM credentials (CIVIC_PUSH_FCM_CREDENTIALS or "
        "GOOGLE_APPLICATION_CREDENTIALS); using the log transport: messages are logged "
        "and marked delivered_to_log, not sent to phones"
    )


def test_with_credentials_the_worker_sends_through_fcm(
    app, caplog, fake, service_account, monkeypatch
):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account))
    result = run_command(app, caplog, PUSH_FCM_CREDENTIALS=None, PUSH_FCM_BASE_URL=fake.url)
    assert result.exit_code == 0, result.output
    assert caplog.messages[0] == f"push: sending through FCM, project civic-fake at {fake.url}"
    assert fake.stats()["token_requests"] >= 1


def test_refused_credentials_stop_the_worker_at_startup(app, caplog, fake, tmp_path):
    info = fake.service_account_info()
    info["client_email"] = "someone-else@civic-fake.iam.gserviceaccount.com"
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(info))
    result = run_command(app, caplog, PUSH_FCM_CREDENTIALS=str(key), PUSH_FCM_BASE_URL=fake.url)
    assert result.exit_code == 1
    assert result.output == (
        "Error: push worker: the token endpoint refused the key: "
        "invalid_grant: Invalid JWT Signature.\n"
    )
    result = run_command(app, caplog, PUSH_FCM_CREDENTIALS=str(tmp_path / "missing.json"))
    assert result.exit_code == 1 and "cannot read the FCM service-account file" in result.output


# Delivery that never multiplies (issue 14).


def followed_report(submit, token="tok-1"):
    created = submit().get_json()
    report_id = uuid.UUID(created["id"])
    from civic_api.push import service as devices

    phone = add_device(token)
    devices.link_report(phone, report_id, created["follow_up_token"])
    return report_id, phone


def test_a_newer_status_supersedes_the_unsent_older_one(make_worker, fcm_sender, fake, submit):
    report_id, phone = followed_report(submit)
    report_event(report_id, status="acknowledged")
    report_event(report_id, status="resolved")
    report_event(report_id, kind="report.response")
    make_worker(fcm_sender).run(until_idle=True)
    assert [(m.kind, m.payload["status"], m.state) for m in messages()] == [
        ("report.status_changed", "acknowledged", "superseded"),
        ("report.status_changed", "resolved", "sent"),
        ("report.response", "in_progress", "sent"),  # not a status: not superseded
    ]
    tags = {
        m["data"]["type"]: (m["android"]["notification"]["tag"], m["apns"]["headers"])
        for m in fake.accepted
    }
    assert tags == {
        "report.status_changed": (
            f"report-{report_id}",
            {"apns-collapse-id": f"report-{report_id}"},
        ),
        "report.response": (
            f"response-{report_id}",
            {"apns-collapse-id": f"response-{report_id}"},
        ),
    }


@pytest.mark.parametrize(
    "state, error, delay, older_after",
    [
        ("sent", None, None, "sent"),
        # To be retried: superseded. Before, the newer waited behind every retry (hours).
        ("pending", "UNAVAILABLE", 30, "superseded"),
    ],
)
def test_an_older_status_in_flight_holds_the_newer_back_until_recorded(
    db, clock, submit, state, error, delay, older_after
):
    report_id, phone = followed_report(submit)
    report_event(report_id, status="acknowledged")
    db.flush()
    connection = db.connection()
    delivery.fan_out(connection, T0)
    lease = uuid.uuid4()
    [older] = delivery.claim(connection, T0, 10, 60, lease, 8)  # being sent now
    report_event(report_id, status="resolved")
    db.flush()
    delivery.fan_out(connection, T0)
    # Not superseded (it may be on its way) and the newer cannot overtake it.
    assert [m.state for m in messages()] == ["pending", "pending"]
    assert delivery.claim(connection, T0, 10, 60, uuid.uuid4(), 8) == []
    decision = delivery.Decision(older.id, state, error, delay)
    assert delivery.record(connection, T0, lease, [decision]) == {older.id}
    assert [m.state for m in messages()] == [older_after, "pending"]
    [newer] = delivery.claim(connection, T0, 10, 60, uuid.uuid4(), 8)
    assert newer.payload["status"] == "resolved"


def test_an_older_status_fanned_out_after_the_newer_is_stored_superseded(db, submit):
    report_id, phone = followed_report(submit)
    older = report_event(report_id, status="acknowledged", available_at=T0 + timedelta(hours=1))
    report_event(report_id, status="resolved")
    db.flush()
    connection = db.connection()
    delivery.fan_out(connection, T0)  # the newer only: the older is not available yet
    delivery.fan_out(connection, T0 + timedelta(hours=1))
    assert {m.event_id: m.state for m in messages()}[older.id] == "superseded"


def test_a_dead_older_status_requeued_after_the_newer_is_superseded_not_sent(
    db, make_worker, fcm_sender, fake, clock, submit
):
    """Before: staff requeued the dead "acknowledged" after "resolved" had gone out, and the
    phone's notification went back to "acknowledged"."""
    report_id, phone = followed_report(submit)
    report_event(report_id, status="acknowledged")
    fake.fail("tok-1", "unavailable")
    worker = make_worker(fcm_sender, max_attempts=1)
    worker.step()  # its only attempt: UNAVAILABLE, dead
    report_event(report_id, status="resolved")
    worker.run(until_idle=True)
    connection = db.connection()
    assert delivery.requeue_dead(connection, clock(), report_id=report_id) == (0, 0)
    worker.run(until_idle=True)
    assert [m["data"]["status"] for m in fake.accepted] == ["resolved"]
    assert [(m.payload["status"], m.state, m.last_error) for m in messages()] == [
        ("acknowledged", "superseded", "UNAVAILABLE after 1 attempts"),
        ("resolved", "sent", None),
    ]


def test_a_claim_never_exceeds_max_attempts_and_lost_leases_end_unknown(db, clock):
    subscribe(add_device("tok-1"))
    subscribe(add_device("tok-2"))
    add_announcement()
    db.flush()
    connection = db.connection()
    delivery.fan_out(connection, T0)
    connection.exec_driver_sql(
        "UPDATE push_message SET attempts = 2, last_error = 'UNAVAILABLE' "
        "WHERE device_id = (SELECT id FROM push_device WHERE fcm_token = 'tok-1')"
    )
    [second] = delivery.claim(connection, T0, 10, 60, uuid.uuid4(), 2)
    [exhausted] = messages(state="dead")
    assert (exhausted.attempts, exhausted.last_error) == (2, "UNAVAILABLE after 2 attempts")
    assert second.attempts == 1
    # Its worker dies twice: the second lost lease would make a third copy possible.
    later = T0 + timedelta(seconds=61)
    [again] = delivery.claim(connection, later, 10, 60, uuid.uuid4(), 2)
    assert (again.attempts, again.unanswered) == (2, 1)
    assert delivery.claim(connection, later + timedelta(seconds=61), 10, 60, uuid.uuid4(), 2) == []
    [unknown] = messages(state="unknown")
    assert (unknown.attempts, unknown.unanswered, unknown.last_error) == (
        2,
        2,
        "NO_ANSWER after 2 attempts",
    )


def test_a_lost_lease_is_logged_and_not_counted_as_sent(make_worker, clock, caplog):
    subscribe(add_device("tok-1"))
    subscribe(add_device("tok-2"))
    add_announcement()

    class Slow(LogSender):
        def send(self, messages, control=None):
            # Another worker takes over one row while we send (our lease ran out).
            session.connection().exec_driver_sql(
                "UPDATE push_message SET lease_id = gen_random_uuid() WHERE id = "
                "(SELECT min(id) FROM push_message)"
            )
            return super().send(messages, control)

    worker = make_worker(Slow())
    with caplog.at_level(logging.INFO, logger="civic_api.push.worker"):
        step = worker.step()
    assert step.counts == {"delivered_to_log": 1, "lease_lost": 1}
    assert "push lease lost for 1 of 2 messages" in caplog.text
    assert "push batch of 2: 1 delivered_to_log, 1 lease_lost" in caplog.text


def test_a_timed_out_send_is_retried_once_then_unknown_never_dead(
    make_worker, fcm_sender, fake, clock, db
):
    subscribe(add_device("tok-1"))
    announcement, _ = add_announcement()
    worker = make_worker(fcm_sender, max_attempts=8)
    claimed_results = iter(["TIMEOUT", "TIMEOUT"])

    class NoAnswer:
        def send(self, messages, control=None):
            fcm_sender.send(messages, control)  # FCM gets it...
            error = next(claimed_results)
            return [PushResult(m.key, Outcome.UNKNOWN, error) for m in messages]  # ...no answer

    worker.sender = NoAnswer()
    worker.step()
    [m] = messages()
    assert (m.state, m.attempts, m.unanswered, m.last_error) == ("pending", 1, 1, "TIMEOUT")
    clock.advance(3600)
    worker.step()
    [m] = messages()
    assert (m.state, m.attempts, m.unanswered) == ("unknown", 2, 2)
    assert m.last_error == "TIMEOUT: 2 sends without an answer, may have arrived"
    assert fake.received_keys() == {str(m.key): 2}
    stats = delivery.stats(db.connection(), announcement_id=announcement.id)
    assert (stats["by_state"]["unknown"], stats["errors"], stats["may_have_arrived"]) == (1, {}, 1)
    assert delivery.requeue_dead(db.connection(), clock(), announcement_id=announcement.id) == (
        0,
        0,
    )


def test_requeue_says_how_many_may_already_have_arrived(db, clock):
    for i in range(3):
        subscribe(add_device(f"tok-{i}"))
    announcement, _ = add_announcement()
    db.flush()
    connection = db.connection()
    delivery.fan_out(connection, T0)
    connection.exec_driver_sql("UPDATE push_message SET state = 'dead', attempts = 8")
    connection.exec_driver_sql(
        "UPDATE push_message SET unanswered = 1 WHERE id = (SELECT min(id) FROM push_message)"
    )
    assert delivery.requeue_dead(connection, T0, announcement_id=announcement.id) == (3, 1)


def test_a_429_pauses_every_worker_through_the_database(make_worker, fcm_sender, fake, clock):
    for i in range(3):
        subscribe(add_device(f"tok-{i}"))
    add_announcement()
    fake.throttle(1, retry_after="120")
    first, second = make_worker(fcm_sender, batch_size=1), make_worker(fcm_sender, batch_size=1)
    first.step()
    step = second.step()
    assert (step.claimed, step.paused) == (0, True)
    assert second.paused_until == T0 + timedelta(seconds=120)
    assert fake.stats()["sends"] == 1
    clock.advance(120)
    second.run(until_idle=True)
    assert count_by_state() == {"sent": 3}


def test_an_unready_sender_claims_nothing(make_worker, clock):
    subscribe(add_device("tok-1"))
    add_announcement()

    class NoToken(LogSender):
        def prepare(self, valid_for):
            raise NotReady(Outcome.RETRY, "TOKEN_ENDPOINT_UNAVAILABLE")

    worker = make_worker(NoToken(), fcm_timeout=10)
    step = worker.step()
    assert (step.claimed, step.paused, worker.paused_until) == (
        0,
        True,
        T0 + timedelta(seconds=10),
    )
    assert [(m.attempts, m.lease_id) for m in messages()] == [(0, None)]
    worker.run(until_idle=True)  # `--once` gives up instead of retrying forever
    assert clock.sleeps == [10]


def test_settings_that_could_outlive_a_lease_are_refused_at_startup(app, caplog, fake):
    assert WorkerSettings().problems() == []
    result = run_command(app, caplog, PUSH_LEASE_SECONDS=5, PUSH_FCM_TIMEOUT_SECONDS=10)
    assert result.exit_code == 1
    assert result.output == (
        "Error: push worker: PUSH_LEASE_SECONDS (5) cannot cover two FCM requests "
        "(PUSH_FCM_TIMEOUT_SECONDS 10 each) plus the time kept to record them "
        "(PUSH_LEASE_MARGIN_SECONDS 5): make it at least 25\n"
    )
    assert fake.stats()["sends"] == 0


def test_deleting_a_device_deletes_its_messages_and_logs_never_name_it(make_worker, caplog, submit):
    report_id, phone = followed_report(submit, token="tok-gone")
    report_event(report_id)
    with caplog.at_level(logging.INFO):
        make_worker(LogSender()).step()
    assert str(phone.id) not in caplog.text
    assert [m.state for m in messages()] == ["delivered_to_log"]
    from civic_api.push import service as devices

    devices.delete_device(phone)
    assert messages() == []
