"""Exports: authorise and validate first (errors are problem+json, never half a file), then
stream from a connection of its own, hashing and counting what is sent, and audit the
export when the stream ends (or `export.aborted` when it does not)."""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from monitor_api.audit.service import Actor, record, set_actor
from monitor_api.auth import Principal
from monitor_api.config import Settings
from monitor_api.errors import Forbidden, ValidationFailed
from monitor_api.exports import datapackage
from monitor_api.exports.columns import Context, Filters, Query
from monitor_api.exports.datasets import BUNDLE, DATASETS, EXPORT_ROLES, Dataset, for_role
from monitor_api.exports.formats import EXTENSION, MEDIA, WRITERS, Job
from monitor_api.exports.pseudonyms import Pseudonyms, pseudonym_key
from monitor_api.histories import due

log = logging.getLogger(__name__)
FORMATS = tuple(WRITERS)
# An export reads one consistent snapshot and holds no locks (a read-only transaction takes
# no transaction id, so it never holds the sync horizon back); a slow client may keep it
# open longer than the connections' 60 s idle-in-transaction limit.
EXPORT_IDLE_TIMEOUT = "15min"


@dataclass
class Plan:
    """A validated, authorised export: what to stream, for whom, under which name."""

    dataset: str
    fmt: str
    ctx: Context
    parts: list[tuple[Dataset, Query]]
    exported_at: datetime

    @property
    def filename(self) -> str:
        stamp = self.exported_at.strftime("%Y%m%dT%H%M%SZ")
        return f"monitor-{self.dataset.replace('_', '-')}-{stamp}.{EXTENSION[self.fmt]}"

    @property
    def media_type(self) -> str:
        return MEDIA[self.fmt]


def plan(principal: Principal, dataset: str, fmt: str, filters: Filters) -> Plan:
    """Check the role, the dataset and the filters; build the queries (no rows read yet)."""
    if principal.role not in EXPORT_ROLES:
        raise Forbidden(f"The {principal.role} role may not export data.")
    if dataset == BUNDLE:
        if fmt != "zip":
            raise ValidationFailed("The bundle of every dataset is a ZIP: use format=zip.",
                                   errors={"format": ["Must be zip for the 'all' bundle."]})
        chosen = for_role(principal.role)
    else:
        chosen = [DATASETS[dataset]]
        if not chosen[0].allowed(principal.role):
            names = ", ".join(d.name for d in for_role(principal.role))
            raise Forbidden(f"The {principal.role} role may export {names}; not {dataset}.")
        wrong = {name: [f"Does not apply to {dataset}."] for name in filters.given()
                 if not chosen[0].applies(name)}
        if wrong:
            raise ValidationFailed(f"Filters that do not apply to {dataset}: "
                                   f"{', '.join(sorted(wrong))}.", errors=wrong)
    ctx = Context(principal, filters)
    return Plan(dataset, fmt, ctx, [(d, d.build(ctx)) for d in chosen], datetime.now(UTC))


class ExportStream:
    """The response body: an iterable of bytes that audits its own end (or abort).

    Built inside the request: the pseudonym key is read and the query runs up to the first
    chunk before the status line is sent, so a failure there is a problem+json answer, not
    a truncated file."""

    def __init__(self, plan: Plan, sessions: Callable[[], Session], settings: Settings,
                 actor: Actor) -> None:
        self.plan, self.sessions, self.settings, self.actor = plan, sessions, settings, actor
        self.digest = hashlib.sha256()
        self.size = 0
        self.job: Job | None = None
        self._key = pseudonym_key(settings)
        self._body = self._run()
        self._first = next(self._body, b"")

    def __iter__(self) -> Iterator[bytes]:
        return itertools.chain([self._first] if self._first else [], self._body)

    def close(self) -> None:
        """Called by the server when the response ends or the client went away."""
        self._body.close()

    @property
    def rows(self) -> int:
        return sum(c[0] for c in self.job.rows.values()) if self.job else 0

    def _run(self) -> Iterator[bytes]:
        outcome, reason, writer = "aborted", "client disconnected", None
        due.settle_apart(self.sessions)  # indicators current before the read-only snapshot
        session = self.sessions()
        try:
            conn = _read_only(session)
            meta = datapackage.about(self.settings, role=self.plan.ctx.principal.role,
                                     filters=self.plan.ctx.filters,
                                     exported_at=self.plan.exported_at)
            self.job = Job(conn, self.plan.parts, Pseudonyms(self._key), meta,
                           self.plan.ctx.filters)
            writer = WRITERS[self.plan.fmt](self.job)
            for chunk in writer:
                if chunk:
                    self.digest.update(chunk)
                    self.size += len(chunk)
                    yield chunk
            outcome = "done"
        except Exception:
            reason = "server error"
            log.exception("export failed", extra={"dataset": self.plan.dataset})
            raise
        finally:
            if writer is not None:
                writer.close()  # ends a COPY or server-side cursor still running
            session.close()
            self._audit(outcome, reason)

    def _audit(self, outcome: str, reason: str) -> None:
        plan = self.plan
        details: dict[str, Any] = {
            "dataset": plan.dataset, "format": plan.fmt, "role": plan.ctx.principal.role,
            "filters": plan.ctx.filters.given(), "rows": self.rows, "bytes": self.size,
            "sha256": self.digest.hexdigest()}
        if self.job is not None and len(plan.parts) > 1:
            details["rows_by_dataset"] = {k: v[0] for k, v in self.job.rows.items()}
        action = f"export.{plan.dataset}"
        if outcome != "done":
            action, details["reason"] = "export.aborted", reason
            details["sha256_of_bytes_sent"] = details.pop("sha256")
        session = self.sessions()
        try:
            set_actor(session, self.actor)
            record(session, action, target_type="export", details=details)
            session.commit()
        except Exception:
            log.exception("export audit failed", extra={"action": action})
        finally:
            session.close()


def _read_only(session: Session) -> Connection:
    """The stream's connection: one REPEATABLE READ, READ ONLY snapshot (a ZIP's datasets
    agree with each other). Tests bind sessions to an open connection: taken as it is."""
    if isinstance(session.get_bind(), Engine):
        conn = session.connection(execution_options={"isolation_level": "REPEATABLE READ",
                                                     "postgresql_readonly": True})
    else:
        conn = session.connection()
    conn.execute(text(f"set local idle_in_transaction_session_timeout = '{EXPORT_IDLE_TIMEOUT}'"))
    conn.execute(text("set local jit = off"))  # compiling costs seconds before the first row
    return conn
