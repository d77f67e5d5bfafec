"""Announcements: staff write them within their municipalities; citizens read the published ones.

Push rule (the outbox): an announcement has at most one pending "announcement.published"
event, available at its publish_at. Creating one enqueues it; a PATCH that moves publish_at
while the announcement is still scheduled replaces the pending event (deleted, enqueued
anew); once published, publish_at is frozen, so nothing is ever enqueued twice for one
publication. Withdrawing leaves the event: the push worker skips withdrawn announcements.
"""

from datetime import UTC, datetime, timedelta

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon
from sqlalchemy import Select, and_, delete, func, or_, select

from civic_api.announcements.models import Announcement
from civic_api.audit import service as audit
from civic_api.categories.models import Category
from civic_api.categories.service import get_category
from civic_api.database import session
from civic_api.errors import Conflict, Forbidden, InvalidInput, NotFound
from civic_api.municipalities.models import Municipality
from civic_api.municipalities.service import SLUG_FORMAT
from civic_api.outbox import service as outbox
from civic_api.outbox.models import OutboxEvent
from civic_api.staff.service import Principal
from geo.points import WGS84

STATES = ("scheduled", "published", "expired", "withdrawn")
PUBLISHED_EVENT = "announcement.published"
# Clock skew forgiven when publish_at is given as "now" by a client.
PUBLISH_SKEW = timedelta(minutes=5)
# Where a citizen's language is missing, the first of these that the announcement has.
FALLBACK = ("en", "sq", "sr")


# Pure helpers


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601, so that one instant always reads the same in snapshots and payloads."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def state_of(announcement: Announcement, now: datetime) -> str:
    if announcement.withdrawn_at is not None:
        return "withdrawn"
    if announcement.publish_at > now:
        return "scheduled"
    if announcement.expires_at is not None and announcement.expires_at <= now:
        return "expired"
    return "published"


def state_condition(state: str, now: datetime):
    """The SQL condition for one of STATES, consistent with state_of()."""
    live = Announcement.withdrawn_at.is_(None)
    if state == "withdrawn":
        return Announcement.withdrawn_at.is_not(None)
    if state == "scheduled":
        return and_(live, Announcement.publish_at > now)
    if state == "expired":
        return and_(live, Announcement.expires_at <= now)
    return and_(
        live,
        Announcement.publish_at <= now,
        or_(Announcement.expires_at.is_(None), Announcement.expires_at > now),
    )


def pick_locale(available, wanted: str) -> str:
    """`wanted` if the announcement has it, else the first of en, sq, sr that it has."""
    if wanted in available:
        return wanted
    return next(loc for loc in FALLBACK if loc in available)


def localised(announcement: Announcement, wanted: str) -> dict:
    """Title, body and the language they are in, for a reader who wants `wanted`."""
    lang = pick_locale(announcement.title, wanted)
    body = announcement.body.get(lang) or announcement.body[pick_locale(announcement.body, lang)]
    return {"title": announcement.title[lang], "body": body, "lang": lang}


def snapshot(announcement: Announcement) -> dict:
    """The audited state: no body text, dates as ISO 8601."""

    return {
        "municipality": announcement.municipality.slug,
        "title": dict(announcement.title),
        "locales": sorted(announcement.title),
        "category": announcement.category.code if announcement.category else None,
        "has_area": announcement.area is not None,
        "publish_at": iso(announcement.publish_at),
        "expires_at": iso(announcement.expires_at),
        "withdrawn_at": iso(announcement.withdrawn_at),
    }


def _check_locales(title: dict, body: dict, field: str) -> None:
    if set(title) != set(body):
        raise InvalidInput.field(
            field,
            f"Title and body must be in the same languages (title: {', '.join(sorted(title))}; "
            f"body: {', '.join(sorted(body))}).",
        )


# Look-ups


def _find_municipality(slug: str) -> Municipality | None:
    if not SLUG_FORMAT.fullmatch(slug):
        return None  # also keeps NUL and other junk away from the database
    return session.scalar(select(Municipality).where(Municipality.slug == slug))


