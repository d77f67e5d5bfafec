"""Indicator values from raw aggregates: pure arithmetic, the minimum n, medians and ranks.

The database-aware side (service.py) turns reports into `Raw` counts per municipality and
breakdown; everything a user reads is derived here, so the rules are in one place.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

# Why a value is missing; the API says it in words too (docs/indicators.md).
BELOW_MIN_N = "below_min_n"
NO_POPULATION = "no_population"
FROM_RELEASES = "available_from_releases"
NOT_PUBLISHED = "not_published_for_sensitive_categories"
BELOW_RELEASE_THRESHOLD = "below_release_threshold"

REASONS = {
    BELOW_MIN_N: "Fewer reports than the minimum n behind this figure.",
    NO_POPULATION: "The municipality has no population figure.",
    FROM_RELEASES: "Sensitive categories are published only from the monthly noisy releases.",
    NOT_PUBLISHED: "Not published for sensitive categories: the releases hold volumes only.",
    BELOW_RELEASE_THRESHOLD: "The released (noisy) volume is below the release threshold.",
}


@dataclass(slots=True)  # thousands per national pass: no __dict__ each
class Raw:
    """Counts and duration quantiles for one municipality × breakdown × period."""

    received: int | None = 0  # None: a released volume below the release threshold
    duplicates: int = 0
    handled: int = 0  # received minus duplicates
    resolved: int = 0
    rejected: int = 0
    reopened: int = 0
    unanswered: int = 0
    target_n: int = 0
    within_target: int = 0
    ack_n: int = 0
    ack_median: float | None = None
    ack_p90: float | None = None
    response_n: int = 0
    response_median: float | None = None
    response_p90: float | None = None
    resolution_n: int = 0
    resolution_median: float | None = None
    resolution_p90: float | None = None
    closed: int = 0
    answered: int = 0
    rating_sum: int = 0
    rating_4_5: int = 0
    fixed_yes: int = 0
    fixed_no: int = 0
    fixed_dont_know: int = 0
    first_time: int = 0
    backlog: int = 0
    overdue: int = 0
    devices: int = 0
    followed: int = 0
    comments: int = 0
    top_cell_reports: int = 0
    previous_hotspots: int = 0
    cooled_hotspots: int = 0
    population: int | None = None
    # Set when the volume comes from a noisy release rather than the live reports.
    released: bool = False


@dataclass(frozen=True, slots=True)
class Value:
    value: float | int | None
    n: int | None = None
    withheld: str | None = None


@dataclass(frozen=True)
class Indicator:
    name: str
    section: str
    unit: str  # count, rate, hours, rating, per_10000, ratio
    kind: str  # count (never withheld for n) or statistic (needs min n)
    compute: Callable[[Raw], tuple[float | int | None, int | None]]
    # True: derivable from released volumes, so public for sensitive categories.
    from_releases: bool = False


def _rate(part: int, whole: int) -> tuple[float | None, int]:
    return (part / whole if whole else None), whole


def _per_10000(raw: Raw) -> tuple[float | None, int | None]:
    if not raw.population:
        return None, None
    return raw.received / raw.population * 10_000, raw.received


INDICATORS: tuple[Indicator, ...] = (
    Indicator("reports_received", "volume", "count", "count", lambda r: (r.received, None), True),
    Indicator("reports_per_10000", "volume", "per_10000", "count", _per_10000, True),
    Indicator(
        "acknowledgement_hours_median",
        "responsiveness",
        "hours",
        "statistic",
        lambda r: (r.ack_median, r.ack_n),
    ),
    Indicator(
        "acknowledgement_hours_p90",
        "responsiveness",
        "hours",
        "statistic",
        lambda r: (r.ack_p90, r.ack_n),
    ),
    Indicator(
        "response_hours_median",
        "responsiveness",
        "hours",
        "statistic",
        lambda r: (r.response_median, r.response_n),
    ),
    Indicator(
        "response_hours_p90",
        "responsiveness",
        "hours",
        "statistic",
        lambda r: (r.response_p90, r.response_n),
    ),
    Indicator(
        "resolution_hours_median",
        "responsiveness",
        "hours",
        "statistic",
        lambda r: (r.resolution_median, r.resolution_n),
    ),
    Indicator(
        "resolution_hours_p90",
        "responsiveness",
        "hours",
        "statistic",
        lambda r: (r.resolution_p90, r.resolution_n),
    ),
    Indicator(
        "acknowledged_within_target_rate",
        "responsiveness",
        "rate",
        "statistic",
        lambda r: _rate(r.within_target, r.target_n),
    ),
    Indicator(
        "backlog_at_period_end", "responsiveness", "count", "count", lambda r: (r.backlog, None)
    ),
    Indicator(
        "overdue_at_period_end", "responsiveness", "count", "count", lambda r: (r.overdue, None)
    ),
    Indicator("no_response", "responsiveness", "count", "count", lambda r: (r.unanswered, None)),
    Indicator(
        "resolution_rate", "outcomes", "rate", "statistic", lambda r: _rate(r.resolved, r.handled)
    ),
    Indicator(
        "rejection_rate", "outcomes", "rate", "statistic", lambda r: _rate(r.rejected, r.handled)
    ),
    Indicator(
        "reopen_rate", "outcomes", "rate", "statistic", lambda r: _rate(r.reopened, r.resolved)
    ),
    Indicator(
        "duplicate_rate",
        "outcomes",
        "rate",
        "statistic",
        lambda r: _rate(r.duplicates, r.received),
    ),
    Indicator(
        "confirmed_fixed_rate",
        "outcomes",
        "rate",
        "statistic",
        lambda r: _rate(r.fixed_yes, r.fixed_yes + r.fixed_no),
    ),
    Indicator(
        "feedback_rate",
        "satisfaction",
        "rate",
        "statistic",
        lambda r: _rate(r.answered, r.closed),
    ),
    Indicator(
        "rating_mean",
        "satisfaction",
        "rating",
        "statistic",
        lambda r: ((r.rating_sum / r.answered if r.answered else None), r.answered),
    ),
    Indicator(
        "rating_4_5_rate",
        "satisfaction",
        "rate",
        "statistic",
        lambda r: _rate(r.rating_4_5, r.answered),
    ),
    Indicator("fixed_yes", "satisfaction", "count", "count", lambda r: (r.fixed_yes, None)),
    Indicator("fixed_no", "satisfaction", "count", "count", lambda r: (r.fixed_no, None)),
    Indicator(
        "fixed_dont_know", "satisfaction", "count", "count", lambda r: (r.fixed_dont_know, None)
    ),
    Indicator("active_devices", "adoption", "count", "count", lambda r: (r.devices, None)),
    Indicator(
        "reports_per_active_device",
        "adoption",
        "ratio",
        "statistic",
        lambda r: ((r.followed / r.devices if r.devices else None), r.devices),
    ),
    Indicator(
        "followed_rate", "adoption", "rate", "statistic", lambda r: _rate(r.followed, r.received)
    ),
    Indicator("reporter_comments", "adoption", "count", "count", lambda r: (r.comments, None)),
    Indicator("first_time_reporters", "adoption", "count", "count", lambda r: (r.first_time, None)),
    Indicator(
        "top_cells_share",
        "hotspots",
        "rate",
        "statistic",
        lambda r: _rate(r.top_cell_reports, r.received),
    ),
    Indicator(
        "hotspots_cooled_rate",
        "hotspots",
        "rate",
        "statistic",
        lambda r: _rate(r.cooled_hotspots, r.previous_hotspots),
    ),
)
BY_NAME = {i.name: i for i in INDICATORS}
SECTIONS = ("volume", "responsiveness", "outcomes", "satisfaction", "adoption", "hotspots")


def evaluate(indicator: Indicator, raw: Raw | None, min_n: int, public_sensitive: bool) -> Value:
    """One indicator's value, or why it is withheld.

    `public_sensitive`: a sensitive breakdown seen by the public, where only what the
    releases hold is shown (and `raw` then holds released volumes, or None).
    """
    if public_sensitive:
        if not indicator.from_releases:
            return Value(None, withheld=NOT_PUBLISHED)
        if raw is None or not raw.released:
            return Value(None, withheld=FROM_RELEASES)
        if raw.received is None:
            return Value(None, withheld=BELOW_RELEASE_THRESHOLD)
    raw = raw or Raw()
    value, n = indicator.compute(raw)
    if indicator.name == "reports_per_10000" and not raw.population:
        return Value(None, withheld=NO_POPULATION)
    if indicator.kind == "statistic" and (n or 0) < min_n:
        return Value(None, n=n, withheld=BELOW_MIN_N)
    if isinstance(value, float):
        value = round(value, 4)
    return Value(value, n)


def median(values: list[float]) -> float | None:
    """The median of the values (mean of the middle two for an even count); None if empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def quantile(values: list[float], q: float) -> float | None:
    """Linear-interpolation quantile, as PostgreSQL's percentile_cont."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# For ranking: higher is better, or lower is better.
HIGHER_IS_BETTER = {
    "acknowledged_within_target_rate",
    "resolution_rate",
    "confirmed_fixed_rate",
    "feedback_rate",
    "rating_mean",
    "rating_4_5_rate",
    "followed_rate",
    "hotspots_cooled_rate",
}
LOWER_IS_BETTER = {
    "acknowledgement_hours_median",
    "acknowledgement_hours_p90",
    "response_hours_median",
    "response_hours_p90",
    "resolution_hours_median",
    "resolution_hours_p90",
    "reopen_rate",
}


def ranks(values: dict[str, Value], indicator: str) -> dict[str, int]:
    """League positions (1 = best; ties share the better position) of the withheld-free
    values; a municipality below the minimum n gets no position."""
    scored = {k: v.value for k, v in values.items() if v.value is not None and v.withheld is None}
    if indicator in HIGHER_IS_BETTER:
        order = sorted(scored.values(), reverse=True)
    elif indicator in LOWER_IS_BETTER:
        order = sorted(scored.values())
    else:
        return {}
    return {k: order.index(v) + 1 for k, v in scored.items()}


@dataclass
class Row:
    """All indicators for one municipality × breakdown, with comparisons."""

    municipality: str
    level: str  # category, group or all
    key: str  # category code, group code, or sensitive / non_sensitive
    sensitive: bool
    values: dict[str, Value] = field(default_factory=dict)
    previous: dict[str, Value] = field(default_factory=dict)
    median: dict[str, float | None] = field(default_factory=dict)
    rank: dict[str, int | None] = field(default_factory=dict)
