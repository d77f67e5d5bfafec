"""Load benchmark: the project's gunicorn configuration under wrk on loopback.

    DATABASE_URL=$(scripts/devdb url) .venv/bin/python bench/load.py [--seconds 20]

Creates and drops its own database (<db>_bench_load: municipalities, both profiles and
20,000 demo reports so that heatmaps and tiles have data), then, against gunicorn started
with gunicorn.conf.py and one `flask notifications worker` (rate limits off: all requests
come from one loopback address, real phones from many):

1. peer: a hello-world WSGI app under the same gunicorn configuration, closed loop (wrk);
2. ingest, closed loop: wrk POSTs reports (each with its own Idempotency-Key) as fast as
   they are answered; every 201 must be a report in the database afterwards;
3. ingest, open loop at a fixed 100 requests/s, then at half the closed loop's rate
   (below saturation on a loaded machine): requests leave on a fixed schedule
   whatever the answers (latency counted from the scheduled time, so a slow answer
   cannot hide the ones queued behind it); Debian's wrk 4 has no fixed-rate mode and
   wrk2 is not packaged, so this phase uses an asyncio client in this process;
4. mixed: three wrk processes at once: reports, heatmaps, tiles; p50/p99 per route.

The resident memory (VmRSS) of every gunicorn worker and of the notification worker is
sampled twice a second throughout. Prints a Markdown table and one JSON line.
Loopback only; bounded by --seconds per phase. Not part of the test suite.
"""

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "load"
sys.path.insert(0, str(ROOT / "tests"))
from conftest import create_database, drop_database  # noqa: E402
from live import free_port  # noqa: E402

from civic_api.cli import alembic_config  # noqa: E402
from civic_api.database import make_engine  # noqa: E402

BIN = Path(sys.executable).parent
TIMEOUT = 10  # seconds, for every request of every phase (wrk --timeout too)


def run_flask(env: dict, *args: str) -> None:
    subprocess.run([BIN / "flask", *args], env=env, check=True, capture_output=True, timeout=900)


