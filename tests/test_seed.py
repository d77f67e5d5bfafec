"""Deployment profiles and synthetic demo reports."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from civic_api.categories.models import Category
from civic_api.categories.service import validate_answers
from civic_api.cli import BUNDLED_BOUNDARIES
from civic_api.reports.models import STATUSES, Report
from civic_api.seed.demo_reports import insert_demo_reports
from civic_api.seed.profiles import PROFILES

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def test_profiles_are_seeded_with_all_languages(db):
    codes = set(db.scalars(select(Category.code)))
    for profile in PROFILES.values():
        assert {c["code"] for c in profile["categories"]} <= codes
    harassment = db.scalars(
        select(Category).where(
            Category.code.in_([c["code"] for c in PROFILES["walk-freely"]["categories"]])
        )
    ).all()
    assert len(harassment) == 12
    assert all(c.sensitive for c in harassment)
    assert [a.code for a in harassment[0].attributes] == [
        "perpetrator_gender",
        "perpetrator_relationship",
        "place_type",
    ]
    misconduct = db.scalars(select(Category).filter_by(code="official_misconduct")).one()
    assert misconduct.sensitive is True
    assert db.scalars(select(Category).filter_by(code="waste")).one().sensitive is False


def test_reseeding_a_profile_updates_in_place(app, db):
    before = db.scalar(select(func.count()).select_from(Category))
    result = app.test_cli_runner().invoke(args=["seed", "walk-freely"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "walk-freely: 12 categories"
    assert db.scalar(select(func.count()).select_from(Category)) == before


def test_seeding_never_changes_what_an_admin_changed(app, client, staff_client, db):
    """`flask seed demo` runs on every start: it adds what is missing and keeps the rest,
    so a category an admin marked sensitive stays sensitive (and off the points layer)."""
    admin = staff_client("admin")
    changed = admin.patch(
        "/v1/admin/categories/waste",
        json={"sensitive": True, "active": False, "response_target_hours": 5},
    )
    assert changed.status_code == 200, changed.json
    renamed = admin.patch("/v1/admin/municipalities/prishtina", json={"population": 1234})
    assert renamed.status_code == 200, renamed.json
    db.commit()
    runner = app.test_cli_runner()
    for command in (["seed", "e-komuna"], ["seed", "municipalities"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
    waste = db.scalars(select(Category).filter_by(code="waste")).one()
    db.refresh(waste)
    assert (waste.sensitive, waste.active, waste.response_target_hours) == (True, False, 5)
    population = db.scalar(text("SELECT population FROM municipality WHERE slug = 'prishtina'"))
    assert population == 1234


def test_no_path_makes_a_sensitive_category_non_sensitive(staff_client, db):
    admin = staff_client("admin")
    refused = admin.patch("/v1/admin/categories/commenting", json={"sensitive": False})
    assert refused.status_code == 409
    with pytest.raises(IntegrityError, match="cannot become non-sensitive"):
        with db.begin_nested():
            db.execute(text("UPDATE category SET sensitive = false WHERE code = 'commenting'"))
    assert db.scalar(text("SELECT sensitive FROM category WHERE code = 'commenting'")) is True


def test_boundary_reimport_recomputes_cell_ownership(app, db):
    """Cells follow their municipality when boundaries move: here ownership is scrambled and
    the re-import of the bundled boundaries puts every cell back."""
    owners = db.execute(text("SELECT cell, municipality_id FROM h3_cell ORDER BY cell")).all()
    db.execute(
        text(
            "UPDATE h3_cell SET municipality_id = (SELECT min(id) FROM municipality)"
            " WHERE resolution = 8 AND municipality_id IS NOT NULL"
        )
    )
    db.commit()
    result = app.test_cli_runner().invoke(
        args=["municipalities", "import", str(BUNDLED_BOUNDARIES)]
    )
    assert result.exit_code == 0, result.output
    after = db.execute(text("SELECT cell, municipality_id FROM h3_cell ORDER BY cell")).all()
    assert after == owners


def test_demo_reports_are_valid_and_inside_their_municipality(db):
    progress = []
    inserted = insert_demo_reports(db.connection(), 3000, seed=7, now=NOW, progress=progress.append)
    assert inserted == 3000
    assert sum(progress) == 3000
    assert db.scalar(select(func.count()).select_from(Report)) == 3000
    outside = db.execute(
        text(
            "SELECT count(*) FROM report r JOIN municipality m ON m.id = r.municipality_id "
            "WHERE NOT ST_Covers(m.boundary, r.location)"
        )
    ).scalar()
    assert outside == 0
    reports = db.scalars(select(Report)).all()
    for report in reports:
        clean, errors = validate_answers(report.category.attributes, report.attributes)
        assert errors == {}, (report.category.code, report.attributes)
        assert clean == report.attributes
        assert report.status in STATUSES
        assert report.occurred_at <= report.submitted_at <= NOW
        assert (NOW - report.occurred_at).days <= 366
    # Bigger towns get more reports: Prishtina outnumbers tiny Partesh.
    by_slug = dict(
        db.execute(
            text(
                "SELECT m.slug, count(*) FROM report r JOIN municipality m "
                "ON m.id = r.municipality_id GROUP BY m.slug"
            )
        ).all()
    )
    assert by_slug["prishtina"] > 10 * by_slug.get("partesh", 0)


def test_harassment_reports_cluster_in_the_evening(db):
    insert_demo_reports(db.connection(), 4000, seed=3, now=NOW)
    belgrade = ZoneInfo("Europe/Belgrade")

    def evening_share(sensitive: bool) -> float:
        rows = db.scalars(
            select(Report.occurred_at).join(Report.category).where(Category.sensitive == sensitive)
        ).all()
        return sum(17 <= t.astimezone(belgrade).hour <= 23 for t in rows) / len(rows)

    assert evening_share(True) > evening_share(False) + 0.2


def test_demo_reports_are_deterministic(db):
    def snapshot():
        return db.execute(
            text(
                "SELECT md5(string_agg(id::text || ST_AsText(location) || occurred_at::text "
                "|| attributes::text || status, ',' ORDER BY id)) FROM report"
            )
        ).scalar()

    insert_demo_reports(db.connection(), 500, seed=11, now=NOW)
    first = snapshot()
    db.execute(text("DELETE FROM report; DELETE FROM push_device"))
    insert_demo_reports(db.connection(), 500, seed=11, now=NOW)
    assert snapshot() == first
    db.execute(text("DELETE FROM report; DELETE FROM push_device"))
    insert_demo_reports(db.connection(), 500, seed=12, now=NOW)
    assert snapshot() != first


def test_seed_demo_reports_command(app, db):
    result = app.test_cli_runner().invoke(args=["seed", "demo-reports", "--count", "250"])
    assert result.exit_code == 0, result.output
    assert "inserted 250 demo reports" in result.output


def test_demo_staff_accounts_sign_in_once_created(app, client, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed", "demo-staff"])
    assert result.exit_code == 0, result.output
    password = result.output.split("with the password ")[1].split()[0]
    signed_in = client.post(
        "/v1/admin/auth/login",
        json={"email": "manager.prishtina@demo.example", "password": password},
    )
    assert signed_in.status_code == 200
    me = client.get(
        "/v1/admin/me", headers={"Authorization": f"Bearer {signed_in.json['access_token']}"}
    )
    assert (me.json["role"], me.json["municipalities"]) == ("manager", ["prishtina"])
    again = runner.invoke(args=["seed", "demo-staff"])
    assert "no demo accounts added" in again.output


def test_demo_reports_have_consistent_timelines(db):
    insert_demo_reports(db.connection(), 4000, seed=21, now=NOW)
    bad = db.execute(
        text(
            """
            SELECT count(*) FILTER (WHERE status = 'resolved' AND (resolved_at IS NULL
                       OR first_resolved_at > resolved_at)),
                   count(*) FILTER (WHERE status = 'reopened' AND first_reopened_at IS NULL),
                   count(*) FILTER (WHERE first_acknowledged_at < submitted_at
                       OR first_resolved_at < first_acknowledged_at
                       OR first_closed_at < first_acknowledged_at
                       OR updated_at > :now OR first_closed_at > :now),
                   count(*) FILTER (WHERE status <> 'submitted'
                       AND first_acknowledged_at IS NULL),
                   count(*) FILTER (WHERE status IN ('resolved', 'rejected', 'duplicate')
                       AND first_closed_at IS NULL)
            FROM report
            """
        ),
        {"now": NOW},
    ).one()
    assert tuple(bad) == (0, 0, 0, 0, 0)
    # The last status event says the report's status; events are in time order.
    mismatched = db.execute(
        text(
            """
            SELECT count(*) FROM report r CROSS JOIN LATERAL (
                SELECT to_status FROM report_event e
                WHERE e.report_id = r.id AND e.type = 'status_changed'
                ORDER BY e.id DESC LIMIT 1) last
            WHERE last.to_status <> r.status
            """
        )
    ).scalar()
    assert mismatched == 0
    unordered = db.execute(
        text(
            "SELECT count(*) FROM (SELECT at < lag(at) OVER (PARTITION BY report_id ORDER BY id)"
            " AS back FROM report_event) e WHERE back"
        )
    ).scalar()
    assert unordered == 0
    # Duplicates point to an original that is not one; feedback is on closed reports only.
    assert (
        db.execute(
            text(
                "SELECT count(*) FROM report d JOIN report o ON o.id = d.duplicate_of_id"
                " WHERE o.status = 'duplicate' OR o.municipality_id <> d.municipality_id"
            )
        ).scalar()
        == 0
    )
    assert (
        db.execute(
            text(
                "SELECT count(*) FROM report_feedback f JOIN report r ON r.id = f.report_id"
                " WHERE r.status NOT IN ('resolved', 'rejected') OR f.created_at > :now"
            ),
            {"now": NOW},
        ).scalar()
        == 0
    )
    counts = db.execute(
        text(
            "SELECT (SELECT count(*) FROM report WHERE status = 'duplicate'),"
            " (SELECT count(*) FROM report WHERE status = 'reopened'),"
            " (SELECT count(*) FROM report_feedback),"
            " (SELECT count(*) FROM push_report_link),"
            " (SELECT count(*) FROM report_event WHERE type = 'public_response')"
        )
    ).one()
    assert all(c > 0 for c in counts), counts


def test_demo_municipalities_differ_in_speed(db):
    insert_demo_reports(db.connection(), 6000, seed=4, now=NOW)
    medians = db.execute(
        text(
            "SELECT m.slug, percentile_cont(0.5) WITHIN GROUP (ORDER BY"
            " extract(epoch FROM r.first_acknowledged_at - r.submitted_at) / 3600)"
            " FROM report r JOIN municipality m ON m.id = r.municipality_id"
            " WHERE r.first_acknowledged_at IS NOT NULL GROUP BY 1 HAVING count(*) >= 100"
        )
    ).all()
    values = sorted(v for _, v in medians)
    assert len(values) >= 5
    assert values[-1] > 3 * values[0]  # the slowest at least three times the fastest


def test_demo_password_reset_prints_a_new_one_and_signs_everyone_out(app, client, db):
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["seed", "demo-staff", "--reset-password"])
    assert missing.exit_code != 0 and "no demo accounts" in missing.output
    created = runner.invoke(args=["seed", "demo-staff"])
    old = created.output.split("with the password ")[1].split()[0]

    def login(password):
        return client.post(
            "/v1/admin/auth/login",
            json={"email": "admin@demo.example", "password": password},
        )

    token = login(old).json["access_token"]
    reset = runner.invoke(args=["seed", "demo-staff", "--reset-password"])
    assert reset.exit_code == 0, reset.output
    assert "admin@demo.example, manager.prishtina@demo.example" in reset.output
    new = reset.output.split("now have the password ")[1].split()[0]
    assert new != old
    assert login(old).status_code == 401
    assert login(new).status_code == 200
    assert (
        client.get("/v1/admin/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
