"""Data for the condition-history benchmark, generated set-based (INSERT … SELECT over
generate_series, never the ORM for the bulk): facilities x visits, ~100 answers a visit to
one published 100-question template, rooms, findings, recommendations with repeats chains
across a facility's consecutive visits, their reviews at the next visit, access incidents.

Rows are inserted visit by visit in the order of the visits' dates, as pushes write them (a
phone sends a visit's answers together), not question by question.
Every facility's visits are three months apart from January 2016; all but the last are
published (status reported). The last one of each facility is in progress, held by the
benchmark's team: the pushes of the freshness measurement write to those.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from importlib import resources
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from monitor_api.accounts.devices import register_device
from monitor_api.accounts.models import AuthSession, Team, TeamMember, User
from monitor_api.auth import SESSION_PREFIX, Principal, new_token
from monitor_api.checklists.service import build_template
from monitor_api.db import utcnow

QUESTIONS = 100
FIRST_DAY = "2016-01-04"
VISIT_GAP_DAYS = 91

# Run in order on one connection; :facilities, :visits, :template, :team, :user are bound.
STEPS: list[tuple[str, str]] = [
    ("seed", "select setseed(0.42)"),
    ("facilities", """
insert into facilities (id, code, name, facility_type, authority, region, location,
                        official_capacity, holds)
select gen_random_uuid(), 'BENCH-' || lpad(n::text, 4, '0'), 'Bench facility ' || n,
       (array['pretrial_detention','penal_colony','police_custody','prison',
              'psychiatric_hospital'])[1 + n % 5],
       (array['ministry_of_justice','ministry_of_interior','ministry_of_health_social',
              'state_security'])[1 + n % 4],
       (array['TJ-DU','TJ-SU','TJ-KT','TJ-GB','TJ-RR'])[1 + n % 5],
       st_geogfromtext('SRID=4326;POINT(' || (67.5 + random() * 7) || ' '
                       || (37 + random() * 3.5) || ')'),
       case when n % 10 = 0 then null else 100 + floor(random() * 1500)::int end,
       '{"men": true, "women": false, "minors": false, "foreigners": false}'::jsonb
from generate_series(1, :facilities) n"""),
    ("plan", """
create temp table bv on commit preserve rows as
select gen_random_uuid() as id, f.id as facility_id, k,
       (date '""" + FIRST_DAY + "' + k * " + str(VISIT_GAP_DAYS) + """
        + floor(random() * 30)::int)::timestamptz + interval '9 hours' as started
from facilities f cross join generate_series(0, :visits - 1) k
where f.code like 'BENCH-%'"""),
    ("visits", """
insert into visits (id, facility_id, template_id, team_id, visit_type, announced,
                    joint_with_ombudsman, status, started_at, ended_at, declared_capacity,
                    population_total, population_source, summary, created_by_id, published_at)
select id, facility_id, :template, :team,
       (array['in_depth','thematic','follow_up','reactive'])[1 + floor(random() * 4)::int],
       random() < 0.3, random() < 0.4,
       case when k < :visits - 1 then 'reported' else 'in_progress' end,
       started, started + interval '8 hours',
       case when random() < 0.3 then 200 + floor(random() * 800)::int end,
       100 + floor(random() * 1200)::int, 'register', 'Benchmark visit', :user,
       case when k < :visits - 1 then started + interval '30 days' end
from bv order by started, id"""),
    ("answers", """
insert into answers (id, visit_id, question_id, info_source, value, number_value, answered_at)
select gen_random_uuid(), bv.id, q.id, q.info_sources ->> 0,
       case q.answer_type
         when 'yes_no_partial' then case when random() < 0.6 then 'yes'
                                         when random() < 0.75 then 'no' else 'partial' end
         when 'choice' then q.options ->> floor(random() * jsonb_array_length(q.options))::int
         when 'multi_choice'
           then q.options ->> floor(random() * jsonb_array_length(q.options))::int
         when 'text' then 'Seen on the tour.'
       end,
       case when q.answer_type in ('count', 'measure') then floor(random() * 30) end,
       bv.started
from bv cross join checklist_questions q where q.template_id = :template
order by bv.started, bv.id, q.position"""),
    ("rooms", """
insert into room_inspections (id, visit_id, label, room_kind, floor_area_m2, occupants, beds,
                              natural_light, ventilation, inspected_at)
select gen_random_uuid(), bv.id, 'Room ' || r,
       case when r = 7 then 'medical' when r % 3 = 0 then 'dormitory'
            when r = 5 then 'disciplinary_cell' else 'cell' end,
       round((6 + random() * 50)::numeric, 1), 1 + floor(random() * 16)::int,
       1 + floor(random() * 16)::int, 'insufficient', 'adequate', bv.started
from bv cross join lateral generate_series(1, 5 + abs(hashtext(bv.id::text)) % 6) r
order by bv.started, bv.id, r"""),
    ("findings", """
insert into findings (id, visit_id, theme, severity, title, description, standard_refs,
                      is_systemic, sources_count, status)
select gen_random_uuid(), bv.id,
       (array['treatment','safeguards','material_conditions','regime_activities',
              'health_care','personnel'])[1 + floor(random() * 6)::int],
       (array['critical_urgent','serious','moderate','minor'])[1 + floor(random() * 4)::int],
       'Finding ' || n, 'Seen by two monitors.', '[{"instrument":"mandela","rule":"13"}]',
       random() < 0.2, 2,
       case when random() < 0.8 then 'confirmed' when random() < 0.75 then 'draft'
            else 'withdrawn' end
from bv cross join lateral generate_series(1, 3 + abs(hashtext(bv.id::text || 'f')) % 4) n
order by bv.started, bv.id, n"""),
    ("recommendation plan", """
