"""Gunicorn settings. The access log leaves out client addresses unless an operator opts in."""

import os

bind = os.environ.get("CIVIC_BIND", "127.0.0.1:5000")
# Threaded workers keep client connections alive (the sync worker closes each after one
# response) and overlap one request's database wait with another's Python or a slow client.
# Sized for the 2 cores here, shared with PostgreSQL: 2 processes (one per core; the GIL
# makes more processes than cores pointless for CPU) x 4 threads (enough to cover the
# database waits; each holds at most one of the engine's DB_POOL_SIZE = 5 pooled
# connections). docs/deploy.md "Serving".
workers = int(os.environ.get("CIVIC_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("CIVIC_THREADS", "4"))
# A worker silent for longer than this is hung and is replaced. Every wait in a request is
# bounded well below it (analytics statements 15 s, connect 3 s, pool 5 s: settings.py).
timeout = int(os.environ.get("CIVIC_WORKER_TIMEOUT", "30"))
graceful_timeout = 20
# Idle keep-alive connections are held this long (a map loads its tiles in a burst; a
# phone sends its next request soon or not at all).
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

# No control socket by default: every instance would share $HOME/.gunicorn/gunicorn.ctl.
# CIVIC_CONTROL_SOCKET=/run/civic/api.ctl gives one instance its own.
control_socket_disable = not os.environ.get("CIVIC_CONTROL_SOCKET")
if os.environ.get("CIVIC_CONTROL_SOCKET"):
    control_socket = os.environ["CIVIC_CONTROL_SOCKET"]

# Prometheus multiprocess mode: each worker writes its samples to files in one directory per
# instance (set PROMETHEUS_MULTIPROC_DIR to choose it), which /metrics merges.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="civic-metrics-")


def on_starting(server):
    from civic_api.access_log import install_json_error_pages

    install_json_error_pages()
    # Start from an empty metrics directory: stale files would count old workers.
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.unlink(os.path.join(directory, name))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    # glibc gives each thread its own malloc arena (up to 8 per core), and memory freed after
    # a large answer (a national indicators table, an export) stays spread over them: a
    # gthread worker grew past 135 MiB after a mixed public load. Two arenas keep it flat,
    # for a little lock contention (set here, in the worker, before its threads start).
    import ctypes

    m_arena_max = -8  # glibc's mallopt parameter number
    try:
        ctypes.CDLL("libc.so.6").mallopt(m_arena_max, 2)
    except (OSError, AttributeError):  # not glibc: its own allocator's behaviour applies
        pass