def wait_for(port: int, path: str, timeout: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start_gunicorn(env: dict, app: str, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [BIN / "gunicorn", "-c", "gunicorn.conf.py", app],
        cwd=ROOT,
        env=env | {"CIVIC_BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return server


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def cpu_seconds(pids) -> float:
    """User + system CPU time the processes have used (a figure noise cannot inflate much)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def backends(engine) -> list[int]:
    with engine.connect() as connection:
        return (
            connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                )
            )
            .scalars()
            .all()
        )


class CpuMeter:
    """CPU seconds used by the API workers and their PostgreSQL backends during a phase."""

    def __init__(self, engine, master: int):
        self.engine, self.master = engine, master

    def __enter__(self):
        self.api0 = cpu_seconds(children(self.master))
        self.pids = backends(self.engine)
        self.pg0 = cpu_seconds(self.pids)
        return self

    def __exit__(self, *exc):
        self.api = cpu_seconds(children(self.master)) - self.api0
        # Backends that appeared during the phase count from zero.
        new = [p for p in backends(self.engine) if p not in self.pids]
        self.pg = cpu_seconds(self.pids) - self.pg0 + cpu_seconds(new)


class RssSampler(threading.Thread):
    """Highest VmRSS seen of each gunicorn worker and of the notification worker."""

    def __init__(self, master: int, worker: int):
        super().__init__(daemon=True)
        self.master, self.worker = master, worker
        self.api: dict[int, float] = {}
        self.notifications = 0.0
        self.running = True

    def run(self):
        while self.running:
            for pid in children(self.master):
                self.api[pid] = max(self.api.get(pid, 0.0), rss_mb(pid))
            self.notifications = max(self.notifications, rss_mb(self.worker))
            time.sleep(0.5)


def wrk(port: int, script: str, seconds: int, connections: int, threads: int = 1) -> dict:
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA / script),
            f"http://127.0.0.1:{port}",
        ],
        env=os.environ | {"BENCH_LUA_DIR": str(LUA)},
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    result = json.loads(output.split("WRK_JSON ", 1)[1].splitlines()[0])
    result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def drain(engine, port: int) -> None:
    """Wait until requests queued by a phase are done (the report count stops moving)."""
    previous = -1
    while (current := count_reports(engine)) != previous:
        previous = current
        time.sleep(2)
    wait_for(port, "/v1/categories")


def count_reports(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM report")).scalar()


REPORT_BODY = (
    '{{"category": "commenting", "location": {{"lat": {lat:.6f}, "lon": {lon:.6f}}},'
    ' "accuracy_m": 12, "locale": "sq"}}'
)


async def open_loop(port: int, rate: float, seconds: int) -> dict:
    """POST reports on a fixed schedule; latency from the scheduled send time."""
    import random

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0

    async def one(scheduled: float) -> None:
        nonlocal errors
        body = REPORT_BODY.format(
            lat=42.63 + random.random() * 0.05, lon=21.13 + random.random() * 0.06
        ).encode()
        head = (
            f"POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Idempotency-Key: {uuid.uuid4()}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n"
        ).encode()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), TIMEOUT
            )
            writer.write(head + body)
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), TIMEOUT)
            writer.close()
            status = int(data.split(b" ", 2)[1])
            statuses[status] = statuses.get(status, 0) + 1
            latencies.append(time.perf_counter() - scheduled)
        except (TimeoutError, OSError, ValueError, IndexError):
            errors += 1

    loop_start = time.perf_counter() + 0.1
    total = int(rate * seconds)
    tasks = []
    for n in range(total):
        scheduled = loop_start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {
        "requests": total,
        "created": statuses.get(201, 0),
        "statuses": statuses,
        "socket_errors": errors,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="per phase")
    parser.add_argument("--connections", type=int, default=8, help="wrk, ingest phase")
    parser.add_argument("--demo-reports", type=int, default=20_000)
    args = parser.parse_args()

    base = make_url(os.environ["DATABASE_URL"])
    url = create_database(f"{base.database}_bench_load")
    engine = make_engine(url)
    metrics_dir = tempfile.mkdtemp(prefix="civic-bench-metrics-")
    env = os.environ | {
        "DATABASE_URL": url,
        "FLASK_APP": "wsgi",
        "CIVIC_SECRET_KEY": "bench-load-secret",
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        # Every request comes from 127.0.0.1 here; real traffic comes from many addresses.
        "CIVIC_RATELIMIT_ENABLED": "false",
    }
    processes = []
    try:
        command.upgrade(alembic_config(url), "head")
        for step in (["seed", "municipalities"], ["seed", "walk-freely"], ["seed", "e-komuna"]):
            run_flask(env, *step)
        run_flask(env, "seed", "demo-reports", "--count", str(args.demo_reports))

        peer_port = free_port()
        peer = start_gunicorn(env | {"PYTHONPATH": str(LUA)}, "hello:app", peer_port)
        processes.append(peer)
        wait_for(peer_port, "/")
        with CpuMeter(engine, peer.pid) as cpu:
            results = {"peer": wrk(peer_port, "common.lua", args.seconds, args.connections)}
        results["peer"]["cpu_ms_per_request"] = 1000 * cpu.api / results["peer"]["requests"]
        stop(peer)
        processes.remove(peer)

        port = free_port()
        api = start_gunicorn(env, "wsgi:app", port)
        worker = subprocess.Popen(
            [BIN / "flask", "notifications", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes += [api, worker]
        wait_for(port, "/v1/categories")
        sampler = RssSampler(api.pid, worker.pid)
        sampler.start()

        before = count_reports(engine)
        with CpuMeter(engine, api.pid) as cpu:
            results["ingest"] = wrk(port, "reports.lua", args.seconds, args.connections)
            drain(engine, port)
        results["ingest"]["stored"] = stored = count_reports(engine) - before
        results["ingest"]["cpu_ms_per_report"] = {
            "api": 1000 * cpu.api / stored,
            "postgres": 1000 * cpu.pg / stored,
        }

        # The fixed rate asked for, then half of what the closed loop sustained here (below
        # saturation, where the latency tail means something on a loaded machine).
        for name, rate in (
            ("fixed_100", 100.0),
            ("fixed_half", max(1.0, round(results["ingest"]["rate"] / 2))),
        ):
            drain(engine, port)
            before = count_reports(engine)
            results[name] = asyncio.run(open_loop(port, rate, args.seconds))
            results[name]["rate"] = rate
            drain(engine, port)
            results[name]["stored"] = count_reports(engine) - before

        drain(engine, port)
        before = count_reports(engine)
        mixed: dict[str, dict] = {}
        threads = [
            threading.Thread(
                target=lambda name=name, script=script, c=c: mixed.__setitem__(
                    name, wrk(port, script, args.seconds, c)
                )
            )
            for name, script, c in (
                ("POST /v1/reports", "reports.lua", 4),
                ("GET /v1/heatmaps", "heatmaps.lua", 2),
                ("GET /v1/tiles/heatmap/{z}/{x}/{y}.mvt", "tiles.lua", 2),
            )
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        drain(engine, port)
        mixed["POST /v1/reports"]["stored"] = count_reports(engine) - before
        results["mixed"] = mixed
        sampler.running = False
        sampler.join()
        results["rss_mb"] = {
            "api_workers": sorted(round(v, 1) for v in sampler.api.values()),
            "notification_worker": round(sampler.notifications, 1),
        }
        with engine.connect() as connection:
            results["postgres"] = connection.execute(text("SHOW server_version")).scalar()
    finally:
        for process in processes:
            stop(process)
        engine.dispose()
        drop_database(url)

    results["connections"] = args.connections
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": os.getloadavg(),
        "api_workers_seen": len(results["rss_mb"]["api_workers"]),
    }
    report(results)


def report(r: dict) -> None:
    ingest, peer = r["ingest"], r["peer"]

    def ms(us: float) -> str:
        return f"{us / 1000:.1f}"

    print("| phase | requests | rate /s | p50 ms | p99 ms | errors | 201s | stored |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| peer: hello WSGI (wrk) | {peer['requests']} | {peer['rate']:.0f} | "
        f"{ms(peer['p50_us'])} | {ms(peer['p99_us'])} | "
        f"{peer['bad_status'] + peer['socket_errors']} | – | – |"
    )
    print(
        f"| POST /v1/reports, closed loop (wrk) | {ingest['requests']} | {ingest['rate']:.0f} | "
        f"{ms(ingest['p50_us'])} | {ms(ingest['p99_us'])} | "
        f"{ingest['bad_status'] + ingest['socket_errors']} | {ingest['created']} | "
        f"{ingest['stored']} |"
    )
    for fixed in (r["fixed_100"], r["fixed_half"]):
        bad = sum(v for k, v in fixed["statuses"].items() if k != 201) + fixed["socket_errors"]
        print(
            f"| POST /v1/reports, open loop {fixed['rate']:.0f}/s | {fixed['requests']} | "
            f"{fixed['rate']:.0f} | {fixed['p50_ms']:.1f} | {fixed['p99_ms']:.1f} | {bad} | "
            f"{fixed['created']} | {fixed['stored']} |"
        )
    for name, m in r["mixed"].items():
        print(
            f"| mixed: {name} (wrk) | {m['requests']} | {m['rate']:.0f} | {ms(m['p50_us'])} | "
            f"{ms(m['p99_us'])} | {m['bad_status'] + m['socket_errors']} | "
            f"{m['created'] or '–'} | {m.get('stored', '–')} |"
        )
    # Requests still in flight when wrk stops are committed but not counted: at most one per
    # connection. Open-loop phases wait for every answer, so there stored must equal 201s
    # unless the client gave up (then the server may still have stored them).
    extra = ingest["stored"] - ingest["created"]
    verdict = "ok" if 0 <= extra <= r["connections"] else "MISMATCH"
    print(f"\ncount check, closed loop: {extra} stored beyond the 201s (in flight): {verdict}")
    cpu = ingest["cpu_ms_per_report"]
    print(f"ingest / peer throughput: {ingest['rate'] / peer['rate']:.3f}")
    print(f"peer CPU per request: {peer['cpu_ms_per_request']:.2f} ms")
    print(
        f"CPU per report: API workers {cpu['api']:.1f} ms + PostgreSQL {cpu['postgres']:.1f} ms"
        f" -> at most {2000 / (cpu['api'] + cpu['postgres']):.0f} reports/s on two idle cores"
    )
    print(f"RSS MB: {r['rss_mb']}")
    print("JSON " + json.dumps(r))


if __name__ == "__main__":
    main()
