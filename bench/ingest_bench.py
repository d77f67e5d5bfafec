"""Report ingest (`POST /v1/reports`) against a naive Flask + ORM insert app, in one run.

Creates its own database (<db>_bench_ingest), serves the project (wsgi:app) and
bench/naive_app.py with the same gunicorn.conf.py on loopback, both running for the whole
run, and loads them in alternating rounds:
- throughput: wrk (Debian's, via scripts/need), closed loop, for SECONDS per round;
- latency at a fixed rate: bench/openloop.py at RATE requests/s, latency from the
  scheduled send time, and the database count checked against the 201s;
- the follow-up look-up with a wrong token against an unknown id (alternating requests);
- the resident memory of each project worker at the end.
Not part of the test suite.

    DATABASE_URL=$(scripts/devdb url) .venv/bin/python bench/ingest_bench.py [ROUNDS]
"""

import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from shapely import wkb
from shapely.geometry import Point
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from conftest import drop_database  # noqa: E402
from openloop import run as open_loop  # noqa: E402
from serving import Gunicorn, seeded_app  # noqa: E402

from civic_api.database import make_engine  # noqa: E402

SECONDS = 10  # per closed-loop round
CONNECTIONS = 8  # = the 2 workers x 4 threads of gunicorn.conf.py
RATE, OPEN_SECONDS = 100, 20  # the open-loop rounds
LOOKUPS = 400  # of each kind, alternating
NAIVE_TABLE = """CREATE TABLE naive_report (
    id uuid PRIMARY KEY, category text NOT NULL, location geometry(POINT, 4326) NOT NULL,
    description text, submitted_at timestamptz NOT NULL)"""

WRK_SCRIPT = r"""
local bodies = dofile(os.getenv("BENCH_BODIES"))
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  tag, with_key, created, other, counter = args[1], args[2] == "key", 0, 0, 0
  math.randomseed(id * 7919 + os.time())
end
function request()
  counter = counter + 1
  local body = bodies[math.random(#bodies)]
  local headers = {["Content-Type"] = "application/json"}
  if with_key then headers["Idempotency-Key"] = string.format("%s-%d-%09d", tag, id, counter) end
  return wrk.format("POST", "/v1/reports", headers, body)
end
function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); o = o + t:get("other") end
  io.write(string.format("RESULT created=%d other=%d errors=%d p99_us=%d\n", c, o,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(99)))
end
"""


def report_bodies(engine, count: int, seed: int = 7) -> list[bytes]:
    """A national mix: municipalities weighted by population, a uniform point inside each,
    any active category without required attributes, an optional attribute answered."""
    rng = random.Random(seed)
    with engine.connect() as connection:
        municipalities = connection.execute(
            text("SELECT ST_AsBinary(boundary), coalesce(population, 10000) FROM municipality")
        ).all()
        categories = connection.scalars(
            text(
                "SELECT code FROM category c WHERE active AND NOT EXISTS (SELECT 1 FROM"
                " category_attribute a WHERE a.category_id = c.id AND a.required) ORDER BY code"
            )
        ).all()
    shapes = [wkb.loads(bytes(boundary)) for boundary, _ in municipalities]
    weights = [population for _, population in municipalities]
    bodies = []
    for area in rng.choices(shapes, weights, k=count):
        west, south, east, north = area.bounds
        while not area.covers(point := Point(rng.uniform(west, east), rng.uniform(south, north))):
            pass
        body = {
            "category": rng.choice(categories),
            "location": {"lat": round(point.y, 6), "lon": round(point.x, 6)},
            "description": "Reported from the benchmark.",
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def closed_loop(wrk: str, script: str, port: int, tag: str, with_key: bool) -> dict:
    out = subprocess.run(
        [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "-s", script,
         f"http://127.0.0.1:{port}", "--", tag, "key" if with_key else "nokey"],
        capture_output=True, text=True, check=True, timeout=SECONDS + 60,
    ).stdout  # fmt: skip
    found = dict(re.findall(r"(\w+)=(\d+)", out.split("RESULT", 1)[1]))
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "created": int(found["created"]),
        "other": int(found["other"]),
        "errors": int(found["errors"]),
        "p99_ms": int(found["p99_us"]) / 1000,
    }


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("report", "naive_report")
        }


def post_factory(bodies: list[bytes], seed: int, with_key: bool):
    rng = random.Random(seed)

    def make(index: int):
        headers = {"Content-Type": "application/json"}
        if with_key:
            headers["Idempotency-Key"] = f"open-loop-{seed}-{index:09d}"
        return "POST", "/v1/reports", rng.choice(bodies), headers

    return make


