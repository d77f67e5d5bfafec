"""Firebase App Check on anonymous writes: off by default, enforced when a project is set.

The apps send their App Check token in `X-Firebase-AppCheck`; firebase-admin verifies it
against Firebase's public keys (fetched at most every six hours, with a timeout). This is,
besides notifications/fcm.py, the only module that imports firebase_admin (on first use:
it and its JWT stack weigh ~30 MB, which a service without App Check does not carry).
"""

import logging

from flask import current_app, request

from civic_api.errors import Unauthorized, Unavailable

logger = logging.getLogger(__name__)
HEADER = "X-Firebase-AppCheck"
JWKS_TIMEOUT_SECONDS = 5


def _firebase_app():
    """A firebase-admin app for this project (one per process), with the key URL set."""
    import firebase_admin
    from firebase_admin import app_check, credentials
    from google.auth.credentials import AnonymousCredentials
    from jwt import PyJWKClient

    class _NoCredential(credentials.Base):
        """Verifying App Check tokens needs only Firebase's public keys, no service account."""

        def get_credential(self):
            return AnonymousCredentials()

    config = current_app.config
    name = f"civic-app-check:{config['APP_CHECK_PROJECT']}"
    try:
        app = firebase_admin.get_app(name)
    except ValueError:
        app = firebase_admin.initialize_app(
            _NoCredential(), {"projectId": config["APP_CHECK_PROJECT"]}, name=name
        )
    service = app_check._get_app_check_service(app)
    url = config["APP_CHECK_JWKS_URL"] or service._JWKS_URL
    if getattr(service, "_civic_jwks_url", None) != url:
        # firebase-admin fixes the key URL and waits up to 30 s; move it (tests, egress
        # proxies) and bound the wait.
        service._jwks_client = PyJWKClient(url, lifespan=21600, timeout=JWKS_TIMEOUT_SECONDS)
        service._civic_jwks_url = url
    return app


def require_app_check() -> None:
    """Refuse (401) a request without a valid App Check token, when App Check is enabled."""
    if not current_app.config["APP_CHECK_PROJECT"]:
        return
    token = request.headers.get(HEADER, "")
    if not token:
        raise Unauthorized("App Check failed: send a valid X-Firebase-AppCheck token.")
    from firebase_admin import app_check
    from jwt import PyJWKClientConnectionError, PyJWKClientError

    try:
        app_check.verify_token(token, app=_firebase_app())
    except PyJWKClientConnectionError:
        logger.warning("App Check keys unavailable")
        raise Unavailable() from None
    except (PyJWKClientError, ValueError):
        raise Unauthorized("App Check failed: send a valid X-Firebase-AppCheck token.") from None
