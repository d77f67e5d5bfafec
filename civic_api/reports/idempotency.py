"""Idempotent report submission: the first response is kept, sealed, for replay on retries.

The response holds the follow-up token, which must never be stored in the clear. It is
sealed with AES-GCM under a key derived from the Idempotency-Key (which only the client
knows) and the server secret; the Idempotency-Key itself is stored only as an HMAC.
"""

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from civic_api.database import session
from civic_api.errors import InvalidInput
from civic_api.reports.models import IdempotencyRecord


def _derive(secret: bytes, purpose: bytes, key: str) -> bytes:
    return hmac.new(secret, purpose + b"\x00" + key.encode(), hashlib.sha256).digest()


def fingerprint(secret: bytes, body: object) -> bytes:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(secret, canonical.encode(), hashlib.sha256).digest()


def claim(secret: bytes, key: str, request_hash: bytes, ttl: timedelta) -> dict | None:
    """Reserve `key` for this request, or return the response of the request that had it.

    A concurrent request with the same key waits on the row lock until the first commits.
    Records older than `ttl` are purged on the way, so keys are kept no longer than that.
    """
    key_hash = _derive(secret, b"lookup", key)
    expired = (
        select(IdempotencyRecord.key_hash)
        .where(IdempotencyRecord.created_at < datetime.now(UTC) - ttl)
        .with_for_update(skip_locked=True)  # concurrent purges never wait on each other
    )
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.key_hash.in_(expired)))
    inserted = session.execute(
        insert(IdempotencyRecord)
        .values(key_hash=key_hash, request_hash=request_hash)
        .on_conflict_do_nothing()
        .returning(IdempotencyRecord.key_hash)
    ).first()
    if inserted:
        return None
    record = session.scalars(
        select(IdempotencyRecord).where(IdempotencyRecord.key_hash == key_hash)
    ).one()
    if not hmac.compare_digest(record.request_hash, request_hash):
        raise InvalidInput.field(
            "Idempotency-Key",
            "This Idempotency-Key was already used with a different request body.",
            location="headers",
        )
    sealed = record.sealed_response
    aead = AESGCM(_derive(secret, b"seal", key))
    return json.loads(aead.decrypt(sealed[:12], sealed[12:], key_hash))


def complete(secret: bytes, key: str, report_id, response: dict) -> None:
    """Store the sealed first response for `key`."""
    key_hash = _derive(secret, b"lookup", key)
    nonce = os.urandom(12)
    aead = AESGCM(_derive(secret, b"seal", key))
    sealed = nonce + aead.encrypt(nonce, json.dumps(response).encode(), key_hash)
    record = session.get(IdempotencyRecord, key_hash)
    record.sealed_response = sealed
    record.report_id = report_id
    session.flush()
