"""The job queue on the service's PostgreSQL (procrastinate): enqueue inside a transaction.

A job is written by the same transaction as the change that needs it (an upload whose bytes
are all staged, say), so it exists exactly when that change committed: no job for a rolled
back request, no committed change without its job. Workers on any machine take jobs with
`SELECT … FOR UPDATE SKIP LOCKED` (procrastinate's fetch), so each job runs once at a time.
"""

from __future__ import annotations

from typing import Any

import procrastinate
from procrastinate import exceptions, sql, types
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from monitor_api.config import Settings

DEFAULT_QUEUE = "default"
# The queue names workers listen to; a deployment may run workers per queue (e.g. a machine
# with more memory for photos).
QUEUES = ("photos", "maintenance", "exports", DEFAULT_QUEUE)


def conninfo(database_url: str) -> str:
    """The libpq URL of a SQLAlchemy `postgresql+psycopg://` URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


def defer(session: Session, task_name: str, *, queue: str = DEFAULT_QUEUE,
          lock: str | None = None, queueing_lock: str | None = None, priority: int = 0,
          **kwargs: Any) -> int | None:
    """Enqueue `task_name(**kwargs)` in the session's transaction; its id, or None when a
    job with the same `queueing_lock` is already waiting (it will do the same work)."""
    job = types.JobToDefer(queue_name=queue, task_name=task_name, priority=priority,
                           lock=lock, queueing_lock=queueing_lock, args=kwargs,
                           scheduled_at=None)
    # A queueing-lock conflict must not abort the request's transaction: a savepoint, which
    # the session emits when its connection is next asked for (so: first).
    savepoint = session.begin_nested() if queueing_lock else None
    # The session's own psycopg connection: the job commits or rolls back with the request.
    driver = session.connection().connection.driver_connection
    try:
        rows = procrastinate.SyncPsycopgConnector().execute_query_all_with_connection(
            driver, query=sql.queries["defer_jobs"], jobs=[job])
    except exceptions.UniqueViolation:
        if savepoint is None:
            raise
        savepoint.rollback()
        return None
    if savepoint is not None:
        savepoint.commit()
    return int(rows[0]["id"])


def make_app(settings: Settings, **pool: Any) -> procrastinate.App:
    """A procrastinate App on the settings' database with every task of the service."""
    from monitor_api.jobs.tasks import register

    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(settings.database_url),
        kwargs={"options": "-c timezone=UTC -c idle_in_transaction_session_timeout=60000"},
        **pool)
    app = procrastinate.App(connector=connector)
    register(app, settings)
    return app
