"""Real worker processes (`flask notifications worker`) on committed data, against the fake
FCM with faults injected, each asserting the documented bound on copies per device
(docs/push.md): none extra without a kill, at most the killed worker's batch with one, at
most one extra when FCM answers later than the timeout and the lease. (A lease too
short for the timeout is refused at startup: tests/test_push_worker.py.)

These tests commit into the session's test database and delete what they wrote afterwards.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from push_fixtures import *  # noqa: F403  (fixtures: fake FCM, service account)
from sqlalchemy import text

from civic_api.database import make_engine
from civic_api.push.delivery import fan_out
from civic_api.push.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).with_name("flask"))


@pytest.fixture
def committed(database_url):
    """An engine on the test database; afterwards, every push row and our announcements go."""
    engine = make_engine(database_url)
    created = {"announcements": [], "reports": []}
    yield engine, created
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM push_message"))
        connection.execute(text("DELETE FROM push_device"))
        connection.execute(
            text("DELETE FROM announcement WHERE id = ANY(:ids)"),
            {"ids": created["announcements"]},
        )
        connection.execute(
            text("DELETE FROM report WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": created["reports"]},
        )
        connection.execute(text("UPDATE push_throttle SET paused_until = 'epoch', reason = ''"))
    engine.dispose()


def add_audience(engine, created, devices: int) -> int:
    """`devices` devices subscribed to Prishtina and one announcement due now; its event id."""
    with engine.begin() as connection:
        municipality = connection.scalar(
            text("SELECT id FROM municipality WHERE slug = 'prishtina'")
        )
        rows = [{"id": str(uuid.uuid4()), "token": f"proc-token-{n:05d}"} for n in range(devices)]
        connection.execute(
            text(
                "INSERT INTO push_device (id, secret_hash, fcm_token, platform, locale) "
                "SELECT CAST(r->>'id' AS uuid), decode('00', 'hex'), r->>'token', 'android', 'sq' "
                "FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r"
            ),
            {"rows": json.dumps(rows)},
        )
        connection.execute(
            text(
                "INSERT INTO push_subscription (device_id, municipality_id) "
                "SELECT id, :m FROM push_device WHERE fcm_token LIKE 'proc-token-%'"
            ),
            {"m": municipality},
        )
        announcement = connection.scalar(
            text(
                "INSERT INTO announcement (municipality_id, title, body, publish_at) "
                "VALUES (:m, CAST(:title AS jsonb), CAST(:body AS jsonb), now()) RETURNING id"
            ),
            {"m": municipality, "title": '{"sq": "Njoftim"}', "body": '{"sq": "Tekst"}'},
        )
        created["announcements"].append(announcement)
        return connection.scalar(
            text(
                "INSERT INTO outbox_event (kind, announcement_id, available_at) "
                "VALUES ('announcement.published', :a, now()) RETURNING id"
            ),
            {"a": announcement},
        )


# Short enough for tests, in the proportions the worker requires (lease ≥ timeout + margin).
QUICK = {"LEASE_SECONDS": 2.5, "FCM_TIMEOUT_SECONDS": 1, "LEASE_MARGIN_SECONDS": 0.5}


class WorkerProcess:
    """`flask notifications worker` in its own process, its log collected line by line.
    `settings` are CIVIC_PUSH_* overrides."""

    def __init__(self, database_url, fake, service_account, batch_size=50, **settings):
        env = os.environ | {
            "DATABASE_URL": database_url,
            "CIVIC_SECRET_KEY": "test-secret-not-for-production",
            "CIVIC_PUSH_FCM_CREDENTIALS": str(service_account),
            "CIVIC_PUSH_FCM_BASE_URL": fake.url,
            "CIVIC_PUSH_IDLE_SECONDS": "0.05",
        }
        env |= {f"CIVIC_PUSH_{name}": str(value) for name, value in (QUICK | settings).items()}
        env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
        self.process = subprocess.Popen(
            [FLASK, "--app", "wsgi", "notifications", "worker", "--batch-size", str(batch_size)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line.rstrip())

    def wait_for(self, fragment: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(fragment in line for line in self.lines):
            assert self.process.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, "\n".join(self.lines)
            time.sleep(0.02)

    def batches(self) -> int:
        return sum("push batch of" in line for line in self.lines)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process.poll() is None:
            # A worker still importing the app has no SIGTERM handler yet (on a loaded machine
            # the other worker may have done all the work by then): wait until it has started.
            self.wait_for("started (batches of", timeout=60)
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(20)
        self._reader.join(5)
        return code


def states(engine) -> dict:
    with engine.connect() as connection:
        return dict(
            connection.execute(
                text("SELECT state, count(*) FROM push_message GROUP BY state")
            ).all()
        )


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_worker_killed_mid_batch_loses_nothing(committed, database_url, fake, service_account):
    engine, created = committed
    event = add_audience(engine, created, 400)
    fake.hold_after(120)  # batches 1 and 2 answered; batch 3: 20 answered, 30 never answered
    first = WorkerProcess(database_url, fake, service_account, batch_size=50)
    try:
        wait_until(lambda: fake.stats()["sends"] >= 150)
        first.kill()  # mid-batch: FCM has all 50 of batch 3, the database knows of none
    finally:
        first.stop()
    with engine.connect() as connection:
        in_flight = set(
            connection.scalars(
                text(
                    "SELECT CAST(key AS text) FROM push_message "
                    "WHERE state = 'pending' AND attempts = 1"
                )
            )
        )
    assert states(engine) == {"sent": 100, "pending": 300}
    assert len(in_flight) == 50
    accepted_before = set(fake.received_keys())
    assert in_flight <= accepted_before and len(accepted_before) == 150
    fake.release()

    second = WorkerProcess(database_url, fake, service_account, batch_size=50)
    try:
        wait_until(lambda: states(engine) == {"sent": 400})
    finally:
        assert second.stop() == 0
    received = fake.received_keys()
    with engine.connect() as connection:
        keys = set(connection.scalars(text("SELECT CAST(key AS text) FROM push_message")))
        targets = set(connection.execute(text("SELECT event_id, device_id FROM push_message")))
    assert targets == {(event, device) for device in _device_ids(engine)}
    assert set(received) == keys  # every message delivered
    # Twice only inside the documented window: sent, but the outcome never recorded.
    assert {k for k, n in received.items() if n > 1} == in_flight
    assert max(received.values()) == 2
    with engine.connect() as connection:
        resent = dict(
            connection.execute(text("SELECT CAST(key AS text), unanswered FROM push_message")).all()
        )
    assert {k for k, n in resent.items() if n == 1} == in_flight  # counted as unanswered
    assert "stopped" in second.lines[-1]


def _device_ids(engine):
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT id FROM push_device")))


def test_two_workers_at_once_never_send_a_message_twice(
    committed, database_url, fake, service_account
):
    engine, created = committed
    workers = [WorkerProcess(database_url, fake, service_account, batch_size=100) for _ in range(2)]
    try:
        for worker in workers:
            worker.wait_for("push worker")  # both polling before there is any work
        add_audience(engine, created, 2000)
        wait_until(lambda: states(engine) == {"sent": 2000}, timeout=90)
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0]
    received = fake.received_keys()
    assert len(received) == 2000 and set(received.values()) == {1}
    assert fake.stats()["sends"] == 2000
    batches = [worker.batches() for worker in workers]
    # 2,000 messages in batches of at most 100 (one may be partial while fan-out runs).
    assert sum(batches) >= 20 and min(batches) > 0  # both took part


def copies(fake) -> list[int]:
    return sorted(fake.received_keys().values())


def test_fcm_slower_than_the_timeout_and_the_lease_sends_at_most_one_extra_copy(
    committed, database_url, fake, service_account
):
    """The issue's run: answers slower than the lease (here 3 s against 2.5 s), two workers,
    50 devices. Before: 62 copies each, attempts 62 with a maximum of 8."""
    engine, created = committed
    fake.slow(3)
    workers = [
        WorkerProcess(database_url, fake, service_account, batch_size=25, BACKOFF_BASE_SECONDS=0.2)
        for _ in range(2)
    ]
    try:
        add_audience(engine, created, 50)
        wait_until(lambda: states(engine) == {"unknown": 50}, timeout=60)
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0]
    assert copies(fake) == [2] * 50  # FCM had each twice; it never got a third
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT attempts, unanswered, last_error FROM push_message")
        ).all()
    assert set(rows) == {(2, 2, "TIMEOUT: 2 sends without an answer, may have arrived")}
    logs = [line for worker in workers for line in worker.lines]
    assert not any(" sent" in line for line in logs if "push batch of" in line)
    assert not any("lease lost" in line for line in logs)


def test_a_hanging_token_endpoint_delays_sending_but_never_duplicates(
    committed, database_url, fake, service_account
):
    """The issue's run, scaled down (lease 2.5 s, timeout 1 s): a token request hanging for
    twice the lease. Before: the batch was claimed first, its refresh waited up to 120 s,
    the other worker reclaimed it, and both sent it."""
    engine, created = committed
    fake.token_lifetime(225 + 3)  # google-auth uses a token until 225 s before it expires
    workers = [WorkerProcess(database_url, fake, service_account, batch_size=50) for _ in range(2)]
    try:
        for worker in workers:
            worker.wait_for("push worker")
        fake.hang_tokens(5)  # twice the lease
        add_audience(engine, created, 200)
        wait_until(
            lambda: all(
                any("TOKEN_ENDPOINT_UNAVAILABLE" in line for line in w.lines) for w in workers
            )
        )
        fake.hang_tokens(0)
        wait_until(lambda: states(engine) == {"sent": 200}, timeout=60)
    finally:
        fake.token_lifetime(3600)
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0]
    assert copies(fake) == [1] * 200
    assert not any("lease lost" in line for worker in workers for line in worker.lines)


def test_a_429_pauses_every_worker_through_the_database(
    committed, database_url, fake, service_account
):
    """Before: after one worker's 429 with Retry-After, the other sent 500 more requests."""
    engine, created = committed
    workers = [
        WorkerProcess(database_url, fake, service_account, batch_size=100, FCM_CONCURRENCY=8)
        for _ in range(2)
    ]
    try:
        for worker in workers:
            worker.wait_for("push worker")
        fake.throttle(10_000, retry_after="3")
        add_audience(engine, created, 400)
        wait_until(lambda: fake.stats()["sends"] > 0)
        time.sleep(2.5)
        during = list(fake.arrivals)
        fake.throttle(0)
        wait_until(lambda: states(engine) == {"sent": 400}, timeout=60)
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0]
    first = during[0][0]
    # What was in flight in both workers (8 threads each), and what the second started
    # before its next poll of the shared pause (every 50 ms); nothing else until Retry-After
    # ended. Before, both sent their whole batch: 200 requests.
    assert len(during) < 100, len(during)
    assert all(at - first < 1.0 for at, _, _ in during)
    assert {status for _, _, status in during} == {429}
    assert copies(fake) == [1] * 400
    assert any("every worker pauses 3 s" in line for w in workers for line in w.lines)


