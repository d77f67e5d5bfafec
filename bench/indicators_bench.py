"""Benchmark: indicators over COUNT demo reports (with timelines), against a naive peer.

    DATABASE_URL=$(scripts/devdb url) .venv/bin/python bench/indicators_bench.py [COUNT]

Creates and drops its own database (<db>_bench_indicators; BENCH_REUSE=1 keeps it and
reuses it next time), seeds COUNT demo reports with
`insert_demo_reports`, then times (median of several runs, warm cache):
- the national league table (every municipality, all non-sensitive categories): the cold
  national pass over the quarter and the one before, as after the cache expires;
- all indicators for one municipality-quarter (Prishtina, the last ended quarter; every
  breakdown, with the previous quarter, the median of municipalities and the rank beside
  it) as served while the national pass is cached;
- the quarterly PDF (HTML, three matplotlib charts, WeasyPrint), national pass cached;
- the peer: the same municipality-quarter's medians and rates the naive way, loading its
  reports through the ORM and computing in Python.
Not part of the test suite.
"""

import os
import statistics
import sys
import time
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from conftest import create_database, drop_database  # noqa: E402

from civic_api import create_app  # noqa: E402
from civic_api.cli import alembic_config  # noqa: E402
from civic_api.database import make_engine, session  # noqa: E402
from civic_api.indicators import compute, report, service  # noqa: E402
from civic_api.indicators.periods import current_quarter_before  # noqa: E402
from civic_api.reports.models import Report  # noqa: E402
from civic_api.seed.demo_reports import insert_demo_reports  # noqa: E402

MIN_N = 10


def timed(function, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
        session.rollback()
    return statistics.median(times), result


def naive(municipality_id: int, period) -> dict:
    """The peer: every report of the municipality-quarter as an ORM object, then Python."""
    reports = session.scalars(
        select(Report).where(
            Report.municipality_id == municipality_id,
            Report.submitted_at >= period.start,
            Report.submitted_at < period.end,
        )
    ).all()
    handled = [r for r in reports if r.status != "duplicate"]
    hours = [
        (r.first_acknowledged_at - r.submitted_at).total_seconds() / 3600
        for r in handled
        if r.first_acknowledged_at
    ]
    return {
        "received": len(reports),
        "ack_median": compute.median(hours),
        "ack_p90": compute.quantile(hours, 0.9),
        "resolution_rate": sum(1 for r in handled if r.first_resolved_at) / len(handled),
    }


def main(count: int) -> None:
    name = make_url(os.environ["DATABASE_URL"]).database + "_bench_indicators"
    # BENCH_REUSE=1 keeps the seeded database for the next run (drop it by hand afterwards).
    reuse = os.environ.get("BENCH_REUSE") == "1"
    url = make_url(os.environ["DATABASE_URL"]).set(database=name).render_as_string(False)
    seeded = None
    if not reuse or not _exists(url):
        url = create_database(name)
    try:
        command.upgrade(alembic_config(url), "head")
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        engine = app.extensions["engine"]
        with engine.connect() as connection:
            present = connection.scalar(text("SELECT count(*) FROM report"))
        if present != count:
            runner = app.test_cli_runner()
            for args in (["seed", "municipalities"], ["seed", "walk-freely"], ["seed", "e-komuna"]):
                runner.invoke(args=args)
            start = time.perf_counter()
            with engine.begin() as connection:
                insert_demo_reports(connection, count, seed=1)
            seeded = time.perf_counter() - start
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )
        now = datetime.now(UTC)
        period = current_quarter_before(now)
        with app.test_request_context():
            prishtina = session.scalar(text("SELECT id FROM municipality WHERE slug = 'prishtina'"))
            in_quarter = session.scalar(
                text(
                    "SELECT count(*) FROM report WHERE municipality_id = :m"
                    " AND submitted_at >= :s AND submitted_at < :e"
                ),
                {"m": prishtina, "s": period.start, "e": period.end},
            )
            # Cold: the national pass (every municipality, current and previous quarter).
            league, _ = timed(
                lambda: service.build_table(
                    period,
                    now,
                    min_n=MIN_N,
                    exact_for=[],
                    released=service.released_volumes,
                    levels={"all"},
                    keys={"non_sensitive"},
                ),
                3,
            )
            # As served within the cache's max age: Prishtina's exact figures, every breakdown,
            # from the national pass (filled once here).
            service.national(period, now, min_n=MIN_N, released=service.released_volumes)
            one, table = timed(
                lambda: service.build_table(
                    period,
                    now,
                    min_n=MIN_N,
                    exact_for=[prishtina],
                    released=service.released_volumes,
                    municipality_ids={prishtina},
                    levels={"all", "group", "category"},
                    max_age_seconds=3600,
                ),
                5,
            )
            pdf, document = timed(
                lambda: report.to_pdf(
                    report.build(
                        period,
                        "prishtina",
                        "sq",
                        exact_for=[],
                        min_n=MIN_N,
                        now=now,
                        max_age_seconds=3600,
                    )
                ),
                3,
            )
            peer, figures = timed(lambda: naive(prishtina, period), 3)
        row = next(r for r in table.rows if (r.level, r.key) == ("all", "non_sensitive"))
        if seeded is not None:
            print(f"{count:,} reports seeded with timelines in {seeded:.1f} s")
        print(f"period {period.label}; Prishtina's reports in it: {in_quarter:,}")
        print(f"national league table (cold national pass): {league * 1000:.0f} ms")
        print(
            f"one municipality-quarter, all indicators, from the cached national pass:"
            f" {one * 1000:.0f} ms"
        )
        print(f"quarterly PDF: {pdf:.2f} s ({len(document):,} bytes)")
        print(
            f"peer (ORM + Python, 4 figures of the same municipality-quarter): {peer * 1000:.0f} ms"
            f" -> ratio {peer / one:.1f}x"
        )
        print(
            "check: received",
            row.values["reports_received"].value,
            "ack median",
            row.values["acknowledgement_hours_median"].value,
            "| peer (all categories)",
            figures,
        )
        engine.dispose()
    finally:
        if not reuse:
            drop_database(url)


def _exists(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
