"""Prometheus metrics at /metrics, correct under gunicorn's several worker processes.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets one per instance), every process
writes its samples to files there and /metrics merges them. Outbox depth and age, push
message states and releases are read from the database at scrape time, so every API
process reports the same values whichever worker wrote the rows.

Hooks for other parts of the app: `delivery_outcome`, `release_published`, `rate_limited`.
"""

import logging
import os
import time

from flask import Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY
from sqlalchemy import text

from civic_api.database import session
from civic_api.push.models import STATES

logger = logging.getLogger(__name__)

REQUEST_SECONDS = Histogram(
    "civic_http_request_duration_seconds",
    "Time to answer a request, by route template (never the concrete path), method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RATE_LIMITED = Counter(
    "civic_rate_limit_refusals_total", "Requests refused with 429, by route template", ["route"]
)
DELIVERIES = Counter(
    "civic_push_delivery_outcomes_total",
    "Push messages handled by the workers in this scrape's processes, by outcome",
    ["outcome"],
)
RELEASES = Counter(
    "civic_releases_published_total", "Releases published by this service, by kind", ["kind"]
)


def delivery_outcome(outcome: str, count: int = 1) -> None:
    """Count push deliveries (sent, retry, failed, dead, delivered_to_log…)."""
    DELIVERIES.labels(outcome).inc(count)


def release_published(kind: str) -> None:
    """Count a publication (a differentially private release, an open-data file…)."""
    RELEASES.labels(kind).inc()


def rate_limited(route: str) -> None:
    RATE_LIMITED.labels(route).inc()


DATABASE_GAUGES = text("""
SELECT
    (SELECT count(*) FROM outbox_event WHERE dispatched_at IS NULL AND available_at <= now()),
    (SELECT extract(epoch FROM now() - min(available_at)) FROM outbox_event
     WHERE dispatched_at IS NULL AND available_at <= now()),
    (SELECT extract(epoch FROM now() - min(next_attempt_at)) FROM push_message
     WHERE state = 'pending' AND next_attempt_at <= now()),
    (SELECT count(*) FROM dp_release),
    (SELECT extract(epoch FROM max(created_at)) FROM dp_release),
    (SELECT count(*) FROM release),
    (SELECT extract(epoch FROM max(created_at)) FROM release)
""")
MESSAGE_STATES = text("SELECT state, count(*) FROM push_message GROUP BY state")


class DatabaseCollector:
    """Gauges read from the database when Prometheus scrapes (a few index-backed counts)."""

    def collect(self):
        try:
            session.execute(text("SET LOCAL statement_timeout = 2000"))
            depth, age, push_age, releases, last_release, monthly, last_monthly = session.execute(
                DATABASE_GAUGES
            ).one()
            states = dict(session.execute(MESSAGE_STATES).all())
        except Exception as exc:  # a scrape must answer even when the database is away
            logger.warning("metrics: database gauges unavailable (%s)", type(exc).__name__)
            session.rollback()
            yield GaugeMetricFamily("civic_database_up", "1 if the gauges could be read", 0)
            return
        finally:
            session.remove()
        yield GaugeMetricFamily("civic_database_up", "1 if the gauges could be read", 1)
        yield GaugeMetricFamily(
            "civic_outbox_pending_events", "Outbox events due and not yet fanned out", depth
        )
        yield GaugeMetricFamily(
            "civic_outbox_oldest_pending_age_seconds",
            "How long the oldest due outbox event has waited (0: none waiting)",
            float(age or 0),
        )
        yield GaugeMetricFamily(
            "civic_push_oldest_due_age_seconds",
            "How long the oldest due push message has waited (0: none waiting)",
            float(push_age or 0),
        )
        messages = GaugeMetricFamily(
            "civic_push_messages", "Push messages by delivery state", labels=["state"]
        )
        for state in STATES:
            messages.add_metric([state], states.get(state, 0))
        yield messages
        yield GaugeMetricFamily(
            "civic_public_releases", "Monthly public releases (`flask analytics publish`)", monthly
        )
        yield GaugeMetricFamily(
            "civic_public_release_last_timestamp_seconds",
            "When the newest monthly release was published (0: none yet)",
            float(last_monthly or 0),
        )
        yield GaugeMetricFamily(
            "civic_dp_releases", "Researchers' differentially private releases", releases
        )
        yield GaugeMetricFamily(
            "civic_dp_release_last_timestamp_seconds",
            "When the newest release was published (0: none yet)",
            float(last_release or 0),
        )


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:  # one process (tests, `flask run`): its own metrics
        registry.register(REGISTRY)
    registry.register(DatabaseCollector())
    return registry


def _start_timer():
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        REQUEST_SECONDS.labels(route, request.method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        if response.status_code == 429:
            rate_limited(route)
    return response


def metrics_view():
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def init_app(app) -> None:
    """Time every request and serve /metrics (keep it off the public internet: docs/deploy.md)."""
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
