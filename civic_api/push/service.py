"""Anonymous devices (registration, token refresh, subscriptions, report links) and the
delivery statistics and dead-letter requeue that staff see."""

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from civic_api.announcements import service as announcements
from civic_api.audit import service as audit
from civic_api.categories.models import Category
from civic_api.database import session
from civic_api.errors import Conflict, InvalidInput, NotFound
from civic_api.municipalities.models import Municipality
from civic_api.push import delivery
from civic_api.push.models import Device, ReportLink, Subscription
from civic_api.reports import service as reports
from civic_api.staff.service import Principal
from civic_api.triage import service as triage

MAX_SUBSCRIPTIONS = 200  # (municipality, category) pairs per device
MAX_REPORT_LINKS = 100


def secret_hash(secret: str) -> bytes:
    # 256 random bits: a fast hash cannot be brute-forced (as for follow-up tokens).
    return hashlib.sha256(secret.encode()).digest()


def register_device(
    *, fcm_token: str, platform: str, locale: str, token_type: str = "token"
) -> tuple[Device, str]:
    """Store a new device and return it with its one-time secret.

    A token belongs to one device: registering it again (the app lost its secret) replaces
    the older device, with its subscriptions and links, so a phone never gets a push twice.
    """
    secret = secrets.token_urlsafe(32)
    _release_token(fcm_token)
    device = Device(
        id=uuid.uuid4(),
        secret_hash=secret_hash(secret),
        fcm_token=fcm_token,
        token_type=token_type,
        platform=platform,
        locale=locale,
        active=True,
    )
    session.add(device)
    _flush_claiming_token()
    return device, secret


def device_for_secret(device_id: uuid.UUID, secret: str | None) -> Device:
    """The device if `secret` is its secret; the same NotFound for an unknown id or wrong secret."""
    device = session.get(Device, device_id)
    if device is None or not hmac.compare_digest(device.secret_hash, secret_hash(secret or "")):
        raise NotFound("No device matches this id and secret.")
    return device


def update_device(device: Device, **changes) -> Device:
    """Change the token (a refresh also reactivates the device), platform or locale."""
    token = changes.get("fcm_token")
    if token is not None and token != device.fcm_token:
        _release_token(token, keep=device.id)
        device.fcm_token = token
        device.active = True
        device.deactivated_at = None
        device.deactivated_reason = None
    for name in ("token_type", "platform", "locale"):
        if changes.get(name) is not None:
            setattr(device, name, changes[name])
    device.updated_at = datetime.now(UTC)
    _flush_claiming_token()
    return device


def delete_device(device: Device) -> None:
    """Forget the device with its subscriptions, report links and push messages."""
    session.delete(device)
    session.flush()


def _release_token(token: str, keep: uuid.UUID | None = None) -> None:
    statement = delete(Device).where(Device.fcm_token == token)
    if keep is not None:
        statement = statement.where(Device.id != keep)
    session.execute(statement)


def _flush_claiming_token() -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another request registered the same token at the same moment.
        raise Conflict("This token was registered by another request just now; retry.") from None


def subscriptions(device: Device) -> list[dict]:
    """[{municipality: slug, categories: [codes]}] by slug; no categories means all of them."""
    rows = session.execute(
        select(Municipality.slug, Category.code)
        .select_from(Subscription)
        .join(Municipality, Municipality.id == Subscription.municipality_id)
        .outerjoin(Category, Category.id == Subscription.category_id)
        .where(Subscription.device_id == device.id)
        .order_by(Municipality.slug, Category.code.nulls_first())
    ).all()
    found: dict[str, list[str]] = {}
    for slug, code in rows:
        codes = found.setdefault(slug, [])
        if code is not None:
            codes.append(code)
    return [{"municipality": slug, "categories": codes} for slug, codes in found.items()]


