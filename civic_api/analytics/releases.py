"""Public releases: the sensitive categories' counts for one closed month, noised once.

A release covers one calendar month (Europe/Belgrade) and is published RELEASE_GRACE_DAYS
after it ends; reports stored for that month afterwards are never counted (docs/privacy.md).
It is a hierarchy over a fixed, data-independent partition, per sensitive category group:
the national total, each municipality (the report's municipality), and every H3 cell at
resolutions 6, 7 and 8 (a coarse cell is the sum of its seven H3 children; the res-8 cell
is the one the report lies in). `geo.privacy.hierarchical_release` noises each level once
and makes them consistent; `geo.privacy.release_once` with `ReleaseTable` stores it once.

Reading: `releases_covering`, `release_metadata`, `released_counts` and
`municipality_months` are the service API for every later public figure.
"""

import calendar
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert

from civic_api.analytics.models import (
    LEVEL_NAMES,
    MUNICIPALITY,
    NATIONAL,
    RELEASE_LEVELS,
    DpRelease,
    H3Cell,
    Release,
    ReleaseCount,
)
from civic_api.cache import VersionedCache
from civic_api.categories.models import Category, CategoryGroup
from civic_api.database import session
from civic_api.municipalities.models import Municipality
from geo.cells import parents
from geo.privacy import HierarchicalRelease, Level, ReleaseSpec, hierarchical_release, release_once

logger = logging.getLogger(__name__)
LOCAL_TZ = ZoneInfo("Europe/Belgrade")  # the time zone of report_local_day (migration 0005)


class NotPublishable(ValueError):
    """A month that is not closed yet, or still inside the grace period."""


