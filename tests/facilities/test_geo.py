"""Geography: near/radius against independently computed distances, bbox, and GeoJSON."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from monitor_api.facilities import service
from tests.facilities.conftest import URL, assert_problem
from tests.facilities.geodesy import haversine, vincenty

DUSHANBE = (38.5598, 68.7870)
CITIES = {
    "dushanbe": DUSHANBE,
    "vahdat": (38.5563, 69.0135),
    "bokhtar": (37.8364, 68.7803),
    "kulob": (37.9146, 69.7845),
    "istaravshan": (39.9108, 69.0064),
    "khujand": (40.2826, 69.6222),
    "khorog": (37.4897, 71.5530),
}


@pytest.fixture
def places(create: Any, marker: str) -> dict[str, dict[str, Any]]:
    made = {name: create(name=f"{name} {marker}", lat=lat, lng=lng)
            for name, (lat, lng) in CITIES.items()}
    made["nowhere"] = create(name=f"nowhere {marker}", lat=None, lng=None)
    return made


def _get(api: Any, query: str, **headers: str) -> Any:
    resp = api.get(f"{URL}?{query}", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp


def _names(places: dict[str, Any], items: list[dict[str, Any]]) -> list[str]:
    by_id = {fac["id"]: name for name, fac in places.items()}
    return [by_id[i["id"]] for i in items if i["id"] in by_id]


def test_oracle_matches_vincentys_published_example() -> None:
    # Flinders Peak -> Buninyong (Vincenty 1975 / Geoscience Australia): 54 972.271 m.
    def dms(d: int, m: int, s: float) -> float:
        return (abs(d) + m / 60 + s / 3600) * (1 if d >= 0 else -1)

    got = vincenty(dms(-37, 57, 3.72030), dms(144, 25, 29.52440),
                   dms(-37, 39, 10.15610), dms(143, 55, 35.38390))
    assert got == pytest.approx(54972.271, abs=0.001)


def test_distances_match_geodesic_oracle(admin: Any, places: Any, marker: str) -> None:
    items = _get(admin, f"q={marker}&near={DUSHANBE[0]},{DUSHANBE[1]}").get_json()["items"]
    names = _names(places, items)
    assert len(names) == 8
    for name, item in zip(names, items, strict=True):
        if name == "nowhere":
            assert item["distance_m"] is None
            continue
        ellipsoid = vincenty(*DUSHANBE, *CITIES[name])
        sphere = haversine(*DUSHANBE, *CITIES[name])
        if name == "dushanbe":
            assert item["distance_m"] == pytest.approx(0, abs=1e-6)
            continue
        assert item["distance_m"] == pytest.approx(ellipsoid, rel=5e-5), name
        assert item["distance_m"] == pytest.approx(sphere, rel=5e-3), name
    # Default order with near is by distance (nearest first), locationless last.
    expected = sorted(CITIES, key=lambda n: vincenty(*DUSHANBE, *CITIES[n]))
    assert names == [*expected, "nowhere"]


def test_radius_boundary(admin: Any, places: Any, marker: str) -> None:
    to_bokhtar = vincenty(*DUSHANBE, *CITIES["bokhtar"])  # about 80 km
    near = f"q={marker}&near={DUSHANBE[0]},{DUSHANBE[1]}"
    inside = _names(places, _get(admin, f"{near}&radius_m={to_bokhtar + 5}").get_json()["items"])
    outside = _names(places, _get(admin, f"{near}&radius_m={to_bokhtar - 5}").get_json()["items"])
    assert inside == ["dushanbe", "vahdat", "bokhtar"]
    assert outside == ["dushanbe", "vahdat"]
    # ST_DWithin agrees with the distances the same response reports, to the centimetre.
    server = next(i["distance_m"] for i in _get(admin, near).get_json()["items"]
                  if i["id"] == places["bokhtar"]["id"])
    for radius, included in ((server + 0.01, True), (server - 0.01, False)):
        ids = [i["id"] for i in _get(admin, f"{near}&radius_m={radius}").get_json()["items"]]
        assert (places["bokhtar"]["id"] in ids) == included
    zero = _get(admin, f"{near}&radius_m=0").get_json()
    assert _names(places, zero["items"]) == ["dushanbe"] and zero["meta"]["total"] == 1


def test_near_with_other_filters_and_explicit_sort(admin: Any, places: Any,
                                                   marker: str) -> None:
    query = f"q={marker}&near={DUSHANBE[0]},{DUSHANBE[1]}&radius_m=300000&sort=-name"
    items = _get(admin, query).get_json()["items"]
    assert _names(places, items) == sorted(CITIES, reverse=True)
    assert all(isinstance(i["distance_m"], float) for i in items)
    assert "distance_m" not in _get(admin, f"q={marker}").get_json()["items"][0]


def test_near_across_the_antimeridian(create: Any, admin: Any, marker: str) -> None:
    east = create(name=f"east {marker}", lat=-16.5, lng=179.95)
    resp = _get(admin, f"q={marker}&near=-16.5,-179.95&radius_m=12000").get_json()
    expected = vincenty(-16.5, -179.95, -16.5, 179.95)
    assert 10_000 < expected < 12_000
    assert [i["id"] for i in resp["items"]] == [east["id"]]
    assert resp["items"][0]["distance_m"] == pytest.approx(expected, rel=5e-5)


@pytest.mark.parametrize(("bbox", "expected"), [
    ("68.5,37.5,70.0,39.0", {"dushanbe", "vahdat", "bokhtar", "kulob"}),
    ("60,30,80,45", set(CITIES)),
    ("69.5,39.95,70,40.5", {"khujand"}),
    # Edges are inclusive: a box whose corner is exactly Dushanbe contains it.
    (f"68,37,{DUSHANBE[1]},{DUSHANBE[0]}", {"dushanbe", "bokhtar"}),
    (f"{DUSHANBE[1]},{DUSHANBE[0]},69.5,39", {"dushanbe"}),
    (f"{DUSHANBE[1]},{DUSHANBE[0]},{DUSHANBE[1]},{DUSHANBE[0]}", {"dushanbe"}),
    ("0,0,1,1", set()),
])
def test_bbox(admin: Any, places: Any, marker: str, bbox: str, expected: set[str]) -> None:
    items = _get(admin, f"q={marker}&bbox={bbox}&per_page=500").get_json()["items"]
    assert set(_names(places, items)) == expected


def test_bbox_combines_with_near(admin: Any, places: Any, marker: str) -> None:
    query = f"q={marker}&bbox=68.5,37.5,70.0,39.0&near={DUSHANBE[0]},{DUSHANBE[1]}&radius_m=50000"
    assert _names(places, _get(admin, query).get_json()["items"]) == ["dushanbe", "vahdat"]


FIELDS = {"id", "code", "name", "name_ru", "name_tg", "facility_type", "authority", "region",
          "district", "official_capacity", "holds", "status", "notes", "is_sample", "version",
          "created_at", "updated_at", "deleted_at"}


@pytest.mark.parametrize("how", ["accept", "format", "accept-with-q"])
def test_geojson_feature_collection(admin: Any, places: Any, marker: str, how: str) -> None:
    query, headers = f"q={marker}&sort=name", {}
    if how == "format":
        query += "&format=geojson"
    else:
        headers["Accept"] = ("application/geo+json" if how == "accept"
                             else "application/json;q=0.5, application/geo+json")
    resp = _get(admin, query, **headers)
    assert resp.mimetype == "application/geo+json"
    assert "Accept" in resp.headers["Vary"]
    doc = resp.get_json(force=True)
    assert doc["type"] == "FeatureCollection"
    assert doc["meta"] == {"page": 1, "per_page": 50, "total": 8}
    features = doc["features"]
    assert [f["properties"]["name"] for f in features] == sorted(
        f"{n} {marker}" for n in [*CITIES, "nowhere"])
    for feature in features:
        assert feature["type"] == "Feature"
        props = feature["properties"]
        assert set(props) == FIELDS and feature["id"] == props["id"]
        name = props["name"].split()[0]
        if name == "nowhere":
            assert feature["geometry"] is None
        else:
            lat, lng = CITIES[name]
            assert feature["geometry"] == {"type": "Point", "coordinates": [lng, lat]}
        assert props["holds"] == places[name]["holds"]


def test_geojson_with_near_carries_distance(admin: Any, places: Any, marker: str) -> None:
    doc = _get(admin, f"q={marker}&format=geojson&near={DUSHANBE[0]},{DUSHANBE[1]}"
                      "&radius_m=100000").get_json(force=True)
    assert [f["properties"]["name"].split()[0] for f in doc["features"]] == [
        "dushanbe", "vahdat", "bokhtar"]
    assert doc["features"][2]["properties"]["distance_m"] == pytest.approx(
        vincenty(*DUSHANBE, *CITIES["bokhtar"]), rel=5e-5)


@pytest.mark.parametrize(("query", "accept"), [
    ("format=json", "application/geo+json"),
    ("", "application/json"),
    ("", "*/*"),
    ("", ""),
])
def test_json_is_the_default(admin: Any, places: Any, marker: str, query: str,
                             accept: str) -> None:
    headers = {"Accept": accept} if accept else {}
    resp = _get(admin, f"q={marker}&{query}", **headers)
    assert resp.mimetype == "application/json"
    assert set(resp.get_json()) == {"items", "meta"}


def test_geojson_errors_are_still_problems(admin: Any) -> None:
    resp = admin.get(f"{URL}?bbox=1,2", headers={"Accept": "application/geo+json"})
    assert_problem(resp, 422)


def test_geojson_is_documented_in_openapi(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    ok = spec["paths"]["/api/v1/facilities"]["get"]["responses"]["200"]
    assert set(ok["content"]) == {"application/json", "application/geo+json"}
    ref = ok["content"]["application/geo+json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(spec["components"]["schemas"][ref]["properties"]) >= {"type", "features"}
    params = {p["name"] for p in spec["paths"]["/api/v1/facilities"]["get"]["parameters"]}
    assert {"bbox", "near", "radius_m", "q", "sort", "format", "region"} <= params
    patch = spec["paths"]["/api/v1/facilities/{facility_id}"]["patch"]
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in patch["parameters"])


def test_radius_search_can_use_the_gist_index(db: Any) -> None:
    # As for text search: with the alternatives off, ST_DWithin on the geography column must
    # be answerable from ix_facilities_location.
    query = service.list_query(near=DUSHANBE, radius_m=5000, include_deleted=True)
    sql = str(query.compile(dialect=postgresql.dialect(paramstyle="named"),
                            compile_kwargs={"literal_binds": True}))
    db.execute(text("set local enable_seqscan = off"))
    plan = "\n".join(db.scalars(text("explain " + sql)))
    assert "ix_facilities_location" in plan, plan
