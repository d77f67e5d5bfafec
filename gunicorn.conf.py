"""Gunicorn settings. The access log leaves out client addresses unless an operator opts in."""

import os

bind = os.environ.get("CIVIC_BIND", "127.0.0.1:5000")
# Threaded workers keep client connections alive (the sync worker closes each after one
# response) and overlap one request's database wait with another's Python. Sized for the
# 2 cores here, shared with PostgreSQL: 2 processes (one per core; the GIL makes more
# threads per process useless for CPU) x 4 threads (enough to cover the database waits;
# each thread holds at most one of the engine's 5 pooled connections). docs/deploy.md.
worker_class = "gthread"
workers = int(os.environ.get("CIVIC_WORKERS", "2"))
threads = int(os.environ.get("CIVIC_THREADS", "4"))
# Idle keep-alive connections are held this long (a phone sends its next request soon or
# not at all); a request still running after `timeout` gets its worker restarted.
keepalive = 5
timeout = 30
graceful_timeout = 30
accesslog = "-"
logger_class = "civic_api.access_log.RedactingLogger"
# No %(h)s (client address), no user agent, no referer, no query string, ids redacted: a report's
# submitter must not be traceable from the logs. CIVIC_ACCESS_LOG_CLIENT_IP=1 adds the
# address for operators who must keep it (docs/deploy.md).
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
if os.environ.get("CIVIC_ACCESS_LOG_CLIENT_IP") == "1":
    access_log_format = "%(h)s " + access_log_format
