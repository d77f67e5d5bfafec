"""Benchmark: push workers against a local fake FCM, with a one-at-a-time baseline, same run.

    DATABASE_URL=$(scripts/devdb url) .venv/bin/python bench/push_worker.py [DEVICES]

Creates and drops its own database (<db>_bench_push) and starts tests/fake_fcm.py as a
separate process (the real firebase-admin SDK talks to it over HTTP/1.1 on 127.0.0.1).

1. baseline: the obvious outbox loop on 1,000 messages: load one row with the ORM, send
   it alone (one HTTP request), commit its state, next;
2. peer, in this process: 5,000 messages through `messaging.send_each` (firebase-admin's
   batch call, one thread per message) against `FcmSender.send` (a bounded pool), the same
   SDK app, adapter and fake, alternating batches of 500;
3. one `flask notifications worker` process: an announcement to DEVICES subscribed devices,
   from the outbox commit to the last message recorded as sent (fan-out included);
4. two worker processes at once on another such announcement; every push_key the fake
   accepted is counted, so a duplicate would show.

For each worker it reports the peak resident memory (VmHWM) and the most threads seen.
The machine is shared: compare the ratios, which are measured in the same run.

Not part of the test suite.
"""

import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import create_database, drop_database  # noqa: E402

from civic_api import create_app  # noqa: E402
from civic_api.cli import alembic_config  # noqa: E402
from civic_api.database import session  # noqa: E402
from civic_api.push import delivery  # noqa: E402
from civic_api.push.models import Device, Message  # noqa: E402
from notifications import PushMessage  # noqa: E402
from notifications.fcm import FcmSender  # noqa: E402

BASELINE = 1_000
FLASK = str(Path(sys.executable).with_name("flask"))


def add_devices(engine, slug: str, count: int, prefix: str) -> None:
    rows = [{"id": str(uuid.uuid4()), "token": f"{prefix}-{n:06d}"} for n in range(count)]
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO push_device (id, secret_hash, fcm_token, platform, locale) "
                "SELECT CAST(r->>'id' AS uuid), decode('00', 'hex'), r->>'token', 'android', "
                "(ARRAY['sq', 'sr', 'en'])[1 + (n % 3)] "
                "FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS t(r, n)"
            ),
            {"rows": json.dumps(rows)},
        )
        connection.execute(
            text(
                "INSERT INTO push_subscription (device_id, municipality_id) "
                "SELECT d.id, m.id FROM push_device d, municipality m "
                "WHERE d.fcm_token LIKE :pattern AND m.slug = :slug"
            ),
            {"pattern": f"{prefix}-%", "slug": slug},
        )


def announce(engine, slug: str) -> int:
    """An announcement due now and its outbox event, committed; returns the announcement id."""
    texts = {
        "title": {"sq": "Ndërprerje e ujit", "sr": "Prekid vode", "en": "Water cut"},
        "body": {
            "sq": "Nesër nga ora 8 deri në 14 nuk do të ketë ujë në lagjen Dardania.",
            "sr": "Sutra od 8 do 14 časova neće biti vode u naselju Dardanija.",
            "en": "Tomorrow from 8:00 to 14:00 there will be no water in Dardania.",
        },
    }
    with engine.begin() as connection:
        announcement = connection.scalar(
            text(
                "INSERT INTO announcement (municipality_id, title, body, publish_at) "
                "SELECT id, CAST(:title AS jsonb), CAST(:body AS jsonb), now() "
                "FROM municipality WHERE slug = :slug RETURNING id"
            ),
            {"slug": slug, "title": json.dumps(texts["title"]), "body": json.dumps(texts["body"])},
        )
        connection.execute(
            text(
                "INSERT INTO outbox_event (kind, announcement_id, available_at) "
                "VALUES ('announcement.published', :a, now())"
            ),
            {"a": announcement},
        )
    return announcement


def sent(engine, announcement: int) -> int:
    with engine.connect() as connection:
        return connection.scalar(
            text("SELECT count(*) FROM push_message WHERE announcement_id = :a AND state = 'sent'"),
            {"a": announcement},
        )


class Fake:
    """tests/fake_fcm.py in its own process, inspected over HTTP."""

    def __init__(self, key_file: Path):
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "fake_fcm.py"), "--service-account", key_file],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.process.stdout.readline().strip()

    def call(self, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method="POST" if data else "GET"
        )
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Worker:
    def __init__(self, url: str, fake: Fake, key_file: Path):
        env = os.environ | {
            "DATABASE_URL": url,
            "CIVIC_SECRET_KEY": "bench",
            "CIVIC_PUSH_FCM_CREDENTIALS": str(key_file),
            "CIVIC_PUSH_FCM_BASE_URL": fake.url,
            "CIVIC_PUSH_IDLE_SECONDS": "0.05",
        }
        self.process = subprocess.Popen(
            [FLASK, "--app", "wsgi", "notifications", "worker"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.threads = 0  # the most threads seen
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._watch, daemon=True).start()

    def _status(self) -> dict[str, str]:
        lines = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line)

    def _watch(self) -> None:
        while self.process.poll() is None:
            try:
                self.threads = max(self.threads, int(self._status()["Threads"]))
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(0.05)

    def peak_rss_mb(self) -> float:
        return int(self._status()["VmHWM"].split()[0]) / 1024

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip())
            if "started" in line:
                self.ready.set()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)


