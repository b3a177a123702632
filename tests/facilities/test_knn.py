"""`near=` without `radius_m`: the page is cut with the GiST index's KNN order, yet pages are
exactly those of the full distance sort (nearest first, id breaking ties, locationless last)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy.orm import Session

from monitor_api.auth import Principal
from monitor_api.facilities import service
from tests.facilities.conftest import URL
from tests.facilities.geodesy import vincenty

DUSHANBE = (38.5598, 68.7870)


@pytest.fixture
def scattered(create: Any, marker: str) -> list[dict[str, Any]]:
    """60 facilities around Dushanbe, with twins at identical points (ties) and three
    without a location."""
    rng = random.Random(11)
    points = [(DUSHANBE[0] + rng.uniform(-2, 2), DUSHANBE[1] + rng.uniform(-2.5, 2.5))
              for _ in range(48)]
    points += points[:6] + [DUSHANBE] * 3  # twins, and three at the very point asked about
    made = [create(name=f"p{i} {marker}", code=f"K-{marker}-{i}", lat=lat, lng=lng)
            for i, (lat, lng) in enumerate(points)]
    return made + [create(name=f"none{i} {marker}", code=f"N-{marker}-{i}", lat=None, lng=None)
                   for i in range(3)]


def _walk(admin: Any, query: str, per_page: int) -> tuple[list[dict[str, Any]], set[int]]:
    items: list[dict[str, Any]] = []
    totals, page = set(), 1
    while True:
        resp = admin.get(f"{URL}?{query}&per_page={per_page}&page={page}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        totals.add(body["meta"]["total"])
        if not body["items"]:
            return items, totals
        items += body["items"]
        page += 1


@pytest.mark.parametrize("per_page", [1, 7, 25, 100])
def test_pages_follow_true_distance_order(admin: Any, scattered: Any, marker: str,
                                          per_page: int) -> None:
    near = f"q={marker}&near={DUSHANBE[0]},{DUSHANBE[1]}"
    items, totals = _walk(admin, near, per_page)
    assert totals == {len(scattered)}
    assert sorted(i["id"] for i in items) == sorted(f["id"] for f in scattered)  # none twice
    located = [i for i in items if i["distance_m"] is not None]
    assert [i["distance_m"] for i in items[len(located):]] == [None] * 3  # locationless last
    keys = [(i["distance_m"], i["id"]) for i in located]
    assert keys == sorted(keys)  # nearest first, ties by id
    assert len({i["distance_m"] for i in located}) < len(located)  # ties were exercised
    for item in located:  # and the order is by the geodesic distance itself
        assert item["distance_m"] == pytest.approx(
            vincenty(*DUSHANBE, item["lat"], item["lng"]), rel=5e-5, abs=1e-6)
    # Against an independent geodesic oracle: never a farther one (by > 1 m) first.
    geo = [vincenty(*DUSHANBE, i["lat"], i["lng"]) for i in located]
    assert all(geo[a] <= geo[b] + 1.0 for a in range(len(geo)) for b in range(a, len(geo)))


def test_bounded_pages_equal_the_full_sort(db: Session, admin: Any, scattered: Any,
                                           marker: str) -> None:
    """Each page (with other filters too) is the same slice of the full sort, and the KNN
    bound is really what served it."""
    filters = {"q": marker, "near": DUSHANBE}
    full = [row[0].id for row in db.execute(service.list_query(**filters))]
    query = service.list_query(**filters)
    assert service._nearest_first(db, query, filters, 7)[0] is not None
    assert service._nearest_first(db, query, filters, 7)[1] == len(full)
    assert service._nearest_first(db, query, {**filters, "sort": "name"}, 7)[0] is None
    assert service._nearest_first(db, query, filters, len(scattered) + 5)[0] is None
    user = admin.user
    principal = Principal(user.id, user.role, user.username)
    for page in (1, 2, 5, 8):
        items, total = service.list_facilities(db, principal, page=page, per_page=7,
                                               **filters)
        assert total == len(full)
        assert [str(i["id"]) for i in items] == [str(x) for x in
                                                   full[(page - 1) * 7: page * 7]]


def test_radius_and_other_orders_unchanged(admin: Any, scattered: Any, marker: str) -> None:
    near = f"q={marker}&near={DUSHANBE[0]},{DUSHANBE[1]}"
    by_name, totals = _walk(admin, f"{near}&sort=-name", 10)
    assert [i["name"] for i in by_name] == sorted((f["name"] for f in scattered), reverse=True)
    assert totals == {len(scattered)}
    within, totals = _walk(admin, f"{near}&radius_m=100000", 4)
    assert all(i["distance_m"] <= 100000 for i in within)
    assert totals == {len(within)}
