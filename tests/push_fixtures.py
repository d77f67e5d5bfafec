"""Fixtures for the push tests: the fake FCM server, a sender aimed at it, a network guard,
a worker running inside the test's transaction, and factories for devices and events."""

import socket
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fake_fcm import FakeFCM
from sqlalchemy import func, select

from civic_api.announcements.models import Announcement
from civic_api.database import session
from civic_api.municipalities.models import Municipality
from civic_api.outbox import service as outbox
from civic_api.push import service as devices
from civic_api.push.models import Message
from civic_api.push.worker import Worker, WorkerSettings
from notifications.fcm import FcmSender

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(scope="session")
def fake_fcm():
    fake = FakeFCM().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(fake_fcm):
    fake_fcm.reset()
    yield fake_fcm
    fake_fcm.release()


@pytest.fixture(scope="session")
def service_account(fake_fcm, tmp_path_factory):
    return fake_fcm.service_account(tmp_path_factory.mktemp("fcm") / "service-account.json")


@pytest.fixture(scope="session")
def fcm_sender(fake_fcm, service_account):
    sender = FcmSender(service_account, base_url=fake_fcm.url, timeout=5)
    yield sender
    sender.close()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Refuse, and remember, any lookup of or connection to a host that is not this machine."""
    attempts = []
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in LOOPBACK:
            attempts.append(host)
            raise OSError(f"test network guard: no connections to {host}")
        return connect(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK and host is not None:
            attempts.append(host)
            raise socket.gaierror(f"test network guard: no lookups of {host}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield attempts
    assert attempts == []


class Clock:
    """The worker's time: starts at T0 and moves only when sleep() is called."""

    def __init__(self, start: datetime = T0):
        self.current = start
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class SessionEngine:
    """Hands the worker the test's connection, each of its transactions a savepoint there,
    so that it sees and leaves only what the rolled-back test transaction holds."""

    def __init__(self, connection):
        self.connection = connection

    @contextmanager
    def begin(self):
        # End the test session's own savepoint first: nested in it, the worker's work would
        # vanish when a request's teardown closes that session.
        session.commit()
        with self.connection.begin_nested():
            yield self.connection


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_worker(db, clock):
    def make(sender, **settings) -> Worker:
        db.flush()
        return Worker(
            SessionEngine(db.connection()),
            sender,
            WorkerSettings(**settings),
            now=clock,
            sleep=clock.sleep,
        )

    return make


def municipality(slug: str = "prishtina") -> Municipality:
    return session.scalar(select(Municipality).where(Municipality.slug == slug))


def add_device(token: str, locale: str = "en", **kwargs):
    device, secret = devices.register_device(
        fcm_token=token, platform=kwargs.pop("platform", "android"), locale=locale, **kwargs
    )
    return device


def add_announcement(slug: str = "prishtina", category_id=None, publish_at=T0, **texts):
    found = municipality(slug)
    announcement = Announcement(
        municipality_id=found.id,
        category_id=category_id,
        title=texts.get("title", {"sq": "Ujë", "sr": "Voda", "en": "Water"}),
        body=texts.get("body", {"sq": "Pa ujë nesër.", "sr": "Bez vode sutra.", "en": "No water."}),
        publish_at=publish_at,
        expires_at=texts.get("expires_at"),
        withdrawn_at=texts.get("withdrawn_at"),
    )
    session.add(announcement)
    session.flush()
    event = outbox.enqueue(
        "announcement.published", announcement_id=announcement.id, available_at=publish_at
    )
    session.flush()
    return announcement, event


def subscribe(device, slug="prishtina", categories=()):
    devices.replace_subscriptions(device, [{"municipality": slug, "categories": list(categories)}])


def report_event(report_id, status="in_progress", kind="report.status_changed", available_at=T0):
    event = outbox.enqueue(
        kind,
        report_id=report_id,
        payload={"event_id": 41, "status": status},
        available_at=available_at,
    )
    session.flush()
    return event


def messages(**where) -> list[Message]:
    session.expire_all()
    query = select(Message).order_by(Message.id)
    for name, value in where.items():
        query = query.where(getattr(Message, name) == value)
    return list(session.scalars(query))


def key(event, device) -> str:
    """The random key of the message of `event` to `device` (what FCM sees as push_key)."""
    return str(
        session.scalar(
            select(Message.key).where(Message.event_id == event.id, Message.device_id == device.id)
        )
    )


def count_by_state() -> dict[str, int]:
    session.expire_all()
    return dict(session.execute(select(Message.state, func.count()).group_by(Message.state)).all())