def drain(engine, workers: list[Worker], announcement_slug: str, devices: int) -> tuple[float, int]:
    for worker in workers:
        assert worker.ready.wait(60), "\n".join(worker.lines)
    start = time.perf_counter()
    announcement = announce(engine, announcement_slug)
    while sent(engine, announcement) < devices:
        time.sleep(0.02)
    return time.perf_counter() - start, announcement


def baseline(app, fake: Fake, key_file: Path) -> float:
    """The obvious loop: one ORM row, one send, one commit at a time."""
    engine = app.extensions["engine"]
    announcement = announce(engine, "prizren")
    with engine.begin() as connection:
        delivery.fan_out(connection, connection.scalar(text("SELECT now()")))
    sender = FcmSender(key_file, base_url=fake.url)
    sender.check()
    with app.app_context():
        start = time.perf_counter()
        while True:
            row = session.scalars(
                select(Message)
                .where(Message.announcement_id == announcement, Message.state == "pending")
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                break
            device = session.get(Device, row.device_id)
            [result] = sender.send(
                [
                    PushMessage(
                        key=str(row.key),
                        title="Ndërprerje e ujit",
                        body="…",
                        token=device.fcm_token,
                    )
                ]
            )
            row.state = "sent" if result.delivered else "failed"
            session.commit()
        elapsed = time.perf_counter() - start
    sender.close()
    assert sent(engine, announcement) == BASELINE
    return elapsed


PEER = 5_000


def peer(fake: Fake, key_file: Path) -> tuple[float, float]:
    """Seconds for PEER messages through send_each, and through the sender's pool."""
    from firebase_admin import messaging

    from notifications.fcm import to_fcm_message

    sender = FcmSender(key_file, base_url=fake.url)
    sender.prepare(60)
    batches = [
        [
            PushMessage(key=f"peer-{n}-{i}", title="t", body="b", token=f"peer-{i}")
            for i in range(500)
        ]
        for n in range(PEER // 500)
    ]
    times = {"send_each": 0.0, "pool": 0.0}
    for batch in batches:
        start = time.perf_counter()
        response = messaging.send_each([to_fcm_message(m) for m in batch], app=sender._app)
        times["send_each"] += time.perf_counter() - start
        assert response.success_count == len(batch)
        start = time.perf_counter()
        results = sender.send(batch)
        times["pool"] += time.perf_counter() - start
        assert all(r.delivered for r in results)
    sender.close()
    return times["send_each"], times["pool"]


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    return (
        f"{os.cpu_count()} vCPU {model}, {memory:.0f} GiB RAM, Python {platform.python_version()}"
    )


def main(devices: int) -> None:
    url = create_database(make_url(os.environ["DATABASE_URL"]).database + "_bench_push")
    with TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "service-account.json"
        fake = Fake(key_file)
        workers: list[Worker] = []
        try:
            command.upgrade(alembic_config(url), "head")
            app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
            app.test_cli_runner().invoke(args=["seed", "municipalities"])
            engine = app.extensions["engine"]
            with engine.connect() as connection:
                postgres = connection.scalar(text("SHOW server_version"))
            add_devices(engine, "prizren", BASELINE, "baseline")
            add_devices(engine, "prishtina", devices, "device")

            base = baseline(app, fake, key_file)
            send_each_time, pool_time = peer(fake, key_file)

            fake.call("/_fake/reset", {})
            workers = [Worker(url, fake, key_file)]
            one, _ = drain(engine, workers, "prishtina", devices)
            one_memory = [(w.peak_rss_mb(), w.threads) for w in workers]
            workers[0].stop()

            fake.call("/_fake/reset", {})
            workers = [Worker(url, fake, key_file), Worker(url, fake, key_file)]
            two, _ = drain(engine, workers, "prishtina", devices)
            two_memory = [(w.peak_rss_mb(), w.threads) for w in workers]
            for worker in workers:
                worker.stop()
            stats = fake.call("/_fake/stats")
            counts = list(stats["by_key"].values())
            duplicates = sum(n - 1 for n in counts)
            batches = [sum("push batch of" in line for line in w.lines) for w in workers]
            engine.dispose()

            base_rate, one_rate, two_rate = BASELINE / base, devices / one, devices / two
            print(f"machine: {machine()}, PostgreSQL {postgres}")
            print(
                f"baseline (one row, one send, one commit): {BASELINE} in {base:.2f} s "
                f"= {base_rate:,.0f} messages/s"
            )

            def memory(figures):
                return ", ".join(f"peak RSS {rss:.0f} MB, {n} threads" for rss, n in figures)

            print(
                f"peer, {PEER} messages each: send_each {PEER / send_each_time:,.0f} messages/s, "
                f"bounded pool {PEER / pool_time:,.0f} messages/s "
                f"({send_each_time / pool_time:.2f}x)"
            )
            print(
                f"one worker: {devices} devices in {one:.2f} s = {one_rate:,.0f} messages/s "
                f"({one_rate / base_rate:.1f}x baseline); {memory(one_memory)}"
            )
            print(
                f"two workers: {devices} devices in {two:.2f} s = {two_rate:,.0f} messages/s "
                f"({two_rate / base_rate:.1f}x baseline); batches per worker {batches}; "
                f"accepted {len(counts)} distinct keys, {duplicates} duplicates; "
                f"{memory(two_memory)}"
            )
        finally:
            for worker in workers:
                if worker.process.poll() is None:
                    worker.process.kill()
            fake.stop()
            drop_database(url)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
