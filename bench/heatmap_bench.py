"""Benchmark: heatmaps and tiles from the rollup against on-the-fly aggregation, same run.

    DATABASE_URL=$(scripts/devdb url) .venv/bin/python bench/heatmap_bench.py [REPORTS [GROW_TO]]

Creates its own database (<db>_bench_heat), loads REPORTS synthetic reports (default
1,000,000; COPY with the rollup triggers off, then `rollup.rebuild`), serves it with the
project's gunicorn configuration (one worker) on loopback, and measures whole HTTP responses
(p50 of 50 requests after 5 warm-ups) against the baselines: ST_SnapToGrid … GROUP BY (and
ST_AsMVT for the tile) over the report table for the same area and cell size — the SQL
alone, without HTTP or serialisation, so the ratios are conservative. Then the cost the
triggers add to inserting one report through the service. Not part of the test suite.
"""

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shapely.geometry import Point
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import drop_database  # noqa: E402
from serving import free_port, seeded_app  # noqa: E402

from civic_api.analytics import releases, rollup  # noqa: E402
from civic_api.database import session  # noqa: E402
from civic_api.reports import service as reports  # noqa: E402
from civic_api.seed.demo_reports import insert_demo_reports  # noqa: E402
from geo.tiles import lonlat_to_tile  # noqa: E402

ROUNDS, WARMUP = 50, 5
# Square cells with the area of the H3 cells, in web-mercator metres at Kosovo (1/cos 42.6°).
MERCATOR_SCALE = 1.36
RES8_SQUARE_M = 900 * MERCATOR_SCALE  # res 8: ~0.81 km²
RES7_SQUARE_M = 2377 * MERCATOR_SCALE  # res 7: ~5.65 km²
TRIGGERS = ("heat_after_report_insert", "heat_after_report_update", "heat_after_report_delete")


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed_http(connection: http.client.HTTPConnection, path: str) -> tuple[float, int]:
    samples = []
    size = 0
    for i in range(WARMUP + ROUNDS):
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        assert response.status == 200, (path, response.status, body[:300])
        size = len(body)
        if i >= WARMUP:
            samples.append(elapsed)
    return p50(samples), size


def timed_sql(engine, sql: str, params: dict, rounds: int = 10) -> float:
    samples = []
    with engine.connect() as connection:
        for i in range(rounds + 1):
            start = time.perf_counter()
            connection.execute(text(sql), params).all()
            if i:
                samples.append(time.perf_counter() - start)
    return p50(samples)


def load(app, count: int, seed: int = 1, **demo) -> tuple[float, float]:
    """COPY `count` demo reports (insert_demo_reports' days/now in `demo`), then rebuild."""
    engine = app.extensions["engine"]
    start = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE report DISABLE TRIGGER USER"))
        insert_demo_reports(connection, count, seed=seed, **demo)
        connection.execute(text("ALTER TABLE report ENABLE TRIGGER USER"))
    copied = time.perf_counter() - start
    start = time.perf_counter()
    with engine.begin() as connection:
        rollup.rebuild(connection)
    rebuilt = time.perf_counter() - start
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    return copied, rebuilt


def insert_overhead(app, per_block: int = 50, blocks: int = 6) -> tuple[float, float]:
    """Mean ms per report through reports.service.new_report, its insert and commit,
    triggers off/on, alternating blocks so that drift on a noisy machine hits both."""
    timings = {False: [], True: []}
    with app.app_context():
        for block in range(blocks * 2):
            enabled = block % 2 == 1
            verb = "ENABLE" if enabled else "DISABLE"
            for trigger in TRIGGERS:
                session.execute(text(f"ALTER TABLE report {verb} TRIGGER {trigger}"))
            session.commit()
            for i in range(per_block):
                start = time.perf_counter()
                report = reports.new_report(
                    categories=app.extensions["category_cache"],
                    municipalities=app.extensions["municipality_index"],
                    category="public_lighting",
                    location=Point(21.1655 + i * 1e-4, 42.6629),
                    locale="en",
                    attributes={},
                    snap_metres=250,
                )
                reports.insert_report(report)
                session.commit()
                timings[enabled].append(time.perf_counter() - start)
        session.execute(text("ALTER TABLE report ENABLE TRIGGER USER"))
        session.commit()
    return statistics.mean(timings[False]) * 1000, statistics.mean(timings[True]) * 1000


