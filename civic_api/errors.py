"""Domain errors carry their HTTP status; the mapping to JSON happens here, at the edge."""

import logging

from flask_smorest import abort
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """An error a client can act on. `errors` is {location: {field: [messages]}}."""

    status = 422

    def __init__(
        self,
        message: str,
        errors: dict | None = None,
        status: int | None = None,
        *,
        headers: dict | None = None,
        details: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.headers = headers
        # Extra top-level members of the error body, e.g. the allowed status transitions.
        self.details = details
        if status is not None:
            self.status = status


class InvalidInput(DomainError):
    """422: the request is well-formed but its content is not acceptable."""

    @classmethod
    def field(cls, field: str, message: str, location: str = "json") -> "InvalidInput":
        return cls(message, {location: {field: [message]}})


class NotFound(DomainError):
    status = 404


class Unauthorized(DomainError):
    """401: no valid credentials. Clients should sign in (again)."""

    status = 401

    def __init__(self, message: str = "Sign in first: send a valid bearer token."):
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class PreconditionFailed(DomainError):
    status = 412


class Locked(DomainError):
    status = 423


class BudgetExhausted(DomainError):
    """429: a privacy budget would be exceeded; Retry-After says when it renews."""

    status = 429


class Busy(DomainError):
    """503: the server is busy with the same kind of work; Retry-After says when to retry."""

    status = 503


def init_app(app, api) -> None:
    """Render domain errors and unexpected exceptions in flask-smorest's error shape."""

    def handle_domain_error(error: DomainError):
        kwargs = {"message": error.message}
        if error.errors:
            kwargs["errors"] = error.errors
        if error.headers:
            kwargs["headers"] = error.headers
        try:
            abort(error.status, **kwargs)
        except HTTPException as http_error:
            payload, status, headers = api.handle_http_exception(http_error)
            return payload | (error.details or {}), status, headers

    def handle_unexpected(error: Exception):
        if isinstance(error, DBAPIError):
            # PostgreSQL echoes row values (report text) in its messages: log only the codes.
            diag = getattr(error.orig, "diag", None)
            logger.error(
                "database error %s (SQLSTATE %s, constraint %s)",
                type(error.orig).__name__,
                getattr(error.orig, "pgcode", None),
                getattr(diag, "constraint_name", None),
            )
        else:
            logger.exception("unhandled %s", type(error).__name__)
        return api.handle_http_exception(
            InternalServerError(description="An unexpected error occurred; it has been logged.")
        )

    def handle_stale(error: StaleDataError):
        # Another request changed the row between our read and our write.
        return handle_domain_error(
            PreconditionFailed("The resource changed meanwhile; reload it and try again.")
        )

    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(StaleDataError, handle_stale)
    app.register_error_handler(Exception, handle_unexpected)
