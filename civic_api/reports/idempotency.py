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
from sqlalchemy import Interval, bindparam, cast, delete, func, select
from sqlalchemy.dialects.postgresql import insert

from civic_api.database import PreparedStatement, session
from civic_api.errors import InvalidInput
from civic_api.reports.models import INSERTED_COLUMNS, IdempotencyRecord, Report


def _derive(secret: bytes, purpose: bytes, key: str) -> bytes:
    return hmac.new(secret, purpose + b"\x00" + key.encode(), hashlib.sha256).digest()


def fingerprint(secret: bytes, body: object) -> bytes:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(secret, canonical.encode(), hashlib.sha256).digest()


_record = IdempotencyRecord.__table__
_report = Report.__table__
_ttl = cast(bindparam("ttl", type_=Interval), Interval)  # typed: the statement is prepared
_new = insert(_record).values(
    key_hash=bindparam("lookup_hash"),
    request_hash=bindparam("request_hash"),
    sealed_response=bindparam("sealed"),
    report_id=bindparam("report_id", type_=_report.c.id.type),
)
# Records the key with its sealed response, taking over a record older than the TTL;
# returns nothing for a live key (after waiting for a concurrent request holding it).
_CLAIM = (
    _new.on_conflict_do_update(
        index_elements=[_record.c.key_hash],
        set_={
            "request_hash": _new.excluded.request_hash,
            "sealed_response": _new.excluded.sealed_response,
            "report_id": _new.excluded.report_id,
            "created_at": func.now(),
        },
        where=_record.c.created_at < func.now() - _ttl,
    )
    .returning(_record.c.key_hash)
    .cte("claim")
)
# The report, inserted only if the key was claimed: one statement for both.
INSERT_ONCE = (
    insert(_report)
    .from_select(
        INSERTED_COLUMNS,
        select(
            *(
                cast(bindparam(name, type_=_report.c[name].type), _report.c[name].type)
                for name in INSERTED_COLUMNS
            )
        ).select_from(_CLAIM),
    )
    .returning(_report.c.id)
    .add_cte(_CLAIM)
)
INSERT_ONCE_PREPARED = PreparedStatement(INSERT_ONCE)
LIVE = select(_record.c.request_hash, _record.c.sealed_response).where(
    _record.c.key_hash == bindparam("lookup_hash"), _record.c.created_at >= func.now() - _ttl
)


def replay(secret: bytes, key: str, request_hash: bytes, ttl: timedelta) -> dict | None:
    """The first response stored for `key` within `ttl`, or None; a 422 if that request
    had another body."""
    key_hash = _derive(secret, b"lookup", key)
    record = session.execute(LIVE, {"lookup_hash": key_hash, "ttl": ttl}).first()
    if record is None:
        return None
    if not hmac.compare_digest(record.request_hash, request_hash):
        raise InvalidInput.field(
            "Idempotency-Key",
            "This Idempotency-Key was already used with a different request body.",
            location="headers",
        )
    sealed = record.sealed_response
    aead = AESGCM(_derive(secret, b"seal", key))
    return json.loads(aead.decrypt(sealed[:12], sealed[12:], key_hash))


def insert_once(
    secret: bytes, key: str, request_hash: bytes, ttl: timedelta, report: dict, response: dict
) -> bool:
    """Insert the report with these values (reports.service.NewReport.values) and the
    sealed first `response` for `key` in one statement, unless
    the key is live: then nothing is inserted and False is returned (`replay` has the
    answer). A concurrent request with the same key waits until the first commits. An
    expired record is taken over, so the request path never purges (`purge_expired`)."""
    key_hash = _derive(secret, b"lookup", key)
    nonce = os.urandom(12)
    aead = AESGCM(_derive(secret, b"seal", key))
    sealed = nonce + aead.encrypt(nonce, json.dumps(response).encode(), key_hash)
    params = report | {
        "lookup_hash": key_hash,
        "request_hash": request_hash,
        "sealed": sealed,
        "report_id": report["id"],
        "ttl": ttl,
    }
    return INSERT_ONCE_PREPARED.execute(params).first() is not None


def purge_expired(ttl: timedelta) -> int:
    """Delete the records older than `ttl`; return how many. Run it from a scheduled job
    (`flask reports purge-idempotency`, docs/deploy.md), never on the request path."""
    result = session.execute(delete(_record).where(_record.c.created_at < func.now() - ttl))
    return result.rowcount
