"""The list: filters, text search (Latin, Russian and Tajik Cyrillic), sorting, pagination."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from monitor_api.facilities import service
from tests.facilities.conftest import URL


def _ids(api: Any, query: str) -> list[str]:
    resp = api.get(f"{URL}?{query}")
    assert resp.status_code == 200, resp.get_json()
    return [item["id"] for item in resp.get_json()["items"]]


@pytest.fixture
def registry(create: Any, marker: str) -> dict[str, dict[str, Any]]:
    """Five facilities across regions, types, authorities and statuses."""
    return {
        "sizo": create(code="СИЗО-1", name=f"SIZO 1 Dushanbe {marker}",
                       name_ru="Следственный изолятор № 1, г. Душанбе",
                       name_tg="Тавқифгоҳи тафтишотии № 1, ш. Душанбе",
                       facility_type="pretrial_detention", region="TJ-DU",
                       authority="ministry_of_justice"),
        "colony": create(code="ЯС 3/2", name=f"Colony YaS 3/2 Khujand {marker}",
                         name_ru="Исправительная колония ЯС 3/2, г. Худжанд",
                         name_tg="Муассисаи ислоҳии ЯС 3/2, ш. Хуҷанд",
                         facility_type="penal_colony", region="TJ-SU",
                         authority="ministry_of_justice"),
        "ivs": create(code="ИВС-ХОРУГ", name=f"IVS Khorog {marker}",
                      name_ru="Изолятор временного содержания, г. Хорог",
                      name_tg="Ҷойи нигоҳдории муваққатӣ, ш. Хоруғ",
                      facility_type="police_custody", region="TJ-GB",
                      authority="ministry_of_interior"),
        "psy": create(code="PSY-1", name=f"Psychiatric hospital {marker}", name_ru=None,
                      name_tg="Беморхонаи рӯҳии ҷумҳуриявӣ", facility_type="psychiatric_hospital",
                      region="TJ-RR", authority="ministry_of_health_social", status="closed"),
        "army": create(code="VCh_100%", name=f"Disciplinary unit {marker}", name_ru=None,
                       name_tg=None, facility_type="military_disciplinary_unit",
                       region="TJ-KT", authority="ministry_of_defence", status="relocated"),
    }


def _names(registry: dict[str, Any], ids: list[str]) -> set[str]:
    by_id = {fac["id"]: key for key, fac in registry.items()}
    return {by_id[i] for i in ids if i in by_id}


@pytest.mark.parametrize(("query", "expected"), [
    ("region=TJ-DU", {"sizo"}),
    ("region=TJ-DU&region=TJ-SU", {"sizo", "colony"}),
    ("region=TJ-DU,TJ-SU", {"sizo", "colony"}),
    ("region=TJ-DU,TJ-SU&region=TJ-GB", {"sizo", "colony", "ivs"}),
    ("facility_type=penal_colony,police_custody", {"colony", "ivs"}),
    ("authority=ministry_of_justice", {"sizo", "colony"}),
    ("authority=ministry_of_defence&authority=ministry_of_interior", {"army", "ivs"}),
    ("status=closed,relocated", {"psy", "army"}),
    ("status=active&region=TJ-SU,TJ-RR", {"colony"}),
    ("authority=ministry_of_justice&facility_type=police_custody", set()),
])
def test_filters(admin: Any, registry: Any, marker: str, query: str,
                 expected: set[str]) -> None:
    assert _names(registry, _ids(admin, f"{query}&q={marker}")) == expected


@pytest.mark.parametrize(("q", "expected"), [
    # Russian, in any case
    ("изолятор", {"sizo", "ivs"}),
    ("ИСПРАВИТЕЛЬНАЯ КОЛОНИЯ", {"colony"}),
    ("Душанбе", {"sizo"}),
    ("худжанд", {"colony"}),
    # Tajik Cyrillic letters (ҳ ҷ ӣ қ ғ ӯ), upper and lower case
    ("ислоҳии", {"colony"}),
    ("ХУҶАНД", {"colony"}),
    ("Хоруғ", {"ivs"}),
    ("ҶОЙИ НИГОҲДОРИИ", {"ivs"}),
    ("рӯҳии", {"psy"}),
    ("муваққатӣ", {"ivs"}),
    ("тафтишотии", {"sizo"}),
    # Latin names and codes
    ("khorog", {"ivs"}),
    ("яс 3/2", {"colony"}),
    ("сизо-1", {"sizo"}),
    # LIKE wildcards are literal characters
    ("100%", {"army"}),
    ("vch_", {"army"}),
    ("%", {"army"}),
    ("_", {"army"}),
    ("no such place", set()),
])
def test_text_search(admin: Any, registry: Any, q: str, expected: set[str]) -> None:
    resp = admin.get(URL, query_string={"q": q, "per_page": 500})
    assert resp.status_code == 200
    assert _names(registry, [i["id"] for i in resp.get_json()["items"]]) == expected


def test_text_search_can_use_the_trigram_index(db: Any) -> None:
    # The planner picks among plans by cost (statistics, the GIN pending list), so switch off
    # the alternatives and check that the trigram index *can* serve the search: it can only
    # if the query repeats the index expression exactly. (include_deleted keeps the partial
    # unique index on live codes out of the running; the live query uses the same expression.)
    query = service.list_query(q="ния 4321", include_deleted=True)
    sql = str(query.compile(dialect=postgresql.dialect(paramstyle="named"),
                            compile_kwargs={"literal_binds": True}))
    db.execute(text("set local enable_seqscan = off"))
    plan = "\n".join(db.scalars(text("explain " + sql)))
    assert "Bitmap Index Scan on ix_facilities_names_trgm" in plan, plan
    assert "'%ния 4321%'" in plan, plan
    live = str(service.list_query(q="x").compile(dialect=postgresql.dialect()))
    assert str(service.SEARCH_TEXT) in live


@pytest.mark.parametrize(("sort", "key", "reverse"), [
    ("name", "name", False), ("-name", "name", True),
    ("code", "code", False), ("-code", "code", True),
    ("region", "region", False), ("-region", "region", True),
])
def test_sort(admin: Any, registry: Any, marker: str, sort: str, key: str,
              reverse: bool) -> None:
    items = admin.get(f"{URL}?q={marker}&sort={sort}").get_json()["items"]
    assert [i[key] for i in items] == sorted((i[key] for i in items), reverse=reverse)
    assert len(items) == 5


def test_sort_by_updated_at(admin: Any, registry: Any, marker: str, db: Any) -> None:
    # All rows of one test share a transaction timestamp; spread them out to see the order.
    for n, fac in enumerate(registry.values()):
        db.execute(text("update facilities set updated_at = now() - make_interval(days => :n)"
                        " where id = :id"), {"n": n, "id": fac["id"]})
    newest_first = _ids(admin, f"q={marker}&sort=-updated_at")
    assert newest_first == [fac["id"] for fac in registry.values()]
    assert _ids(admin, f"q={marker}&sort=updated_at") == newest_first[::-1]


def _walk(api: Any, query: str, per_page: int) -> tuple[list[str], int, int]:
    """Follow rel=next Links from page 1; returns ids in order, total and pages seen."""
    url, ids, pages, total = f"{URL}?{query}&per_page={per_page}", [], 0, -1
    while url:
        resp = api.get(url)
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        total = body["meta"]["total"]
        ids += [i["id"] for i in body["items"]]
        pages += 1
        match = re.search(r'<([^>]+)>; rel="next"', resp.headers.get("Link", ""))
        url = match.group(1) if match else ""
        assert pages < 100
    return ids, total, pages


@pytest.mark.parametrize("sort", ["name", "-name", "code", "created_at", "-created_at",
                                  "updated_at", "region"])
def test_pagination_is_stable_with_equal_sort_keys(admin: Any, create: Any, marker: str,
                                                   sort: str) -> None:
    # 23 rows with the same name, region and (same-transaction) timestamps: only the id
    # tiebreaker orders them, so pages must neither repeat nor skip a row.
    made = {create(name=f"Same {marker}", code=f"{marker}-{n % 3}-{n}")["id"]
            for n in range(23)}
    ids, total, pages = _walk(admin, f"q={marker}&sort={sort}", per_page=5)
    assert total == 23 and pages == 5
    assert len(ids) == len(set(ids)) == 23 and set(ids) == made
    if sort in ("name", "-name", "created_at", "-created_at", "updated_at", "region"):
        assert ids == sorted(ids)  # ties broken by id, ascending
    # The same walk again gives the same order (deterministic).
    assert _walk(admin, f"q={marker}&sort={sort}", per_page=5)[0] == ids
    # Every page size partitions the same sequence.
    for per_page in (1, 4, 7, 23, 50):
        assert _walk(admin, f"q={marker}&sort={sort}", per_page=per_page)[0] == ids


def test_page_meta_and_links(admin: Any, create: Any, marker: str) -> None:
    for n in range(5):
        create(name=f"P{n} {marker}")
    resp = admin.get(f"{URL}?q={marker}&per_page=2&page=2&region=TJ-DU")
    body = resp.get_json()
    assert body["meta"] == {"page": 2, "per_page": 2, "total": 5}
    links = resp.headers["Link"]
    assert 'rel="prev"' in links and 'rel="next"' in links
    assert "page=1" in links and "page=3" in links and "region=TJ-DU" in links
    last = admin.get(f"{URL}?q={marker}&per_page=2&page=3")
    assert len(last.get_json()["items"]) == 1 and 'rel="next"' not in last.headers["Link"]
    beyond = admin.get(f"{URL}?q={marker}&per_page=2&page=9").get_json()
    assert beyond["items"] == [] and beyond["meta"]["total"] == 5
