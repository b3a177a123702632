"""Security fixtures: the coordinator world (two teams' visits and records) and the sync server."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.coordinator.conftest import (  # noqa: F401  (fixtures re-exported)
    make_facility,
    published_template,
    quick_user,
    world,
)
from tests.sync.conftest import (  # noqa: F401  (fixtures re-exported)
    _empty_tables,
    live,
    sync_db_url,
    sync_engine,
    sync_settings,
)

FORBIDDEN_KEYS = ("password_hash", "token_hash", "password")


def walk_keys(value: Any) -> set[str]:
    """Every dict key anywhere in a JSON value."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            out |= walk_keys(v)
    elif isinstance(value, list):
        for v in value:
            out |= walk_keys(v)
    return out


@pytest.fixture
def audit_count(db: Session) -> Any:
    """Number of audit_log rows (to prove a refused request wrote nothing)."""

    def _count() -> int:
        return int(db.scalar(sa.text("select count(*) from audit_log")) or 0)

    return _count
