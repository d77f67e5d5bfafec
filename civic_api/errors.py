"""Domain errors carry their HTTP status; the mapping to JSON happens here, at the edge."""

import logging

from flask import current_app
from flask_smorest import abort
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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


class Unavailable(DomainError):
    """503: the database is away, overloaded or too slow; the client should retry later."""

    status = 503

    def __init__(self, message: str = "The service is temporarily unavailable; retry later."):
        seconds = current_app.config["DB_RETRY_AFTER_SECONDS"]
        super().__init__(message, headers={"Retry-After": str(seconds)})


# SQLSTATE classes and codes that say the database cannot serve now (connection, resources,
# shutdown, timeouts, lock waits, serialisation): the client should retry.
RETRY_CLASSES = ("08", "53", "57", "58")
RETRY_CODES = ("55P03", "40001", "40P01")


def database_error(error: DBAPIError | PoolTimeout) -> DomainError | None:
    """The client-facing error for a database failure, or None for a server bug (500)."""
    code = getattr(getattr(error, "orig", None), "pgcode", None) or ""
    if isinstance(error, PoolTimeout) or getattr(error, "connection_invalidated", False):
        return Unavailable()
    if code == "57014":
        return Unavailable("The request took too long; retry later or narrow it.")
    if code.startswith(RETRY_CLASSES) or code in RETRY_CODES:
        return Unavailable()
    if not code and isinstance(error, OperationalError | InterfaceError):
        return Unavailable()  # no SQLSTATE: the connection failed (refused, reset, timed out)
    if code in ("23505", "23503", "23P01"):  # unique, foreign key, exclusion: racing requests
        return Conflict("The request conflicts with data written meanwhile; reload and retry.")
    if code.startswith(("22", "23")):  # a value out of range, malformed or not allowed
        return InvalidInput("A value in the request is out of range or malformed.")
    return None


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
        if isinstance(error, DBAPIError | PoolTimeout):
            # PostgreSQL echoes row values (report text) in its messages: log only the codes.
            orig = getattr(error, "orig", None)
            diag = getattr(orig, "diag", None)
            mapped = database_error(error)
            log = logger.warning if mapped else logger.error
            log(
                "database error %s (SQLSTATE %s, constraint %s) -> %s",
                type(orig or error).__name__,
                getattr(orig, "pgcode", None),
                getattr(diag, "constraint_name", None),
                mapped.status if mapped else 500,
            )
            if mapped:
                return handle_domain_error(mapped)
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
