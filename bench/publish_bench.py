"""Benchmark: publishing one national month's release against the exact aggregation, same run.

    DATABASE_URL=$(scripts/devdb url) .venv/bin/python bench/publish_bench.py [REPORTS]

Creates its own database (<db>_bench_publish), loads REPORTS synthetic reports (default
1,000,000) all in February 2026 (COPY with the rollup triggers off, then `rollup.rebuild`),
and times `releases.publish` for that month: reading the month's counts over the fixed
partition (national, 38 municipalities, every res-6/7/8 cell over Kosovo, per sensitive
group), noising every level with OpenDP, the top-down consistency pass and the COPY of the
release rows. Peer, in the same run: the exact per-(res-8 cell, category) count of the
month's sensitive reports straight from the report table — the least any release must read.
Then the idempotent re-run (nothing recomputed). Not part of the test suite.
"""

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from conftest import create_database, drop_database  # noqa: E402
from heatmap_bench import bench_app, load  # noqa: E402

from civic_api.analytics import releases  # noqa: E402
from civic_api.database import session  # noqa: E402

MONTH = date(2026, 2, 1)
LOADED_AT = datetime(2026, 3, 1, tzinfo=UTC)  # reports spread over the 28 days before
PUBLISH_AT = datetime(2026, 3, 20, tzinfo=UTC)
PEER = """
SELECT r.h3_8, r.category_id, count(*) FROM report r JOIN category c ON c.id = r.category_id
WHERE c.sensitive AND r.occurred_at >= :after AND r.occurred_at < :before GROUP BY 1, 2
"""


def main(count: int) -> None:
    url = create_database(make_url(os.environ["DATABASE_URL"]).database + "_bench_publish")
    try:
        app = bench_app(url)
        copied, rebuilt = load(app, count, days=28, now=LOADED_AT)
        engine = app.extensions["engine"]
        window = {
            "after": datetime(2026, 2, 1, tzinfo=releases.LOCAL_TZ),
            "before": datetime(2026, 3, 1, tzinfo=releases.LOCAL_TZ),
        }
        with engine.connect() as connection:
            in_month = connection.scalar(
                text(
                    "SELECT count(*) FROM report r JOIN category c ON c.id = r.category_id"
                    " WHERE c.sensitive AND occurred_at >= :after AND occurred_at < :before"
                ),
                window,
            )
        peers, publishes = [], []
        with app.app_context():
            # Alternate peer and publish (rolled back) so that drift hits both.
            for _ in range(3):
                with engine.connect() as connection:
                    start = time.perf_counter()
                    connection.execute(text(PEER), window).all()
                    peers.append(time.perf_counter() - start)
                start = time.perf_counter()
                published = releases.publish(MONTH, PUBLISH_AT, app.config)
                session.flush()
                publishes.append(time.perf_counter() - start)
                assert published.created
                session.rollback()
            releases.publish(MONTH, PUBLISH_AT, app.config)
            session.commit()
            start = time.perf_counter()
            again = releases.publish(MONTH, PUBLISH_AT, app.config)
            rerun = time.perf_counter() - start
            assert not again.created
            rows = session.scalar(text("SELECT count(*) FROM release_count"))
            session.rollback()
        publish_s, peer_s = statistics.median(publishes), statistics.median(peers)
        print(f"reports: {count:,} (sensitive in {MONTH:%Y-%m}: {in_month:,});")
        print(f"  COPY {copied:.1f} s, rollup rebuild {rebuilt:.1f} s")
        print(f"machine: {os.cpu_count()} CPUs; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print("| step | median of 3 | ratio |")
        print("| --- | --- | --- |")
        print(f"| publish {MONTH:%Y-%m} ({rows:,} release rows) | {publish_s:.2f} s | 1× |")
        print(
            f"| peer: exact res-8 x category count of the month | {peer_s:.2f} s |"
            f" {peer_s / publish_s:.2f}× |"
        )
        print(f"| re-run (stored, unchanged) | {rerun * 1000:.1f} ms | |")
    finally:
        if "--keep" not in sys.argv:
            drop_database(url)


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    main(numbers[0] if numbers else 1_000_000)
