"""Demo data: a SAMPLE registry of Tajik places of detention, a user for every role, and SAMPLE
condition histories (history.py)."""

from __future__ import annotations

import json
import secrets
from importlib import resources
from pathlib import Path
from typing import Any

from geoalchemy2.elements import WKTElement
from sqlalchemy import func, make_url, select
from sqlalchemy.orm import Session

from monitor_api.accounts import service as accounts
from monitor_api.accounts.models import ROLES, Team, TeamMember, User
from monitor_api.audit import service as audit
from monitor_api.config import Settings
from monitor_api.demo.plan import uid
from monitor_api.facilities.models import Facility, FacilityHistory

SAMPLE_NOTE = "SAMPLE DATA for demonstration; not an authoritative registry."


def load_sample_facilities(session: Session) -> int:
    """Insert the sample registry (skipping codes already present); returns how many."""
    raw = resources.files("monitor_api.demo").joinpath("data/facilities_tj.json").read_text()
    added = 0
    for item in json.loads(raw):
        if session.scalar(select(Facility.id).where(Facility.code == item["code"],
                                                    Facility.deleted_at.is_(None))):
            continue
        data: dict[str, Any] = dict(item)
        lat, lng = data.pop("lat"), data.pop("lng")
        facility = Facility(**data, id=uid("facility", item["code"]),  # same on every machine
                            location=WKTElement(f"POINT({lng} {lat})", srid=4326),
                            is_sample=True, notes=SAMPLE_NOTE)
        session.add(facility)
        session.flush()
        session.add(FacilityHistory(facility_id=facility.id, version=1, kind="created",
                                    before=None, after={**item, "is_sample": True}))
        added += 1
    audit.record(session, "demo.facilities_loaded", details={"count": added})
    return added


def create_demo_users(session: Session) -> dict[str, str]:
    """One user per role (`demo-<role>`) with a random password; returns username → password."""
    creds: dict[str, str] = {}
    for role in ROLES:
        username = f"demo-{role.replace('_', '-')}"
        if session.scalar(select(User.id).where(User.username == username)):
            continue
        password = secrets.token_urlsafe(12)
        accounts.create_user(session, username=username, display_name=f"Demo {role}",
                             role=role, password=password)
        creds[username] = password
    lead = session.scalar(select(User).where(User.username == "demo-coordinator"))
    monitor = session.scalar(select(User).where(User.username == "demo-monitor"))
    if lead and monitor and not session.scalar(select(Team.id).where(Team.name == "Demo team")):
        team = Team(name="Demo team", description="Sample visiting team", lead_id=lead.id)
        session.add(team)
        session.flush()
        session.add_all([TeamMember(team_id=team.id, user_id=lead.id),
                         TeamMember(team_id=team.id, user_id=monitor.id)])
    return creds


def is_seeded(session: Session) -> bool:
    """Whether `seed-demo --if-empty` has nothing to do: users exist and, if this is a demo
    database (it has the Demo team), the sample history is there too. A demo database seeded
    before the histories existed gets them; a database without the Demo team is left alone."""
    from monitor_api.demo.history import DEMO_TEAM, history_present

    if not session.scalar(select(func.count()).select_from(User)):
        return False
    demo = session.scalar(select(Team.id).where(Team.name == DEMO_TEAM))
    return demo is None or history_present(session)


def credentials_path(state_dir: Path, database_url: str) -> Path:
    """Where the demo passwords of one database are kept (one file per database name)."""
    name = make_url(database_url).database or "default"
    return state_dir / f"demo-credentials-{name}.json"


def seed_demo(session: Session, path: Path, settings: Settings) -> dict[str, str]:
    """Seed everything and keep the new demo passwords in `path` (mode 600)."""
    from monitor_api.demo.history import seed_history

    creds = create_demo_users(session)
    load_sample_facilities(session)
    for extra in _EXTRA_SEEDERS:
        extra(session)
    seed_history(session, settings)  # photos go to the blob store the settings name
    if creds:
        path.parent.mkdir(parents=True, exist_ok=True)
        old = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**old, **creds}, indent=2))
        path.chmod(0o600)
    return creds


# Other features (e.g. the starter checklist) register their seeders here.
_EXTRA_SEEDERS: list[Any] = []


def register_seeder(fn: Any) -> Any:
    """Add a function(session) that seed_demo runs after users and facilities."""
    _EXTRA_SEEDERS.append(fn)
    return fn
