"""Indicators on hand-computed fixtures: every figure, period boundaries, DST, duplicates,
reopens, the minimum n, medians and ranks, the public/staff split, JSON and CSV."""

import csv
import io
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import Point
from sqlalchemy import select

from civic_api.analytics.rollup import cells_of
from civic_api.categories.models import Category
from civic_api.database import session
from civic_api.indicators.periods import InvalidPeriod, Period, current_quarter_before
from civic_api.indicators.service import top_cells
from civic_api.municipalities.models import Municipality
from civic_api.push.models import Device, ReportLink
from civic_api.reports.models import Report, ReportEvent, ReportFeedback
from geo.points import as_sql

PRISHTINA = (21.1655, 42.6629)
DRENAS = (20.8937, 42.6253)
H = timedelta(hours=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def category(code):
    return session.scalar(select(Category).where(Category.code == code))


def municipality(slug):
    return session.scalar(select(Municipality).where(Municipality.slug == slug))


def make(
    code,
    place,
    submitted,
    *,
    ack=None,
    respond=None,
    resolve=None,
    close=None,
    reopen=None,
    status=None,
    duplicate_of=None,
    occurred=None,
    feedback=None,
    slug=None,
):
    """A report with its milestones (offsets in hours after submission), as the workflow
    leaves them."""
    found = category(code)
    submitted = at(submitted)
    lon, lat = place
    status = status or (
        "resolved" if resolve is not None else "acknowledged" if ack is not None else "submitted"
    )
    offset = lambda hours: None if hours is None else submitted + hours * H  # noqa: E731
    report = Report(
        id=uuid.uuid4(),
        category_id=found.id,
        municipality_id=municipality(slug or ("prishtina" if place == PRISHTINA else "drenas")).id,
        location=as_sql(Point(lon, lat)),
        occurred_at=at(occurred) if occurred else submitted - H / 2,
        submitted_at=submitted,
        attributes={},
        status=status,
        locale="sq",
        follow_up_token_hash=secrets.token_bytes(32),
        response_due_at=submitted + found.response_target_hours * H
        if found.response_target_hours
        else None,
        first_acknowledged_at=offset(ack),
        first_responded_at=offset(respond),
        first_resolved_at=offset(resolve),
        resolved_at=offset(resolve),
        first_closed_at=offset(close if close is not None else resolve),
        first_reopened_at=offset(reopen),
        duplicate_of_id=duplicate_of.id if duplicate_of else None,
        **{k: int(v[0]) for k, v in cells_of([lat], [lon]).items()},
    )
    session.add(report)
    session.flush()
    if feedback:
        session.add(ReportFeedback(report_id=report.id, **feedback))
    # A savepoint release: requests end their session, which drops what is only flushed.
    session.commit()
    return report


def link(report, device):
    session.add(ReportLink(report_id=report.id, device_id=device.id))


def device(n):
    found = Device(
        secret_hash=secrets.token_bytes(32), fcm_token=f"tok-{n}", platform="android", locale="sq"
    )
    session.add(found)
    session.flush()
    return found


@pytest.fixture
def fixture(app, db):
    """Q3 2026 (local: Jul 1 – Sep 30; UTC: Jun 30 22:00 – Sep 30 22:00)."""
    r1 = make(
        "waste",
        PRISHTINA,
        "2026-07-01T00:30+02:00",
        ack=2,
        respond=5,
        resolve=50,
        feedback={"fixed": "yes", "rating": 5, "first_report": True},
    )
    # Resolved, rated, then reopened: counts as not fixed.
    r2 = make(
        "waste",
        PRISHTINA,
        "2026-07-10T10:00Z",
        ack=10,
        resolve=100,
        reopen=120,
        status="reopened",
        feedback={"fixed": "yes", "rating": 4, "first_report": False},
    )
    r3 = make(
        "waste",
        PRISHTINA,
        "2026-08-05T08:00Z",
        ack=80,
        respond=81,
        close=81,
        status="rejected",
        feedback={"fixed": "no", "rating": 2},
    )
    # Local Sep 30 23:30: still Q3; due Oct 3, never acknowledged.
    r4 = make("waste", PRISHTINA, "2026-09-30T21:30Z")
    # Local Oct 1 00:30: Q4.
    make("waste", PRISHTINA, "2026-09-30T22:30Z")
    make(
        "waste", PRISHTINA, "2026-07-01T09:00Z", ack=1, close=1, status="duplicate", duplicate_of=r1
    )
    # Local Jun 30 23:30: Q2, the previous period.
    make("waste", PRISHTINA, "2026-06-30T21:30Z", ack=3, resolve=20)
    # Overdue at the period's end: due Sep 23, never acknowledged.
    r8 = make("waste", PRISHTINA, "2026-09-20T00:00Z")
    for hours in (1, 3, 5):
        make("waste", DRENAS, "2026-08-01T10:00Z", ack=hours)
    make("commenting", PRISHTINA, "2026-08-02T20:00Z", ack=4)
    a, b, c = device(1), device(2), device(3)
    for report, phone in ((r1, a), (r2, b), (r3, c), (r4, a)):
        link(report, phone)
    for report in (r1, r1, r8):
        session.add(ReportEvent(report_id=report.id, type="reporter_comment", message="more"))
    session.commit()
    app.config["INDICATORS_MIN_N"] = 3
    yield
    app.config["INDICATORS_MIN_N"] = 10


def values(response, municipality="prishtina", breakdown="category", key="waste"):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    [row] = [
        r
        for r in response.json["rows"]
        if (r["municipality"], r["breakdown"], r["key"]) == (municipality, breakdown, key)
    ]
    return row["values"]


def plain(vals):
    return {k: v["value"] for k, v in vals.items()}


EXPECTED_Q3 = {
    "reports_received": 6,
    "reports_per_10000": round(6 / 198897 * 10_000, 4),
    "acknowledgement_hours_median": 10.0,
    "acknowledgement_hours_p90": 66.0,  # [2, 10, 80]: 10 + 0.8 × 70
    "response_hours_median": None,  # n = 2 < 3
    "response_hours_p90": None,
    "resolution_hours_median": None,
    "resolution_hours_p90": None,
    "acknowledged_within_target_rate": 0.4,  # R1, R2 of R1, R2, R3, R4 (late), R8 (late)
    "backlog_at_period_end": 2,  # R4, R8
    "overdue_at_period_end": 1,  # R8
    "no_response": 2,  # R4, R8
    "resolution_rate": 0.4,  # 2 of 5 non-duplicates
    "rejection_rate": 0.2,
    "reopen_rate": None,  # 1 of 2 resolved: n < 3
    "duplicate_rate": round(1 / 6, 4),
    "confirmed_fixed_rate": round(1 / 3, 4),  # yes: R1; no: R3, R2 (reopened)
    "feedback_rate": 1.0,
    "rating_mean": round(11 / 3, 4),
    "rating_4_5_rate": round(2 / 3, 4),
    "fixed_yes": 1,
    "fixed_no": 2,
    "fixed_dont_know": 0,
    "active_devices": 3,
    "reports_per_active_device": round(4 / 3, 4),
    "followed_rate": round(4 / 6, 4),
    "reporter_comments": 3,
    "first_time_reporters": 1,
    "top_cells_share": 1.0,  # one cell holds every report
    "hotspots_cooled_rate": None,  # 1 previous hotspot < n
}


def test_every_indicator_for_a_staff_member_matches_the_hand_computation(fixture, staff_client):
    staff = staff_client("staff", ["prishtina"])
    response = staff.get("/v1/admin/indicators?period=2026-Q3&breakdown=category,group,all")
    got = values(response)
    assert plain(got) == EXPECTED_Q3
    assert got["response_hours_median"]["n"] == 2
    assert got["response_hours_median"]["withheld"] == "below_min_n"
    assert got["reopen_rate"] == {
        "value": None,
        "n": 2,
        "withheld": "below_min_n",
        "previous": None,
        "previous_withheld": "below_min_n",
        "median_of_municipalities": None,
        "rank": None,
    }
    # The group and the all-non-sensitive rows hold the same reports here.
    assert plain(values(response, breakdown="group", key="environment")) == EXPECTED_Q3
    assert plain(values(response, breakdown="all", key="non_sensitive")) == EXPECTED_Q3
    # Staff see their own sensitive figures exactly; only their municipalities are listed.
    harassment = values(response, breakdown="group", key="harassment")
    assert harassment["reports_received"]["value"] == 1
    assert {r["municipality"] for r in response.json["rows"]} == {"prishtina"}
    assert response.json["audience"] == "staff"
    assert response.headers["Cache-Control"] == "private"


def test_previous_period_median_and_rank(fixture, staff_client):
    staff = staff_client("admin")
    response = staff.get("/v1/admin/indicators?period=2026-Q3&breakdown=category&key=waste")
    mine = values(response)
    assert mine["reports_received"]["previous"] == 1  # only the Q2 report
    assert mine["acknowledgement_hours_median"]["previous"] is None  # n = 1
    # Drenas: ack [1, 3, 5] → median 3, first; Prishtina 10, second; median (3 + 10) / 2.
    drenas = values(response, "drenas")
    assert drenas["acknowledgement_hours_median"]["value"] == 3.0
    assert drenas["acknowledgement_hours_median"]["rank"] == 1
    assert mine["acknowledgement_hours_median"]["rank"] == 2
    assert mine["acknowledgement_hours_median"]["median_of_municipalities"] == 6.5
    # 38 municipalities, 36 with no report: the median count is 0.
    assert mine["reports_received"]["median_of_municipalities"] == 0
    assert len({r["municipality"] for r in response.json["rows"]}) == 38
    # No league position below the minimum n.
    assert values(response, "gjilan")["acknowledgement_hours_median"]["rank"] is None


def test_the_public_sees_live_non_sensitive_and_no_exact_sensitive_figure(fixture, client):
    response = client.get("/v1/indicators?period=2026-Q3&breakdown=category,group,all")
    assert plain(values(response)) == EXPECTED_Q3
    harassment = values(response, breakdown="group", key="harassment")
    assert harassment["reports_received"]["withheld"] == "available_from_releases"
    assert harassment["reports_received"]["value"] is None
    assert harassment["acknowledgement_hours_median"]["withheld"] == (
        "not_published_for_sensitive_categories"
    )
    assert values(response, breakdown="all", key="sensitive")["reports_received"]["value"] is None
    keys = {(r["breakdown"], r["key"]) for r in response.json["rows"]}
    assert ("category", "commenting") not in keys  # no public sensitive category rows
    assert "public" in response.headers["Cache-Control"]
    assert response.json["audience"] == "public"


def test_planting_a_sensitive_report_changes_no_public_number(fixture, client):
    before = client.get("/v1/indicators?period=2026-Q3&breakdown=group,all").json["rows"]
    make("commenting", PRISHTINA, "2026-08-03T20:00Z", ack=1)
    make("official_misconduct", DRENAS, "2026-08-03T20:00Z")
    after = client.get("/v1/indicators?period=2026-Q3&breakdown=group,all").json["rows"]
    changed = [
        (a["municipality"], a["key"], name)
        for a, b in zip(after, before, strict=True)
        for name in a["values"]
        if a["values"][name] != b["values"][name]
    ]
    assert changed == []
    assert after == before


def test_a_staff_member_gets_no_other_municipality(fixture, staff_client):
    staff = staff_client("manager", ["drenas"])
    assert staff.get("/v1/admin/indicators?municipality=prishtina").status_code == 404
    own = staff.get("/v1/admin/indicators?period=2026-Q3&municipality=drenas&breakdown=category")
    assert {r["municipality"] for r in own.json["rows"]} == {"drenas"}
    assert staff_client("researcher").get("/v1/admin/indicators").status_code == 403


def test_an_empty_period_has_zero_counts_and_withheld_rates(fixture, staff_client):
    staff = staff_client("staff", ["prishtina"])
    got = values(staff.get("/v1/admin/indicators?period=2025-02&breakdown=category"))
    assert got["reports_received"]["value"] == 0
    assert got["resolution_rate"]["withheld"] == "below_min_n"
    assert got["acknowledgement_hours_median"] == {
        "value": None,
        "n": 0,
        "withheld": "below_min_n",
        "previous": None,
        "previous_withheld": "below_min_n",
        "median_of_municipalities": None,
        "rank": None,
    }


def test_month_boundaries_follow_local_time_across_dst(fixture, staff_client):
    # October 2026: Sep 30 22:00Z – Oct 31 23:00Z (DST ends on Oct 25).
    make("waste", PRISHTINA, "2026-10-31T22:30Z")  # local Oct 31 23:30
    make("waste", PRISHTINA, "2026-10-31T23:30Z")  # local Nov 1 00:30
    staff = staff_client("staff", ["prishtina"])
    october = values(staff.get("/v1/admin/indicators?period=2026-10&breakdown=category"))
    assert october["reports_received"]["value"] == 2  # Oct 1 00:30 and Oct 31 23:30
    # September: Sep 20 and Sep 30 23:30 local; Sep 30 22:30Z is already October.
    assert october["reports_received"]["previous"] == 2


def test_csv_has_one_line_per_indicator(fixture, client):
    response = client.get("/v1/indicators?period=2026-Q3&breakdown=category&key=waste&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 38 * len(EXPECTED_Q3)
    mine = {r["indicator"]: r for r in rows if r["municipality"] == "prishtina"}
    assert mine["reports_received"]["value"] == "6"
    assert mine["reports_received"]["previous"] == "1"
    assert mine["resolution_rate"]["value"] == "0.4"
    assert mine["reopen_rate"]["value"] == "" and mine["reopen_rate"]["withheld"] == "below_min_n"
    accept = client.get("/v1/indicators?period=2026-Q3", headers={"Accept": "text/csv"})
    assert accept.mimetype == "text/csv"


@pytest.mark.parametrize(
    "query",
    [
        "period=2026-13",
        "period=2026-Q5",
        "period=2026-05..2026-01",
        "period=1999",
        "period=2026-01..2030-01",
        "breakdown=cells",
        "municipality=Not%20a%20slug",
        "key=%00",
    ],
)
def test_bad_queries_are_422(client, query):
    response = client.get(f"/v1/indicators?{query}")
    assert response.status_code == 422, response.json
    assert set(response.json) >= {"code", "status", "message", "errors"}


def test_unknown_municipality_is_404(client):
    response = client.get("/v1/indicators?municipality=atlantis")
    assert response.status_code == 404 and response.json["code"] == 404


def test_periods():
    q3 = Period.parse("2026-Q3")
    assert (q3.start, q3.end) == (at("2026-06-30T22:00Z"), at("2026-09-30T22:00Z"))
    assert q3.previous().label == "2026-Q2" and q3.months == 3
    assert Period.parse("2026-Q1").previous().label == "2025-Q4"
    march = Period.parse("2026-03")  # DST starts on Mar 29
    assert (march.start, march.end) == (at("2026-02-28T23:00Z"), at("2026-03-31T22:00Z"))
    year = Period.parse("2026")
    assert year.previous().label == "2025" and year.months == 12
    custom = Period.parse("2026-01..2026-05")
    assert custom.previous().label == "2025-08..2025-12"
    assert custom.month_labels() == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    assert current_quarter_before(at("2026-10-01T00:30+02:00")).label == "2026-Q3"
    assert current_quarter_before(at("2026-09-30T23:30+02:00")).label == "2026-Q2"
    with pytest.raises(InvalidPeriod):
        Period.parse("2026-Q0")


def test_top_cells_takes_the_top_tenth_with_ties():
    assert top_cells({}) == set()
    counts = {i: 1 for i in range(20)} | {100: 9, 101: 9, 102: 5}
    # 23 cells → ceil(2.3) = 3 → threshold 5: cells 100, 101, 102.
    assert top_cells(counts) == {100, 101, 102}
    assert top_cells({1: 2, 2: 2, 3: 2}) == {1, 2, 3}  # a tie at the threshold is all in


def test_public_sensitive_volumes_come_from_the_releases_only(app, db, client, staff_client):
    from civic_api.analytics import releases
    from civic_api.analytics.models import MUNICIPALITY, ReleaseCount

    for day in range(1, 31):  # 30 harassment reports in Prishtina, June 2026
        make(
            "commenting",
            PRISHTINA,
            f"2026-06-{day:02d}T10:00Z",
            occurred=f"2026-06-{day:02d}T09:00Z",
        )
    url = "/v1/indicators?period=2026-06&breakdown=group,all&municipality=prishtina"
    unreleased = values(client.get(url), breakdown="group", key="harassment")
    assert unreleased["reports_received"]["withheld"] == "available_from_releases"

    releases.publish(releases.parse_month("2026-06"), at("2026-07-20T12:00Z"), app.config)
    session.commit()
    released = {
        (node, group): value
        for node, group, value in db.execute(
            select(ReleaseCount.node, ReleaseCount.group_id, ReleaseCount.value).where(
                ReleaseCount.release_id == "2026-06", ReleaseCount.level == MUNICIPALITY
            )
        )
    }
    harassment_id = category("commenting").group_id
    noisy = released.get((municipality("prishtina").id, harassment_id), 0)
    public = values(client.get(url), breakdown="group", key="harassment")
    if noisy >= app.config["RELEASE_THRESHOLD"]:
        assert public["reports_received"]["value"] == noisy
        assert public["reports_per_10000"]["value"] == round(noisy / 198897 * 10_000, 4)
    else:
        assert public["reports_received"]["withheld"] == "below_release_threshold"
    assert public["acknowledgement_hours_median"]["withheld"] == (
        "not_published_for_sensitive_categories"
    )
    # A report planted after the release changes nothing public; staff see the exact count.
    make("commenting", PRISHTINA, "2026-06-15T11:00Z", occurred="2026-06-15T10:00Z")
    assert values(client.get(url), breakdown="group", key="harassment") == public
    staff = staff_client("staff", ["prishtina"])
    exact = values(
        staff.get(url.replace("/v1/", "/v1/admin/")), breakdown="group", key="harassment"
    )
    assert exact["reports_received"]["value"] == 31
    # The median beside a staff member's exact figure is the public one.
    assert (
        exact["reports_received"]["median_of_municipalities"]
        == (public["reports_received"]["median_of_municipalities"])
    )


def test_one_municipality_gets_weekday_hours_and_answers(fixture, staff_client, client):
    answered = make("waste", PRISHTINA, "2026-08-10T12:00Z", occurred="2026-08-08T21:30Z")
    answered.attributes = {"waste_type": ["household", "construction"]}
    session.commit()
    url = "/v1/admin/indicators?period=2026-Q3&municipality=prishtina&breakdown=category,group"
    [row] = [
        r for r in staff_client("staff", ["prishtina"]).get(url).json["rows"] if r["key"] == "waste"
    ]
    grid = row["by_weekday_hour"]
    assert len(grid) == 7 and all(len(day) == 24 for day in grid)
    assert sum(map(sum, grid)) == 7  # the six Q3 reports and this one
    assert grid[5][23] == 1  # Saturday Aug 8, 23:30 local (21:30 UTC, summer time)
    assert row["by_answer"] == {"waste_type": {"household": 1, "construction": 1}}
    public = client.get(url.replace("/admin", "")).json["rows"]
    harassment = next(r for r in public if r["key"] == "harassment")
    assert "by_weekday_hour" not in harassment  # sensitive: nothing beyond the releases


def test_the_national_pass_is_cached_for_its_max_age(fixture, app, staff_client):
    from civic_api.indicators import service

    app.config["INDICATORS_CACHE_SECONDS"] = 600
    try:
        staff = staff_client("staff", ["prishtina"])
        url = "/v1/admin/indicators?period=2026-Q3&breakdown=category&key=waste"
        first = values(staff.get(url))
        make("waste", DRENAS, "2026-08-01T11:00Z", ack=200)
        make("waste", PRISHTINA, "2026-08-01T11:00Z", ack=1)
        assert values(staff.get(url)) == first  # within the max age: the same pass
        assert values(staff.get(url.replace("Q3", "07"))) != first  # another period: computed
        service._cache.clear()
        fresh = values(staff.get(url))
        assert fresh["reports_received"]["value"] == 7
        assert fresh["acknowledgement_hours_median"]["value"] == 6.0  # [1, 2, 10, 80]
        # Drenas [1, 3, 5, 200] → 4; Prishtina 6 → median 5.
        assert fresh["acknowledgement_hours_median"]["median_of_municipalities"] == 5.0
        assert first["acknowledgement_hours_median"]["median_of_municipalities"] == 6.5
    finally:
        app.config["INDICATORS_CACHE_SECONDS"] = 0
        service._cache.clear()


def test_a_second_pass_waits_then_gets_a_503_with_retry_after(app, client, monkeypatch):
    from civic_api.indicators import service

    monkeypatch.setattr(service, "COMPUTE_WAIT_SECONDS", 0.2)
    assert service._compute_lock.acquire(timeout=5)  # another request computing
    try:
        response = client.get("/v1/indicators?period=2026-Q3")
    finally:
        service._compute_lock.release()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(app.config["DB_RETRY_AFTER_SECONDS"])
    assert response.json["code"] == 503 and "try again" in response.json["message"]
    assert client.get("/v1/indicators?period=2026-Q3").status_code == 200


def test_hotspot_share_and_cooling_by_hand(app, staff_client):
    from civic_api.analytics.rollup import cells_of

    def spot(i):  # about 1 km apart: one H3 resolution-8 cell each
        return (21.10 + 0.012 * (i % 6), 42.63 + 0.012 * (i // 6))

    cells = {int(cells_of([spot(i)[1]], [spot(i)[0]])["h3_8"][0]) for i in range(12)}
    assert len(cells) == 12
    # Q3: 5 reports in cell 0, 3 in cell 1, 1 in each of cells 2–11: 12 cells, 18 reports.
    for i, n in [(0, 5), (1, 3), *((i, 1) for i in range(2, 12))]:
        for k in range(n):
            make("road_signs", spot(i), f"2026-08-{k + 1:02d}T10:00Z", slug="prishtina")
    # Q2: cell 2 was the hotspot (4 reports), cell 3 had one.
    for k in range(4):
        make("road_signs", spot(2), f"2026-05-{k + 1:02d}T10:00Z", slug="prishtina")
    make("road_signs", spot(3), "2026-05-09T10:00Z", slug="prishtina")
    app.config["INDICATORS_MIN_N"] = 1
    try:
        got = values(
            staff_client("staff", ["prishtina"]).get(
                "/v1/admin/indicators?period=2026-Q3&breakdown=category&key=road_signs"
            ),
            key="road_signs",
        )
    finally:
        app.config["INDICATORS_MIN_N"] = 10
    # Top 10 % of 12 cells: ceil(1.2) = 2 cells, threshold 3 → cells 0 and 1: 8 of 18.
    assert got["top_cells_share"]["value"] == round(8 / 18, 4)
    assert got["top_cells_share"]["n"] == 18
    # Q2's top cell (2) is not among Q3's: 1 of 1 cooled. Q2's own share: 4 of 5.
    assert got["hotspots_cooled_rate"]["value"] == 1.0
    assert got["top_cells_share"]["previous"] == 0.8
