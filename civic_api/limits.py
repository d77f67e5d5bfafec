"""Rate limits per client, keyed by a salted hash of its address; no address is ever stored.

The salt is random, rotates every UTC day and lives only in memory: in the worker's (the
default `memory://` storage, one set of counters per process) or, with a Redis storage URI
shared by several processes, in Redis under a key that expires with the day, so that all of
them count one client alike. Yesterday's keys cannot be linked to an address once the salt
is gone. IPv6 clients are keyed by their /64, which one phone or household controls.
"""

import hashlib
import ipaddress
import math
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

from flask import current_app, request
from flask_limiter import Limiter


class DailySalt:
    """A random salt per UTC day, shared through Redis when the limiter stores there."""

    def __init__(self):
        self._day = None
        self._salt = b""
        self._lock = threading.Lock()

    def current(self) -> bytes:
        today = datetime.now(UTC).date()
        if today != self._day:
            with self._lock:
                if today != self._day:
                    self._salt, self._day = self._new(today), today
        return self._salt

    def _new(self, day) -> bytes:
        fresh = secrets.token_bytes(32)
        redis = getattr(limiter.storage, "storage", None)
        if redis is None or not hasattr(redis, "set"):
            return fresh
        key = f"civic:ratelimit-salt:{day.isoformat()}"
        tomorrow = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        try:
            redis.set(key, fresh, nx=True, exat=int(tomorrow.timestamp()) + 3600)
            return redis.get(key) or fresh
        except Exception:  # Redis away: count in this process until it is back
            return fresh

    def reset(self) -> None:
        self._day = None


salt = DailySalt()


def client_key() -> str:
    """The rate-limit key of this request's client (its address as the proxies set it)."""
    address = request.remote_addr or ""
    try:
        parsed = ipaddress.ip_address(address)
        if parsed.version == 6:
            address = str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    except ValueError:
        pass
    return hashlib.blake2b(address.encode(), key=salt.current(), digest_size=16).hexdigest()


def setting(name: str):
    """A limit read from the configuration at request time (flask-limiter syntax)."""
    return lambda: current_app.config[name]


def retry_after() -> str:
    """Seconds until the exceeded limit of this request frees up (for a 429's Retry-After)."""
    current = limiter.current_limit
    return str(max(1, math.ceil(current.reset_at - time.time()))) if current else "60"


limiter = Limiter(
    key_func=client_key,
    # flask-limiter would put Retry-After on every limited response, even a 201 or a 503 whose
    # own Retry-After it overrides: the 429 handler sets it instead (extensions.Api).
    headers_enabled=False,
    # A Redis that is away must not turn every limited request into a 500: count in memory.
    swallow_errors=True,
    in_memory_fallback_enabled=True,
)