def add_followed_reports(engine, created, count: int) -> list[tuple[str, str]]:
    """`count` reports, each followed by one new device; [(report id, device id)]."""
    pairs = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(count)]
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO report (id, category_id, municipality_id, location, occurred_at, "
                "follow_up_token_hash) "
                "SELECT CAST(p->>0 AS uuid), c.id, m.id, "
                "ST_SetSRID(ST_MakePoint(21.1655, 42.6629), 4326), now(), decode('00', 'hex') "
                "FROM jsonb_array_elements(CAST(:pairs AS jsonb)) AS p, "
                "(SELECT id FROM category ORDER BY id LIMIT 1) AS c, "
                "(SELECT id FROM municipality WHERE slug = 'prishtina') AS m"
            ),
            {"pairs": json.dumps(pairs)},
        )
        created["reports"].extend(r for r, _ in pairs)
        connection.execute(
            text(
                "INSERT INTO push_device (id, secret_hash, fcm_token, platform, locale) "
                "SELECT CAST(p->>1 AS uuid), decode('00', 'hex'), 'follow-' || (p->>1), "
                "'android', 'en' FROM jsonb_array_elements(CAST(:pairs AS jsonb)) AS p"
            ),
            {"pairs": json.dumps(pairs)},
        )
        connection.execute(
            text(
                "INSERT INTO push_report_link (report_id, device_id) "
                "SELECT CAST(p->>0 AS uuid), CAST(p->>1 AS uuid) "
                "FROM jsonb_array_elements(CAST(:pairs AS jsonb)) AS p"
            ),
            {"pairs": json.dumps(pairs)},
        )
    return pairs