def token_lookups(port: int, known_id: str) -> dict[str, list[float]]:
    """Alternating GETs: a real id with a wrong token, an unknown id with a token."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    timings: dict[str, list[float]] = {"wrong token": [], "unknown id": []}
    for i in range(2 * LOOKUPS + 20):
        kind = "wrong token" if i % 2 == 0 else "unknown id"
        report_id = known_id if kind == "wrong token" else str(uuid.uuid4())
        headers = {"Follow-Up-Token": "x" * 43}
        start = time.perf_counter()
        connection.request("GET", f"/v1/reports/{report_id}", headers=headers)
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - start
        assert response.status == 404, response.status
        if i >= 20:
            timings[kind].append(elapsed * 1000)
    connection.close()
    return timings


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main(rounds: int) -> None:
    wrk = subprocess.run(
        [str(ROOT / "scripts/need"), "wrk", "wrk"], capture_output=True, text=True, check=True
    ).stdout.strip()
    url, app = seeded_app("bench_ingest")
    try:
        app.extensions["engine"].dispose()
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text(NAIVE_TABLE))
        bodies = report_bodies(engine, 2000)
        # One client address sends everything: the per-client rate limits would answer 429.
        env = {"DATABASE_URL": url, "CIVIC_SECRET_KEY": "bench", "CIVIC_RATELIMIT_ENABLED": "false"}
        with (
            tempfile.NamedTemporaryFile("w", suffix=".lua") as pool,
            tempfile.NamedTemporaryFile("w", suffix=".lua") as script,
            Gunicorn("wsgi:app", env) as project,
            Gunicorn("naive_app:app", env, cwd=ROOT / "bench") as naive,
        ):
            pool.write("return {\n")
            pool.writelines(f"  [==[{body.decode()}]==],\n" for body in bodies)
            pool.write("}\n")
            pool.flush()
            os.environ["BENCH_BODIES"] = pool.name
            script.write(WRK_SCRIPT)
            script.flush()
            targets = {
                "project, Idempotency-Key": (project, True, "report"),
                "project, no key": (project, False, "report"),
                "naive Flask + ORM insert": (naive, False, "naive_report"),
            }
            for server, with_key, _ in targets.values():  # warm-up
                open_loop("127.0.0.1", server.port, post_factory(bodies, 0, with_key), 200, 200)
            closed: dict[str, list[dict]] = {name: [] for name in targets}
            for r in range(rounds):
                order = list(targets) if r % 2 == 0 else list(reversed(targets))
                for name in order:
                    server, with_key, table = targets[name]
                    before = counts(engine)[table]
                    result = closed_loop(wrk, script.name, server.port, f"wrk-round-{r}", with_key)
                    result["stored"] = counts(engine)[table] - before
                    closed[name].append(result)
                    print(f"closed round {r} {name}: {result}", flush=True)
            opened: dict[str, list] = {name: [] for name in targets if "no key" not in name}
            for r in range(rounds):
                order = list(opened) if r % 2 == 0 else list(reversed(opened))
                for name in order:
                    server, with_key, table = targets[name]
                    before = counts(engine)[table]
                    factory = post_factory(bodies, 1000 + r, with_key)
                    result = open_loop(
                        "127.0.0.1", server.port, factory, RATE, RATE * OPEN_SECONDS,
                        keep_status=201,
                    )  # fmt: skip
                    stored = counts(engine)[table] - before
                    opened[name].append((result, stored))
                    print(f"open round {r} {name}: {result.summary()}; stored {stored}", flush=True)
            known = json.loads(opened["project, Idempotency-Key"][-1][0].bodies[0])["id"]
            lookups = token_lookups(project.port, known)
            memory = project.worker_rss_mib()

        print(
            f"\n| closed loop (wrk -t2 -c8, {SECONDS} s rounds) | reports/s min / median / max "
            "| p99 ms median | non-201 | socket errors | rows stored − 201s |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        medians = {}
        for name, results in closed.items():
            rates = [r["rate"] for r in results]
            medians[name] = statistics.median(rates)
            print(
                f"| {name} | {spread(rates)} | "
                f"{statistics.median(r['p99_ms'] for r in results):.1f} | "
                f"{sum(r['other'] for r in results)} | {sum(r['errors'] for r in results)} | "
                f"{' / '.join(str(r['stored'] - r['created']) for r in results)} |"
            )
        naive_rate = medians["naive Flask + ORM insert"]
        for name in ("project, Idempotency-Key", "project, no key"):
            ratios = [
                a["rate"] / b["rate"]
                for a, b in zip(closed[name], closed["naive Flask + ORM insert"], strict=True)
            ]
            print(
                f"ratio {name} / naive: median of rates {medians[name] / naive_rate:.2f}, "
                f"per round {spread(ratios, '{:.2f}')}"
            )
        print(
            f"\n| open loop, {RATE} req/s x {OPEN_SECONDS} s | p50 ms | p99 ms min / median / "
            "max | max ms | non-201 | rows stored = 201s |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for name, results in opened.items():
            p99s = [r.percentile(99) for r, _ in results]
            worst = max(max(r.latencies) for r, _ in results) * 1000
            print(
                f"| {name} | {statistics.median(r.percentile(50) for r, _ in results):.1f} | "
                f"{spread(p99s, '{:.1f}')} | {worst:.0f}"
                f" | {sum(sum(n for s, n in r.statuses.items() if s != 201) for r, _ in results)}"
                f" | {all(stored == r.statuses[201] for r, stored in results)} "
                f"({' / '.join(f'{stored}={r.statuses[201]}' for r, stored in results)}) |"
            )
        print("\nfollow-up look-up, 404s, ms min / median / max:")
        for kind, values in lookups.items():
            print(f"  {kind}: {spread(values, '{:.2f}')} (mean {statistics.mean(values):.2f})")
        print(f"project worker RSS: {', '.join(f'{m:.0f} MiB' for m in memory)}")
        engine.dispose()
    finally:
        drop_database(url)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
