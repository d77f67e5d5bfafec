"""Import every model module so that Base.metadata knows all tables (Alembic, tests)."""

from civic_api.categories import models as categories  # noqa: F401
from civic_api.municipalities import models as municipalities  # noqa: F401
from civic_api.reports import models as reports  # noqa: F401