def add_status_events(engine, reports: list[str], *statuses: str) -> None:
    """One status change per report for each of `statuses`, in this order (event ids grow)."""
    with engine.begin() as connection:
        for status in statuses:
            connection.execute(
                text(
                    "INSERT INTO outbox_event (kind, report_id, payload, available_at) "
                    "SELECT 'report.status_changed', CAST(r AS uuid), "
                    "jsonb_build_object('status', CAST(:status AS text)), now() "
                    "FROM unnest(CAST(:reports AS text[])) AS r"
                ),
                {"status": status, "reports": reports},
            )


def test_a_newer_status_replaces_the_older_and_is_never_overtaken_by_it(
    committed, database_url, fake, service_account
):
    """The issue's run: 30 reports acknowledged then resolved while no worker ran. Before:
    for 11 of 30 devices "resolved" reached FCM before "acknowledged"."""
    engine, created = committed
    pairs = add_followed_reports(engine, created, 30)
    add_status_events(engine, [r for r, _ in pairs], "acknowledged", "resolved")
    workers = [WorkerProcess(database_url, fake, service_account, batch_size=10) for _ in range(2)]
    try:
        wait_until(
            lambda: (
                sum(states(engine).values()) == 60
                and set(states(engine)) <= {"sent", "superseded"}
                and states(engine)["sent"] >= 30
            )
        )
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0]
    arrived: dict[str, list[str]] = {}
    for message in fake.accepted:  # in arrival order
        arrived.setdefault(message["token"], []).append(message["data"]["status"])
    # The newest always last; the older only if it went out before the newer was fanned out.
    assert set(map(tuple, arrived.values())) <= {("resolved",), ("acknowledged", "resolved")}
    assert len(arrived) == 30
    sent = states(engine)
    expected = {"sent": len(fake.accepted), "superseded": 60 - len(fake.accepted)}
    # When every older status went out before its newer one was fanned out, none is superseded.
    assert sent == {state: n for state, n in expected.items() if n}
    last = {m["token"]: m for m in fake.accepted}
    assert {m["token"]: m["android"]["notification"]["tag"] for m in last.values()} == {
        f"follow-{device}": f"report-{report}" for report, device in pairs
    }


def test_a_newer_status_waits_while_another_worker_fans_out_the_older(committed, fcm_sender, fake):
    """Two workers' fan-outs at once, interleaved by hand: the first has taken the older
    status and not committed yet when the second takes the newer. Before: the second could
    not see the older message, so it sent "resolved", and "acknowledged" followed it (the
    test above failed so about once in 50 runs on a loaded machine)."""
    engine, created = committed
    [(report, device)] = add_followed_reports(engine, created, 1)
    add_status_events(engine, [report], "acknowledged", "resolved")
    second = Worker(engine, fcm_sender)
    with engine.begin() as first:
        assert fan_out(first, datetime.now(UTC), limit=1) == (1, 1)  # "acknowledged"
        step = second.step()
        assert (step.events, step.claimed, fake.accepted) == (0, 0, [])
    second.run(until_idle=True)
    assert [m["data"]["status"] for m in fake.accepted] == ["resolved"]
    assert states(engine) == {"superseded": 1, "sent": 1}
