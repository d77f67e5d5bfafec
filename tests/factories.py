"""Test data written straight into the tables, as the API would store it."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select

from civic_api.analytics import rollup
from civic_api.categories.models import Category
from civic_api.municipalities.models import Municipality
from civic_api.reports.models import Report


def add_reports(
    db,
    points,
    category="public_lighting",
    status="submitted",
    occurred=None,
    municipality="prishtina",
):
    """Insert reports at exact (lat, lon) points, with their cells as the API computes them."""
    category_id = db.scalar(select(Category.id).where(Category.code == category))
    municipality_id = db.scalar(select(Municipality.id).where(Municipality.slug == municipality))
    occurred = occurred or datetime(2026, 6, 15, 12, tzinfo=UTC)
    rows = []
    for lat, lon in points:
        cells = rollup.cells_of([lat], [lon])
        rows.append(
            {
                "id": uuid.uuid4(),
                "category_id": category_id,
                "municipality_id": municipality_id,
                "location": f"SRID=4326;POINT({lon} {lat})",
                "occurred_at": occurred,
                "submitted_at": occurred,
                "status": status,
                "locale": "en",
                "follow_up_token_hash": b"x",
                **{column: int(ids[0]) for column, ids in cells.items()},
            }
        )
    db.execute(insert(Report), rows)
    db.commit()  # a savepoint release: requests end their session, which would roll it back
    return [r["id"] for r in rows]
