"""Import every model module so that Base.metadata knows all tables (Alembic, tests)."""

from civic_api.analytics import models as analytics  # noqa: F401
from civic_api.announcements import models as announcements  # noqa: F401
from civic_api.audit import models as audit  # noqa: F401
from civic_api.categories import models as categories  # noqa: F401
from civic_api.municipalities import models as municipalities  # noqa: F401
from civic_api.opendata import models as opendata  # noqa: F401
from civic_api.outbox import models as outbox  # noqa: F401
from civic_api.photos import models as photos  # noqa: F401
from civic_api.push import models as push  # noqa: F401
from civic_api.reports import models as reports  # noqa: F401
from civic_api.staff import models as staff  # noqa: F401
from civic_api.triage import models as triage  # noqa: F401
