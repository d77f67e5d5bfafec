"""Real worker processes (`flask notifications worker`) on committed data: a worker killed
mid-batch loses nothing, and two workers on one outbox never send a message twice.

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
from pathlib import Path

import pytest
from push_fixtures import *  # noqa: F403  (fixtures: fake FCM, service account)
from sqlalchemy import text

from civic_api.database import make_engine

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).with_name("flask"))


@pytest.fixture
def committed(database_url):
    """An engine on the test database; afterwards, every push row and our announcements go."""
    engine = make_engine(database_url)
    created = {"announcements": []}
    yield engine, created
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM push_message"))
        connection.execute(text("DELETE FROM push_device"))
        connection.execute(
            text("DELETE FROM announcement WHERE id = ANY(:ids)"),
            {"ids": created["announcements"]},
        )
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


class WorkerProcess:
    """`flask notifications worker` in its own process, its log collected line by line."""

    def __init__(self, database_url, fake, service_account, batch_size=50, lease=2):
        env = os.environ | {
            "DATABASE_URL": database_url,
            "CIVIC_SECRET_KEY": "test-secret-not-for-production",
            "CIVIC_PUSH_FCM_CREDENTIALS": str(service_account),
            "CIVIC_PUSH_FCM_BASE_URL": fake.url,
            "CIVIC_PUSH_LEASE_SECONDS": str(lease),
            "CIVIC_PUSH_IDLE_SECONDS": "0.05",
        }
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

    def wait_for(self, fragment: str, timeout: float = 20) -> None:
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


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_worker_killed_mid_batch_loses_nothing(committed, database_url, fake, service_account):
    engine, created = committed
    event = add_audience(engine, created, 400)
    fake.hold_after(120)  # batches 1 and 2 answered; batch 3: 20 answered, 30 never answered
    first = WorkerProcess(database_url, fake, service_account, batch_size=50, lease=2)
    try:
        wait_until(lambda: fake.stats()["sends"] >= 150)
        first.kill()  # mid-batch: FCM has all 50 of batch 3, the database knows of none
    finally:
        first.stop()
    with engine.connect() as connection:
        in_flight = set(
            connection.scalars(
                text("SELECT key FROM push_message WHERE state = 'pending' AND attempts = 1")
            )
        )
    assert states(engine) == {"sent": 100, "pending": 300}
    assert len(in_flight) == 50
    accepted_before = set(fake.received_keys())
    assert in_flight <= accepted_before and len(accepted_before) == 150
    fake.release()

    second = WorkerProcess(database_url, fake, service_account, batch_size=50, lease=2)
    try:
        wait_until(lambda: states(engine) == {"sent": 400})
    finally:
        assert second.stop() == 0
    received = fake.received_keys()
    with engine.connect() as connection:
        keys = set(connection.scalars(text("SELECT key FROM push_message")))
    assert keys == {f"{event}:{device}" for device in _device_ids(engine)}
    assert set(received) == keys  # every message delivered
    # Twice only inside the documented window: sent, but the outcome never recorded.
    assert {k for k, n in received.items() if n > 1} == in_flight
    assert max(received.values()) == 2
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
        wait_until(lambda: states(engine) == {"sent": 2000})
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0]
    received = fake.received_keys()
    assert len(received) == 2000 and set(received.values()) == {1}
    assert fake.stats()["sends"] == 2000
    batches = [worker.batches() for worker in workers]
    # 2,000 messages in batches of at most 100 (one may be partial while fan-out runs).
    assert sum(batches) >= 20 and min(batches) > 0  # both took part
