"""Edge validation: every request passes here before a view, a parser or the database sees it.

One place for what no feature should have to think about: NUL and other control characters
in paths and query strings, lone surrogates, JSON nesting depth, numbers too large for the
database, dates outside the years anyone means, and bodies that are not JSON. Features get it
for free: the request hook covers paths, query strings and JSON bodies; `Schema` (in
extensions) bounds every loaded integer and date; hand-parsed dates use MIN_YEAR/MAX_YEAR.
"""

import json
import math
import re
from datetime import date

from flask import current_app, request
from werkzeug.routing import IntegerConverter

from civic_api.errors import InvalidInput, NotFound

MAX_JSON_DEPTH = 32
# Integers must fit PostgreSQL's integer (ids, counts, pages); JSON numbers a double exactly.
MAX_INT = 2**31 - 1
MAX_JSON_INT = 2**53
# Dates outside these years are typing errors or probes, and overflow date arithmetic.
MIN_YEAR, MAX_YEAR = 1900, 2199
# NUL cannot be stored by PostgreSQL; lone surrogates cannot be encoded as UTF-8.
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# Open311 posts forms, as its standard says; its own parsing checks them (docs/open311.md).
FORM_BODIES = {"open311"}
# In a path or a query string no control character has a meaning.
CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` path segments beyond PostgreSQL's integer are simply not found."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


def _nested(path: tuple, message: str) -> dict:
    if not path:
        return {"_schema": [message]}
    errors: dict | list = [message]
    for key in reversed(path):
        errors = {key: errors}
    return errors


def _reject(location: str, path: tuple, message: str, status: int = 422):
    raise InvalidInput(message, {location: _nested(path, message)}, status=status)


def _int(text: str) -> int | float:
    # Python refuses integers over 4,300 digits with an unhelpful error; refuse far sooner.
    if len(text) > 20:
        return math.inf  # reported with its field by check_json
    return int(text)


def _constant(name: str) -> float:
    return float(name)  # NaN and ±Infinity: reported with their field by check_json


def check_json(value, path: tuple = (), depth: int = 0) -> None:
    """Refuse unstorable strings, non-finite or oversized numbers and deep nesting."""
    if depth > MAX_JSON_DEPTH:
        _reject("json", (), f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels.", 400)
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            _reject("json", path, "Must not contain NUL or unpaired surrogate characters.")
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_JSON_INT:
            _reject("json", path, f"Numbers must be finite and at most {MAX_JSON_INT} in size.")
    elif isinstance(value, dict):
        for key, item in value.items():
            if UNSTORABLE.search(key):
                _reject("json", (), "Keys must not contain NUL or unpaired surrogates.")
            check_json(item, (*path, key), depth + 1)
    else:
        for index, item in enumerate(value):
            check_json(item, (*path, index), depth + 1)


def parse_json(data: bytes):
    """Parse a request body as JSON, or raise a 400 in the project's error shape."""
    try:
        return json.loads(data, parse_int=_int, parse_constant=_constant)
    except RecursionError:
        _reject("json", (), f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels.", 400)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "The request could not be parsed; see errors.",
            {"json": ["Invalid JSON body."]},
            400,
        ) from None


def check_request() -> None:
    """The request hook: the path, the query string and a JSON body."""
    if CONTROL.search(request.path):
        raise NotFound("No resource has a name with control characters.")
    for name, value in request.args.items(multi=True):
        if CONTROL.search(name) or CONTROL.search(value):
            _reject("query", (name,), "Must be plain text without control characters.")
    if request.blueprint in FORM_BODIES or request.routing_exception is not None:
        return  # form bodies are checked by their views; a 404/405 is answered as such
    if request.method in {"POST", "PUT", "PATCH"} and (
        request.content_length or request.headers.get("Transfer-Encoding")
    ):
        # Views with an `upload_limit(config)` (photos) take multipart bodies of that size.
        view = current_app.view_functions.get(request.endpoint)
        upload_limit = getattr(getattr(view, "view_class", None), "upload_limit", None)
        if upload_limit and request.mimetype == "multipart/form-data":
            request.max_content_length = upload_limit(current_app.config)
            return
        if not request.is_json:
            raise InvalidInput(
                "The request body must be JSON (Content-Type: application/json).", status=415
            )
        data = request.get_data(cache=True)
        limit = request.max_content_length
        if request.content_length is None and limit is not None and len(data) >= limit:
            # A chunked body is cut at the limit silently; reading on raises the 413.
            request.stream.read(1)
        check_json(parse_json(data))


def check_loaded(value, path: tuple = ()) -> None:
    """Bounds for values a schema loaded: integers for the database, plausible years."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise _schema_error(path, f"Must be between {-MAX_INT} and {MAX_INT}.")
    elif isinstance(value, date):  # datetime too
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise _schema_error(path, f"Must lie between the years {MIN_YEAR} and {MAX_YEAR}.")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_loaded(item, (*path, key))
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            check_loaded(item, (*path, index))


def _schema_error(path: tuple, message: str):
    import marshmallow as ma

    if len(path) < 2:
        return ma.ValidationError([message], *path)
    return ma.ValidationError(_nested(path[1:], message), path[0])


def init_app(app) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(check_request)
