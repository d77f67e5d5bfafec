"""Attach, list, moderate and delete report photos; file writes are undone if the row is not."""

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from civic_api.audit import service as audit
from civic_api.categories.models import Category
from civic_api.database import session
from civic_api.errors import Conflict, DomainError, NotFound
from civic_api.photos import images
from civic_api.photos.models import Photo
from civic_api.photos.storage import new_key
from civic_api.reports.models import Report
from civic_api.staff.service import Principal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int
    max_per_report: int
    max_pixels: int
    max_dimension: int

    @classmethod
    def from_config(cls, config) -> "PhotoLimits":
        return cls(
            config["PHOTO_MAX_BYTES"],
            config["PHOTO_MAX_PER_REPORT"],
            config["PHOTO_MAX_PIXELS"],
            config["PHOTO_MAX_DIMENSION"],
        )


def _rejected(message: str, status: int) -> DomainError:
    return DomainError(message, {"files": {"file": [message]}}, status=status)


def add_photo(report: Report, data: bytes, store, limits: PhotoLimits) -> Photo:
    """Decode and clean `data`, store it under a random name and add its row (flushed).

    The file is written before the row; the caller deletes it (`discard`) if the commit fails.
    """
    if report.erased_at is not None:
        raise Conflict("This report was erased by its reporter.")
    if len(data) > limits.max_bytes:
        raise _rejected(f"A photo may have at most {limits.max_bytes} bytes.", 413)
    # Lock the report so that concurrent uploads cannot pass the count check together.
    session.execute(select(Report.id).where(Report.id == report.id).with_for_update())
    count = session.scalar(select(func.count()).where(Photo.report_id == report.id))
    if count >= limits.max_per_report:
        raise Conflict(f"A report can have at most {limits.max_per_report} photos.")
    try:
        cleaned = images.clean(
            data, max_pixels=limits.max_pixels, max_dimension=limits.max_dimension
        )
    except images.ImageRejected as exc:
        raise _rejected(exc.message, exc.status) from None
    photo = Photo(
        id=uuid.uuid4(),
        report_id=report.id,
        storage_key=new_key(),
        content_type=cleaned.content_type,
        width=cleaned.width,
        height=cleaned.height,
        size_bytes=len(cleaned.data),
        created_at=datetime.now(UTC),  # not the transaction's start: orders a batch
    )
    store.put(photo.storage_key, cleaned.data, cleaned.content_type)
    session.add(photo)
    session.flush()
    return photo


def photos_of(report_id: uuid.UUID) -> list[Photo]:
    return list(
        session.scalars(
            select(Photo).where(Photo.report_id == report_id).order_by(Photo.created_at, Photo.id)
        )
    )


def photo_of(report_id: uuid.UUID, photo_id: uuid.UUID) -> Photo:
    photo = session.get(Photo, photo_id)
    if photo is None or photo.report_id != report_id:
        raise NotFound("This report has no photo with this id.")
    return photo


def public_photo(photo_id: uuid.UUID) -> Photo:
    """A photo anyone may see: approved by staff, of a non-sensitive, not erased report."""
    photo = session.scalar(
        select(Photo)
        .join(Report, Report.id == Photo.report_id)
        .join(Category, Category.id == Report.category_id)
        .where(
            Photo.id == photo_id,
            Photo.moderation == "approved",
            Category.sensitive.is_(False),
            Report.erased_at.is_(None),
        )
    )
    if photo is None:
        raise NotFound("No public photo has this id.")
    return photo


def moderate(principal: Principal, report: Report, photo: Photo, decision: str, now) -> Photo:
    """Approve (public if the category is not sensitive) or reject a photo; audited."""
    before = {"moderation": photo.moderation}
    photo.moderation, photo.moderated_by, photo.moderated_at = decision, principal.staff_id, now
    audit.record(
        principal.staff_id,
        "photo.moderate",
        "photo",
        photo.id,
        municipality_ids=[report.municipality_id],
        before=before,
        after={"moderation": decision, "report_id": str(report.id)},
    )
    session.flush()
    return photo


def delete_rows(report_ids: Iterable[uuid.UUID]) -> list[str]:
    """Delete the photo rows of these reports; return their storage keys for `discard`."""
    ids = list(report_ids)
    if not ids:
        return []
    rows = session.scalars(select(Photo).where(Photo.report_id.in_(ids)).with_for_update()).all()
    for photo in rows:
        session.delete(photo)
    session.flush()
    return [photo.storage_key for photo in rows]


def discard(store, keys: Iterable[str]) -> None:
    """Delete stored files after their rows are gone (or were never committed).

    A failure is logged and left to `flask retention run`, which deletes unreferenced files.
    """
    for key in keys:
        try:
            store.delete(key)
        except Exception as exc:  # a storage outage must not fail the request
            logger.warning("photo file not deleted (%s); retention will retry", type(exc).__name__)


def orphan_keys(store, older_than: datetime) -> list[str]:
    """Stored files that no photo row references (a crash between the write and the commit)."""
    candidates = list(store.keys_older_than(older_than))
    known = set()
    for start in range(0, len(candidates), 1000):
        chunk = candidates[start : start + 1000]
        known |= set(session.scalars(select(Photo.storage_key).where(Photo.storage_key.in_(chunk))))
    return [key for key in candidates if key not in known]
