"""Open311 GeoReport v2 under /open311/v2, in XML and JSON, with FixMyStreet's
servicerequestupdates extension (docs/open311.md)."""

import hmac
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta

import marshmallow as ma
from flask import Blueprint, current_app, request, url_for
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from civic_api.categories import service as categories
from civic_api.database import session
from civic_api.errors import DomainError, Forbidden, InvalidInput, database_error
from civic_api.errors import NotFound as NotFoundError
from civic_api.i18n import current_locale, translate
from civic_api.limits import limiter, setting
from civic_api.messages import translate_message
from civic_api.ogc.service import PointIds
from civic_api.open311 import service
from civic_api.open311.render import errors, respond
from civic_api.reports import service as reports
from civic_api.reports.routes import SUBMISSION_BUDGET
from civic_api.reports.schemas import IdempotencyHeadersSchema, ReportCreateSchema, created_body

logger = logging.getLogger(__name__)

blp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FMT = "<any(xml, json):fmt>"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00+01:00"  # when this implementation's behaviour last changed
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ATTRIBUTE = re.compile(r"attribute\[([^\[\]]+)\](\[\])?")
# Our field names as a GeoReport client wrote them.
FORM_NAMES = {"category": "service_code", "location": "lat/long"}


def request_ids() -> PointIds:
    """The same opaque ids as the OGC report points: a request is one feature there."""
    return PointIds(current_app.config["SECRET_KEY"].encode())


def update_ids() -> PointIds:
    return PointIds(current_app.config["SECRET_KEY"].encode(), b"open311:update-id")


def args_list(name: str) -> list[str]:
    """A comma-separated (or repeated) parameter, blanks dropped."""
    return [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]


def int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    if not re.fullmatch(r"\d{1,9}", text) or not low <= int(text) <= high:
        raise service.bad_request(name, f"{name} must be a whole number from {low} to {high}.")
    return int(text)


# Errors: the spec's list of {code, description}, in the format asked for


def _format() -> str:
    fmt = (request.view_args or {}).get("fmt")
    return fmt if fmt in ("xml", "json") else ("xml" if request.path.endswith(".xml") else "json")


def _descriptions(error: DomainError) -> list[str]:
    """One text per problem, in the request's language, naming fields as the client did."""
    locale = current_locale()
    found = []
    for fields in (error.errors or {}).values():
        for name, messages in fields.items():
            if isinstance(messages, dict):  # attribute answers, by attribute code
                for code, texts in messages.items():
                    found += [f"attribute[{code}]: {translate_message(t, locale)}" for t in texts]
            else:
                name = FORM_NAMES.get(name, name)
                found += [f"{name}: {translate_message(t, locale)}" for t in messages]
    return found or [translate_message(error.message, locale)]


@blp.errorhandler(DomainError)
def domain_error(error: DomainError):
    # The spec has 400 for every unacceptable argument, 403 for keys, 404 for unknown ids.
    status = 400 if error.status in (409, 422) else error.status
    return errors(_format(), status, _descriptions(error), error.headers)


@blp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    headers = dict(error.get_response().headers)
    headers.pop("Content-Type", None)
    headers.pop("Content-Length", None)
    return errors(_format(), error.code or 500, [error.description or error.name], headers)


@blp.errorhandler(Exception)
def unexpected_error(error: Exception):
    session.remove()
    # Database failures as the rest of the API maps them (503 with Retry-After, 409, 422).
    mapped = database_error(error) if isinstance(error, DBAPIError | PoolTimeout) else None
    if mapped is not None:
        logger.warning("database error %s -> %s", type(error).__name__, mapped.status)
        return domain_error(mapped)
    logger.error("unhandled %s", type(error).__name__)  # no traceback: it may hold report text
    return errors(_format(), 500, ["An unexpected error occurred; it has been logged."])


# Discovery and services


