"""Impact indicators (public and staff) and the quarterly M&E report."""

import csv
import io

from flask import Response, current_app, request
from flask.views import MethodView

from civic_api.errors import NotFound
from civic_api.extensions import Blueprint
from civic_api.indicators import report, service
from civic_api.indicators.compute import INDICATORS, REASONS
from civic_api.indicators.periods import LOCAL_TZ, current_quarter_before
from civic_api.indicators.schemas import IndicatorArgsSchema, ReportArgsSchema
from civic_api.staff.auth import authorize, bearer_token, current_principal
from civic_api.staff.service import utcnow

blp = Blueprint(
    "indicators",
    __name__,
    url_prefix="/v1",
    query_role="analytics",
    description="Impact indicators per municipality, category group and period, with the "
    "previous period and the median of all municipalities; sensitive categories from the "
    "noisy monthly releases only (docs/indicators.md).",
)

TABLE_DOC = {
    "responses": {
        "200": {
            "description": "period, previous_period, min_n, the indicator list and one row per"
            " municipality × breakdown with value, n, withheld, previous, median and rank; or"
            " CSV with one line per indicator (?format=csv or Accept: text/csv)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }
}
CSV_HEADER = (
    "municipality",
    "breakdown",
    "key",
    "sensitive",
    "section",
    "indicator",
    "unit",
    "value",
    "n",
    "withheld",
    "previous",
    "previous_withheld",
    "median_of_municipalities",
    "rank",
)


def _query(args, exact_for, scope: set[int] | None):
    now = utcnow()
    period = args.get("period") or current_quarter_before(now)
    ids = None
    if args.get("municipality"):
        by_slug = {m.slug: m.id for m in service.municipalities()}
        unknown = [s for s in args["municipality"] if s not in by_slug]
        ids = {by_slug[s] for s in args["municipality"] if s in by_slug}
        refused = unknown or [s for s in args["municipality"] if scope and by_slug[s] not in scope]
        if refused:
            raise NotFound(f"No municipality in your reach has the slug {', '.join(refused)}.")
    if scope is not None:
        ids = scope if ids is None else ids
    table = service.build_table(
        period,
        now,
        min_n=current_app.config["INDICATORS_MIN_N"],
        exact_for=exact_for,
        released=service.released_volumes,
        municipality_ids=ids,
        levels=set(args.get("breakdown") or ["group"]),
        keys=set(args["key"]) if args.get("key") else None,
        max_age_seconds=current_app.config["INDICATORS_CACHE_SECONDS"],
    )
    details = {}
    if ids is not None and len(ids) == 1:
        details = _details(table, next(iter(ids)), exact_for)
    return table, details


def _details(table, municipality_id: int, exact_for) -> dict:
    """For one municipality: when problems occur (weekday × local hour) per row, and the
    answers to each category's list questions, where the row's figures are not withheld."""
    details = {}
    exact = exact_for is None or municipality_id in set(exact_for)
    for row in table.rows:
        if row.sensitive and not exact:
            continue
        entry = {
            "by_weekday_hour": service.by_hour_and_weekday(
                municipality_id, table.period, row.level, row.key
            )
        }
        if row.level == "category":
            entry["by_answer"] = service.by_answer(municipality_id, table.period, row.key)
        details[(row.municipality, row.level, row.key)] = entry
    return details


def respond(table, details, audience: str, args) -> Response:
    wants_csv = args.get("format") == "csv" or (
        "format" not in args
        and request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
    )
    if wants_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_HEADER)
        for row in table.rows:
            for indicator in INDICATORS:
                value = row.values[indicator.name]
                previous = row.previous[indicator.name]
                writer.writerow(
                    (
                        row.municipality,
                        row.level,
                        row.key,
                        str(row.sensitive).lower(),
                        indicator.section,
                        indicator.name,
                        indicator.unit,
                        _blank(value.value),
                        _blank(value.n),
                        value.withheld or "",
                        _blank(previous.value),
                        previous.withheld or "",
                        _blank(row.median[indicator.name]),
                        _blank(row.rank[indicator.name]),
                    )
                )
        response = Response(buffer.getvalue(), mimetype="text/csv")
        filename = f"indicators-{table.period.label}.csv".replace("..", "_")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        response = current_app.json.response(as_json(table, details, audience))
    if audience == "public":
        response.cache_control.public = True
        response.cache_control.max_age = 300
    else:
        response.cache_control.private = True
        response.vary.add("Authorization")
    return response


def _blank(value):
    return "" if value is None else value


def as_json(table, details, audience: str) -> dict:
    period = table.period
    previous = period.previous()
    return {
        "period": _period(period),
        "previous_period": _period(previous),
        "time_zone": str(LOCAL_TZ),
        "computed_at": table.computed_at.isoformat(),
        "audience": audience,
        "min_n": table.min_n,
        "indicators": [{"name": i.name, "section": i.section, "unit": i.unit} for i in INDICATORS],
        "withheld_reasons": REASONS,
        "rows": [
            {
                "municipality": row.municipality,
                "breakdown": row.level,
                "key": row.key,
                "sensitive": row.sensitive,
                "values": {
                    name: {
                        "value": value.value,
                        "n": value.n,
                        "withheld": value.withheld,
                        "previous": row.previous[name].value,
                        "previous_withheld": row.previous[name].withheld,
                        "median_of_municipalities": row.median[name],
                        "rank": row.rank[name],
                    }
                    for name, value in row.values.items()
                },
                **details.get((row.municipality, row.level, row.key), {}),
            }
            for row in table.rows
        ],
    }


def _period(period) -> dict:
    return {
        "label": period.label,
        "first_day": period.start_date.isoformat(),
        "last_day": period.end_date.fromordinal(period.end_date.toordinal() - 1).isoformat(),
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }


@blp.route("/indicators")
class IndicatorsView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(IndicatorArgsSchema, location="query")
    @blp.doc(**TABLE_DOC)
    @blp.alt_response(404, description="Unknown municipality")
    def get(self, args):
        """Public impact indicators: non-sensitive live, sensitive from the releases"""
        return respond(*_query(args, exact_for=[], scope=None), "public", args)


@blp.route("/admin/indicators")
class AdminIndicatorsView(MethodView):
    @blp.auth("reports:read")
    @blp.arguments(IndicatorArgsSchema, location="query")
    @blp.doc(**TABLE_DOC)
    @blp.alt_response(404, description="Municipality outside your reach")
    def get(self, args):
        """Exact indicators for your municipalities, beside the public median"""
        principal = current_principal()
        scope = None if principal.municipality_ids is None else set(principal.municipality_ids)
        return respond(
            *_query(args, exact_for=principal.municipality_ids, scope=scope), "staff", args
        )


@blp.route("/indicators/report")
class IndicatorReportView(MethodView):
    @blp.limited("AGGREGATE_RATE_LIMIT", shared="aggregates")
    @blp.arguments(ReportArgsSchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "The quarterly M&E report as HTML, or PDF",
                "content": {
                    "text/html": {"schema": {"type": "string"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
        security=[{}, {"bearerAuth": []}],
    )
    @blp.alt_response(404, description="Unknown municipality")
    def get(self, args):
        """The quarterly M&E report of one municipality (HTML or PDF, sq/sr/en)"""
        exact_for: list[int] = []
        if bearer_token():
            principal = authorize("reports:read")
            exact_for = principal.municipality_ids
        wants_pdf = args.get("format") == "pdf" or (
            "format" not in args
            and request.accept_mimetypes.best_match(["text/html", "application/pdf"])
            == "application/pdf"
        )
        document = report.build(
            args["period"],
            args["municipality"],
            args["lang"],
            exact_for=exact_for,
            min_n=current_app.config["INDICATORS_MIN_N"],
            now=utcnow(),
            max_age_seconds=current_app.config["INDICATORS_CACHE_SECONDS"],
        )
        if wants_pdf:
            response = Response(report.to_pdf(document), mimetype="application/pdf")
            name = f"indicators-{args['municipality']}-{args['period'].label}.pdf"
            response.headers["Content-Disposition"] = f'inline; filename="{name}"'
        else:
            response = Response(document, mimetype="text/html")
        response.cache_control.private = True
        response.vary.add("Authorization")
        return response