def replace_subscriptions(device: Device, wanted: list[dict]) -> list[dict]:
    """Make the device follow exactly these municipalities (and categories) for announcements."""
    slugs = {entry["municipality"] for entry in wanted}
    codes = {code for entry in wanted for code in entry.get("categories", [])}
    municipalities = dict(
        session.execute(
            select(Municipality.slug, Municipality.id).where(Municipality.slug.in_(slugs))
        ).all()
    )
    categories = dict(
        session.execute(select(Category.code, Category.id).where(Category.code.in_(codes))).all()
    )
    errors: dict[str, list[str]] = {}
    for index, entry in enumerate(wanted):
        problems = []
        if entry["municipality"] not in municipalities:
            problems.append(f"Unknown municipality {entry['municipality']!r}.")
        unknown = [c for c in entry.get("categories", []) if c not in categories]
        if unknown:
            problems.append(f"Unknown categories: {', '.join(sorted(unknown))}.")
        if problems:
            errors[str(index)] = problems
    if errors:
        raise InvalidInput(
            "Some subscriptions name unknown municipalities or categories.",
            {"json": {"subscriptions": errors}},
        )
    pairs = {
        (municipalities[entry["municipality"]], categories[code] if code else None)
        for entry in wanted
        for code in (entry.get("categories") or [None])
    }
    if len(pairs) > MAX_SUBSCRIPTIONS:
        raise InvalidInput.field(
            "subscriptions", f"At most {MAX_SUBSCRIPTIONS} municipality and category pairs."
        )
    session.execute(delete(Subscription).where(Subscription.device_id == device.id))
    if pairs:
        session.execute(
            insert(Subscription),
            [{"device_id": device.id, "municipality_id": m, "category_id": c} for m, c in pairs],
        )
    session.flush()
    return subscriptions(device)


def linked_reports(device: Device) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(ReportLink.report_id)
            .where(ReportLink.device_id == device.id)
            .order_by(ReportLink.created_at, ReportLink.report_id)
        )
    )


def link_report(device: Device, report_id: uuid.UUID, follow_up_token: str | None) -> None:
    """Send the report's status changes and responses to this device, given its follow-up token."""
    report = reports.report_for_token(report_id, follow_up_token)
    if report is None:
        raise NotFound("No report matches this id and follow-up token.")
    count = session.scalar(
        select(func.count())
        .select_from(ReportLink)
        .where(ReportLink.device_id == device.id, ReportLink.report_id != report.id)
    )
    if count >= MAX_REPORT_LINKS:
        raise InvalidInput(f"A device can follow at most {MAX_REPORT_LINKS} reports.")
    session.execute(
        insert(ReportLink).values(report_id=report.id, device_id=device.id).on_conflict_do_nothing()
    )
    session.flush()


def unlink_report(device: Device, report_id: uuid.UUID) -> None:
    """Stop sending this report's updates to the device (a no-op if it was not linked)."""
    session.execute(
        delete(ReportLink).where(
            ReportLink.device_id == device.id, ReportLink.report_id == report_id
        )
    )
    session.flush()


def announcement_deliveries(principal: Principal, announcement_id: int) -> dict:
    """Delivery statistics of an announcement the principal manages (else NotFound)."""
    found = announcements.get_for(principal, announcement_id)
    return delivery.stats(session.connection(), announcement_id=found.id)


def report_deliveries(principal: Principal, report_id: uuid.UUID) -> dict:
    """Delivery statistics of a report in the principal's municipalities (else NotFound)."""
    found = triage.get_report_for(principal, report_id)
    return delivery.stats(session.connection(), report_id=found.id)


def requeue_announcement(principal: Principal, announcement_id: int, now: datetime) -> dict:
    """Make the announcement's dead messages pending again; audited."""
    found = announcements.get_for(principal, announcement_id)
    counts = delivery.requeue_dead(session.connection(), now, announcement_id=found.id)
    return _audit_requeue(principal, "announcement", found.id, found.municipality_id, counts)


def requeue_report(principal: Principal, report_id: uuid.UUID, now: datetime) -> dict:
    """Make the report's dead messages pending again; audited."""
    found = triage.get_report_for(principal, report_id)
    counts = delivery.requeue_dead(session.connection(), now, report_id=found.id)
    return _audit_requeue(principal, "report", found.id, found.municipality_id, counts)


def _audit_requeue(principal, entity_type, entity_id, municipality_id, counts) -> dict:
    requeued, maybe = counts
    result = {"requeued": requeued, "may_have_arrived": maybe}
    audit.record(
        principal.staff_id,
        "push.requeue",
        entity_type,
        entity_id,
        municipality_ids=[municipality_id],
        after=result,
    )
    session.flush()
    return result