def main(count: int, grow_to: int | None = None) -> None:
    url, app = seeded_app("bench_heat")
    server = None
    try:
        copied, rebuilt = load(app, count)
        engine = app.extensions["engine"]
        with engine.connect() as connection:
            west, south, east, north = connection.execute(
                text(
                    "SELECT ST_XMin(boundary), ST_YMin(boundary), ST_XMax(boundary),"
                    " ST_YMax(boundary) FROM municipality WHERE slug = 'prishtina'"
                )
            ).one()

        port = free_port()
        env = os.environ | {
            "DATABASE_URL": url,
            "CIVIC_SECRET_KEY": "bench",
            "CIVIC_RATELIMIT_ENABLED": "false",  # one client sends every request
            "CIVIC_BIND": f"127.0.0.1:{port}",
            "CIVIC_WORKERS": "1",
        }
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        bbox = f"{west},{south},{east},{north}"
        x, y = lonlat_to_tile(21.1655, 42.6629, 10)
        # Six whole months of the last year: what a public date filter is snapped to.
        today = datetime.now(UTC).date()
        first = (today.replace(day=1) - timedelta(days=180)).replace(day=1)
        last = today.replace(day=1) - timedelta(days=1)
        dates = f"from={first}&to={last}"
        results = {
            "city": timed_http(http_conn, f"/v1/heatmaps?resolution=8&bbox={bbox}"),
            "national": timed_http(http_conn, "/v1/heatmaps?resolution=7"),
            "dated": timed_http(http_conn, f"/v1/heatmaps?resolution=7&{dates}"),
            "tile": timed_http(http_conn, f"/v1/tiles/heatmap/10/{x}/{y}.mvt"),
        }
        # The last closed month's release (published now, in this run), served for the
        # sensitive categories: the same areas, against the live figures above and against
        # an on-the-fly aggregation of that month's sensitive reports.
        month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        with app.app_context():
            start = time.perf_counter()
            releases.publish(month, datetime.now(UTC) + timedelta(days=40), app.config)
            session.commit()
            publish_s = time.perf_counter() - start
        released = f"group=harassment&release={month:%Y-%m}"
        release_results = {
            "city": timed_http(http_conn, f"/v1/heatmaps?resolution=8&bbox={bbox}&{released}"),
            "national": timed_http(http_conn, f"/v1/heatmaps?resolution=7&{released}"),
            "tile": timed_http(http_conn, f"/v1/tiles/heatmap/10/{x}/{y}.mvt?{released}"),
        }
        worker = int(
            subprocess.run(
                ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
            ).stdout.split()[0]
        )
        rss = Path(f"/proc/{worker}/status").read_text()
        peak_rss_mb = (
            int(next(line for line in rss.splitlines() if line.startswith("VmHWM")).split()[1])
            / 1024
        )

        grid = (
            "SELECT ST_SnapToGrid(ST_Transform(location, 3857), :size) AS g, count(*)"
            " FROM report WHERE location && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
            " AND status NOT IN ('rejected', 'duplicate') GROUP BY g"
        )
        baselines = {
            "city": timed_sql(
                engine, grid, {"size": RES8_SQUARE_M, "w": west, "s": south, "e": east, "n": north}
            ),
            "national": timed_sql(
                engine, grid, {"size": RES7_SQUARE_M, "w": 20.0, "s": 41.8, "e": 21.9, "n": 43.3}
            ),
            "dated": timed_sql(
                engine,
                grid.replace(
                    "GROUP BY g",
                    "AND report_local_day(occurred_at) BETWEEN :first AND :last GROUP BY g",
                ),
                {"size": RES7_SQUARE_M, "w": 20.0, "s": 41.8, "e": 21.9, "n": 43.3}
                | {"first": first, "last": last},
            ),
            "tile": timed_sql(
                engine,
                "SELECT ST_AsMVT(t, 'heatmap', 4096, 'geom') FROM ("
                " SELECT ST_AsMVTGeom(ST_Envelope(ST_Buffer(g, :half)),"
                " ST_TileEnvelope(10, :x, :y), 4096, 64, true) AS geom, n FROM ("
                "  SELECT ST_SnapToGrid(ST_Transform(location, 3857), :size) AS g, count(*) AS n"
                "  FROM report WHERE location && ST_Transform(ST_TileEnvelope(10, :x, :y), 4326)"
                "  AND status NOT IN ('rejected', 'duplicate') GROUP BY g) AS cells) AS t",
                {"size": RES7_SQUARE_M, "half": RES7_SQUARE_M / 2, "x": x, "y": y},
            ),
        }
        sensitive_grid = grid.replace(
            "GROUP BY g",
            "AND category_id IN (SELECT id FROM category WHERE sensitive)"
            " AND report_local_day(occurred_at) BETWEEN :first AND :last GROUP BY g",
        )
        month_end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        in_month = {"first": month, "last": month_end}
        release_baselines = {
            "city": timed_sql(
                engine,
                sensitive_grid,
                {"size": RES8_SQUARE_M, "w": west, "s": south, "e": east, "n": north} | in_month,
            ),
            "national": timed_sql(
                engine,
                sensitive_grid,
                {"size": RES7_SQUARE_M, "w": 20.0, "s": 41.8, "e": 21.9, "n": 43.3} | in_month,
            ),
            "tile": baselines["tile"],
        }
        off, on = insert_overhead(app)

        print(f"reports: {count:,}; COPY {copied:.1f} s, rollup rebuild {rebuilt:.1f} s")
        print(f"machine: {os.cpu_count()} CPUs; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        print("| request | p50 (HTTP, rollup) | response | baseline p50 (SQL only) | ratio |")
        print("| --- | --- | --- | --- | --- |")
        for name, label in (
            ("city", "Prishtina extent, res 8 (~550 m edges)"),
            ("national", "all of Kosovo, res 7 (~1.4 km edges)"),
            ("dated", f"all of Kosovo, res 7, {first} to {last}"),
            ("tile", f"tile 10/{x}/{y} (Prishtina)"),
        ):
            ms, size = results[name]
            base = baselines[name]
            kib = size / 1024
            print(f"| {label} | {ms:.1f} ms | {kib:.0f} KiB | {base:.1f} ms | {base / ms:.1f}× |")
        print(f"release {month:%Y-%m} published in {publish_s:.2f} s (all public levels)")
        print(
            "| sensitive, from the release | p50 | live p50 (above) | release/live |"
            " baseline p50 (SQL only) | ratio |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for name in ("city", "national", "tile"):
            ms, _ = release_results[name]
            live, base = results[name][0], release_baselines[name]
            print(
                f"| {name} | {ms:.1f} ms | {live:.1f} ms | {ms / live:.2f}× | {base:.1f} ms |"
                f" {base / ms:.1f}× |"
            )
        print(
            f"insert one report (service + commit): triggers off {off:.2f} ms, on {on:.2f} ms,"
            f" overhead {100 * (on / off - 1):.1f}%"
        )
        print(f"gunicorn worker peak RSS: {peak_rss_mb:.0f} MB")
        if grow_to:
            # Same server, same run: add reports up to grow_to and measure again, so that the
            # growth ratio is not confounded by the machine's speed changing between runs.
            copied, rebuilt = load(app, grow_to - count, seed=2)
            print(f"grown to {grow_to:,}; COPY {copied:.1f} s, rollup rebuild {rebuilt:.1f} s")
            for name, path in (
                ("city", f"/v1/heatmaps?resolution=8&bbox={bbox}"),
                ("national", "/v1/heatmaps?resolution=7"),
                ("tile", f"/v1/tiles/heatmap/10/{x}/{y}.mvt"),
            ):
                ms, _ = timed_http(http_conn, path)
                print(
                    f"{name}: {ms:.1f} ms at {grow_to:,} = {ms / results[name][0]:.2f}× the"
                    f" {count:,} figure"
                )
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        if "--keep" not in sys.argv:
            drop_database(url)


if __name__ == "__main__":
    # REPORTS [GROW_TO]: measure at REPORTS, then add reports up to GROW_TO and measure again.
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    main(numbers[0] if numbers else 1_000_000, numbers[1] if len(numbers) > 1 else None)
