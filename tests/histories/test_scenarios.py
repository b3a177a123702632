"""DOMAIN.md scenarios 4, 7 and 8 over HTTP; expected values computed here, from the
fixture's raw figures, independently of the production code."""

from __future__ import annotations

import statistics
from typing import Any

from tests.histories.conftest import CAPACITY, VISITS, History

THRESHOLDS = {"tj_law": (4.0, 4.0), "cpt": (4.0, 6.0), "icrc": (3.4, 5.4)}


def _expected_space(rooms: list[tuple[float, int]]) -> dict[str, Any]:
    per_person = [area / n for area, n in rooms]
    below = {src: sum(1 for area, n in rooms if area / n < (single if n == 1 else shared))
             for src, (shared, single) in THRESHOLDS.items()}
    return {"min": min(per_person), "median": statistics.median(per_person), "below": below}


def test_scenario_4_partner_reads_a_sizo_history(history: History) -> None:
    partner = history.api["partner"]
    resp = partner.get(f"/api/v1/facilities/{history.facility.id}/conditions")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    # Published visits only: not team A's draft, not team B's unpublished visit.
    assert [v["visit"]["id"] for v in body["visits"]] == [str(v.id) for v in history.visits]
    previous = None
    for item, (when, population, rooms, *_rest) in zip(body["visits"], VISITS, strict=True):
        ind = item["indicators"]
        assert item["visit"]["date"] == when.date().isoformat()
        assert ind["occupancy"] == {"population_total": population, "capacity": CAPACITY,
                                    "capacity_source": "official",
                                    "rate": round(population / CAPACITY, 4)}
        space = _expected_space(rooms)
        living = ind["living_space"]
        assert living["rooms_measured"] == len(rooms)  # the visiting room is not living space
        assert abs(living["min_m2"] - space["min"]) < 1e-3
        assert abs(living["median_m2"] - space["median"]) < 1e-3
        assert {s: t["rooms_below"] for s, t in living["thresholds"].items()} == space["below"]
        assert living["thresholds"]["cpt"]["version"] == 1
        assert ind["findings"]["total"] == 1  # the withdrawn one is left out
        # What changed since the previous visit.
        if previous is None:
            assert item["compared_with"] is None and item["changes"] == {}
        else:
            change = item["changes"]["rooms_below_tj_law"]
            assert change["from"] == previous["below"]["tj_law"]
            assert change["to"] == space["below"]["tj_law"]
            rate_change = item["changes"]["occupancy_rate"]["change"]
            assert abs(rate_change - (population / CAPACITY - previous["rate"])) < 1e-3
        previous = {**space, "rate": population / CAPACITY}
    # Open recommendations to the Ministry of Justice repeated on two or more visits.
    resp = partner.get(f"/api/v1/facilities/{history.facility.id}/recommendations"
                       "?addressed_to=ministry_of_justice&open=true&repeated_min=2")
    items = resp.get_json()["items"]
    assert [i["id"] for i in items] == [str(history.recs["space1"]), str(history.recs["space2"])]
    last = items[-1]
    assert last["chain_length"] == 3 and last["repeats_chain"] == [
        str(history.recs["space1"]), str(history.recs["space0"])]
    first = items[0]
    assert [r["status"] for r in first["status_history"]] == ["not_implemented"]
    assert first["latest_status"] == "not_implemented" and first["open"] is True
    # Redacted photos: verified, with consent, of published visits; links, no GPS, no hash.
    photos = partner.get(f"/api/v1/facilities/{history.facility.id}/photos").get_json()
    assert {p["id"] for p in photos["items"]} == {
        str(history.photos[f"ok{n}"]) for n in range(len(VISITS))}
    assert all(set(p) >= {"thumbnail", "display"} and "original" not in p and "lat" not in p
               and "sha256" not in p and "caption" not in p for p in photos["items"])
    # Interviews, allegations and original photos: 403.
    last_visit = history.visits[-1].id
    for path in (f"/api/v1/visits/{last_visit}/interviews",
                 f"/api/v1/visits/{last_visit}/allegations",
                 f"/api/v1/allegations/{history.restricted['allegation']}",
                 f"/api/v1/photos/{history.photos['ok2']}/original"):
        assert partner.get(path).status_code == 403, path


def test_scenario_7_solitary_over_15_days_and_bangkok_6(history: History) -> None:
    analyst = history.api["analyst"]
    resp = analyst.get("/api/v1/answers?standard=mandela:44&compliant=false&per_page=100")
    assert resp.status_code == 200, resp.get_json()
    rows = resp.get_json()["items"]
    expected = sorted([(history.facility.code, when.date().isoformat(), days)
                       for when, _p, _r, days, _s, _t in VISITS if days > 15]
                      + [(history.other_facility.code, "2024-03-03", 40)])
    got = sorted((r["facility"]["code"], r["visit"]["date"], r["answer"]["number_value"])
                 for r in rows)
    assert got == expected
    assert all("comment" not in r["answer"] for r in rows)
    assert all(r["question"]["code"] == "SOL-01" for r in rows)
    # Women's facilities answering "no" on a Bangkok Rule 6 screening question (in Russian).
    resp = analyst.get("/api/v1/answers?standard=bangkok:6&value=no&holds=women&lang=ru")
    rows = resp.get_json()["items"]
    expected_no = [when.date().isoformat() for when, _p, _r, _d, screening, _t in VISITS
                   if "no" in screening.values()]
    assert [r["visit"]["date"] for r in rows] == expected_no
    assert rows[0]["question"]["text"] == "Медосмотр при поступлении?"
    assert {r["facility"]["code"] for r in rows} == {history.facility.code}


def test_scenario_8_annual_figures(history: History) -> None:
    resp = history.api["analyst"].get("/api/v1/statistics/annual?year=2024")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    # 2024: the SIZO's second visit and the police station's visit, both published.
    assert body["visits"]["total"] == 2
    assert body["visits"]["by_facility_type"] == {"pretrial_detention": 1, "police_custody": 1}
    assert body["visits"]["by_region"] == {"TJ-SU": 1, "TJ-DU": 1}
    assert (body["visits"]["announced"], body["visits"]["unannounced"]) == (0, 2)
    assert body["visits"]["joint_with_ombudsman"] == 2
    assert body["access_incidents"] == {"delayed": {"count": 1, "minutes_lost": 40}}
    # The 2024 visit reviewed 2023's recommendations: MoJ not implemented, health implemented.
    rates = body["implementation_by_authority"]
    assert rates["ministry_of_justice"]["rate"] == 0.0
    assert rates["ministry_of_health_social"]["rate"] == 1.0
    # 2025: health only partially implemented: (0 + 1/2) / 1.
    rates = history.api["partner"].get("/api/v1/statistics/annual?year=2025").get_json()[
        "implementation_by_authority"]
    assert rates["ministry_of_health_social"]["rate"] == 0.5
