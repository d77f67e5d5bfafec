"""Query schemas of the indicator endpoints."""

import marshmallow as ma

from civic_api.extensions import DelimitedList, QueryArgsSchema
from civic_api.indicators.periods import InvalidPeriod, Period
from civic_api.models import LOCALES

SLUG = ma.fields.String(validate=ma.validate.Regexp(r"^[a-z0-9-]{1,64}$"))
CODE = ma.fields.String(validate=ma.validate.Regexp(r"^[a-z0-9_]{1,64}$"))
BREAKDOWNS = ("all", "group", "category")


class PeriodField(ma.fields.String):
    """2026-07, 2026-Q3, 2026 or 2026-01..2026-05, parsed to a Period."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return Period.parse(super()._deserialize(value, attr, data, **kwargs))
        except InvalidPeriod as error:
            raise ma.ValidationError(str(error)) from None


class IndicatorArgsSchema(QueryArgsSchema):
    period = PeriodField(
        metadata={
            "description": "A month (2026-07), quarter (2026-Q3), year (2026) or whole months"
            " (2026-01..2026-05), local time Europe/Belgrade; default: the last ended quarter",
            "example": "2026-Q3",
        }
    )
    municipality = DelimitedList(SLUG, metadata={"description": "Municipality slugs"})
    breakdown = DelimitedList(
        ma.fields.String(validate=ma.validate.OneOf(BREAKDOWNS)),
        metadata={
            "description": "all (all categories of one sensitivity), group, category; default group"
        },
    )
    key = DelimitedList(CODE, metadata={"description": "Only these group or category codes"})
    format = ma.fields.String(
        validate=ma.validate.OneOf(["json", "csv"]),
        metadata={"description": "csv: one line per indicator (or Accept: text/csv)"},
    )


class ReportArgsSchema(QueryArgsSchema):
    period = PeriodField(
        required=True, metadata={"description": "Usually a quarter: 2026-Q3", "example": "2026-Q3"}
    )
    municipality = SLUG
    lang = ma.fields.String(validate=ma.validate.OneOf(LOCALES), load_default="sq")
    format = ma.fields.String(
        validate=ma.validate.OneOf(["html", "pdf"]),
        metadata={"description": "html (default) or pdf (or Accept: application/pdf)"},
    )

    @ma.validates_schema
    def needs_municipality(self, data, **kwargs):
        if "municipality" not in data:
            raise ma.ValidationError("Required.", "municipality")
