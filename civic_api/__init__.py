"""Civic reports API: anonymous geotagged reports for Kosovo's municipalities."""

import secrets
from pathlib import Path

from flask import Flask, send_from_directory
from werkzeug.middleware.proxy_fix import ProxyFix

from civic_api import access_log, cli, database, edge, errors, headers, i18n, metrics, settings
from civic_api.analytics.releases import LatestRelease
from civic_api.categories.service import CategoryCache
from civic_api.extensions import init_api
from civic_api.limits import limiter
from civic_api.municipalities.service import MunicipalityIndex

API_DESCRIPTION = """\
Anonymous, geotagged reports from citizens' phones (Walk Freely: sexual harassment;
E-Komuna: municipal problems) for Kosovo's municipalities, in Albanian (sq), Serbian (sr)
and English (en). Pick the language with `?lang=` or `Accept-Language`.

Every error has the same JSON shape: `{code, status, message, errors?}`, where `errors`
holds field-level messages by location (`json`, `query`, `headers`).
"""


def create_app(config: dict | None = None) -> Flask:
    """Build the application; `config` overrides the defaults and the environment."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(settings.DEFAULTS)
    app.config["API_DESCRIPTION"] = API_DESCRIPTION
    app.config.update(settings.from_environment())
    app.config.update(config or {})
    app.json.sort_keys = False
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    access_log.init_app(app)

    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    metrics.init_app(app)  # first: its timer starts before the other request hooks
    database.init_app(app)
    # Reference data every report or tile reads, held in the process (civic_api.cache).
    max_age = app.config["REFERENCE_CACHE_SECONDS"]
    app.extensions["category_cache"] = CategoryCache(max_age)
    app.extensions["municipality_index"] = MunicipalityIndex(max_age)
    app.extensions["latest_release"] = LatestRelease(max_age)
    edge.init_app(app)
    i18n.init_app(app)
    headers.init_app(app)
    limiter.init_app(app)
    api = init_api(app)
    errors.init_app(app, api)
    from civic_api.analytics.routes import blp as analytics
    from civic_api.announcements.routes import blp as announcements
    from civic_api.audit.routes import blp as audit
    from civic_api.categories.routes import admin_blp as categories_admin
    from civic_api.categories.routes import blp as categories
    from civic_api.health.routes import blp as health
    from civic_api.indicators.routes import blp as indicators
    from civic_api.municipalities.routes import admin_blp as municipalities_admin
    from civic_api.municipalities.routes import blp as municipalities
    from civic_api.ogc.routes import blp as ogc
    from civic_api.opendata.routes import blp as opendata
    from civic_api.photos.routes import blp as photos
    from civic_api.push.admin_routes import blp as push_admin
    from civic_api.push.routes import blp as devices
    from civic_api.reports.routes import blp as reports
    from civic_api.staff.routes import blp as staff
    from civic_api.triage.routes import blp as triage

    for blueprint in (
        categories,
        municipalities,
        reports,
        staff,
        triage,
        devices,
        push_admin,
        announcements,
        audit,
        categories_admin,
        municipalities_admin,
        analytics,
        indicators,
        ogc,
        opendata,
        health,
        photos,
    ):
        api.register_blueprint(blueprint)
    _serve_swagger_ui(app)
    from civic_api.mappage.routes import blp as map_page
    from civic_api.open311.routes import blp as open311

    app.register_blueprint(map_page)  # an HTML page, not part of the OpenAPI document
    app.register_blueprint(open311)  # GeoReport v2 documents itself (docs/open311.md)
    cli.init_app(app)
    return app


def _instance_secret(instance: Path) -> str:
    """A per-installation secret kept in the instance folder, for development."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def _serve_swagger_ui(app: Flask) -> None:
    import swagger_ui_bundle

    directory = swagger_ui_bundle.swagger_ui_path

    @app.get("/docs/static/<path:filename>")
    def swagger_ui_static(filename):
        return send_from_directory(directory, filename, max_age=86400)
