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
