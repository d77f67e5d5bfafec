"""Command-line tools: `flask db`, `flask seed`, `flask municipalities`, `flask reports` …"""

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select, text

from civic_api.database import session

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_BOUNDARIES = Path(__file__).parent / "seed" / "data" / "kosovo-municipalities.geojson"

db_cli = AppGroup("db", help="Database migrations (Alembic).")
seed_cli = AppGroup("seed", help="Seed deployment profiles, boundaries and demo data.")
municipalities_cli = AppGroup("municipalities", help="Municipality boundaries.")
analytics_cli = AppGroup("analytics", help="Heatmap rollups and public releases.")
notifications_cli = AppGroup("notifications", help="Push notifications through FCM.")
staff_cli = AppGroup("staff", help="Staff accounts.")
retention_cli = AppGroup("retention", help="Forget what is no longer needed (docs/privacy.md).")
reports_cli = AppGroup("reports", help="Report submission housekeeping.")


def alembic_config(url: str | None = None):
    """Alembic's configuration for `url` (default: the current app's database)."""
    from alembic.config import Config  # on use: serving processes do not carry Alembic

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = url or current_app.config["DATABASE_URL"]
    return config


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    command.upgrade(alembic_config(), revision)


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision):
    """Revert migrations down to REVISION."""
    from alembic import command

    command.downgrade(alembic_config(), revision)


@db_cli.command("current")
def db_current():
    """Show the applied revision."""
    from alembic import command

    command.current(alembic_config())


def _seed_profile(name: str) -> None:
    from civic_api.categories.service import seed_profile
    from civic_api.seed.profiles import PROFILES

    codes = seed_profile(PROFILES[name])
    session.commit()
    click.echo(f"{name}: {len(codes)} categories")


@seed_cli.command("walk-freely")
def seed_walk_freely():
    """Harassment categories and questions (Walk Freely)."""
    _seed_profile("walk-freely")


@seed_cli.command("e-komuna")
def seed_e_komuna():
    """Municipal problem categories and questions (E-Komuna)."""
    _seed_profile("e-komuna")


@seed_cli.command("municipalities")
def seed_municipalities():
    """Kosovo's 38 municipalities (boundaries © OpenStreetMap contributors, geoBoundaries);
    only those missing are added, nothing an admin changed is touched."""
    _import(str(BUNDLED_BOUNDARIES), "name", None, True, update_boundaries=False)


