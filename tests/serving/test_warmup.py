"""A gunicorn worker warms its database pool, its token lookups and its blob store before the
first request; a database or store that does not answer is skipped, never fatal."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from monitor_api import auth, warmup
from monitor_api.app import create_app
from monitor_api.config import Settings


class Recorder:
    """A blob store stand-in that counts `check()` calls (and can fail them)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls, self.fail = 0, fail

    def check(self) -> None:
        self.calls += 1
        if self.fail:
            raise OSError("store unreachable")


def _fresh_app(settings: Settings, **changes: Any) -> Flask:
    return create_app(replace(settings, **changes))


def test_a_stand_in_worker_is_left_alone() -> None:
    assert warmup.start(object()) is None
    assert warmup.start(None) is None


@pytest.mark.usefixtures("engine")  # the migrated test database (also when run alone)
def test_the_worker_connects_compiles_and_reaches_the_store(settings: Settings) -> None:
    app = _fresh_app(settings)
    engine = app.extensions["db_engine"]
    store = app.extensions["blob_store"] = Recorder()
    assert engine.pool.checkedin() == 0
    thread = warmup.start(app)
    assert thread is not None and thread.daemon
    thread.join(30)
    assert not thread.is_alive()
    assert engine.pool.checkedin() == 1  # a connection waits for the first request
    assert store.calls == 1
    # The first request's token lookup is a compiled-cache hit, not a compilation.
    seen: list[Any] = []

    def spy(conn: Any, clauseelement: Any, multiparams: Any, params: Any, options: Any,
            result: Any) -> None:
        seen.append(result.context.cache_hit)

    event.listen(engine, "after_execute", spy)
    try:
        with app.extensions["db_sessionmaker"]() as session:
            auth.device_of(session, "0" * 64)
            auth.session_of(session, "0" * 64)
    finally:
        event.remove(engine, "after_execute", spy)
    dialect = engine.dialect
    assert seen == [dialect.CACHE_HIT, dialect.CACHE_HIT]
    engine.dispose()


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_an_unreachable_database_or_store_is_skipped(settings: Settings) -> None:
    app = _fresh_app(settings,
                     database_url="postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    store = app.extensions["blob_store"] = Recorder(fail=True)
    kept = Kept()
    logger = logging.getLogger("monitor_api.warmup")
    logger.addHandler(kept)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        thread = warmup.start(app)
        assert thread is not None
        thread.join(30)
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)
    assert not thread.is_alive()
    assert store.calls == 1  # the store is tried even when the database was not reached
    assert kept.messages == ["database warm-up skipped", "blob store warm-up skipped"]
    app.extensions["db_engine"].dispose()
