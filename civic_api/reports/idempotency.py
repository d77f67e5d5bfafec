"""Idempotent report submission: the first response is kept, sealed, for replay on retries.

The response holds the follow-up token, which must never be stored in the clear. It is
sealed with AES-GCM under a key derived from the Idempotency-Key (which only the client
knows) and the server secret; the Idempotency-Key itself is stored only as an HMAC.
"""

import hashlib
import hmac
import json
import os
from datetime import timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Interval, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from civic_api.database import session
from civic_api.errors import InvalidInput
from civic_api.reports.models import IdempotencyRecord
from civic_api.reports.service import INSERT_REPORT, NewReport


def _derive(secret: bytes, purpose: bytes, key: str) -> bytes:
    return hmac.new(secret, purpose + b"\x00" + key.encode(), hashlib.sha256).digest()


def fingerprint(secret: bytes, body: object) -> bytes:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(secret, canonical.encode(), hashlib.sha256).digest()


_record = IdempotencyRecord.__table__
_new = insert(_record).values(
    key_hash=bindparam("lookup_hash"), request_hash=bindparam("request_hash")
)
# Reserves a new key, or takes over one older than the TTL; returns nothing for a live key.
CLAIM = _new.on_conflict_do_update(
    index_elements=[_record.c.key_hash],
    set_={
        "request_hash": _new.excluded.request_hash,
        "sealed_response": None,
        "report_id": None,
        "created_at": func.now(),
    },
    where=_record.c.created_at < func.now() - bindparam("ttl", type_=Interval),
).returning(_record.c.key_hash)
RECORDED = select(_record.c.request_hash, _record.c.sealed_response).where(
    _record.c.key_hash == bindparam("lookup_hash")
)
_report = INSERT_REPORT.cte("new_report")
# The report's INSERT and the storing of the sealed response, in one statement.
COMPLETE = (
    update(_record)
    .where(_record.c.key_hash == bindparam("lookup_hash"))
    .values(sealed_response=bindparam("sealed"), report_id=select(_report.c.id).scalar_subquery())
    .add_cte(_report)
)


def claim(secret: bytes, key: str, request_hash: bytes, ttl: timedelta) -> dict | None:
    """Reserve `key` for this request, or return the response of the request that had it.

    One statement when the key is new: the insert returns the row it reserved. A record
    older than `ttl` counts as absent and is taken over by the same statement, so the
    request path never purges (`purge_expired` does, from a scheduled job). A concurrent
    request with the same key waits on the row lock until the first commits.
    """
    key_hash = _derive(secret, b"lookup", key)
    params = {"lookup_hash": key_hash, "request_hash": request_hash, "ttl": ttl}
    if session.execute(CLAIM, params).first():
        return None
    record = session.execute(RECORDED, {"lookup_hash": key_hash}).one()
    if not hmac.compare_digest(record.request_hash, request_hash):
        raise InvalidInput.field(
            "Idempotency-Key",
            "This Idempotency-Key was already used with a different request body.",
            location="headers",
        )
    sealed = record.sealed_response
    aead = AESGCM(_derive(secret, b"seal", key))
    return json.loads(aead.decrypt(sealed[:12], sealed[12:], key_hash))


def complete(secret: bytes, key: str, report: NewReport, response: dict) -> None:
    """Insert `report` and store the sealed first response for `key`, in one statement."""
    key_hash = _derive(secret, b"lookup", key)
    nonce = os.urandom(12)
    aead = AESGCM(_derive(secret, b"seal", key))
    sealed = nonce + aead.encrypt(nonce, json.dumps(response).encode(), key_hash)
    session.execute(COMPLETE, {**report.values, "lookup_hash": key_hash, "sealed": sealed})


def purge_expired(ttl: timedelta) -> int:
    """Delete the records older than `ttl`; return how many. Run it from a scheduled job
    (`flask reports purge-idempotency`, docs/deploy.md), never on the request path."""
    result = session.execute(delete(_record).where(_record.c.created_at < func.now() - ttl))
    return result.rowcount
