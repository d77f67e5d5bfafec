"""Bearer-token authentication and scope checks for the admin API."""

import hashlib
import hmac
import logging
import math
import time

from flask import current_app, g, request

from civic_api.errors import Forbidden, Locked, Unauthorized
from civic_api.limits import client_key, limiter
from civic_api.staff import service
from civic_api.staff.service import AuthPolicy, Principal

logger = logging.getLogger(__name__)


def policy() -> AuthPolicy:
    app = current_app._get_current_object()
    if "auth_policy" not in app.extensions:
        app.extensions["auth_policy"] = AuthPolicy.from_config(app.config)
    return app.extensions["auth_policy"]


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authorize(scope: str | None) -> Principal:
    """Authenticate the request and check the scope; sets g.principal."""
    token = bearer_token()
    principal = service.authenticate(token, service.utcnow()) if token else None
    if principal is None:
        raise Unauthorized()
    if scope is not None and scope not in principal.scopes:
        raise Forbidden(f"This needs the {scope} permission, which your role or token lacks.")
    g.principal = principal
    return principal


def current_principal() -> Principal:
    return g.principal


# Sign-in lockout: per (client, account), so that nobody can lock staff out from elsewhere.
# Kept in the rate limiter's storage (memory, or Redis for several processes), keyed by the
# client's daily-salted address hash and an HMAC of the email; nothing goes to the database.


def _lockout(email: str):
    from limits import parse

    config = current_app.config
    item = parse(
        f"{config['LOGIN_MAX_FAILURES']} per {config['LOGIN_FAILURE_WINDOW_MINUTES']} minutes"
    )
    digest = hmac.new(
        policy().secret, b"sign-in:" + service.normalise_email(email).encode(), hashlib.sha256
    ).hexdigest()[:32]
    return item, ("sign-in-lockout", client_key(), digest)


def _counter(action):
    """Run a lockout-counter call; if the storage is away the per-client rate limit remains."""
    try:
        return action()
    except Exception:
        logger.warning("sign-in lockout storage unavailable")
        return None


def check_lockout(email: str) -> None:
    """Raise Locked (423, Retry-After) while this client has too many failures on `email`."""
    item, key = _lockout(email)
    strategy = limiter.limiter
    reset_at = _counter(
        lambda: (
            None if strategy.test(item, *key) else strategy.get_window_stats(item, *key).reset_time
        )
    )
    if reset_at is not None:
        raise Locked(
            "Too many failed sign-ins for this account from this client; try again later.",
            headers={"Retry-After": str(max(1, math.ceil(reset_at - time.time())))},
        )


def record_failure(email: str) -> None:
    item, key = _lockout(email)
    _counter(lambda: limiter.limiter.hit(item, *key))


def clear_failures(email: str) -> None:
    item, key = _lockout(email)
    _counter(lambda: limiter.limiter.clear(item, *key))
