"""A reference sync client: executable documentation of the protocol (no Flask; `requests`).

The local store mimics WatermelonDB: each record carries `_status` (synced, created,
updated) and `_changed` (the locally changed columns); local deletes are kept as ids until
pushed. `synchronize()` is WatermelonDB's algorithm:

1. pull with `last_pulled_at` (loop while `has_more`) and apply: server deletes remove the
   record; server records replace synced ones, and for locally changed records the local
   columns win (they are pushed next); with `experimentalStrategy: replacement` every synced
   record the server did not send is dropped;
2. push the local changes with the cursor of that pull and an `Idempotency-Key`; after a lost
   response the same body goes again with the same key (the server answers the stored
   result and applies nothing twice); a 409 means someone changed a record since our pull:
   pull again (merging), then push again;
3. mark pushed records synced; ids in `experimentalRejectedIds` are parked in `rejected`
   (the server keeps them in its quarantine for a coordinator); push-only tables are purged.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import requests

LOCAL = ("_status", "_changed")


@dataclass
class LocalStore:
    """Tables of raw records by id, plus ids deleted locally and not yet pushed."""

    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, set[str]] = field(default_factory=dict)
    last_pulled_at: int | None = None
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # What WatermelonDB would log as "Diagnostic error ... serious bug" while applying a
    # pull: a `created` record that exists locally, an `updated` one that does not.
    diagnostics: list[str] = field(default_factory=list)

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        return self.tables.setdefault(name, {})

    def create(self, table: str, **values: Any) -> dict[str, Any]:
        rid = values.pop("id", None) or str(uuid.uuid4())
        rec = {"id": rid, **values, "_status": "created", "_changed": ""}
        self.table(table)[rid] = rec
        return rec

    def update(self, table: str, rid: str, **values: Any) -> None:
        rec = self.table(table)[rid]
        rec.update(values)
        if rec["_status"] != "created":
            changed = set(filter(None, rec["_changed"].split(","))) | set(values)
            rec["_status"], rec["_changed"] = "updated", ",".join(sorted(changed))

    def delete(self, table: str, rid: str) -> None:
        rec = self.table(table).pop(rid)
        if rec["_status"] != "created":  # never-pushed records just disappear
            self.deleted.setdefault(table, set()).add(rid)

    def records(self, table: str) -> list[dict[str, Any]]:
        """Current records without the local bookkeeping columns."""
        return [{k: v for k, v in r.items() if k not in LOCAL}
                for r in self.table(table).values()]

    def local_changes(self) -> dict[str, dict[str, list[Any]]]:
        names = set(self.tables) | set(self.deleted)
        out = {n: {"created": [dict(r) for r in self.table(n).values()
                               if r["_status"] == "created"],
                   "updated": [dict(r) for r in self.table(n).values()
                               if r["_status"] == "updated"],
                   "deleted": sorted(self.deleted.get(n, ()))} for n in names}
        return {n: c for n, c in out.items() if any(c.values())}

    def apply_remote(self, changes: dict[str, Any], replacement: bool = False) -> None:
        for name, group in changes.items():
            local = self.table(name)
            sent = set()
            for rid in group.get("deleted", []):
                local.pop(rid, None)
                self.deleted.get(name, set()).discard(rid)
            for kind in ("created", "updated"):
                for raw in group.get(kind, []):
                    exists = raw["id"] in local or raw["id"] in self.deleted.get(name, ())
                    if exists == (kind == "created"):
                        self.diagnostics.append(f"{kind} {name}#{raw['id']} "
                                                f"{'exists' if exists else 'missing'} locally")
            for raw in group.get("created", []) + group.get("updated", []):
                sent.add(raw["id"])
                if raw["id"] in self.deleted.get(name, ()):
                    continue  # deleted here: our delete is pushed next
                mine = local.get(raw["id"])
                if mine is None or mine["_status"] == "synced":
                    local[raw["id"]] = {**raw, "_status": "synced", "_changed": ""}
                else:  # locally changed: our columns win, the rest comes from the server
                    ours = set(mine) - set(LOCAL) if mine["_status"] == "created" else set(
                        filter(None, mine["_changed"].split(",")))
                    local[raw["id"]] = {**raw, **{k: mine[k] for k in ours},
                                        "_status": "updated", "_changed": ",".join(sorted(
                                            ours - {"id"}))}
            if replacement:
                for rid in [r for r, rec in local.items()
                            if rec["_status"] == "synced" and r not in sent]:
                    del local[rid]

    def mark_synced(self, pushed: dict[str, Any], rejected: dict[str, list[str]],
                    push_only: Iterable[str]) -> None:
        for name, group in pushed.items():
            bad = set(rejected.get(name, ()))
            local = self.table(name)
            for raw in group["created"] + group["updated"]:
                rec = local.get(raw["id"])
                if rec is None:
                    continue
                if raw["id"] in bad:
                    self.rejected.append({"table": name, **local.pop(raw["id"])})
                elif name in push_only:
                    del local[raw["id"]]  # the phone keeps no copy of restricted records
                else:
                    rec["_status"], rec["_changed"] = "synced", ""
            for rid in group["deleted"]:
                self.deleted.get(name, set()).discard(rid)


class SyncFailed(Exception):
    """The server refused the sync (the problem document is in `problem`)."""

    def __init__(self, status: int, problem: Any) -> None:
        super().__init__(f"sync failed with {status}: {problem}")
        self.status, self.problem = status, problem


class SyncClient:
    """Speaks the protocol for one device over HTTP."""

    def __init__(self, base_url: str, token: str, store: LocalStore | None = None, *,
                 http: Any = None, push_only: Iterable[str] = ("interviews", "allegations"),
                 schema_version: int = 1, gzip_push: bool = True, retries: int = 4) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/sync"
        self.store = store or LocalStore()
        self.http = http or requests.Session()
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
        self.push_only = set(push_only)
        self.schema_version, self.gzip_push, self.retries = schema_version, gzip_push, retries
        self.accepted: list[tuple[str, dict[str, Any]]] = []  # every record the server took

    def _send(self, method: str, **kw: Any) -> requests.Response:
        """One request, retried as is after a lost response (same body, same key)."""
        for attempt in range(self.retries + 1):
            try:
                return self.http.request(method, self.url, timeout=60, **kw)
            except (requests.ConnectionError, requests.Timeout):
                if attempt == self.retries:
                    raise
        raise AssertionError("unreachable")

    def pull(self) -> None:
        """Pull pages until `has_more` is false, applying each."""
        while True:
            params = {"last_pulled_at": self.store.last_pulled_at
                      if self.store.last_pulled_at is not None else "null",
                      "schema_version": self.schema_version, "migration": "null"}
            resp = self._send("GET", params=params, headers=self.headers)
            if resp.status_code != 200:
                raise SyncFailed(resp.status_code, resp.json())
            body = resp.json()
            self.store.apply_remote(body["changes"],
                                    body.get("experimentalStrategy") == "replacement")
            self.store.last_pulled_at = body["timestamp"]
            if not body.get("has_more"):
                return

    def push(self) -> bool:
        """Push local changes; False on 409 (pull, then push again)."""
        changes = self.store.local_changes()
        if not changes:
            return True
        data = json.dumps(changes).encode()
        headers = {**self.headers, "Content-Type": "application/json",
                   "Idempotency-Key": str(uuid.uuid4())}
        if self.gzip_push:
            data, headers["Content-Encoding"] = gzip.compress(data), "gzip"
        resp = self._send("POST", params={"last_pulled_at": self.store.last_pulled_at},
                          data=data, headers=headers)
        if resp.status_code == 409:
            return False
        if resp.status_code != 200:
            raise SyncFailed(resp.status_code, resp.json())
        rejected = resp.json().get("experimentalRejectedIds", {})
        for name, group in changes.items():
            bad = set(rejected.get(name, ()))
            self.accepted += [(name, r) for r in group["created"] + group["updated"]
                              if r["id"] not in bad]
        self.store.mark_synced(changes, rejected, self.push_only)
        return True

    def synchronize(self, attempts: int = 5) -> None:
        """Pull then push, as WatermelonDB's synchronize(); conflicts pull and push again."""
        for _ in range(attempts):
            self.pull()
            if self.push():
                return
        raise SyncFailed(409, "still conflicting after several attempts")
