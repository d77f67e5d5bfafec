"""Configuration defaults, overridden from the environment (CIVIC_<NAME>, or plain DATABASE_URL)."""

import json
import os

DEFAULTS: dict = {
    "DATABASE_URL": None,
    # Used to seal idempotent replies; set CIVIC_SECRET_KEY in production.
    "SECRET_KEY": None,
    # Reports: how far back occurred_at may lie, and how much clock skew is forgiven.
    "REPORT_MAX_AGE_DAYS": 365,
    "REPORT_FUTURE_TOLERANCE_SECONDS": 300,
    # A point this close to a municipality (simplified boundaries, GPS drift) is assigned to it.
    "MUNICIPALITY_SNAP_METRES": 250,
    "IDEMPOTENCY_TTL_HOURS": 24,
    # Reports and tiles read categories, municipality boundaries and the latest release from
    # per-process caches; a committed change is seen by every process within this many
    # seconds (0: checked on every use).
    "REFERENCE_CACHE_SECONDS": 1.0,
    # Rate limits per client (flask-limiter syntax, ";" separates several), keyed by a salted
    # hash of the address that rotates daily (civic_api/limits.py). Generous, because phones
    # on mobile networks share addresses; App Check is the stronger defence.
    "REPORT_RATE_LIMIT": "10 per minute;100 per hour",
    "COMMENT_RATE_LIMIT": "10 per minute;100 per hour",  # comments and reopening
    "DEVICE_RATE_LIMIT": "10 per minute;100 per hour",  # device registration
    "AGGREGATE_RATE_LIMIT": "300 per minute",  # heatmaps, tiles, series, hotspots, OGC, shared
    "PASSWORD_RATE_LIMIT": "5 per minute",  # PUT /v1/admin/me/password
    # memory:// counts per process; redis://host:port/0 shares counters between processes.
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ENABLED": True,
    # Firebase App Check on report submission and device registration (docs/deploy.md).
    "APP_CHECK_PROJECT": None,  # Firebase project id or number: enforced when set
    "APP_CHECK_JWKS_URL": None,  # default: Firebase's; moved for tests and egress proxies
    # Database timeouts (milliseconds unless named otherwise), per role of query.
    "DB_CONNECT_TIMEOUT_SECONDS": 3,
    "DB_POOL_TIMEOUT_SECONDS": 5,
    "DB_POOL_SIZE": 5,
    "DB_STATEMENT_TIMEOUT_MS": 5000,  # every request's queries
    "DB_INGEST_STATEMENT_TIMEOUT_MS": 3000,  # report submission and other anonymous writes
    "DB_ANALYTICS_STATEMENT_TIMEOUT_MS": 15000,  # aggregates, tiles, exports
    "DB_LOCK_TIMEOUT_MS": 2000,
    "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": 30000,
    # Seconds a client is told to wait (Retry-After) when the database is away or overloaded.
    "DB_RETRY_AFTER_SECONDS": 5,
    # Staff sign-in: short-lived access tokens, longer refresh tokens (rotated on every use).
    "ACCESS_TOKEN_MINUTES": 15,
    "REFRESH_TOKEN_DAYS": 14,
    "PERSONAL_TOKEN_MAX_DAYS": 365,
    # After this many failed logins for one email from one client within the window, that
    # client is locked out of that account for a while (other clients are not).
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
    # Per client address, in memory only (never stored): flask-limiter syntax.
    "LOGIN_RATE_LIMIT": "20 per minute",
    "PASSWORD_MIN_LENGTH": 12,
    # argon2id cost; lower it only for tests.
    "PASSWORD_HASH_TIME_COST": 3,
    "PASSWORD_HASH_MEMORY_KIB": 65536,
    # Aggregates: cells and periods with fewer reports than k are withheld (docs/privacy.md).
    "ANALYTICS_K": 5,
    "ANALYTICS_RESEARCHER_K": 3,
    # Public releases of the sensitive categories (docs/privacy.md): one per closed month,
    # published this many days after the month ends; epsilon per release, the most reports
    # one device is assumed to contribute to one month, and the smallest value shown.
    "RELEASE_EPSILON": 1.0,
    "RELEASE_CONTRIBUTION_BOUND": 2,
    "RELEASE_THRESHOLD": 5,
    "RELEASE_GRACE_DAYS": 7,
    # Researchers' differentially private answers: epsilon per answer, the contribution bound
    # and threshold, and the budgets per account and for everyone together per quarter.
    "DP_EPSILON": 1.0,
    "DP_CONTRIBUTION_BOUND": 3,
    "DP_THRESHOLD": 5,
    "DP_ACCOUNT_EPSILON_PER_QUARTER": 10.0,
    "DP_GLOBAL_EPSILON_PER_QUARTER": 50.0,
    # How long after resolution the reporter may reopen a report.
    "REOPEN_WINDOW_DAYS": 30,
    # Closing a report asks its reporter for feedback by push; unanswered, once more this later.
    "FEEDBACK_REMINDER_HOURS": 72,
    # Indicators (docs/indicators.md): rates, medians and league positions need this many reports.
    "INDICATORS_MIN_N": 10,
    # How stale the national pass (medians, league, public figures) may be, per process.
    "INDICATORS_CACHE_SECONDS": 600,
    # Push notifications (docs/push.md). Without credentials the worker only logs messages.
    # A service-account key file; else GOOGLE_APPLICATION_CREDENTIALS; else the log transport.
    "PUSH_FCM_CREDENTIALS": None,
    "PUSH_FCM_PROJECT_ID": None,  # default: the key file's project_id
    "PUSH_FCM_BASE_URL": "https://fcm.googleapis.com",  # moved for tests and egress proxies
    "PUSH_FCM_TIMEOUT_SECONDS": 10,  # one FCM or token request, from connect to last byte
    "PUSH_FCM_CONCURRENCY": 32,  # sending threads (and connections) per worker
    "PUSH_BATCH_SIZE": 500,  # messages per claim (at most 500)
    # A claimed batch whose worker died is sent again after this; keep it well above the timeout.
    "PUSH_LEASE_SECONDS": 60,
    # The end of a lease kept free to record outcomes (and absorb clock skew between workers);
    # the worker refuses a lease shorter than twice PUSH_FCM_TIMEOUT_SECONDS plus this.
    "PUSH_LEASE_MARGIN_SECONDS": 5,
    "PUSH_MAX_ATTEMPTS": 8,  # tries on 5xx / network errors before a message is dead
    "PUSH_BACKOFF_BASE_SECONDS": 30,  # exponential backoff with jitter from here...
    "PUSH_BACKOFF_MAX_SECONDS": 3600,  # ...up to this
    "PUSH_THROTTLE_DEFAULT_SECONDS": 60,  # pause after a 429 without Retry-After
    "PUSH_AUTH_PAUSE_SECONDS": 300,  # pause after 401 / THIRD_PARTY_AUTH_ERROR (and alert)
    "PUSH_IDLE_SECONDS": 1.0,  # how often an idle worker looks for due messages
    # Open311 (docs/open311.md): keys a POST must carry (none: anonymous posting), and the
    # contact its discovery document names.
    "OPEN311_API_KEYS": [],
    "OPEN311_CONTACT": "The municipality's services office; API documentation at /docs.",
    # Open data (docs/opendata.md): the publisher the DCAT-AP catalogue names.
    "OPEN_DATA_PUBLISHER": "Civic reports API",
    "MAX_CONTENT_LENGTH": 256 * 1024,
    # Photos of reports (docs/api.md#photos): per-upload size, count per report, decoded pixels
    # (larger is refused as a decompression bomb; a worker needs ~4 bytes a pixel while
    # decoding), and the longer side of the stored JPEG.
    "PHOTO_MAX_BYTES": 10 * 1024 * 1024,
    "PHOTO_MAX_PER_REPORT": 5,
    "PHOTO_MAX_PIXELS": 40_000_000,
    "PHOTO_MAX_DIMENSION": 2560,
    # Storage: "local" (PHOTO_DIRECTORY, default <instance folder>/photos) or "s3".
    "PHOTO_STORAGE": "local",
    "PHOTO_DIRECTORY": None,
    "PHOTO_S3_BUCKET": None,
    "PHOTO_S3_PREFIX": "photos/",
    "PHOTO_S3_ENDPOINT_URL": None,  # for MinIO, Ceph and other S3-compatible stores
    "PHOTO_S3_REGION": None,
    # Retention (`flask retention run`, docs/privacy.md#retention): days after closure before a
    # sensitive report's location becomes its res-8 cell's centre; days without registration
    # before a device is deleted; days a finished push message is kept.
    "RETENTION_COARSEN_AFTER_DAYS": 90,
    "RETENTION_DEVICE_INACTIVE_DAYS": 180,
    "RETENTION_PUSH_MESSAGE_DAYS": 30,
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust (0: none).
    # Rate limits key on the client address they report; it is never stored.
    "TRUSTED_PROXIES": 0,
    "API_TITLE": "Civic reports API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    # Served from the swagger-ui-bundle package: no CDN at run time.
    "OPENAPI_SWAGGER_UI_URL": "/docs/static/",
}


def _parse(value: str):
    """Environment values are JSON when they parse as JSON (numbers, booleans), else strings."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def from_environment(environ=os.environ) -> dict:
    """Return the settings that the environment overrides."""
    found = {}
    for key, default in DEFAULTS.items():
        if f"CIVIC_{key}" in environ:
            value = environ[f"CIVIC_{key}"]
            # Secrets and URLs stay text even when they look like numbers.
            found[key] = value if default is None or isinstance(default, str) else _parse(value)
    if "DATABASE_URL" in environ:
        found["DATABASE_URL"] = environ["DATABASE_URL"]
    return found
