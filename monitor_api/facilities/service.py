"""The facility registry: create, read, update, soft-delete, history and the searchable list.

Writes are ordinary UPDATEs of the row (a delete only sets `deleted_at`), each bumps `version`
(the ETag) so the sync engine's change stamp moves, and each writes FacilityHistory rows. One
PATCH writes one history row per kind of change it made, all carrying the new version:
`renamed` (code or a name), `relocated` (lat/lng), `status`, and `updated` for every other
field; each row's before/after hold only that kind's fields. `created` holds every field.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from geoalchemy2.elements import WKTElement
from sqlalchemy import ColumnElement, Select, func, literal, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor_api.accounts.models import User
from monitor_api.audit import service as audit
from monitor_api.auth import Principal
from monitor_api.db import utcnow
from monitor_api.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from monitor_api.facilities.models import Facility, FacilityHistory
from monitor_api.pagination import paginate_rows
from monitor_api.scope import FIELD_RECORD_ROLES

FIELDS = ("code", "name", "name_ru", "name_tg", "facility_type", "authority", "region",
          "district", "lat", "lng", "official_capacity", "holds", "status", "notes", "is_sample")
KIND_FIELDS = (("renamed", {"code", "name", "name_ru", "name_tg"}),
               ("relocated", {"lat", "lng"}),
               ("status", {"status"}))
LAT = func.ST_Y(func.geometry(Facility.location))
LNG = func.ST_X(func.geometry(Facility.location))
# Exactly the expression of the ix_facilities_names_trgm index, so the planner can use it.
SEARCH_TEXT = literal_column(
    "lower(facilities.name || ' ' || coalesce(facilities.name_ru, '') || ' ' || "
    "coalesce(facilities.name_tg, '') || ' ' || facilities.code)")
SORT_COLUMNS = {"name": Facility.name, "code": Facility.code, "region": Facility.region,
                "created_at": Facility.created_at, "updated_at": Facility.updated_at}


def etag(version: int) -> str:
    """The strong ETag of a facility at `version`."""
    return f'"{version}"'


def check_if_match(header: str | None, version: int) -> None:
    """428 without If-Match, 412 unless it names the current version (or is `*`)."""
    if header is None or not header.strip():
        raise PreconditionRequired("Send If-Match with the ETag from your last read.")
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    if "*" not in tags and etag(version) not in tags:
        raise PreconditionFailed(
            f"The facility changed since you read it; it is now at ETag {etag(version)}.",
            headers={"ETag": etag(version)})


def _point(lat: float, lng: float) -> WKTElement:
    return WKTElement(f"POINT({lng!r} {lat!r})", srid=4326)


def _geog(lat: float, lng: float) -> ColumnElement[Any]:
    return func.geography(func.ST_SetSRID(func.ST_MakePoint(lng, lat), 4326))


def _snapshot(fac: Facility, lat: float | None, lng: float | None) -> dict[str, Any]:
    out = {name: getattr(fac, name) for name in FIELDS if name not in ("lat", "lng")}
    return {**out, "lat": lat, "lng": lng}


def _view(fac: Facility, lat: float | None, lng: float | None,
          distance: float | None = None, with_distance: bool = False) -> dict[str, Any]:
    out = {**_snapshot(fac, lat, lng), "id": fac.id, "version": fac.version,
           "created_at": fac.created_at, "updated_at": fac.updated_at,
           "deleted_at": fac.deleted_at}
    if with_distance:
        out["distance_m"] = distance
    return out


def _check_deleted_access(principal: Principal, include_deleted: bool) -> None:
    if include_deleted and not principal.is_admin:
        raise Forbidden("Only admins may see deleted facilities.")


def _load(session: Session, facility_id: uuid.UUID, *, include_deleted: bool = False,
          lock: bool = False) -> tuple[Facility, float | None, float | None]:
    query = select(Facility, LAT, LNG).where(Facility.id == facility_id)
    if not include_deleted:
        query = query.where(Facility.deleted_at.is_(None))
    if lock:
        query = query.with_for_update(of=Facility)
    row = session.execute(query).first()
    if row is None:
        raise NotFound("No such facility.")
    return row[0], row[1], row[2]


def _ensure_code_free(session: Session, code: str, exclude: uuid.UUID | None = None) -> None:
    query = select(Facility.id).where(Facility.code == code, Facility.deleted_at.is_(None))
    if exclude is not None:
        query = query.where(Facility.id != exclude)
    if session.scalar(query) is not None:
        raise Conflict(f"A facility with code {code!r} already exists.")


def _history(session: Session, principal: Principal, fac: Facility, kind: str,
             before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    session.add(FacilityHistory(facility_id=fac.id, version=fac.version, kind=kind,
                                changed_by_id=principal.user_id,
                                before=_jsonable(before), after=_jsonable(after)))


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()
                                 if isinstance(v, datetime) else str(v)))


def create_facility(session: Session, principal: Principal, **data: Any) -> dict[str, Any]:
    """Create a facility (version 1) with its `created` history row."""
    _ensure_code_free(session, data["code"])
    lat, lng = data.pop("lat", None), data.pop("lng", None)
    fac = Facility(**data, location=_point(lat, lng) if lat is not None else None,
                   created_by_id=principal.user_id, version=1)
    try:
        with session.begin_nested():
            session.add(fac)
            session.flush()
    except IntegrityError:
        raise Conflict(f"A facility with code {data['code']!r} already exists.") from None
    session.refresh(fac)
    _history(session, principal, fac, "created", None, _snapshot(fac, lat, lng))
    audit.record(session, "facility.create", target_type="facility", target_id=fac.id,
                 details={"code": fac.code, "name": fac.name})
    return _view(fac, lat, lng)


def get_facility(session: Session, principal: Principal, facility_id: uuid.UUID, *,
                 include_deleted: bool = False) -> dict[str, Any]:
    """A facility; deleted ones are 404 unless an admin asks with include_deleted."""
    _check_deleted_access(principal, include_deleted)
    return _view(*_load(session, facility_id, include_deleted=include_deleted))


def _kinds(changed: Iterable[str]) -> list[tuple[str, set[str]]]:
    changed = set(changed)
    out = [(kind, names & changed) for kind, names in KIND_FIELDS if names & changed]
    rest = changed - set().union(*(names for _, names in KIND_FIELDS))
    return out + ([("updated", rest)] if rest else [])


def update_facility(session: Session, principal: Principal, facility_id: uuid.UUID, *,
                    if_match: str | None, **changes: Any) -> dict[str, Any]:
    """Apply a partial update guarded by If-Match; a no-op leaves the version unchanged."""
    fac, lat, lng = _load(session, facility_id, lock=True)
    check_if_match(if_match, fac.version)
    before = _snapshot(fac, lat, lng)
    changed = {k: v for k, v in changes.items() if before[k] != v}
    if not changed:
        return _view(fac, lat, lng)
    if "code" in changed:
        _ensure_code_free(session, changed["code"], exclude=fac.id)
    if "lat" in changed or "lng" in changed:
        lat, lng = changes["lat"], changes["lng"]
        changed.update(lat=lat, lng=lng)
    try:
        with session.begin_nested():
            for name, value in changed.items():
                if name not in ("lat", "lng"):
                    setattr(fac, name, value)
            if "lat" in changed:
                fac.location = _point(lat, lng) if lat is not None else None
            fac.version = fac.version + 1
            session.flush()
    except IntegrityError:
        raise Conflict("The change conflicts with another facility (duplicate code?).") from None
    session.refresh(fac)
    for kind, names in _kinds(changed):
        _history(session, principal, fac, kind, {n: before[n] for n in sorted(names)},
                 {n: changed[n] for n in sorted(names)})
    audit.record(session, "facility.update", target_type="facility", target_id=fac.id,
                 details={"version": fac.version, "fields": sorted(changed)})
    return _view(fac, lat, lng)


def delete_facility(session: Session, principal: Principal, facility_id: uuid.UUID, *,
                    if_match: str | None = None) -> None:
    """Soft-delete: set deleted_at and bump the version (an UPDATE, never a DELETE)."""
    fac, _, _ = _load(session, facility_id, lock=True)
    if if_match is not None:
        check_if_match(if_match, fac.version)
    fac.deleted_at = utcnow()
    fac.version = fac.version + 1
    session.flush()
    _history(session, principal, fac, "deleted", {"deleted_at": None},
             {"deleted_at": fac.deleted_at})
    audit.record(session, "facility.delete", target_type="facility", target_id=fac.id,
                 details={"code": fac.code, "version": fac.version})


def facility_history(session: Session, principal: Principal, facility_id: uuid.UUID, *,
                     include_deleted: bool = False) -> list[dict[str, Any]]:
    """The history rows of a visible facility, oldest first, with who changed it."""
    _check_deleted_access(principal, include_deleted)
    _load(session, facility_id, include_deleted=include_deleted)
    rows = session.execute(
        select(FacilityHistory, User.username)
        .outerjoin(User, User.id == FacilityHistory.changed_by_id)
        .where(FacilityHistory.facility_id == facility_id)
        .order_by(FacilityHistory.changed_at, FacilityHistory.id))
    # Staff names are for the coalition's own field roles; outside readers (partners,
    # analysts, legal aid) see what changed and when, not who changed it.
    named = principal.role in FIELD_RECORD_ROLES
    return [{"id": h.id, "version": h.version, "kind": h.kind, "changed_at": h.changed_at,
             "changed_by_id": h.changed_by_id if named else None,
             "changed_by": username if named else None, "before": h.before,
             "after": h.after} for h, username in rows]


def _like_pattern(q: str) -> ColumnElement[str]:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return literal("%") + func.lower(literal(escaped)) + literal("%")


def list_query(*, region: list[str] | None = None, facility_type: list[str] | None = None,
               authority: list[str] | None = None, status: list[str] | None = None,
               q: str | None = None, bbox: tuple[float, float, float, float] | None = None,
               near: tuple[float, float] | None = None, radius_m: float | None = None,
               sort: str | None = None, include_deleted: bool = False) -> Select[Any]:
    """The filtered, sorted (id as tiebreaker) select of (Facility, lat, lng[, distance])."""
    distance = func.ST_Distance(Facility.location, _geog(*near)) if near else None
    columns: list[Any] = [Facility, LAT, LNG]
    query = select(*columns, *([distance.label("distance_m")] if near else []))
    if not include_deleted:
        query = query.where(Facility.deleted_at.is_(None))
    for column, values in ((Facility.region, region), (Facility.facility_type, facility_type),
                           (Facility.authority, authority), (Facility.status, status)):
        if values:
            query = query.where(column.in_(values))
    if q:
        query = query.where(SEARCH_TEXT.like(_like_pattern(q), escape="\\"))
    if bbox:  # plain comparisons: exact, edges included, and a zero-area box still works
        min_lng, min_lat, max_lng, max_lat = bbox
        query = query.where(LNG.between(min_lng, max_lng), LAT.between(min_lat, max_lat))
    if near and radius_m is not None:
        query = query.where(func.ST_DWithin(Facility.location, _geog(*near), radius_m))
    sort = sort or ("distance" if near else "name")
    key = sort.lstrip("-")
    column = distance if key == "distance" else SORT_COLUMNS[key]
    order = column.desc() if sort.startswith("-") else column.asc()
    return query.order_by(order.nulls_last(), Facility.id)


def list_facilities(session: Session, principal: Principal, *, page: int, per_page: int,
                    include_deleted: bool = False, **filters: Any
                    ) -> tuple[list[dict[str, Any]], int]:
    """A page of facilities matching the filters, and how many match in all."""
    _check_deleted_access(principal, include_deleted)
    query = list_query(include_deleted=include_deleted, **filters)
    bounded, total = _nearest_first(session, query, filters, page * per_page)
    if bounded is None:
        rows, total = paginate_rows(session, query, page=page, per_page=per_page)
    else:
        rows = list(session.execute(bounded.limit(per_page).offset((page - 1) * per_page)))
    near = filters.get("near") is not None
    return [_view(row[0], row[1], row[2], row[3] if near else None, with_distance=near)
            for row in rows], total


def _nearest_first(session: Session, query: Select[Any], filters: dict[str, Any],
                   k: int) -> tuple[Select[Any] | None, int]:
    """`query` (ordered by distance, nearest first) cut to a radius that holds its first k
    rows, found with the GiST index's KNN order (`<->`) instead of a sort of every facility,
    and the total of the uncut query (same round trip); (None, 0) when there is nothing to
    gain (another order, or fewer than k located rows).

    KNN on geography orders by sphere distance while `distance_m` (the order) is on the
    spheroid, so the KNN rows are not taken as the answer: the largest spheroid distance
    among k located rows is a radius R within which at least k rows lie, so the first k
    rows of the true order (distance, then id) all lie within R. The bounded query keeps
    that order and its tiebreaker; pages and totals are those of the unbounded query."""
    near, sort = filters.get("near"), filters.get("sort") or "distance"
    if near is None or sort != "distance":
        return None, 0
    point = _geog(*near)
    # Only the columns needed (the filters stay): no entity columns to proxy or fetch.
    distance = func.ST_Distance(Facility.location, point).label("d")
    knn = (query.with_only_columns(distance, maintain_column_froms=True)
           .where(Facility.location.is_not(None)).order_by(None)
           .order_by(Facility.location.op("<->")(point)).limit(k).subquery())
    total = query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    found, radius, everything = session.execute(
        select(func.count(), func.max(knn.c.d), total.scalar_subquery())).one()
    if found < k or radius is None:
        return None, 0  # every located row is on this page or before it: no bound needed
    # A hair wider than R: a superset never changes the answer, a rounding difference
    # between ST_DWithin and ST_Distance could.
    cut = func.ST_DWithin(Facility.location, point, radius * (1 + 1e-9) + 0.001)
    return query.where(cut), int(everything)
