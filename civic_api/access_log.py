"""Request logs that cannot tie a client to a report: one JSON line per request, with its id.

The gunicorn access log (`RedactingLogger`) and the application's own log lines are JSON, so
control characters in a path are escaped and cannot forge a line. Neither holds a client
address (unless an operator opts in), a user agent, a query string, a token or report text;
ids in paths are replaced by {id}. The request id comes from a well-formed X-Request-ID of
the client or proxy, else a fresh random one, and is returned in X-Request-ID.
"""

import json
import logging
import os
import re
import secrets
from datetime import UTC, datetime

from flask import g, has_request_context, request
from gunicorn import util
from gunicorn.glogging import Logger

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
# Probes that would drown the log: logged only when they fail.
QUIET_PATHS = ("/healthz", "/readyz")


def redact(path: str | None) -> str:
    return UUID.sub("{id}", path or "")


ADDRESS = re.compile(r"ip=\S+")


class RedactingLogger(Logger):
    """Gunicorn's access log as one JSON object per request (see the module docstring)."""

    def warning(self, msg, *args, **kwargs):
        # Gunicorn names the client address of every malformed request: leave it out.
        super().warning(ADDRESS.sub("ip=-", str(msg)), *args, **kwargs)

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        # On gunicorn's own error path some atoms are None; a logger must never raise.
        atoms["U"] = redact(atoms.get("U"))
        atoms["r"] = redact(atoms.get("r"))
        return atoms

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        try:
            line = self.access_line(resp, environ, request_time)
            if line is not None:
                self.access_log.info(json.dumps(line))
        except Exception:  # never let logging take a worker down
            self.error("access log line failed")

    @staticmethod
    def access_line(resp, environ, request_time) -> dict | None:
        status = resp.status
        status = int(status.split(None, 1)[0]) if isinstance(status, str) else status
        path = environ.get("PATH_INFO") or ""
        if path in QUIET_PATHS and status == 200:
            return None
        headers = dict((k.lower(), v) for k, v in (resp.headers or []))
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": headers.get("x-request-id"),
            "method": environ.get("REQUEST_METHOD"),
            "path": redact(path),
            "status": status,
            "bytes": getattr(resp, "sent", None),
            "ms": request_time.seconds * 1000 + request_time.microseconds // 1000,
        }
        if os.environ.get("CIVIC_ACCESS_LOG_CLIENT_IP") == "1":
            line["client"] = environ.get("REMOTE_ADDR")
        return line


def write_json_error(sock, status_int, reason, mesg):
    """Gunicorn's own error answers (414, 431, malformed requests) in the API's JSON shape."""
    body = json.dumps({"code": status_int, "status": reason, "message": mesg or reason})
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body.encode())}\r\n\r\n"
    )
    util.write_nonblock(sock, (head + body).encode("latin1", "replace"))


def install_json_error_pages() -> None:
    """Called from gunicorn.conf.py before the workers start."""
    util.write_error = write_json_error


class JsonFormatter(logging.Formatter):
    """Application log lines as JSON, with the request id when there is a request."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            line["request_id"] = g.request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def request_id() -> str:
    if "request_id" not in g:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else secrets.token_hex(16)
    return g.request_id


def init_app(app) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(logging.INFO)

    app.before_request(lambda: request_id() and None)

    @app.after_request
    def request_id_header(response):
        response.headers["X-Request-ID"] = request_id()
        return response
