"""The real gunicorn configuration serving the test database on a free loopback port."""

import contextlib
import http.client
import os
import subprocess
import sys
import time

from conftest import ROOT, TEST_SECRET, free_port


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextlib.contextmanager
def gunicorn(database_url: str, log_path, workers: int = 2, **env):
    """Yield the port of a gunicorn started with gunicorn.conf.py; stop it afterwards."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CIVIC_SECRET_KEY": TEST_SECRET,
        "CIVIC_BIND": f"127.0.0.1:{port}",
        "CIVIC_WORKERS": str(workers),
        **env,
    }
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(port, "/v1/categories")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(open(log_path).read()[-2000:]) from None
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=20)
