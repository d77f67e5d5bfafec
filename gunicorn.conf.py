"""Gunicorn settings. The access log leaves out client addresses unless an operator opts in."""

import os

bind = os.environ.get("CIVIC_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("CIVIC_WORKERS", "3"))
accesslog = "-"
logger_class = "civic_api.access_log.RedactingLogger"
# No %(h)s (client address), no user agent, no referer, no query string, ids redacted: a report's
# submitter must not be traceable from the logs. CIVIC_ACCESS_LOG_CLIENT_IP=1 adds the
# address for operators who must keep it (docs/deploy.md).
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
if os.environ.get("CIVIC_ACCESS_LOG_CLIENT_IP") == "1":
    access_log_format = "%(h)s " + access_log_format

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
    """Start from an empty metrics directory: stale files would count old workers."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.unlink(os.path.join(directory, name))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