def _municipality(slug: str) -> Municipality:
    found = _find_municipality(slug)
    if found is None:
        raise InvalidInput.field("municipality", f"No municipality has the slug {slug!r}.")
    return found


def _category(code: str) -> Category:
    found = get_category(code)
    if found is None:
        raise InvalidInput.field("category", f"No active category has the code {code!r}.")
    return found


def _check_area(area: MultiPolygon, municipality: Municipality):
    """The area as a database value, if it touches the municipality."""
    value = from_shape(area, srid=WGS84)
    inside = session.scalar(
        select(func.ST_Intersects(Municipality.boundary, value)).where(
            Municipality.id == municipality.id
        )
    )
    if not inside:
        raise InvalidInput.field(
            "area", f"The area does not overlap the municipality {municipality.slug!r}."
        )
    return value


def _check_publish_at(publish_at: datetime, now: datetime) -> None:
    if publish_at < now - PUBLISH_SKEW:
        raise InvalidInput.field(
            "publish_at", "Must not be in the past; leave it out to publish now."
        )


def _check_expiry(publish_at: datetime, expires_at: datetime | None, field: str) -> None:
    if expires_at is not None and expires_at <= publish_at:
        raise InvalidInput.field(field, "expires_at must be later than publish_at.")


def _schedule_push(announcement: Announcement) -> None:
    """Replace any pending publication event with one available at publish_at."""
    session.execute(
        delete(OutboxEvent).where(
            OutboxEvent.announcement_id == announcement.id,
            OutboxEvent.kind == PUBLISHED_EVENT,
            OutboxEvent.dispatched_at.is_(None),
        )
    )
    outbox.enqueue(
        PUBLISHED_EVENT,
        announcement_id=announcement.id,
        available_at=announcement.publish_at,
        payload={"publish_at": iso(announcement.publish_at)},
    )


# Staff use cases


