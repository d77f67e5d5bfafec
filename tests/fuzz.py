"""Schemathesis against a live gunicorn (the project's gunicorn.conf.py) on a throwaway database.

`scripts/fuzz` runs this (and so does .ci/run). Public routes are fuzzed anonymously and the
admin routes with an admin's bearer token; every check is on. Exits with schemathesis's code.
"""

import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import create_database, drop_database, server_url  # noqa: E402
from live import admin_token, gunicorn, seeded_app  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

SCHEMATHESIS = ROOT / ".venv-fuzz" / "bin" / "schemathesis"
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "25")


def prepare(url: str) -> str:
    """Migrate and seed the database; return an admin's bearer token."""
    seeded_app(url, secret="fuzz").extensions["engine"].dispose()
    return admin_token(url, "fuzz-admin@example.org")


def main() -> int:
    name = f"{make_url(server_url()).database}_test_{os.getpid()}"
    url = create_database(name)
    stack = ExitStack()
    try:
        token = prepare(url)
        env = {
            # Limits stay on (their 429s are documented) but high enough to let the fuzzer in.
            "CIVIC_REPORT_RATE_LIMIT": "100000 per minute",
            "CIVIC_COMMENT_RATE_LIMIT": "100000 per minute",
            "CIVIC_DEVICE_RATE_LIMIT": "100000 per minute",
            "CIVIC_AGGREGATE_RATE_LIMIT": "100000 per minute",
            "CIVIC_LOGIN_RATE_LIMIT": "100000 per minute",
            "CIVIC_PASSWORD_RATE_LIMIT": "100000 per minute",
        }
        server = stack.enter_context(gunicorn(url, ROOT / ".fuzz-gunicorn.log", env))
        base = server.url
        command = [
            str(SCHEMATHESIS),
            "--config-file",
            str(ROOT / "schemathesis.toml"),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            os.environ.get("FUZZ_SEED", "1"),
            "--workers",
            "2",
            "--request-timeout",
            "20",
            # Signing out would revoke the fuzzer's own token (logout has its own tests).
            "--exclude-path",
            "/v1/admin/auth/logout",
            "--header",
            f"Authorization: Bearer {token}",
            "--report",
            "junit",
            "--report-dir",
            str(ROOT / ".fuzz-report"),
        ]
        print("$", " ".join(command).replace(token, "<admin token>"), flush=True)
        return subprocess.run(command, cwd=ROOT).returncode
    finally:
        stack.close()
        drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
