"""Who may export what: analysts and partners (published visits; partners their datasets),
coordinators (plus their own teams' unpublished visits, flagged; never another team's),
admins (everything); monitors and legal aid 403 before any validation."""

from __future__ import annotations

import pytest

from monitor_api.errors import PROBLEM_MIME
from tests.exports.conftest import World, export, read_csv, read_zip

DATASETS = ("visits", "findings", "recommendations", "answers", "room_inspections",
            "indicators")
PARTNER = ("visits", "findings", "recommendations", "indicators")


@pytest.mark.parametrize("role", ["mon_a", "legal_aid"])
def test_monitors_and_legal_aid_get_403(world: World, role: str) -> None:
    api = world.api[role]
    for dataset in (*DATASETS, "all"):
        # Refused before the query is read: even an invalid parameter answers 403.
        for query in ("", "?format=nonsense&bogus=1"):
            resp = api.get(f"/api/v1/exports/{dataset}{query}")
            assert resp.status_code == 403, (role, dataset, query)
            assert resp.mimetype == PROBLEM_MIME
    assert api.get("/api/v1/exports").status_code == 403


def test_device_tokens_cannot_export(world: World, db: object, make_device: object,
                                     client: object) -> None:
    _, phone = make_device(world.users["admin"], client)  # type: ignore[operator]
    assert phone.get("/api/v1/exports/findings").status_code == 403


def test_partners_get_their_datasets_only(world: World) -> None:
    partner = world.api["partner"]
    listing = partner.get("/api/v1/exports").get_json()
    assert [d["name"] for d in listing["datasets"]] == list(PARTNER)
    for dataset in DATASETS:
        resp = export(partner, dataset)
        assert resp.status_code == (200 if dataset in PARTNER else 403), dataset
        if resp.status_code == 403:
            assert resp.mimetype == PROBLEM_MIME and "visits" in resp.get_json()["detail"]
    bundle = read_zip(export(partner, "all", format="zip").get_data())
    assert sorted(bundle) == sorted([*(f"{d}.csv" for d in PARTNER), "datapackage.json"])
    # No allegation count at all for partners (analysts get the consented, suppressed count).
    header = read_csv(export(partner, "visits").get_data())[0]
    assert not any(k.startswith("allegations") for k in header)


def _titles(world: World, who: str, **params: str) -> set[str]:
    rows = read_csv(export(world.api[who], "findings", **params).get_data())
    return {r["title"] for r in rows}


def test_outside_roles_see_confirmed_findings_of_published_visits(world: World) -> None:
    for who in ("analyst", "partner"):
        titles = _titles(world, who)
        assert "Dushanbe finding" in titles and "Solitary in 2023" in titles
        for hidden in ("Draft finding of team A", "Withdrawn finding",
                       "Unpublished finding of team A", "Team B secret finding"):
            assert hidden not in titles, (who, hidden)


def test_coordinators_see_their_teams_unpublished_visits_flagged(world: World) -> None:
    rows = read_csv(export(world.api["coord_a"], "findings").get_data())
    flagged = {r["title"]: r["published"] for r in rows}
    assert flagged["Unpublished finding of team A"] == "false"
    assert flagged["Draft finding of team A"] == "true"  # a draft of a published visit
    assert flagged["Dushanbe finding"] == "true"
    assert "Team B secret finding" not in flagged and "Withdrawn finding" not in flagged
    # Team B's coordinator: their own unpublished visit, never team A's.
    b = _titles(world, "coord_b")
    assert "Team B secret finding" in b and "Unpublished finding of team A" not in b
    assert "Draft finding of team A" not in b  # drafts of others' visits stay with them
    # published_only leaves the visits under review out.
    assert "Unpublished finding of team A" not in _titles(world, "coord_a",
                                                          published_only="true")
    # Their visits dataset flags the same way; other teams' unpublished visits never appear.
    visits = read_csv(export(world.api["coord_a"], "visits").get_data())
    assert sorted(v["published"] for v in visits) == ["false"] + ["true"] * 4
    recs = read_csv(export(world.api["coord_b"], "recommendations").get_data())
    assert "Team B recommendation" in {r["text"] for r in recs}
    recs_a = read_csv(export(world.api["coord_a"], "recommendations").get_data())
    assert "Team B recommendation" not in {r["text"] for r in recs_a}


def test_admins_see_every_visit(world: World) -> None:
    titles = _titles(world, "admin")
    assert {"Team B secret finding", "Unpublished finding of team A"} <= titles
    bundle = read_zip(export(world.api["admin"], "all", format="zip").get_data())
    assert sorted(bundle) == sorted([*(f"{d}.csv" for d in DATASETS), "datapackage.json"])
