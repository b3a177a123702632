"""Fixtures for the facility registry tests: one logged-in client per role, a facility maker."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

ROLES = ("admin", "coordinator", "monitor", "partner", "analyst", "legal_aid")
URL = "/api/v1/facilities"
_codes = itertools.count(1)


def payload(**overrides: Any) -> dict[str, Any]:
    """A valid create body; `code` is unique per call unless given."""
    body: dict[str, Any] = {
        "code": f"T-{next(_codes):05d}",
        "name": "Test facility",
        "name_ru": "Тестовое учреждение",
        "name_tg": "Муассисаи санҷишӣ",
        "facility_type": "pretrial_detention",
        "authority": "ministry_of_justice",
        "region": "TJ-DU",
        "district": "Sino",
        "lat": 38.56,
        "lng": 68.77,
        "official_capacity": 400,
        "holds": {"men": True, "women": False, "minors": False, "foreigners": True},
        "status": "active",
        "notes": None,
    }
    body.update(overrides)
    return body


@pytest.fixture
def apis(make_user: Any) -> dict[str, Any]:
    """role -> Api logged in as a fresh user of that role."""
    return {role: make_user(role)[1] for role in ROLES}


@pytest.fixture
def admin(apis: dict[str, Any]) -> Any:
    return apis["admin"]


@pytest.fixture
def create(admin: Any) -> Any:
    """Create a facility over the API as admin; returns the response body."""

    def _create(**overrides: Any) -> dict[str, Any]:
        resp = admin.post(URL, json=payload(**overrides))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    return _create
