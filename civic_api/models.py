"""Shared column types and constraints for the feature models."""

from sqlalchemy import CheckConstraint
from sqlalchemy.dialects.postgresql import JSONB

LOCALES = ("sq", "sr", "en")
DEFAULT_LOCALE = "en"
TEXT_MAX = 4000  # longest free text a citizen may send (description, text answers)

Translations = JSONB  # {"sq": ..., "sr": ..., "en": ...}


def all_locales(column: str, name: str) -> CheckConstraint:
    """A CHECK that a translations column has a non-empty text for every locale."""
    clauses = " AND ".join(
        f"jsonb_typeof({column}->'{loc}') = 'string' AND length({column}->>'{loc}') > 0"
        for loc in LOCALES
    )
    return CheckConstraint(clauses, name=name)
