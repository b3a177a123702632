"""Imports every model module so the metadata is complete (for Alembic and tests)."""

from monitor_api.accounts import models as accounts_models  # noqa: F401
from monitor_api.audit import models as audit_models  # noqa: F401
from monitor_api.db import Base
from monitor_api.facilities import models as facilities_models  # noqa: F401

metadata = Base.metadata