def create_announcement(
    actor: Principal,
    now: datetime,
    *,
    title: dict,
    body: dict,
    municipality: str | None = None,
    category: str | None = None,
    area: MultiPolygon | None = None,
    publish_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> Announcement:
    """Create an announcement in one of the actor's municipalities and queue its push."""
    if municipality is None:
        if actor.municipality_ids is None or len(actor.municipality_ids) != 1:
            raise InvalidInput.field("municipality", "Missing data for required field.")
        place = session.get(Municipality, next(iter(actor.municipality_ids)))
    else:
        place = _municipality(municipality)
    if not actor.can_see(place.id):
        raise Forbidden("You can only post announcements for your own municipalities.")
    _check_locales(title, body, "body")
    if publish_at is None:
        publish_at = now
    else:
        _check_publish_at(publish_at, now)
    _check_expiry(publish_at, expires_at, "expires_at")
    announcement = Announcement(
        municipality=place,
        category=_category(category) if category is not None else None,
        title=title,
        body=body,
        area=_check_area(area, place) if area is not None else None,
        publish_at=publish_at,
        expires_at=expires_at,
        created_by=actor.staff_id,
        created_at=now,
        updated_at=now,
    )
    session.add(announcement)
    session.flush()
    audit.record(
        actor.staff_id,
        "announcement.create",
        "announcement",
        announcement.id,
        municipality_ids=[place.id],
        after=snapshot(announcement),
    )
    _schedule_push(announcement)
    session.flush()
    return announcement


def visible_query(actor: Principal) -> Select:
    """The announcements the actor may manage, newest publication first."""
    query = select(Announcement).order_by(Announcement.publish_at.desc(), Announcement.id.desc())
    if actor.municipality_ids is not None:
        query = query.where(Announcement.municipality_id.in_(sorted(actor.municipality_ids)))
    return query


def staff_list_query(
    actor: Principal, now: datetime, *, municipality: str | None = None, state: str | None = None
) -> Select:
    query = visible_query(actor)
    if municipality is not None:
        query = query.where(Announcement.municipality.has(Municipality.slug == municipality))
    if state is not None:
        query = query.where(state_condition(state, now))
    return query


def get_for(actor: Principal, announcement_id: int, lock: bool = False) -> Announcement:
    """One announcement the actor may manage; others are NotFound, never Forbidden.

    `lock` serialises concurrent edits, so two reschedules cannot both leave a pending push.
    """
    query = visible_query(actor).where(Announcement.id == announcement_id)
    if lock:
        query = query.with_for_update(of=Announcement)
    found = session.scalar(query)
    if found is None:
        raise NotFound("No announcement with this id in your municipalities.")
    return found


def update_announcement(
    actor: Principal, announcement_id: int, changes: dict, now: datetime
) -> Announcement:
    """Edit an announcement that is not withdrawn; rescheduling before publication re-queues.

    A PATCH that changes nothing writes nothing (no audit entry, no new push).
    """
    announcement = get_for(actor, announcement_id, lock=True)
    if announcement.withdrawn_at is not None:
        raise Conflict("This announcement was withdrawn; it cannot be edited.")
    before = snapshot(announcement)
    new = {
        name: changes.get(name, getattr(announcement, name))
        for name in ("title", "body", "publish_at", "expires_at")
    }
    _check_locales(new["title"], new["body"], "body" if "body" in changes else "title")
    rescheduled = new["publish_at"] != announcement.publish_at
    if rescheduled:
        if announcement.publish_at <= now:
            raise InvalidInput.field(
                "publish_at", "Already published: withdraw it and post a new one instead."
            )
        _check_publish_at(new["publish_at"], now)
    _check_expiry(
        new["publish_at"],
        new["expires_at"],
        "expires_at" if "expires_at" in changes else "publish_at",
    )
    changed = [name for name, value in new.items() if value != getattr(announcement, name)]
    if "category" in changes and changes["category"] != before["category"]:
        code = changes["category"]
        announcement.category = _category(code) if code is not None else None
        changed.append("category")
    if "area" in changes and (changes["area"] is not None or before["has_area"]):
        area = changes["area"]
        announcement.area = (
            _check_area(area, announcement.municipality) if area is not None else None
        )
        changed.append("area")
    if not changed:
        return announcement
    for name, value in new.items():
        setattr(announcement, name, value)
    announcement.updated_at = now
    session.flush()
    audit.record(
        actor.staff_id,
        "announcement.update",
        "announcement",
        announcement.id,
        municipality_ids=[announcement.municipality_id],
        before=before,
        after=snapshot(announcement) | {"changed": sorted(changed)},
    )
    if rescheduled:
        _schedule_push(announcement)
    session.flush()
    return announcement


def withdraw_announcement(actor: Principal, announcement_id: int, now: datetime) -> None:
    """Take an announcement down for good (the row stays); withdrawing twice changes nothing."""
    announcement = get_for(actor, announcement_id, lock=True)
    if announcement.withdrawn_at is not None:
        return
    before = snapshot(announcement)
    announcement.withdrawn_at = now
    announcement.updated_at = now
    session.flush()
    audit.record(
        actor.staff_id,
        "announcement.withdraw",
        "announcement",
        announcement.id,
        municipality_ids=[announcement.municipality_id],
        before=before,
        after=snapshot(announcement),
    )


# Public feed


def public_municipality(slug: str) -> Municipality:
    found = _find_municipality(slug)
    if found is None:
        raise NotFound(f"No municipality has the slug {slug!r}.")
    return found


def feed_query(slug: str, now: datetime, *, category: str | None = None) -> Select:
    """A municipality's published announcements, newest first; NotFound for an unknown slug."""
    place = public_municipality(slug)
    query = (
        select(Announcement)
        .where(Announcement.municipality_id == place.id, state_condition("published", now))
        .order_by(Announcement.publish_at.desc(), Announcement.id.desc())
    )
    if category is not None:
        query = query.where(Announcement.category.has(Category.code == category))
    return query


def get_published(slug: str, announcement_id: int, now: datetime) -> Announcement:
    found = session.scalar(feed_query(slug, now).where(Announcement.id == announcement_id))
    if found is None:
        raise NotFound("No published announcement with this id in this municipality.")
    return found
