"""Bad input on every write and on the list's query: always problem+json, never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from hypothesis import strategies as st

from tests.facilities.conftest import URL, assert_problem, payload

HOLDS = {"men": True, "women": False, "minors": False, "foreigners": True}


@pytest.mark.parametrize(("field", "value"), [
    ("facility_type", "gulag"),
    ("facility_type", "Police_Custody"),
    ("authority", "ministry_of_magic"),
    ("region", "TJ-XX"),
    ("region", "tj-du"),
    ("status", "demolished"),
])
def test_wrong_enumerations(admin: Any, field: str, value: str) -> None:
    body = assert_problem(admin.post(URL, json=payload(**{field: value})), 422,
                          "validation-error")
    assert field in body["errors"]


@pytest.mark.parametrize(("field", "value"), [
    ("name", 123),
    ("code", ["ЯС 3/1"]),
    ("official_capacity", "400"),
    ("official_capacity", 400.5),
    ("official_capacity", True),
    ("official_capacity", -1),
    ("lat", "38.5"),
    ("lat", True),
    ("holds", [True, False, False, False]),
    ("holds", "men"),
    ("holds", {**HOLDS, "men": "yes"}),
    ("holds", {**HOLDS, "men": 1}),
    ("holds", {"men": True, "women": False, "minors": False}),
    ("holds", {**HOLDS, "transgender": False}),
    ("notes", {"text": "x"}),
    ("code", "   "),
    ("name", ""),
    ("code", "x" * 61),
    ("name", "nul\u0000byte"),
    ("notes", "\u0000"),
])
def test_wrong_types_and_values(admin: Any, field: str, value: Any) -> None:
    body = assert_problem(admin.post(URL, json=payload(**{field: value})), 422)
    assert field in body["errors"], body


@pytest.mark.parametrize("field", ["code", "name", "facility_type", "authority", "region"])
def test_required_fields(admin: Any, field: str) -> None:
    body = payload()
    del body[field]
    assert field in assert_problem(admin.post(URL, json=body), 422)["errors"]


@pytest.mark.parametrize("extra", [
    {"hacker": True},
    {"is_sample": True},
    {"version": 7},
    {"id": "00000000-0000-0000-0000-000000000001"},
    {"created_at": "2020-01-01T00:00:00Z"},
    {"deleted_at": None},
    {"location": "POINT(0 0)"},
])
def test_unknown_and_read_only_fields_rejected(admin: Any, extra: dict[str, Any]) -> None:
    body = assert_problem(admin.post(URL, json=payload(**extra)), 422)
    assert set(extra) <= set(body["errors"])


@pytest.mark.parametrize(("coords", "bad"), [
    ({"lat": 38.5, "lng": None}, "lng"),
    ({"lat": None, "lng": 68.7}, "lat"),
])
def test_lat_without_lng(admin: Any, coords: dict[str, Any], bad: str) -> None:
    body = assert_problem(admin.post(URL, json=payload(**coords)), 422)
    assert bad in body["errors"]


@pytest.mark.parametrize("drop", ["lat", "lng"])
def test_one_coordinate_missing(admin: Any, drop: str) -> None:
    body = payload()
    del body[drop]
    assert drop in assert_problem(admin.post(URL, json=body), 422)["errors"]


@pytest.mark.parametrize(("field", "value"), [
    ("lat", 90.0001), ("lat", -90.5), ("lat", 1e308),
    ("lng", 180.0001), ("lng", -181),
])
def test_out_of_range_coordinates(admin: Any, field: str, value: float) -> None:
    assert field in assert_problem(admin.post(URL, json=payload(**{field: value})),
                                   422)["errors"]


@pytest.mark.parametrize(("lat", "lng"), [(90, 180), (-90, -180), (0, 0)])
def test_extreme_valid_coordinates(admin: Any, lat: float, lng: float) -> None:
    resp = admin.post(URL, json=payload(lat=lat, lng=lng))
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["lat"], resp.get_json()["lng"]) == (lat, lng)


def test_no_coordinates_at_all_is_fine(admin: Any) -> None:
    body = payload()
    del body["lat"], body["lng"]
    resp = admin.post(URL, json=body)
    assert resp.status_code == 201
    assert resp.get_json()["lat"] is None and resp.get_json()["lng"] is None


@pytest.mark.parametrize("raw", [b'{"code": "X",', b"not json", b'{"code": "\xff"}'])
def test_malformed_json_is_400(admin: Any, raw: bytes) -> None:
    resp = admin.post(URL, data=raw, headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "bad-request")


def test_json_array_body_is_422(admin: Any) -> None:
    assert_problem(admin.post(URL, json=[payload()]), 422)


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/xml"])
def test_wrong_content_type_is_415(admin: Any, ctype: str) -> None:
    resp = admin.post(URL, data=b'{"code": "X"}', headers={"Content-Type": ctype})
    assert_problem(resp, 415, "unsupported-media-type")


def test_oversized_body_is_413(admin: Any, settings: Any) -> None:
    body = payload(notes="x" * (settings.max_body_bytes + 10))
    assert_problem(admin.post(URL, json=body), 413, "payload-too-large")


def test_patch_is_validated_too(admin: Any, create: Any) -> None:
    fac = create()
    item, match = f"{URL}/{fac['id']}", {"If-Match": '"1"'}
    for bad, field in [({"lat": 10.0}, "lng"), ({"name": None}, "name"),
                       ({"region": "TJ-ZZ"}, "region"), ({"version": 5}, "version"),
                       ({"holds": {"men": True}}, "holds"), ({"lng": 200, "lat": 1}, "lng")]:
        body = assert_problem(admin.patch(item, json=bad, headers=match), 422)
        assert field in body["errors"], (bad, body)
    resp = admin.patch(item, data=b"{", headers={**match, "Content-Type": "application/json"})
    assert_problem(resp, 400)
    resp = admin.patch(item, data=b"name=x", headers={**match, "Content-Type": "text/plain"})
    assert_problem(resp, 415)
    assert admin.get(item).get_json()["version"] == 1


@pytest.mark.parametrize(("query", "field"), [
    ("bbox=1,2,3", "bbox"),
    ("bbox=a,b,c,d", "bbox"),
    ("bbox=1,2,3,4,5", "bbox"),
    ("bbox=", "bbox"),
    ("bbox=68,38,69", "bbox"),
    ("bbox=nan,1,2,3", "bbox"),
    ("bbox=-inf,1,2,3", "bbox"),
    ("bbox=181,0,182,1", "bbox"),
    ("bbox=0,-91,1,1", "bbox"),
    ("bbox=69,38,68,39", "bbox"),
    ("bbox=68,39,69,38", "bbox"),
    ("near=38.5", "near"),
    ("near=x,y", "near"),
    ("near=91,10", "near"),
    ("near=10,181", "near"),
    ("near=38.5,68.7&radius_m=-1", "radius_m"),
    ("near=38.5,68.7&radius_m=far", "radius_m"),
    ("radius_m=1000", "radius_m"),
    ("sort=distance", "sort"),
    ("sort=population", "sort"),
    ("region=TJ-XX", "region"),
    ("facility_type=gulag,prison", "facility_type"),
    ("status=,", "status"),
    ("page=0", "page"),
    ("per_page=100000", "per_page"),
    ("format=kml", "format"),
    ("include_deleted=maybe", "include_deleted"),
    ("q=" + "x" * 201, "q"),
    ("colour=red", "colour"),
    ("q=a%00b", "q"),
])
def test_bad_list_queries_are_422(admin: Any, query: str, field: str) -> None:
    body = assert_problem(admin.get(f"{URL}?{query}"), 422, "validation-error")
    assert field in body["errors"], body


def test_unknown_id_is_404_and_bad_id_is_404(admin: Any) -> None:
    assert_problem(admin.get(f"{URL}/00000000-0000-0000-0000-000000000000"), 404)
    assert_problem(admin.get(f"{URL}/not-a-uuid"), 404)


def test_duplicate_live_code_is_409_and_deleted_code_is_reusable(admin: Any,
                                                                 create: Any) -> None:
    fac = create(code="ЯС 3/99")
    assert_problem(admin.post(URL, json=payload(code="ЯС 3/99")), 409, "conflict")
    other = create()
    resp = admin.patch(f"{URL}/{other['id']}", json={"code": "ЯС 3/99"},
                       headers={"If-Match": '"1"'})
    assert_problem(resp, 409)
    assert admin.delete(f"{URL}/{fac['id']}").status_code == 204
    assert admin.post(URL, json=payload(code="ЯС 3/99")).status_code == 201


@fuzz_settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(param=st.sampled_from(["bbox", "near", "radius_m", "q", "sort", "region", "page"]),
       value=st.one_of(
           st.text(max_size=40),
           st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=5)),
                    max_size=6).map(lambda parts: ",".join(map(str, parts)))))
def test_list_query_fuzz_never_500(admin: Any, param: str, value: str) -> None:
    extra = "&near=38.5,68.7" if param == "radius_m" else ""
    resp = admin.get(URL, query_string=f"{urlencode({param: value})}{extra}")
    assert resp.status_code in (200, 422), resp.get_data(as_text=True)
    if resp.status_code == 422:
        assert_problem(resp, 422)


@fuzz_settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["lat", "lng", "official_capacity", "holds", "name", "region"]),
       value=st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                       st.dictionaries(st.text(max_size=6), st.booleans(), max_size=5),
                       st.lists(st.integers(), max_size=3)))
def test_create_fuzz_never_500(admin: Any, field: str, value: Any) -> None:
    body = payload(**{field: value})
    if field in ("lat", "lng"):
        body["lng" if field == "lat" else "lat"] = 10.0 if value is not None else None
    resp = admin.post(URL, json=body)
    assert resp.status_code in (201, 422), resp.get_data(as_text=True)
