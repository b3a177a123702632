"""Imports every model module so the metadata is complete (for Alembic and tests)."""

from monitor_api.accounts import models as accounts_models  # noqa: F401
from monitor_api.audit import models as audit_models  # noqa: F401
from monitor_api.checklists import models as checklists_models  # noqa: F401
from monitor_api.db import Base
from monitor_api.facilities import models as facilities_models  # noqa: F401
from monitor_api.findings import models as findings_models  # noqa: F401
from monitor_api.histories import models as histories_models  # noqa: F401
from monitor_api.photos import models as photos_models  # noqa: F401
from monitor_api.restricted import models as restricted_models  # noqa: F401
from monitor_api.uploads import models as uploads_models  # noqa: F401
from monitor_api.visits import models as visits_models  # noqa: F401

metadata = Base.metadata
