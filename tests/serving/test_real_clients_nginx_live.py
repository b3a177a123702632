"""WatermelonDB and tus-js-client phones (tests/photos/phones.py) against the server as
`make run` starts it: nginx in front (request buffering, the uploads pool, gzip), the two
gunicorn pools and the job worker on the local blob folder. The script checks each phone's
data after every step; here, that what it sent reached the database through the front."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitor_api.accounts.devices import register_device
from monitor_api.accounts.models import Team, TeamMember, User
from monitor_api.auth import Principal
from monitor_api.db import make_engine
from monitor_api.facilities.models import Facility
from monitor_api.visits.models import Visit
from tests.photos.phones import photo_files, run_phones
from tests.serving.conftest import Served


def test_phones_through_nginx(served: Served, tmp_path: Path) -> None:
    engine = make_engine(served.db_url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            users = [User(username=f"nginx-phone-{uuid.uuid4().hex[:8]}", display_name="m",
                          role="monitor", password_hash="not-used") for _ in range(2)]
            s.add_all(users)
            s.flush()
            team = Team(name=f"nginx-team-{uuid.uuid4().hex[:8]}", lead_id=users[0].id)
            s.add(team)
            s.flush()
            s.add_all([TeamMember(team_id=team.id, user_id=u.id) for u in users])
            facility = Facility(code=f"NG-{uuid.uuid4().hex[:8]}", name="IVS test",
                                facility_type="police_custody",
                                authority="ministry_of_interior", region="TJ-DU",
                                location="SRID=4326;POINT(68.78 38.56)")
            s.add(facility)
            s.flush()
            visit = Visit(facility_id=facility.id, team_id=team.id, status="in_progress")
            s.add(visit)
            tokens = [register_device(s, Principal(u.id, u.role, u.username), name="phone",
                                      platform="android", lifetime_days=1)[1] for u in users]
            s.commit()

        out = run_phones(served.url, token_a=tokens[0], token_b=tokens[1], visit_id=visit.id,
                         facility_id=facility.id, files=photo_files(tmp_path))

        ids = out["ids"]
        with engine.connect() as c:
            title = c.scalar(sa.text("select title from findings where id = :i"),
                             {"i": ids["finding"]})
            statuses = c.scalars(sa.text(
                "select upload_status from photos where id = any(cast(:i as uuid[]))"),
                {"i": ids["photos"]}).all()
        assert title == "Title by B"
        assert statuses == ["verified", "verified"]
    finally:
        engine.dispose()
