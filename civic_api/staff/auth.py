"""Bearer-token authentication and scope checks for the admin API."""

from flask import current_app, g, request

from civic_api.errors import Forbidden, Unauthorized
from civic_api.staff import service
from civic_api.staff.service import AuthPolicy, Principal


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
