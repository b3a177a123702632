"""Retention without silent gaps: pruned deletes mean replacement for old cursors; retired
templates still used by a team's visits reach its phones."""

from __future__ import annotations

import pytest

from monitor_api.cli import main
from tests.sync.conftest import World, finding_raw, visit_raw


def _ids(body: dict, table: str, kind: str) -> set[str]:
    return {r if isinstance(r, str) else r["id"] for r in body["changes"][table][kind]}


def test_pruned_deletes_mean_the_full_dataset_for_older_cursors(
        world: World, sync_db_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    mon = world.user()
    team = world.team(mon)
    token = world.device(mon)
    visit = visit_raw(world.facility())
    gone, kept = finding_raw(visit["id"]), finding_raw(visit["id"])
    cur = world.cursor(token)
    world.push(token, {"visits": {"created": [visit]}, "findings": {"created": [gone, kept]}},
               cur)
    old = world.cursor(token)  # a phone that synced, then stayed offline for a year
    world.push(token, {"findings": {"deleted": [gone["id"]]}}, old)
    world.leave(team, mon)
    world.join(team, mon)
    world.sql("insert into sync_idempotency (device_id, key, request_hash, status, body, "
              "created_at) select id, 'k', 'h', 200, '{}', now() - interval '40 days' "
              "from devices limit 1")
    recent = world.cursor(token)
    world.sql("update sync_tombstones set deleted_at = now() - interval '400 days'")
    world.sql("update sync_scope_changes set created_at = now() - interval '400 days'")
    monkeypatch.setenv("DATABASE_URL", sync_db_url)
    assert main(["prune-sync"]) == 0
    assert "1 tombstones, 3 scope_changes, 1 idempotency" in capsys.readouterr().out
    for table in ("sync_tombstones", "sync_scope_changes", "sync_idempotency"):
        assert world.sql(f"select count(*) from {table}").scalar() == 0
    # The old cursor would have learned of the delete from the tombstone: now it gets
    # everything, as a replacement (the phone drops what it is not sent).
    body = world.pull(token, old).json()
    assert body.get("experimentalStrategy") == "replacement"
    # The phone's own finding, which it holds: `updated` (not a `created` it already has).
    assert _ids(body, "findings", "updated") == {kept["id"]}
    assert not _ids(body, "findings", "created")
    # A cursor after what was pruned stays incremental.
    body = world.pull(token, recent).json()
    assert "experimentalStrategy" not in body and not _ids(body, "findings", "created")


def test_retired_templates_still_used_reach_fresh_phones(world: World) -> None:
    mon, other = world.user(), world.user()
    team = world.team(mon)
    world.team(other)
    fac = world.facility()
    used, used_questions = world.template()
    unused, _ = world.template()
    visit = visit_raw(world.facility(), template_id=used)
    token = world.device(mon)
    assert world.push(token, {"visits": {"created": [visit]}},
                      world.cursor(token)).json()["rejected"] == []
    world.sql("update checklist_templates set status = 'retired' where id in (:a, :b)",
              a=used, b=unused)
    fresh = world.pull(world.device(mon)).json()
    assert _ids(fresh, "checklist_templates", "created") == {used}
    assert _ids(fresh, "checklist_questions", "created") == set(used_questions)
    # A phone that gains the visit later gets its retired template with it, as created.
    phone = world.device(other)
    cur = world.cursor(phone)
    assert used not in _ids(world.pull(world.device(other)).json(), "checklist_templates",
                            "created")
    world.join(team, other)
    gained = world.pull(phone, cur).json()
    assert _ids(gained, "visits", "created") == {visit["id"]}
    assert _ids(gained, "checklist_templates", "created") == {used}
    assert _ids(gained, "checklist_questions", "created") == set(used_questions)
    _ = fac
