"""The naive baseline for bench/ingest_bench.py: plain Flask, one ORM insert, one commit.

What a first version of the ingest endpoint would be: parse the JSON, build one ORM
object with a PostGIS point, add, commit, answer 201. No validation, no categories, no
municipality, no idempotency, no rollup. Served with the project's gunicorn.conf.py.
"""

import os
import uuid
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from geoalchemy2 import Geometry
from sqlalchemy import DateTime, Text, create_engine
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, scoped_session, sessionmaker


class Base(DeclarativeBase):
    pass


class NaiveReport(Base):
    __tablename__ = "naive_report"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    category: Mapped[str] = mapped_column(Text)
    location = mapped_column(Geometry("POINT", srid=4326), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The same driver as the project (SQLAlchemy 2.1 would pick psycopg 3 for postgresql://).
engine = create_engine(
    os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg2://")
)
session = scoped_session(sessionmaker(bind=engine))
app = Flask(__name__)
app.teardown_appcontext(lambda exc: session.remove())


@app.post("/v1/reports")
def create():
    body = request.get_json()
    location = body["location"]
    report = NaiveReport(
        id=uuid.uuid4(),
        category=body["category"],
        location=f"SRID=4326;POINT({float(location['lon'])} {float(location['lat'])})",
        description=body.get("description"),
        submitted_at=datetime.now(UTC),
    )
    report_id = str(report.id)  # read before the commit expires it (no re-SELECT)
    session.add(report)
    session.commit()
    return jsonify({"id": report_id}), 201
