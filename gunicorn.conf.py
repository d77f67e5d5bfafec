"""Gunicorn settings. The access log leaves out client addresses unless an operator opts in."""

import os

bind = os.environ.get("CIVIC_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("CIVIC_WORKERS", "3"))
# Threads keep a worker serving while one request waits on the database or a slow client.
worker_class = "gthread"
threads = int(os.environ.get("CIVIC_THREADS", "4"))
# A worker silent for longer than this is hung and is replaced. Every wait in a request is
# bounded well below it (analytics statements 15 s, connect 3 s, pool 5 s: settings.py).
timeout = int(os.environ.get("CIVIC_WORKER_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Request line and headers are bounded (gunicorn's defaults, stated): 414 and 431 beyond.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"
logger_class = "civic_api.access_log.RedactingLogger"
# One JSON line per request (civic_api/access_log.py): no client address, user agent,
# referer or query string, ids redacted, with the request id. CIVIC_ACCESS_LOG_CLIENT_IP=1
# adds the address for operators who must keep it (docs/deploy.md).


def on_starting(server):
    from civic_api.access_log import install_json_error_pages

    install_json_error_pages()
