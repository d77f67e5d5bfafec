"""Shared column types and constraints for the feature models."""

from sqlalchemy import BigInteger, Boolean, CheckConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

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


class VersionRow:
    """Mixin: a one-row table whose version triggers set to the changing transaction's id
    (never reused, so a change that was rolled back cannot be confused with a later one),
    for the caches of civic_api.cache."""

    __table_args__ = (CheckConstraint("singleton", name="one_row"),)

    singleton: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default="true")
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
