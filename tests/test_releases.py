"""Public releases: publishing closed months once, hierarchy consistency, the read API."""

from datetime import UTC, date, datetime

import pytest
from factories import add_reports
from sqlalchemy import func, select

from civic_api.analytics import releases
from civic_api.analytics.models import MUNICIPALITY, NATIONAL, Release, ReleaseCount
from geo.cells import parents
from geo.privacy import ReleaseConflict

NOW = datetime(2026, 7, 20, 12, tzinfo=UTC)
JUNE = date(2026, 6, 1)


def publish(app, month=JUNE, now=NOW, **config):
    return releases.publish(month, now, app.config | config)


def values(db, release_id, level):
    rows = db.execute(
        select(ReleaseCount.node, ReleaseCount.group_id, ReleaseCount.value).where(
            ReleaseCount.release_id == release_id, ReleaseCount.level == level
        )
    ).all()
    return {(node, group): value for node, group, value in rows}


def test_a_release_is_consistent_non_negative_and_published_once(app, db):
    add_reports(db, [(42.6629, 21.1655)] * 40, category="commenting")
    first = publish(app)
    assert first.created and first.release.id == "2026-06"
    levels = {level: values(db, "2026-06", level) for level in (NATIONAL, MUNICIPALITY, 6, 7, 8)}
    assert all(v > 0 for level in levels.values() for v in level.values())
    groups = {g for (_, g) in levels[NATIONAL]}
    for group in groups:
        total = levels[NATIONAL][(0, group)]
        for level in (MUNICIPALITY, 6, 7, 8):
            assert sum(v for (_, g), v in levels[level].items() if g == group) == total
    for fine, coarse in ((8, 7), (7, 6)):
        summed = {}
        for (cell, group), v in levels[fine].items():
            key = (int(parents([cell], coarse)[0]), group)
            summed[key] = summed.get(key, 0) + v
        assert summed == levels[coarse]
    again = publish(app)
    assert not again.created and values(db, "2026-06", 8) == levels[8]
    with pytest.raises(ReleaseConflict):
        publish(app, RELEASE_EPSILON=2.0)


@pytest.mark.parametrize(
    "month, now",
    [
        (date(2026, 7, 1), NOW),  # the current month
        (date(2026, 8, 1), NOW),  # a future one
        (date(2026, 6, 1), datetime(2026, 7, 5, tzinfo=UTC)),  # inside the grace period
    ],
)
def test_open_months_are_refused(app, db, month, now):
    with pytest.raises(releases.NotPublishable, match="not closed"):
        publish(app, month, now)
    assert db.scalar(select(func.count()).select_from(Release)) == 0


def test_releases_are_listed_with_the_ledger(app, client, db):
    add_reports(db, [(42.6629, 21.1655)] * 10, category="commenting")
    publish(app)
    publish(app, date(2026, 5, 1))
    db.commit()
    body = client.get("/v1/releases").json
    assert [r["id"] for r in body["releases"]] == ["2026-05", "2026-06"]
    june = body["releases"][1]
    assert june["period"] == {"from": "2026-06-01", "to": "2026-06-30"}
    assert june["epsilon"] == app.config["RELEASE_EPSILON"]
    assert june["groups"] == ["harassment", "governance"] or set(june["groups"]) == {
        "harassment",
        "governance",
    }
    assert body["ledger"]["public_total"] == 2 * app.config["RELEASE_EPSILON"]
    assert [m["month"] for m in body["ledger"]["months"]] == ["2026-05", "2026-06"]
    assert client.get("/v1/releases/2026-06").json == june
    missing = client.get("/v1/releases/2026-07")
    assert missing.status_code == 404 and missing.json["code"] == 404


DP = "/v1/heatmaps?noise=dp&resolution=7&group=harassment"


