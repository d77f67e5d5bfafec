"""Heatmap tiles (`/v1/tiles/heatmap`) against tipg serving the same rollup, in one run.

Creates its own database (<db>_bench_tiles), loads REPORTS synthetic reports (default
1,000,000; the rollup rebuilt), serves the project with gunicorn.conf.py and tipg 1.6.1
(bench/tipg-requirements.txt, installed into bench/.venv-tipg on first use) with uvicorn,
both on loopback against the same database. tipg reads a SQL function over the same
h3_cell x heat_cell_total rollup with the same publication rule as the public all-category
tile (live non-sensitive counts, status open+resolved, cells under k withheld; no release is
published, so the sensitive layer is empty on both). The decoded features of every tile
must be identical. Then, in alternating rounds, REQUESTS keep-alive requests per tile and
server, p50 per round. Not part of the test suite. BENCH_REUSE=1 keeps (and reuses) the
loaded database.

    DATABASE_URL=$(scripts/devdb url) .venv/bin/python bench/tiles_bench.py [REPORTS] [ROUNDS]
"""

import http.client
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import mapbox_vector_tile
from sqlalchemy import exc, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
import live  # noqa: E402
from conftest import drop_database  # noqa: E402
from heatmap_bench import load  # noqa: E402
from serving import Gunicorn, free_port, seeded_app  # noqa: E402

from civic_api.database import make_engine  # noqa: E402
from geo.tiles import lonlat_to_tile  # noqa: E402

VENV = ROOT / "bench" / ".venv-tipg"
REQUESTS, WARMUP = 40, 3
PLACES = {"Prishtina": (21.1655, 42.6629), "Prizren": (20.7397, 42.2139)}
TILES = [("Prishtina", 9), ("Prishtina", 11), ("Prizren", 10), ("Prizren", 11)]
K = 5
# The public all-category tile's rule, as a function tipg can serve: live counts of the
# non-sensitive categories, open and resolved reports, cells under k withheld.
FUNCTION = f"""
CREATE SCHEMA tipg_bench;
CREATE FUNCTION tipg_bench.heatmap(res integer DEFAULT 7)
RETURNS TABLE (cell text, count bigint, resolution integer, geom geometry)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_hex(c.cell), live.n, c.resolution::integer, c.geom
    FROM h3_cell c
    CROSS JOIN LATERAL (
        SELECT sum(t.count) AS n FROM heat_cell_total t
        WHERE t.resolution = c.resolution AND t.cell = c.cell AND t.status_class IN (0, 1)
          AND t.category_id IN (SELECT id FROM category WHERE NOT sensitive)
    ) AS live
    WHERE c.resolution = $1 AND live.n >= {K}
$$;
"""


def tipg_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", "bench/tipg-requirements.txt"],
            cwd=ROOT,
            check=True,
        )
    return python