@seed_cli.command("demo-reports")
@click.option("--count", default=10_000, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", "random_seed", default=0, show_default=True, help="Random seed.")
@click.option("--days", default=365, show_default=True, type=click.IntRange(min=1))
def seed_demo_reports(count, random_seed, days):
    """Synthetic reports clustered around town centres (bulk COPY)."""
    from civic_api.seed.demo_reports import insert_demo_reports

    with click.progressbar(length=count, label="demo reports") as bar:
        inserted = insert_demo_reports(
            session.connection(), count, seed=random_seed, days=days, progress=bar.update
        )
    session.commit()
    click.echo(f"inserted {inserted} demo reports")


DEMO_STAFF = (
    ("admin@demo.example", "admin", ()),
    ("manager.prishtina@demo.example", "manager", ("prishtina",)),
    ("staff.prishtina@demo.example", "staff", ("prishtina",)),
    ("researcher@demo.example", "researcher", ()),
)


@seed_cli.command("demo-staff")
@click.option(
    "--reset-password",
    is_flag=True,
    help="Give the existing demo accounts a new random password (signs them out).",
)
def seed_demo_staff(reset_password=False):
    """Demo accounts for trying the admin API, if there are no accounts yet."""
    import secrets

    from civic_api.audit import service as audit
    from civic_api.staff import service
    from civic_api.staff.auth import policy
    from civic_api.staff.models import StaffAccount

    if reset_password:
        emails = [email for email, _, _ in DEMO_STAFF]
        accounts = session.scalars(select(StaffAccount).where(StaffAccount.email.in_(emails)))
        password, now = secrets.token_urlsafe(12), service.utcnow()
        reset = []
        for staff in accounts:
            staff.password_hash = policy().hasher.hash(password)
            service.revoke_all(staff.id, now)
            audit.record(None, "staff.password_reset", "staff", staff.id)
            reset.append(staff.email)
        session.commit()
        if not reset:
            raise click.ClickException("There are no demo accounts; run flask seed demo-staff.")
        click.echo(f"demo accounts {', '.join(sorted(reset))} now have the password {password}")
        return
    if session.scalar(select(func.count()).select_from(StaffAccount)):
        click.echo("staff accounts already present; no demo accounts added")
        return
    password = secrets.token_urlsafe(12)
    for email, role, places in DEMO_STAFF:
        service.create_staff(
            policy(),
            None,
            email=email,
            name=f"Demo {role}",
            role=role,
            password=password,
            municipalities=list(places),
        )
    session.commit()
    emails = ", ".join(email for email, _, _ in DEMO_STAFF)
    click.echo(f"demo accounts {emails} with the password {password} (shown once)")


@seed_cli.command("demo")
@click.option("--reports", default=20_000, show_default=True, type=click.IntRange(min=0))
@click.pass_context
def seed_demo(ctx, reports):
    """Everything for a demo: municipalities, both profiles, demo accounts and reports."""
    from civic_api.reports.models import Report

    ctx.invoke(seed_municipalities)
    ctx.invoke(seed_walk_freely)
    ctx.invoke(seed_e_komuna)
    ctx.invoke(seed_demo_staff)
    existing = session.scalar(select(func.count()).select_from(Report))
    if existing == 0 and reports:
        ctx.invoke(seed_demo_reports, count=reports)
    else:
        click.echo(f"{existing} reports already present; no demo reports added")


def _import(path, name_property, slug_property, repair, update_boundaries=True):
    from civic_api.municipalities.service import import_boundaries
    from geo.boundaries import InvalidBoundary

    try:
        slugs = import_boundaries(path, name_property, slug_property, repair, update_boundaries)
    except (InvalidBoundary, OSError) as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    from civic_api.analytics.rollup import ensure_cells

    added = ensure_cells(session.connection())
    session.commit()
    click.echo(f"{len(slugs)} municipalities imported")
    if added:
        click.echo(f"{added} analytics cells added")


@municipalities_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--name-property", default="name", show_default=True)
@click.option("--slug-property", default=None, help="Property holding the slug (else derived).")
@click.option(
    "--repair/--no-repair",
    default=True,
    show_default=True,
    help="Repair invalid geometry (GEOS MakeValid) or refuse it.",
)
def municipalities_import(path, name_property, slug_property, repair):
    """Insert municipalities, or update their boundaries, from a GeoJSON FeatureCollection
    (EPSG:4326); cell ownership follows the new boundaries."""
    _import(path, name_property, slug_property, repair)


@staff_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default=None, help="Display name (default: the email's local part).")
@click.option(
    "--role", required=True, type=click.Choice(["admin", "manager", "staff", "researcher"])
)
@click.option(
    "--municipality", "municipalities", multiple=True, help="A municipality slug (repeatable)."
)
@click.password_option(help="The initial password (prompted for when omitted).")
def staff_create(email, name, role, municipalities, password):
    """Create a staff account."""
    from civic_api.errors import DomainError
    from civic_api.staff import service
    from civic_api.staff.auth import policy

    try:
        staff = service.create_staff(
            policy(),
            None,
            email=email,
            name=name or email.split("@")[0],
            role=role,
            password=password,
            municipalities=list(municipalities),
        )
    except DomainError as exc:
        session.rollback()
        details = "; ".join(
            f"{name}: {' '.join(messages)}"
            for fields in (exc.errors or {}).values()
            for name, messages in fields.items()
        )
        raise click.ClickException(f"{exc.message} {details}".strip()) from None
    session.commit()
    click.echo(f"created {staff.role} {staff.email} (id {staff.id})")


@staff_cli.command("deactivate")
@click.argument("email")
def staff_deactivate(email):
    """Deactivate an account and revoke its tokens."""
    from civic_api.audit import service as audit
    from civic_api.staff import service
    from civic_api.staff.models import StaffAccount

    staff = session.scalar(
        select(StaffAccount).where(StaffAccount.email == service.normalise_email(email))
    )
    if staff is None:
        raise click.ClickException(f"No account has the email {email!r}.")
    staff.active = False
    service.revoke_all(staff.id, service.utcnow())
    audit.record(
        None,
        "staff.deactivate",
        "staff",
        staff.id,
        municipality_ids=[m.id for m in staff.municipalities],
    )
    session.commit()
    click.echo(f"deactivated {staff.email}")


