"""One way to run the real gunicorn configuration for tests: on a free loopback port."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, log: Path, env: dict | None = None, ready: str = "/healthz"):
    """Serve wsgi:app with gunicorn.conf.py; yields .url, .port, .log and .process."""
    port = free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CIVIC_SECRET_KEY": "live-test",
        "CIVIC_BIND": f"127.0.0.1:{port}",
        "CIVIC_WORKERS": "2",
        "NO_PROXY": "127.0.0.1,localhost",
        **(env or {}),
    }
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60  # a loaded CI machine boots slowly
        while True:
            try:
                urllib.request.urlopen(url + ready, timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield SimpleNamespace(url=url, port=port, log=log, process=process)
    finally:
        process.terminate()
        process.wait(timeout=30)


# What every served database starts with: boundaries and both deployment profiles.
SEED_COMMANDS = (["seed", "municipalities"], ["seed", "walk-freely"], ["seed", "e-komuna"])


def seeded_app(url: str, *more: list[str], secret: str = "live"):
    """An app on the database at `url`, migrated to head and seeded (SEED_COMMANDS, then the
    `more` commands, each of which must succeed)."""
    from alembic import command

    from civic_api import create_app
    from civic_api.cli import alembic_config

    command.upgrade(alembic_config(url), "head")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": secret})
    runner = app.test_cli_runner()
    for args in (*SEED_COMMANDS, *more):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    return app


def admin_token(url: str, email: str = "live-admin@example.org") -> str:
    """A new admin of the (migrated) database at `url` and a bearer token for it."""
    from civic_api import create_app
    from civic_api.database import session
    from civic_api.staff import service
    from civic_api.staff.auth import policy

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "live"})
    with app.app_context():
        admin = service.create_staff(
            policy(),
            None,
            email=email,
            name="Live admin",
            role="admin",
            password="a long live-server password",
            municipalities=[],
        )
        session.commit()
        tokens = service.issue_session(policy(), admin, service.utcnow())
        session.commit()
    app.extensions["engine"].dispose()
    return tokens.access_token
