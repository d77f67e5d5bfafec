"""GET /healthz (the process answers) and GET /readyz (database reachable, schema at head)."""

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from sqlalchemy import exc, text

from civic_api.database import session
from civic_api.errors import Unavailable
from civic_api.extensions import Blueprint, Schema
from civic_api.limits import limiter

blp = Blueprint("health", __name__, description="Probes for load balancers and orchestrators.")


class HealthSchema(Schema):
    status = ma.fields.String(metadata={"example": "ok"})


class ReadinessSchema(HealthSchema):
    migration = ma.fields.String(metadata={"description": "The database's Alembic revision"})


def migration_heads() -> set[str]:
    """The Alembic heads this code expects (read once per process)."""
    if "migration_heads" not in current_app.extensions:
        from alembic.script import ScriptDirectory

        from civic_api.cli import alembic_config

        script = ScriptDirectory.from_config(alembic_config(current_app.config["DATABASE_URL"]))
        current_app.extensions["migration_heads"] = set(script.get_heads())
    return current_app.extensions["migration_heads"]


@blp.route("/healthz")
class HealthView(MethodView):
    decorators = [limiter.exempt]

    @blp.response(200, HealthSchema)
    def get(self):
        """The process is alive (no database access)"""
        return {"status": "ok"}


@blp.route("/readyz")
class ReadinessView(MethodView):
    decorators = [limiter.exempt]

    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, description="The database is away or not migrated; see Retry-After")
    def get(self):
        """Ready for traffic: the database answers and its schema is at the code's head"""
        try:
            revisions = set(session.scalars(text("SELECT version_num FROM alembic_version")))
        except exc.ProgrammingError:  # never migrated: no alembic_version table
            session.rollback()
            revisions = set()
        if revisions != migration_heads():
            raise Unavailable("The database schema is not at the expected migration.")
        return {"status": "ok", "migration": ",".join(sorted(revisions))}