@notifications_cli.command("worker")
@click.option("--once", is_flag=True, help="Send everything that is due now, then exit.")
@click.option("--batch-size", type=click.IntRange(1, 500), help="Default: PUSH_BATCH_SIZE.")
def notifications_worker(once, batch_size):
    """Fan out the outbox and send pushes; several workers may run at once."""
    from civic_api.push.worker import run_worker

    run_worker(current_app, once=once, batch_size=batch_size)


@analytics_cli.command("rebuild")
def analytics_rebuild():
    """Recompute the cells of every report and the count rollups from scratch."""
    from civic_api.analytics.rollup import ROLLUP_RESOLUTIONS, fill_report_cells, rebuild

    connection = session.connection()
    pending = connection.scalar(text("SELECT count(*) FROM report WHERE h3_9 IS NULL"))
    with click.progressbar(length=pending, label="report cells") as bar:
        fill_report_cells(connection, bar.update)
    with click.progressbar(length=len(ROLLUP_RESOLUTIONS), label="rollups") as bar:
        rebuild(connection, bar.update)
    session.commit()
    click.echo("rollups rebuilt")


@retention_cli.command("run")
@click.option(
    "--every",
    type=click.IntRange(min=60),
    help="Run again every this many seconds (for a worker container) instead of once.",
)
def retention_run(every):
    """Coarsen old sensitive locations, expire devices, purge push and idempotency rows."""
    import json
    import time
    from datetime import UTC, datetime

    from civic_api import retention
    from civic_api.photos.storage import store_for

    policy = retention.RetentionPolicy.from_config(current_app.config)
    while True:
        counts = retention.run(policy, store_for(current_app), datetime.now(UTC), session.commit)
        session.remove()
        click.echo(json.dumps(counts))
        if not every:
            return
        time.sleep(every)


@reports_cli.command("purge-idempotency")
def reports_purge_idempotency():
    """Delete idempotency records older than IDEMPOTENCY_TTL_HOURS (run it hourly)."""
    from datetime import timedelta

    from civic_api.reports.idempotency import purge_expired

    purged = purge_expired(timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"]))
    session.commit()
    click.echo(f"purged {purged} expired idempotency records")


@analytics_cli.command("publish")
@click.option(
    "--month", default=None, help="YYYY-MM; default: every closed month not yet released."
)
def analytics_publish(month):
    """Compute and store the noisy release of closed months (sensitive categories)."""
    from datetime import UTC, datetime

    from civic_api.analytics import releases
    from geo.privacy import ReleaseConflict

    config = current_app.config
    now = datetime.now(UTC)
    if month is None:
        months = releases.due_months(now, config["RELEASE_GRACE_DAYS"])
        if not months:
            click.echo("no month is due: every closed month is released")
    else:
        try:
            months = [releases.parse_month(month)]
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--month") from None
    for first_day in months:
        try:
            published = releases.publish(first_day, now, config)
        except releases.NotPublishable as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from None
        except ReleaseConflict as exc:
            session.rollback()
            click.echo(f"{releases.month_id(first_day)}: already released, unchanged ({exc})")
            continue
        session.commit()
        row = published.release
        if published.created:
            click.echo(f"{row.id}: released (epsilon {row.epsilon})")
        else:
            click.echo(f"{row.id}: already released on {row.created_at:%Y-%m-%d}, unchanged")


open_data_cli = AppGroup("open-data", help="Open-data downloads (docs/opendata.md).")


@open_data_cli.command("generate")
def open_data_generate():
    """Make today's file of every open dataset (a daily cron job; else the first download)."""
    from datetime import UTC, datetime

    from civic_api.opendata.service import generate_all

    files = generate_all(datetime.now(UTC), current_app.config)
    session.commit()
    for f in files:
        click.echo(f"{f.dataset}.{f.format}: {f.period}, {f.size} bytes, sha256 {f.sha256[:16]}")


def init_app(app) -> None:
    groups = (
        db_cli,
        seed_cli,
        municipalities_cli,
        staff_cli,
        notifications_cli,
        analytics_cli,
        retention_cli,
        reports_cli,
        open_data_cli,
    )
    for group in groups:
        app.cli.add_command(group)
