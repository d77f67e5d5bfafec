"""Researchers' differentially private answers, within a per-account and a global budget.

A question is canonical (`DpQuestion`): whole closed months, one resolution, a sorted set of
categories and status classes, and the privacy parameters (epsilon, contribution bound,
threshold). Its key hashes all of these, so the same question always gets the stored answer
and a changed epsilon is a new question. Each new answer charges its epsilon to the asking
account and to everyone's budget for the quarter; over budget is a 429.
"""

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert

from civic_api.analytics import releases
from civic_api.analytics.models import DpRelease, H3Cell, HeatCellDay
from civic_api.analytics.service import Audience, build_query, month_end, month_start
from civic_api.database import session
from civic_api.errors import BudgetExhausted, InvalidInput
from geo.cells import FINEST_RESOLUTION, cell_to_hex, centre_in_bbox
from geo.privacy import Release, ReleaseSpec, make_release, release_once


@dataclass(frozen=True)
class DpQuestion:
    """A canonical DP question; built only through its constructor's rules."""

    first_month: date
    last_month: date
    resolution: int
    category_ids: tuple[int, ...]
    status_classes: tuple[int, ...]
    epsilon: float
    contribution_bound: int
    threshold: int
    key: str = field(init=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "first_month", month_start(self.first_month))
        set_(self, "last_month", month_start(self.last_month))
        set_(self, "category_ids", tuple(sorted(set(self.category_ids))))
        set_(self, "status_classes", tuple(sorted(set(self.status_classes))))
        if not 6 <= self.resolution <= FINEST_RESOLUTION:
            raise ValueError("resolution out of range")
        canonical = {
            "months": [releases.month_id(self.first_month), releases.month_id(self.last_month)],
            "resolution": self.resolution,
            "categories": list(self.category_ids),
            "status": list(self.status_classes),
            "epsilon": float(self.epsilon),
            "contribution_bound": int(self.contribution_bound),
            "threshold": int(self.threshold),
            "opendp": importlib.metadata.version("opendp"),
        }
        set_(
            self, "key", hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
        )

    @property
    def period_end(self) -> date:
        return month_end(self.last_month)

    def describe(self) -> dict:
        return {
            "from": self.first_month.isoformat(),
            "to": self.period_end.isoformat(),
            "resolution": self.resolution,
        }