def month_id(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def parse_month(text_value: str) -> date:
    """'2026-10' as the first day of that month; ValueError otherwise."""
    year, _, month = text_value.partition("-")
    if len(year) != 4 or len(month) != 2 or not (year.isdigit() and month.isdigit()):
        raise ValueError(f"{text_value!r} is not a month YYYY-MM")
    return date(int(year), int(month), 1)


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def next_month(month: date) -> date:
    return month_end(month) + timedelta(days=1)


def publishable_from(month: date, grace_days: int) -> datetime:
    """When a month's release may be computed: its end (local midnight) plus the grace."""
    return datetime.combine(next_month(month), datetime.min.time(), LOCAL_TZ) + timedelta(
        days=grace_days
    )


def last_publishable_month(now: datetime, grace_days: int) -> date:
    local = (now - timedelta(days=grace_days)).astimezone(LOCAL_TZ).date()
    return (local.replace(day=1) - timedelta(days=1)).replace(day=1)


# Storage: the ReleaseStore of geo.privacy over the release tables.


@dataclass(frozen=True)
class StoredRelease:
    """A release as stored: its spec (for release_once's parameter check) and its row."""

    spec: ReleaseSpec
    row: Release


@dataclass(frozen=True)
class ComputedRelease:
    """A freshly computed month, not yet stored."""

    spec: ReleaseSpec
    month: date
    groups: list[dict]
    levels: list[tuple[int, np.ndarray, np.ndarray]]  # (level, nodes, group ids) per level
    release: HierarchicalRelease


def spec_of(row: Release) -> ReleaseSpec:
    return ReleaseSpec(
        key=row.id,
        epsilon=row.epsilon,
        sensitivity=row.contribution_bound,
        threshold=row.threshold,
    )


class ReleaseTable:
    """geo.privacy.ReleaseStore over `release` and `release_count` (insert if absent)."""

    def get(self, key: str) -> StoredRelease | None:
        row = session.get(Release, key)
        return None if row is None else StoredRelease(spec_of(row), row)

    def add(self, computed: ComputedRelease) -> StoredRelease:
        month, result = computed.month, computed.release
        inserted = session.execute(
            insert(Release)
            .values(
                id=computed.spec.key,
                period_start=month,
                period_end=month_end(month),
                epsilon=computed.spec.epsilon,
                epsilon_spent=result.epsilon_spent,
                contribution_bound=computed.spec.sensitivity,
                threshold=computed.spec.threshold,
                mechanism=result.mechanism,
                groups=computed.groups,
            )
            .on_conflict_do_nothing()
            .returning(Release.id)
        ).scalar()
        if inserted is not None:
            rows = io.StringIO()
            for (level, nodes, groups), values in zip(computed.levels, result.values, strict=True):
                keep = values > 0
                for node, group, value in zip(
                    nodes[keep].tolist(), groups[keep].tolist(), values[keep].tolist(), strict=True
                ):
                    rows.write(f"{inserted}\t{level}\t{node}\t{group}\t{value}\n")
            rows.seek(0)
            cursor = session.connection().connection.dbapi_connection.cursor()
            cursor.copy_expert(
                "COPY release_count (release_id, level, node, group_id, value) FROM STDIN", rows
            )
        stored = self.get(computed.spec.key)
        assert stored is not None
        return stored


# Publishing


def sensitive_groups() -> list[dict]:
    """[{id, code, category_ids}] of the groups holding sensitive categories, by group id."""
    rows = session.execute(
        select(CategoryGroup.id, CategoryGroup.code, Category.id)
        .join(Category, Category.group_id == CategoryGroup.id)
        .where(Category.sensitive.is_(True))
        .order_by(CategoryGroup.id, Category.id)
    ).all()
    groups: dict[int, dict] = {}
    for group_id, code, category_id in rows:
        groups.setdefault(group_id, {"id": group_id, "code": code, "category_ids": []})
        groups[group_id]["category_ids"].append(category_id)
    return list(groups.values())


def _load_month(month: date, spec: ReleaseSpec) -> ComputedRelease:
    """True counts over the fixed partition, noised and made consistent."""
    groups = sensitive_groups()
    group_ids = np.array([g["id"] for g in groups], dtype=np.int64)
    group_of = {c: g["id"] for g in groups for c in g["category_ids"]}
    categories = list(group_of)
    fine = np.array(
        session.scalars(
            select(H3Cell.cell).where(H3Cell.resolution == 8).order_by(H3Cell.cell)
        ).all(),
        dtype=np.int64,
    )
    cells = {8: fine, 7: np.unique(parents(fine, 7))}
    cells[6] = np.unique(parents(cells[7], 6))
    municipalities = np.array(
        session.scalars(select(Municipality.id).order_by(Municipality.id)).all(), dtype=np.int64
    )
    start, end = month, month_end(month)
    connection = session.connection()
    by_cell = connection.execute(
        text(
            "SELECT cell, category_id, sum(count)::int FROM heat_cell_day"
            " WHERE resolution = 8 AND day BETWEEN :start AND :end"
            " AND category_id = ANY(:categories) GROUP BY 1, 2"
        ),
        {"start": start, "end": end, "categories": categories},
    ).all()
    by_municipality = connection.execute(
        text(
            "SELECT municipality_id, category_id, count(*)::int FROM report"
            " WHERE category_id = ANY(:categories)"
            " AND occurred_at >= :after AND occurred_at < :before GROUP BY 1, 2"
        ),
        {
            "categories": categories,
            "after": datetime.combine(start, datetime.min.time(), LOCAL_TZ),
            "before": datetime.combine(end + timedelta(days=1), datetime.min.time(), LOCAL_TZ),
        },
    ).all()
    g_index = {g: i for i, g in enumerate(group_ids.tolist())}
    n_groups = group_ids.size

    def table(nodes: np.ndarray, rows) -> np.ndarray:
        """Counts per (group, node), group-major, zeros included; rows outside the fixed
        domain (none in practice: cells cover Kosovo with a margin) are dropped."""
        out = np.zeros(n_groups * nodes.size, dtype=np.int64)
        if not rows:
            return out
        node_ids = np.array([r[0] for r in rows], dtype=np.int64)
        where = np.searchsorted(nodes, node_ids).clip(max=max(nodes.size - 1, 0))
        inside = nodes[where] == node_ids if nodes.size else np.zeros(len(rows), dtype=bool)
        if not inside.all():
            logger.warning("%d release rows outside the fixed domain", int((~inside).sum()))
        g = np.array([g_index[group_of[r[1]]] for r in rows], dtype=np.int64)
        n = np.array([r[2] for r in rows], dtype=np.int64)
        np.add.at(out, g[inside] * nodes.size + where[inside], n[inside])
        return out

    def nodes_of(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.tile(nodes, n_groups), np.repeat(group_ids, nodes.size)

    def parent_index(child: np.ndarray, parent_nodes: np.ndarray, res: int) -> np.ndarray:
        up = np.searchsorted(parent_nodes, parents(child, res))
        return (np.arange(n_groups)[:, None] * parent_nodes.size + up[None, :]).ravel()

    municipal = table(municipalities, by_municipality)
    national = municipal.reshape(n_groups, municipalities.size).sum(axis=1)
    # Coarse cells are the sums of their H3 children: the same reports at every resolution.
    res8 = table(cells[8], by_cell).reshape(n_groups, cells[8].size)
    res7 = np.zeros((n_groups, cells[7].size), dtype=np.int64)
    np.add.at(res7, (slice(None), np.searchsorted(cells[7], parents(cells[8], 7))), res8)
    res6 = np.zeros((n_groups, cells[6].size), dtype=np.int64)
    np.add.at(res6, (slice(None), np.searchsorted(cells[6], parents(cells[7], 6))), res7)
    levels_true = [
        Level("national", national),
        Level("municipality", municipal, 0, np.repeat(np.arange(n_groups), municipalities.size)),
        Level("h3 res 6", res6.ravel(), 0, np.repeat(np.arange(n_groups), cells[6].size)),
        Level("h3 res 7", res7.ravel(), 2, parent_index(cells[7], cells[6], 6)),
        Level("h3 res 8", res8.ravel(), 3, parent_index(cells[8], cells[7], 7)),
    ]
    result = hierarchical_release(levels_true, spec)
    layout = [
        (NATIONAL, np.zeros(n_groups, dtype=np.int64), group_ids),
        (MUNICIPALITY, *nodes_of(municipalities)),
        *((r, *nodes_of(cells[r])) for r in (6, 7, 8)),
    ]
    return ComputedRelease(spec, month, groups, layout, result)


class Published(NamedTuple):
    release: Release
    created: bool


def publish(month: date, now: datetime, config) -> Published:
    """Compute and store the release of a closed month, once; afterwards the stored one.

    Raises NotPublishable for the current or a future month, or one still in its grace
    period, and geo.privacy.ReleaseConflict if the month was released with other
    parameters (it is never recomputed)."""
    month = month.replace(day=1)
    ready = publishable_from(month, config["RELEASE_GRACE_DAYS"])
    if now < ready:
        raise NotPublishable(
            f"{month_id(month)} is not closed: it may be published from {ready.isoformat()}"
            f" (the month's end plus {config['RELEASE_GRACE_DAYS']} days for late reports)."
        )
    spec = ReleaseSpec(
        key=month_id(month),
        epsilon=float(config["RELEASE_EPSILON"]),
        sensitivity=int(config["RELEASE_CONTRIBUTION_BOUND"]),
        threshold=int(config["RELEASE_THRESHOLD"]),
    )
    # One publisher at a time per month: the second waits, then reads the first's release.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": spec.key})
    existed = session.get(Release, spec.key) is not None
    stored = release_once(ReleaseTable(), spec, lambda: _load_month(month, spec))
    return Published(stored.row, not existed)


def due_months(now: datetime, grace_days: int) -> list[date]:
    """Closed months past their grace period, from the first report's month, unreleased."""
    first = session.scalar(text("SELECT report_local_day(min(occurred_at)) FROM report"))
    if first is None:
        return []
    last = last_publishable_month(now, grace_days)
    released = set(session.scalars(select(Release.period_start)).all())
    months, month = [], first.replace(day=1)
    while month <= last:
        if month not in released:
            months.append(month)
        month = next_month(month)
    return months


# Reading


def release_metadata(row: Release) -> dict:
    """What a release promises, as published with every figure drawn from it."""
    return {
        "id": row.id,
        "period": {"from": row.period_start.isoformat(), "to": row.period_end.isoformat()},
        "epsilon": row.epsilon,
        "epsilon_spent": row.epsilon_spent,
        "contribution_bound": row.contribution_bound,
        "threshold": row.threshold,
        "mechanism": row.mechanism,
        "levels": [LEVEL_NAMES[level] for level in RELEASE_LEVELS],
        "groups": [g["code"] for g in row.groups],
        "created_at": row.created_at.isoformat(),
    }


def all_releases() -> list[Release]:
    return list(session.scalars(select(Release).order_by(Release.period_start)).all())


def ledger() -> dict:
    """The public privacy budget ledger: per month, the epsilon of its public release and of
    the researchers' answers covering it (each answer counts in every month it covers: a
    report in that month is in the answer), and the totals. A person's reports in several
    months are protected at the sum of those months' epsilons."""
    months: dict[str, dict] = {}
    for row in all_releases():
        months[row.id] = {"month": row.id, "public": row.epsilon, "research": 0.0}
    answers = session.execute(
        select(DpRelease.period_start, DpRelease.period_end, DpRelease.epsilon).where(
            DpRelease.period_start.is_not(None)
        )
    ).all()
    for start, end, epsilon in answers:
        month = start.replace(day=1)
        while month <= end:
            entry = months.setdefault(
                month_id(month), {"month": month_id(month), "public": 0.0, "research": 0.0}
            )
            entry["research"] += epsilon
            month = next_month(month)
    per_month = [
        m | {"total": round(m["public"] + m["research"], 9)} for _, m in sorted(months.items())
    ]
    return {
        "months": per_month,
        "public_total": round(sum(m["public"] for m in per_month), 9),
        "research_total": round(sum(epsilon for _, _, epsilon in answers), 9),
        "worst_month": max((m["total"] for m in per_month), default=0.0),
    }


def releases_covering(
    date_from: date | None, date_to: date | None, release_id: str | None = None
) -> list[Release]:
    """The releases an answer reads: the one named, else every released month touching
    from..to, else (no dates) the latest release. Empty when none is published."""
    if release_id is not None:
        row = session.get(Release, release_id)
        return [] if row is None else [row]
    if date_from is None and date_to is None:
        latest = current_app.extensions["latest_release"].get()
        return [] if latest is None else [latest]
    query = select(Release).order_by(Release.period_start)
    if date_from is not None:
        query = query.where(Release.period_end >= date_from)
    if date_to is not None:
        query = query.where(Release.period_start <= date_to)
    return list(session.scalars(query).all())


class LatestRelease(VersionedCache):
    """The latest release, held in the process (civic_api.cache): every map and tile without
    dates reads it. Releases are only ever added (never changed), so their count and latest
    month version it."""

    version_query = select(func.count(Release.id), func.max(Release.period_start))

    def __init__(self, max_age: float):
        super().__init__(max_age)
        self._latest: Release | None = None

    def get(self) -> Release | None:
        self._fresh()
        return self._latest

    def _load(self) -> None:
        latest = session.scalars(select(Release).order_by(Release.period_start.desc())).first()
        if latest is not None:
            session.expunge(latest)  # read-only, shared by every request of the process
        self._latest = latest


class Released(NamedTuple):
    release_id: str
    node: int
    group_id: int
    value: int


def released_counts(
    level: int, release_ids: list[str], group_ids: list[int] | None = None
) -> list[Released]:
    """Every stored value of one level (NATIONAL, MUNICIPALITY or 6-8) of these releases,
    before withholding: callers publish a value, or a sum of values, only if it reaches the
    release's threshold (post-processing: any such sum is as private as the release)."""
    conditions = [ReleaseCount.release_id.in_(release_ids), ReleaseCount.level == level]
    if group_ids is not None:
        conditions.append(ReleaseCount.group_id.in_(group_ids))
    rows = session.execute(
        select(
            ReleaseCount.release_id, ReleaseCount.node, ReleaseCount.group_id, ReleaseCount.value
        ).where(*conditions)
    ).all()
    return [Released(*row) for row in rows]


class MunicipalityMonth(NamedTuple):
    month: str  # the release id, YYYY-MM
    municipality_id: int
    group_code: str
    count: int | None  # None: below the release's threshold, withheld


def municipality_months(first: date, last: date) -> list[MunicipalityMonth]:
    """Released counts per municipality x sensitive category group x month for the released
    months from `first` to `last`, every combination listed (withheld ones as None)."""
    releases = releases_covering(first, last)
    municipalities = session.scalars(select(Municipality.id).order_by(Municipality.id)).all()
    values = {
        (r.release_id, r.node, r.group_id): r.value
        for r in released_counts(MUNICIPALITY, [row.id for row in releases])
    }
    out = []
    for row in releases:
        for group in row.groups:
            for municipality_id in municipalities:
                value = values.get((row.id, municipality_id, group["id"]), 0)
                out.append(
                    MunicipalityMonth(
                        row.id,
                        municipality_id,
                        group["code"],
                        value if value >= row.threshold else None,
                    )
                )
    return out
