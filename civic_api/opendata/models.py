"""Open-data downloads, generated once per period and kept (gzip) with their ETag."""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, LargeBinary, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from civic_api.database import Base

FORMATS = ("csv", "geojson")


class OpenDataFile(Base):
    """The current file of one dataset in one format: replaced when its period (the local
    day, or the release) or the inputs it was made from (`basis`) change."""

    __tablename__ = "open_data_file"
    __table_args__ = (CheckConstraint(f"format IN {FORMATS}", name="format_known"),)

    dataset: Mapped[str] = mapped_column(Text, primary_key=True)
    format: Mapped[str] = mapped_column(Text, primary_key=True)
    period: Mapped[str] = mapped_column(Text)
    # What else the content depends on, e.g. which categories are public.
    basis: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(Text)  # of the uncompressed content: the ETag
    gzip: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
