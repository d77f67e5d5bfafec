"""Reporting periods: whole local months (Europe/Belgrade), as a month, quarter, year or range."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Belgrade")
# The most months one period may span (a custom range), and the earliest year accepted.
MAX_MONTHS = 36
FIRST_YEAR = 2000

_MONTH = r"(\d{4})-(0[1-9]|1[0-2])"
_FORMS = (
    (re.compile(rf"^{_MONTH}$"), "month"),
    (re.compile(r"^(\d{4})-Q([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})$"), "year"),
    (re.compile(rf"^{_MONTH}\.\.{_MONTH}$"), "range"),
)


class InvalidPeriod(ValueError):
    pass


def _index(year: int, month: int) -> int:
    return year * 12 + month - 1


def _month(index: int) -> tuple[int, int]:
    return index // 12, index % 12 + 1


@dataclass(frozen=True)
class Period:
    """Months [first, last] (inclusive, as year*12 + month-1), checked when built."""

    first: int
    last: int
    kind: str = "range"

    def __post_init__(self):
        if self.last < self.first:
            raise InvalidPeriod("A period ends after it starts.")
        if self.last - self.first + 1 > MAX_MONTHS:
            raise InvalidPeriod(f"A period spans at most {MAX_MONTHS} months.")
        if _month(self.first)[0] < FIRST_YEAR or _month(self.last)[0] > 9999:
            raise InvalidPeriod(f"Periods start in {FIRST_YEAR} or later.")

    @classmethod
    def parse(cls, text: str) -> "Period":
        """2026-07 (month), 2026-Q3 (quarter), 2026 (year) or 2026-01..2026-05 (whole months)."""
        for pattern, kind in _FORMS:
            found = pattern.match(text.strip())
            if not found:
                continue
            n = [int(g) for g in found.groups()]
            if kind == "month":
                first = last = _index(n[0], n[1])
            elif kind == "quarter":
                first = _index(n[0], 3 * n[1] - 2)
                last = first + 2
            elif kind == "year":
                first, last = _index(n[0], 1), _index(n[0], 12)
            else:
                first, last = _index(n[0], n[1]), _index(n[2], n[3])
            return cls(first, last, kind)
        raise InvalidPeriod(
            "Use a month (2026-07), a quarter (2026-Q3), a year (2026) or whole months"
            " (2026-01..2026-05)."
        )

    @property
    def months(self) -> int:
        return self.last - self.first + 1

    @property
    def label(self) -> str:
        year, month = _month(self.first)
        if self.kind == "month":
            return f"{year}-{month:02d}"
        if self.kind == "quarter":
            return f"{year}-Q{(month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(year)
        end_year, end_month = _month(self.last)
        return f"{year}-{month:02d}..{end_year}-{end_month:02d}"

    @property
    def start_date(self) -> date:
        return date(*_month(self.first), 1)

    @property
    def end_date(self) -> date:
        """The first day after the period."""
        return date(*_month(self.last + 1), 1)

    @property
    def start(self) -> datetime:
        """Local midnight of the first day, in UTC."""
        return _utc_midnight(self.start_date)

    @property
    def end(self) -> datetime:
        """Local midnight after the last day, in UTC (exclusive)."""
        return _utc_midnight(self.end_date)

    def previous(self) -> "Period":
        """The period of the same length just before (the previous quarter, year, …)."""
        return Period(self.first - self.months, self.first - 1, self.kind)

    def month_labels(self) -> list[str]:
        return [f"{y}-{m:02d}" for y, m in map(_month, range(self.first, self.last + 1))]

    def closed(self, now: datetime) -> bool:
        return self.end <= now


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL_TZ).astimezone(UTC)


def current_quarter_before(now: datetime) -> Period:
    """The last quarter that has ended by `now` (the default report period)."""
    local = now.astimezone(LOCAL_TZ)
    quarter_start = _index(local.year, 3 * ((local.month - 1) // 3) + 1)
    return Period(quarter_start - 3, quarter_start - 1, "quarter")