def test_researcher_budget_refuses_with_429_and_identical_questions_are_free(app, staff_client, db):
    add_reports(db, [(42.6629, 21.1655)] * 5, category="commenting")
    app.config["DP_ACCOUNT_EPSILON_PER_QUARTER"] = 2.0
    try:
        researcher = staff_client("researcher")
        for month in ("2026-04", "2026-05"):
            ok = researcher.get(f"{DP}&from={month}-01&to={month}-28")
            assert ok.status_code == 200, ok.json
        assert ok.json["privacy"]["budget"]["account_spent"] == 2.0
        refused = researcher.get(f"{DP}&from=2026-06-01&to=2026-06-30")
        assert refused.status_code == 429
        assert refused.json["code"] == 429 and "budget" in refused.json["message"]
        assert refused.json["budget"]["account_spent"] == 2.0
        assert int(refused.headers["Retry-After"]) > 0
        again = researcher.get(f"{DP}&from=2026-04-03&to=2026-04-20")  # the stored answer
        assert again.status_code == 200
        # Another account has its own budget, up to the global one.
        app.config["DP_GLOBAL_EPSILON_PER_QUARTER"] = 3.0
        other = staff_client("researcher")
        assert other.get(f"{DP}&from=2026-06-01&to=2026-06-30").status_code == 200
        assert other.get(f"{DP}&from=2026-03-01&to=2026-03-31").status_code == 429
    finally:
        app.config["DP_ACCOUNT_EPSILON_PER_QUARTER"] = 10.0
        app.config["DP_GLOBAL_EPSILON_PER_QUARTER"] = 50.0


@pytest.mark.parametrize(
    "query, field",
    [
        ("", "from"),
        ("&from=2026-11-01&to=2026-11-30", "to"),
        ("&from=2026-12-01&to=2027-01-31", "to"),
    ],
)
def test_researcher_answers_cover_closed_whole_months_only(staff_client, query, field):
    response = staff_client("researcher").get(DP + query)
    assert response.status_code == 422
    assert list(response.json["errors"]["query"]) == [field]


def test_ledger_counts_each_answer_in_every_month_it_covers(app, client, staff_client, db):
    add_reports(db, [(42.6629, 21.1655)] * 5, category="commenting")
    publish(app)
    db.commit()
    researcher = staff_client("researcher")
    assert researcher.get(f"{DP}&from=2026-05-01&to=2026-06-30").status_code == 200
    ledger = client.get("/v1/releases").json["ledger"]
    epsilon = app.config["RELEASE_EPSILON"]
    assert ledger["months"] == [
        {"month": "2026-05", "public": 0.0, "research": 1.0, "total": 1.0},
        {"month": "2026-06", "public": epsilon, "research": 1.0, "total": epsilon + 1.0},
    ]
    assert ledger["public_total"] == epsilon and ledger["research_total"] == 1.0
    assert ledger["worst_month"] == epsilon + 1.0


def test_publish_command_is_idempotent_and_refuses_open_months(app, db):
    add_reports(db, [(42.6629, 21.1655)] * 5, category="commenting")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["analytics", "publish", "--month", "2026-06"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == f"2026-06: released (epsilon {app.config['RELEASE_EPSILON']})"
    stored = values(db, "2026-06", 8)
    again = runner.invoke(args=["analytics", "publish", "--month", "2026-06"])
    assert again.exit_code == 0 and "already released" in again.output
    assert values(db, "2026-06", 8) == stored
    current = datetime.now(UTC).astimezone(releases.LOCAL_TZ)
    for month in (f"{current:%Y-%m}", f"{current.year + 1}-01"):
        refused = runner.invoke(args=["analytics", "publish", "--month", month])
        assert refused.exit_code != 0 and "not closed" in refused.output
    bad = runner.invoke(args=["analytics", "publish", "--month", "June"])
    assert bad.exit_code != 0 and "YYYY-MM" in bad.output
    # Without --month: every closed month since the first report that has no release yet.
    due = runner.invoke(args=["analytics", "publish"])
    assert due.exit_code == 0, due.output
    released = {r.id for r in db.scalars(select(Release)).all()}
    last = releases.last_publishable_month(datetime.now(UTC), app.config["RELEASE_GRACE_DAYS"])
    assert "2026-06" in released and releases.month_id(last) in released
    assert "2026-05" not in released  # before the first report
