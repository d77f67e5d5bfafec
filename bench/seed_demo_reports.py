"""Benchmark: bulk demo-report seeding (COPY) against row-by-row ORM inserts, same run.

    DATABASE_URL=$(scripts/devdb url) .venv/bin/python bench/seed_demo_reports.py [COUNT]

Creates and drops its own database (<db>_bench). Prints reports/s for both methods and
their ratio. Not part of the test suite.
"""

import os
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from conftest import create_database, drop_database  # noqa: E402
from live import seeded_app  # noqa: E402

from civic_api.database import session  # noqa: E402
from civic_api.reports.models import Report  # noqa: E402
from civic_api.seed.demo_reports import insert_demo_reports  # noqa: E402

BASELINE_ROWS = 5_000


def main(count: int) -> None:
    url = create_database(make_url(os.environ["DATABASE_URL"]).database + "_bench")
    try:
        app = seeded_app(url, secret="bench")
        engine = app.extensions["engine"]

        start = time.perf_counter()
        with engine.begin() as connection:
            insert_demo_reports(connection, count, seed=1)
        bulk = time.perf_counter() - start

        with app.app_context():
            template = session.scalars(select(Report).limit(1)).one()
            location = session.scalar(select(Report.location).limit(1))
            start = time.perf_counter()
            now = datetime.now(UTC)
            for i in range(BASELINE_ROWS):
                session.add(
                    Report(
                        id=uuid.uuid4(),
                        category_id=template.category_id,
                        municipality_id=template.municipality_id,
                        location=location,
                        occurred_at=now - timedelta(minutes=i),
                        submitted_at=now,
                        attributes={},
                        status="submitted",
                        locale="sq",
                        follow_up_token_hash=secrets.token_bytes(32),
                    )
                )
            session.commit()
            orm = time.perf_counter() - start
            total = session.scalar(select(func.count()).select_from(Report))
        assert total == count + BASELINE_ROWS
        bulk_rate, orm_rate = count / bulk, BASELINE_ROWS / orm
        print(f"bulk COPY: {count} reports in {bulk:.1f} s = {bulk_rate:,.0f} reports/s")
        print(f"ORM baseline: {BASELINE_ROWS} reports in {orm:.2f} s = {orm_rate:,.0f} reports/s")
        print(f"speed-up: {bulk_rate / orm_rate:.1f}x")
        engine.dispose()
    finally:
        drop_database(url)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