class Tipg:
    def __init__(self, url: str):
        self.port = free_port()
        env = os.environ | {
            "DATABASE_URL": url,
            "TIPG_DB_SCHEMAS": '["tipg_bench"]',
            "TIPG_DB_SPATIAL_EXTENT": "false",
            "TIPG_DB_DATETIME_EXTENT": "false",
            "TIPG_TILE_BUFFER": "64",  # the project's MVT buffer, so geometries match
        }
        self.process = subprocess.Popen(
            [str(tipg_python()), "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--no-access-log"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/collections")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("tipg did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def fetch(connection: http.client.HTTPConnection, path: str) -> bytes:
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, (path, response.status, body[:300])
    return body


def p50_ms(connection: http.client.HTTPConnection, path: str) -> float:
    samples = []
    for i in range(WARMUP + REQUESTS):
        start = time.perf_counter()
        fetch(connection, path)
        if i >= WARMUP:
            samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def features(tile: bytes) -> list[tuple]:
    decoded = mapbox_vector_tile.decode(tile)
    (layer,) = decoded.values() if decoded else ({"features": []},)
    return sorted(
        (
            f["properties"]["cell"],
            f["properties"]["count"],
            f["properties"]["resolution"],
            str(f["geometry"]["coordinates"]),
        )
        for f in layer["features"]
    )


def difference(ours: list[tuple], theirs: list[tuple]) -> str:
    mine, peer = {f[0]: f for f in ours}, {f[0]: f for f in theirs}
    lines = [f"only the project: {sorted(set(mine) - set(peer))}"]
    lines.append(f"only tipg: {sorted(set(peer) - set(mine))}")
    for cell in sorted(set(mine) & set(peer)):
        if mine[cell] != peer[cell]:
            lines.append(f"{cell}: project {mine[cell][1:]} tipg {peer[cell][1:]}")
    return "\n".join(lines)


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main(count: int, rounds: int) -> None:
    # BENCH_REUSE=1 keeps the loaded database for the next run (drop it by hand afterwards),
    # and uses it when it is there (migrated to head first).
    reuse = os.environ.get("BENCH_REUSE") == "1"
    url = make_url(os.environ["DATABASE_URL"])
    url = url.set(database=f"{url.database}_bench_tiles").render_as_string(hide_password=False)
    if reuse and _loaded(url):
        app = live.seeded_app(url, secret="bench")  # migrated to head; seeding adds nothing
    else:
        url, app = seeded_app("bench_tiles")
        load(app, count)
        with app.extensions["engine"].begin() as connection:
            connection.execute(text(FUNCTION))
    app.extensions["engine"].dispose()
    tipg = None
    try:
        tipg = Tipg(url)
        # One client address sends everything: the per-client rate limits would answer 429.
        env = {"DATABASE_URL": url, "CIVIC_SECRET_KEY": "bench", "CIVIC_RATELIMIT_ENABLED": "false"}
        with Gunicorn("wsgi:app", env) as ours:
            project = http.client.HTTPConnection("127.0.0.1", ours.port, timeout=30)
            peer = http.client.HTTPConnection("127.0.0.1", tipg.port, timeout=30)
            paths = {}
            for place, z in TILES:
                x, y = lonlat_to_tile(*PLACES[place], z)
                mine = fetch(project, f"/v1/tiles/heatmap/{z}/{x}/{y}.mvt")
                expected = features(mine)
                resolution = expected[0][2]
                theirs = f"/collections/tipg_bench.heatmap/tiles/WebMercatorQuad/{z}/{x}/{y}"
                theirs += f"?res={resolution}"
                got = features(fetch(peer, theirs))
                if got != expected:
                    print(difference(expected, got), flush=True)
                assert got == expected, (place, z)
                paths[(place, z, x, y)] = (f"/v1/tiles/heatmap/{z}/{x}/{y}.mvt", theirs)
                print(
                    f"{place} z{z}/{x}/{y}: {len(expected)} identical features, res "
                    f"{resolution}, {len(mine)} bytes",
                    flush=True,
                )
            timings = {key: {"project": [], "tipg": []} for key in paths}
            for r in range(rounds):
                for key, (ours_path, theirs_path) in paths.items():
                    order = [("project", project, ours_path), ("tipg", peer, theirs_path)]
                    for name, connection, path in order if r % 2 == 0 else order[::-1]:
                        timings[key][name].append(p50_ms(connection, path))
            memory = ours.worker_rss_mib()
        print(
            f"\n| tile ({count:,} reports) | project p50 ms min / median / max | tipg p50 ms "
            "min / median / max | ratio (median) | ratio per round min / median / max |"
        )
        print("| --- | --- | --- | --- | --- |")
        for (place, z, x, y), by in timings.items():
            ratios = [a / b for a, b in zip(by["project"], by["tipg"], strict=True)]
            ratio = statistics.median(by["project"]) / statistics.median(by["tipg"])
            print(
                f"| {place} {z}/{x}/{y} | {spread(by['project'])} | {spread(by['tipg'])} | "
                f"**{ratio:.2f}** | {spread(ratios)} |"
            )
        print(f"project worker RSS: {', '.join(f'{m:.0f} MiB' for m in memory)}")
    finally:
        if tipg is not None:
            tipg.stop()
        if not reuse:
            drop_database(url)


def _loaded(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return bool(connection.scalar(text("SELECT EXISTS (SELECT FROM report)")))
    except exc.OperationalError:  # no such database
        return False
    finally:
        engine.dispose()


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 5,
    )