create temp table br on commit preserve rows as
select gen_random_uuid() as id, bv.id as visit_id, bv.facility_id, bv.k, s as slot,
       bv.started, null::uuid as repeats_id
from bv cross join lateral generate_series(1, 2 + abs(hashtext(bv.id::text || 'r')) % 3) s"""),
    ("repeats chains", """
update br set repeats_id = p.id from br p
where p.facility_id = br.facility_id and p.k = br.k - 1 and p.slot = br.slot
  and br.slot <= 2 and random() < case br.slot when 1 then 0.7 else 0.4 end"""),
    ("recommendations", """
insert into recommendations (id, facility_id, visit_id, theme, text, addressed_to, priority,
                             due_date, repeats_id)
select id, facility_id, visit_id,
       (array['material_conditions','health_care','safeguards','treatment'])[slot],
       'Recommendation ' || slot || ' of the visit',
       (array['ministry_of_justice','ministry_of_interior','ministry_of_health_social',
              'other'])[1 + (k + slot) % 4],
       (array['urgent','high','medium','low'])[slot], started + interval '180 days',
       repeats_id
from br order by started, visit_id, slot"""),
    ("reviews", """
insert into recommendation_reviews (id, recommendation_id, visit_id, status, evidence,
                                    reviewed_at)
select gen_random_uuid(), br.id, nv.id,
       (array['implemented','partially_implemented','not_implemented','not_implemented',
              'no_longer_relevant'])[1 + floor(random() * 5)::int],
       'Checked on site.', nv.started
from br join bv nv on nv.facility_id = br.facility_id and nv.k = br.k + 1"""),
    ("access incidents", """
insert into access_incidents (id, visit_id, kind, target, description, occurred_at,
                              minutes_lost)
select gen_random_uuid(), bv.id, (array['refused','delayed','restricted'])[n],
       (array['place','person','document'])[n], 'At the gate.', bv.started,
       15 + floor(random() * 90)::int
from bv cross join lateral generate_series(1, case abs(hashtext(bv.id::text || 'a')) % 10
                                                when 0 then 2 when 1 then 1 when 2 then 1
                                                else 0 end) n"""),
    ("analyze", "analyze"),
]


def _questions() -> list[dict[str, Any]]:
    """The starter checklist's questions, topped up to QUESTIONS with numbered copies."""
    starter = json.loads(resources.files("monitor_api.checklists").joinpath(
        "data/starter_checklist.json").read_text("utf-8"))["questions"]
    out = [dict(q) for q in starter]
    n = 0
    while len(out) < QUESTIONS:
        q = dict(starter[n % len(starter)])
        q["code"] = f"{q['code']}-B{n}"
        q["indicator"] = None
        out.append(q)
        n += 1
    for position, q in enumerate(out, 1):
        q["position"] = position
    return out[:QUESTIONS]


def actors(engine: Engine) -> dict[str, Any]:
    """The template, the field team (a monitor with a device), a partner with a session."""
    with Session(engine, expire_on_commit=False) as s:
        tag = uuid.uuid4().hex[:6]
        template = build_template(s, code=f"bench-{tag}", version=1, title="Benchmark",
                                  facility_types=[], questions=_questions(), created_by_id=None,
                                  status="published")
        monitor = User(username=f"bench-monitor-{tag}", display_name="bench", role="monitor",
                       password_hash="!nologin")  # noqa: S106 (no login)
        partner = User(username=f"bench-partner-{tag}", display_name="bench", role="partner",
                       password_hash="!nologin")  # noqa: S106
        s.add_all([monitor, partner])
        s.flush()
        team = Team(name=f"bench-{tag}", lead_id=monitor.id)
        s.add(team)
        s.flush()
        s.add(TeamMember(team_id=team.id, user_id=monitor.id))
        s.commit()
        questions = [(q.id, q.code, q.answer_type, q.options, q.info_sources)
                     for q in template.questions]
        return {"template": template.id, "team": team.id, "monitor": monitor,
                "partner": partner, "questions": questions}


def partner_token(engine: Engine, partner: User) -> str:
    """A session token made directly (no argon2 login), as the tests' quick_user does."""
    token, token_hash = new_token(SESSION_PREFIX)
    now = utcnow()
    with Session(engine) as s:
        s.add(AuthSession(user_id=partner.id, token_hash=token_hash, created_at=now,
                          last_used_at=now, expires_at=now + timedelta(hours=4)))
        s.commit()
    return token


def device_token(engine: Engine, monitor: User) -> str:
    with Session(engine) as s:
        _, token = register_device(s, Principal(monitor.id, monitor.role, monitor.username),
                                   name="bench", lifetime_days=1)
        s.commit()
    return token


def generate(engine: Engine, ids: dict[str, Any], facilities: int,
             visits: int) -> dict[str, float]:
    """Fill the database; returns seconds per step and the row counts."""
    params = {"facilities": facilities, "visits": visits, "template": ids["template"],
              "team": ids["team"], "user": ids["monitor"].id}
    timings: dict[str, float] = {}
    with engine.connect() as conn:
        for name, sql in STEPS:
            t0 = time.perf_counter()
            conn.execute(text(sql), {k: v for k, v in params.items() if f":{k}" in sql})
            conn.commit()
            timings[name] = round(time.perf_counter() - t0, 2)
        counts = {t: conn.scalar(text(f"select count(*) from {t}")) for t in (
            "facilities", "visits", "answers", "room_inspections", "findings",
            "recommendations", "recommendation_reviews", "access_incidents")}
        conn.execute(text("drop table bv; drop table br"))
        conn.commit()
    return {"seconds": timings, "rows": counts}
