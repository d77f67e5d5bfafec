"""Helpers for the HTTP benchmarks: free loopback ports and gunicorn servers they start."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """`gunicorn -c gunicorn.conf.py APP` on a free loopback port, stopped on exit."""

    def __init__(self, app: str, env: dict, cwd: Path = ROOT, gunicorn: Path | None = None):
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                str(gunicorn or ROOT / ".venv/bin/gunicorn"),
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                app,
            ],
            cwd=cwd,
            env=os.environ | env | {"CIVIC_BIND": f"127.0.0.1:{self.port}"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{app} exited with {self.process.returncode}") from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{app} did not start listening")

    def worker_rss_mib(self) -> list[float]:
        """Resident memory of each worker process, MiB."""
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        sizes = []
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text()
            kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
            sizes.append(int(kib) / 1024)
        return sizes

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def __enter__(self) -> "Gunicorn":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def seeded_app(suffix: str):
    """A fresh `<DATABASE_URL's db>_<suffix>` database migrated to head, with the
    municipalities and both deployment profiles, and an app on it. Needs tests/ and the
    project root on sys.path (the bench scripts put them there)."""
    from conftest import create_database
    from live import seeded_app as seeded
    from sqlalchemy.engine import make_url

    url = create_database(f"{make_url(os.environ['DATABASE_URL']).database}_{suffix}")
    return url, seeded(url, secret="bench")