@blp.get(f"/discovery.{FMT}")
def discovery(fmt):
    """Where the GeoReport v2 endpoint is and what it speaks"""
    root = url_for("open311.discovery", fmt=fmt, _external=True).rsplit("/", 1)[0]
    document = {
        "changeset": CHANGESET,
        "contact": current_app.config["OPEN311_CONTACT"],
        "key_service": "Anonymous posting is allowed; api_key is needed only where "
        "the deployment says so (docs/open311.md).",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": root,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return respond(fmt, "discovery", None, document)


@blp.get(f"/services.{FMT}")
def services(fmt):
    """The active categories as services"""
    service.jurisdiction(request.args.get("jurisdiction_id"))
    found = [
        {
            "service_code": c.code,
            "service_name": translate(c.name),
            "description": translate(c.description) if c.description else None,
            "metadata": bool(c.attributes),
            "type": "realtime",
            "keywords": ",".join(c.keywords),
            "group": translate(c.group.name),
        }
        for c in categories.list_categories()
    ]
    return respond(fmt, "services", "service", found)


@blp.get(f"/services/<code>.{FMT}")
def service_definition(code, fmt):
    """A service's attributes: the questions asked with a request"""
    service.jurisdiction(request.args.get("jurisdiction_id"))
    category = categories.get_category(code)
    if category is None:
        raise NotFoundError(f"service_code {code!r} not found.")
    attributes = [
        {
            "variable": True,
            "code": a.code,
            "datatype": a.datatype,
            "required": a.required,
            "datatype_description": None,
            "order": a.order,
            "description": translate(a.description),
            "values": [{"key": v["key"], "name": translate(v["name"])} for v in a.values],
        }
        for a in category.attributes
    ]
    document = {"service_code": category.code, "attributes": attributes}
    return respond(fmt, "service_definition", None, document)


# Requests


def _request_documents(found: list[service.PublishedRequest]) -> list[dict]:
    ids = request_ids().encode([r.report_id for r in found])
    return [
        {
            "service_request_id": request_id,
            "status": service.OPEN311_STATUS[r.status],
            "status_notes": r.status_notes,
            "service_name": translate(r.service_name),
            "service_code": r.service_code,
            "agency_responsible": translate(r.agency),
            "requested_datetime": service.local_time(r.requested),
            "updated_datetime": service.local_time(r.updated),
            "lat": r.lat,
            "long": r.lon,
        }
        for request_id, r in zip(ids, found, strict=True)
    ]


@blp.get(f"/requests.{FMT}")
def list_requests(fmt):
    """Published requests (never of a sensitive service), newest first"""
    municipality = service.jurisdiction(request.args.get("jurisdiction_id"))
    wanted_ids = args_list("service_request_id")
    if wanted_ids:
        decoded = [request_ids().decode(i) for i in wanted_ids]
        found = service.published_requests(report_ids=[i for i in decoded if i is not None])
        return respond(fmt, "service_requests", "request", _request_documents(found))
    status = args_list("status")
    if not set(status) <= {"open", "closed"}:
        raise service.bad_request("status", "status must be open, closed or both.")
    codes = args_list("service_code")
    found = service.published_requests(
        category_ids=service.category_ids(codes) if codes else None,
        window=service.date_window(
            request.args.get("start_date"), request.args.get("end_date"), datetime.now(UTC)
        ),
        status=status,
        municipality=municipality,
        page=int_arg("page", 1, 1, 1_000_000),
        page_size=int_arg("page_size", service.MAX_PAGE_SIZE, 1, service.MAX_PAGE_SIZE),
    )
    return respond(fmt, "service_requests", "request", _request_documents(found))


@blp.get(f"/requests/<request_id>.{FMT}")
def request_by_id(request_id, fmt):
    """One published request"""
    service.jurisdiction(request.args.get("jurisdiction_id"))
    found = service.published_request(request_ids().decode(request_id))
    if found is None:
        raise NotFoundError(f"service_request_id {request_id!r} not found.")
    return respond(fmt, "service_requests", "request", _request_documents([found]))


@blp.get(f"/tokens/<token>.{FMT}")
def token(token, fmt):
    """A request's id by token: none is ever issued, as ids are returned at once"""
    raise NotFoundError(
        f"token {token!r} not found: this server returns the service_request_id when a "
        "request is posted and issues no tokens."
    )


def _check_api_key(given: str | None) -> None:
    keys = current_app.config["OPEN311_API_KEYS"]
    if keys and not any(hmac.compare_digest((given or "").encode(), k.encode()) for k in keys):
        raise Forbidden("api_key is missing or invalid.")


def _location(form) -> dict:
    lat, lon = form.get("lat", "").strip(), form.get("long", "").strip()
    if not lat or not lon:
        raise InvalidInput(
            "lat and long are required: addresses (address_string, address_id) are not "
            "geocoded here.",
            status=400,
        )
    try:
        return {"lat": float(lat), "lon": float(lon)}
    except ValueError:
        raise InvalidInput("lat and long must be decimal degrees.", status=400) from None


@blp.post(f"/requests.{FMT}")
@limiter.shared_limit(setting("REPORT_RATE_LIMIT"), scope=SUBMISSION_BUDGET)
def create_request(fmt):
    """Post a request, form-encoded; contact details are accepted and never stored"""
    if request.mimetype not in FORM_TYPES:
        raise DomainError(
            "Send the request form-encoded (application/x-www-form-urlencoded).", status=415
        )
    form = request.form
    _check_api_key(form.get("api_key"))
    municipality = service.jurisdiction(form.get("jurisdiction_id"))
    code = form.get("service_code", "").strip()
    if not code:
        raise InvalidInput("service_code is required.", status=400)
    category = categories.get_category(code)
    raw: dict[str, list[str]] = {}
    for key in form:
        match = ATTRIBUTE.fullmatch(key)
        if match:
            raw.setdefault(match.group(1), []).extend(form.getlist(key))
    body: dict = {
        "category": code,
        "location": _location(form),
        "attributes": service.typed_answers(category.attributes if category else [], raw),
    }
    if form.get("description", "").strip():
        body["description"] = form["description"]
    try:
        fields = ReportCreateSchema().load(body)
        headers = IdempotencyHeadersSchema().load(dict(request.headers))
    except ma.ValidationError as exc:
        raise InvalidInput("The request is invalid.", {"form": exc.messages}, 400) from None
    created, replayed = reports.submit_report(
        current_app.config["SECRET_KEY"].encode(),
        headers.get("idempotency_key"),
        body,
        timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"]),
        created_body,
        categories=current_app.extensions["category_cache"],
        municipalities=current_app.extensions["municipality_index"],
        locale=current_locale(),
        snap_metres=current_app.config["MUNICIPALITY_SNAP_METRES"],
        **fields,
    )
    where = created["municipality"]
    if municipality is not None and where["slug"] != municipality.slug:
        raise InvalidInput(
            f"This location is in {where['name']}, not in jurisdiction {municipality.slug}.",
            status=400,
        )
    if replayed:
        session.rollback()
    else:
        session.commit()
    request_id = request_ids().encode([uuid.UUID(created["id"])])[0]
    document = {
        "service_request_id": request_id,
        "service_notice": f"Sent to {where['name']}.",
    }
    response = respond(fmt, "service_requests", "request", [document], 201)
    response.headers["Location"] = url_for("open311.request_by_id", request_id=request_id, fmt=fmt)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# FixMyStreet's extension


@blp.get(f"/servicerequestupdates.{FMT}")
def request_updates(fmt):
    """Status changes and public responses of published requests (FixMyStreet)"""
    municipality = service.jurisdiction(request.args.get("jurisdiction_id"))
    window = service.date_window(
        request.args.get("start_date"), request.args.get("end_date"), datetime.now(UTC)
    )
    found = service.updates(window, municipality)
    update_id_of = update_ids().encode([uuid.UUID(int=u.event_id) for u in found])
    request_id_of = request_ids().encode([u.report_id for u in found])
    documents = [
        {
            "update_id": update_id,
            "service_request_id": request_id,
            "status": service.UPDATE_STATUS[u.status],
            "updated_datetime": service.local_time(u.at),
            "description": u.description or "",
        }
        for update_id, request_id, u in zip(update_id_of, request_id_of, found, strict=True)
    ]
    return respond(fmt, "service_requests_updates", "request_update", documents)


@blp.route("/", defaults={"anything": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@blp.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(anything):
    """Everything else under /open311/v2, in the spec's error format"""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in ("GET", "POST"):
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "open311.unknown":
            allowed.add(method)
    if allowed:
        raise MethodNotAllowed(sorted(allowed))
    raise NotFound("Not a GeoReport v2 resource: see discovery.json (paths end in .xml or .json).")