def quarter_start(moment: datetime) -> datetime:
    local = moment.astimezone(releases.LOCAL_TZ)
    return datetime(local.year, 3 * ((local.month - 1) // 3) + 1, 1, tzinfo=releases.LOCAL_TZ)


def next_quarter(moment: datetime) -> datetime:
    start = quarter_start(moment)
    return quarter_start(start + timedelta(days=100))


def spent(since: datetime, staff_id: int | None = None) -> float:
    """Epsilon charged since a moment: to one account, or to everyone."""
    conditions = [DpRelease.created_at >= since, DpRelease.requested_by.is_not(None)]
    if staff_id is not None:
        conditions.append(DpRelease.requested_by == staff_id)
    return float(
        session.scalar(select(func.coalesce(func.sum(DpRelease.epsilon), 0.0)).where(*conditions))
    )


def budget(staff_id: int, now: datetime, config) -> dict:
    since = quarter_start(now)
    return {
        "quarter_from": since.date().isoformat(),
        "account_spent": round(spent(since, staff_id), 9),
        "account_budget": float(config["DP_ACCOUNT_EPSILON_PER_QUARTER"]),
        "global_spent": round(spent(since), 9),
        "global_budget": float(config["DP_GLOBAL_EPSILON_PER_QUARTER"]),
    }


def charge(staff_id: int, epsilon: float, now: datetime, config) -> None:
    """Refuse (429) an answer that would exceed the account's or everyone's budget. One
    charge at a time (advisory lock), so concurrent requests cannot both slip under it."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('dp-budget'))"))
    state = budget(staff_id, now, config)
    renews = next_quarter(now)
    retry = {"Retry-After": str(max(1, int((renews - now).total_seconds())))}
    for who in ("account", "global"):
        if state[f"{who}_spent"] + epsilon > state[f"{who}_budget"] + 1e-9:
            owner = "your account's" if who == "account" else "the service's overall"
            raise BudgetExhausted(
                f"This answer needs epsilon {epsilon}, which would exceed {owner} privacy"
                f" budget for this quarter ({state[f'{who}_spent']} of"
                f" {state[f'{who}_budget']} spent). Identical questions are free: they get"
                f" the stored answer. The budget renews on {renews.date().isoformat()}.",
                headers=retry,
                details={"budget": state},
            )


class DpReleaseTable:
    """geo.privacy.ReleaseStore over dp_release, charging the asking account."""

    def __init__(self, question: DpQuestion, staff_id: int):
        self.question = question
        self.staff_id = staff_id

    def get(self, key: str) -> Release | None:
        row = session.get(DpRelease, key)
        if row is None:
            return None
        spec = ReleaseSpec(row.key, row.epsilon, row.sensitivity, row.threshold)
        return Release(spec, row.counts, row.epsilon_spent, row.mechanism, row.domain_size)

    def add(self, release: Release) -> Release:
        spec = release.spec
        session.execute(
            insert(DpRelease)
            .values(
                key=spec.key,
                query=self.question.describe()
                | {"categories": list(self.question.category_ids)}
                | {"status_classes": list(self.question.status_classes)},
                epsilon=spec.epsilon,
                epsilon_spent=release.epsilon_spent,
                sensitivity=spec.sensitivity,
                threshold=spec.threshold,
                mechanism=release.mechanism,
                domain_size=release.domain_size,
                counts={cell_to_hex(c): n for c, n in release.counts.items()},
                period_start=self.question.first_month,
                period_end=self.question.period_end,
                requested_by=self.staff_id,
            )
            .on_conflict_do_nothing()
        )
        stored = self.get(spec.key)
        assert stored is not None
        return stored


def _national_counts(question: DpQuestion) -> tuple[dict[int, int], list[int]]:
    domain = list(
        session.scalars(
            select(H3Cell.cell)
            .where(H3Cell.resolution == question.resolution)
            .order_by(H3Cell.cell)
        ).all()
    )
    rows = session.execute(
        select(HeatCellDay.cell, func.sum(HeatCellDay.count))
        .where(
            HeatCellDay.resolution == question.resolution,
            HeatCellDay.day >= question.first_month,
            HeatCellDay.day <= question.period_end,
            HeatCellDay.category_id.in_(question.category_ids),
            HeatCellDay.status_class.in_(question.status_classes),
        )
        .group_by(HeatCellDay.cell)
    ).all()
    inside = set(domain)
    return {int(c): int(n) for c, n in rows if c in inside and n > 0}, domain


def answer(
    args: dict, who: Audience, config, now: datetime | None = None
) -> tuple[DpQuestion, Release]:
    """The stored DP answer to this question, computed (and charged) on first asking."""
    now = now or datetime.now(UTC)
    if args.get("from") is None or args.get("to") is None:
        raise InvalidInput.field(
            "from", "DP answers cover closed whole months: give from and to.", "query"
        )
    query = build_query({k: v for k, v in args.items() if k not in ("bbox", "municipality")}, who)
    last = month_start(args["to"])
    if now < releases.publishable_from(last, config["RELEASE_GRACE_DAYS"]):
        raise InvalidInput.field(
            "to",
            f"DP answers cover closed months only; {releases.month_id(last)} closes on"
            f" {releases.publishable_from(last, config['RELEASE_GRACE_DAYS']).date()}.",
            "query",
        )
    chosen = query.chosen if query.chosen is not None else tuple(c.id for c in query.catalogue)
    resolution = args.get("resolution", query.resolution)
    question = DpQuestion(
        first_month=args["from"],
        last_month=last,
        resolution=resolution,
        category_ids=chosen,
        status_classes=query.status_classes,
        epsilon=float(config["DP_EPSILON"]),
        contribution_bound=int(config["DP_CONTRIBUTION_BOUND"]),
        threshold=int(config["DP_THRESHOLD"]),
    )
    spec = ReleaseSpec(
        key=question.key,
        epsilon=question.epsilon,
        sensitivity=question.contribution_bound,
        threshold=question.threshold,
    )

    def compute() -> Release:
        charge(who.staff_id, spec.epsilon, now, config)
        return make_release(*_national_counts(question), spec)

    return question, release_once(DpReleaseTable(question, who.staff_id), spec, compute)


def dp_heatmap(args: dict, who: Audience, config) -> str:
    """The answer's noisy counts for the cells of the query area, with its privacy terms."""
    question, release = answer(args, who, config)
    conditions = [H3Cell.resolution == question.resolution]
    if args.get("bbox"):
        conditions.append(centre_in_bbox(H3Cell.centre_lon, H3Cell.centre_lat, tuple(args["bbox"])))
    if args.get("municipality"):
        query = build_query({"municipality": args["municipality"]}, who)
        conditions.append(H3Cell.municipality_id == query.municipality_id)
    area = session.execute(select(H3Cell.cell, H3Cell.geojson).where(*conditions)).all()
    features = ",".join(
        f'{{"type":"Feature","id":"{hex_id}","geometry":{geometry},'
        f'"properties":{{"cell":"{hex_id}","count":{release.counts[hex_id]}}}}}'
        for hex_id, geometry in ((cell_to_hex(c), g) for c, g in area)
        if hex_id in release.counts
    )
    head = {
        "type": "FeatureCollection",
        "resolution": question.resolution,
        "privacy": {
            "mechanism": release.mechanism,
            "epsilon": release.spec.epsilon,
            "epsilon_spent": release.epsilon_spent,
            "contribution_bound": release.spec.sensitivity,
            "threshold": release.spec.threshold,
            "answer": question.key,
            "budget": budget(who.staff_id, datetime.now(UTC), config),
        },
        "filters": question.describe(),
    }
    return json.dumps(head)[:-1] + f',"features":[{features}]}}'
