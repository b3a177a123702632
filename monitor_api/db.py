"""Engine, session factory and declarative base; the request or CLI command owns the transaction."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import DateTime, MetaData, create_engine, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table of the service."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dict[str, Any]: JSONB,
        uuid.UUID: UUID(as_uuid=True),
        datetime: DateTime(timezone=True),
    }


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Timestamps:
    """created_at / updated_at columns set by the database."""

    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the connection settings the service relies on."""
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"options": "-c timezone=UTC -c idle_in_transaction_session_timeout=60000"},
        **kwargs,
    )


def init_app(app: Flask, url: str, read_url: str | None = None) -> None:
    """Attach an engine and a session factory to the app; sessions live for one request.
    With `read_url` (DATABASE_READ_URL, a replica), read-heavy endpoints may read there."""
    engine = make_engine(url)
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    if read_url:
        app.extensions["db_read_sessionmaker"] = sessionmaker(
            make_engine(read_url), expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def get_session() -> Session:
    """The session of the current request (created on first use)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


# Deadlock, serialization failure: the transaction lost a race, not a client error; run it
# again (a bounded number of times, then 503 with Retry-After).
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Whether a database error means "retry the transaction" (deadlock, serialization)."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in (
        TRANSIENT_SQLSTATES)


def retrying(session: Session, work: Callable[[], T], attempts: int = 4) -> T:
    """Run `work` in a savepoint of the caller's transaction, again after a deadlock or
    serialization failure (its locks are released with the savepoint, so the other
    transaction proceeds); the last failure propagates (answered 503 with Retry-After)."""
    for attempt in range(attempts):
        savepoint = session.begin_nested()
        try:
            result = work()
        except DBAPIError as exc:
            savepoint.rollback()
            if not is_transient(exc) or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # jitter
            continue
        except BaseException:
            if savepoint.is_active:
                savepoint.rollback()
            raise
        savepoint.commit()
        return result
    raise AssertionError("unreachable")


def get_read_session() -> Session:
    """A session for read-only work that may lag a little (histories, exports): on the
    replica when DATABASE_READ_URL is set, else the request's own session. Never for
    authentication, sync or anything that writes."""
    factory = current_app.extensions.get("db_read_sessionmaker")
    if factory is None:
        return get_session()
    if "db_read_session" not in g:
        g.db_read_session = factory()
    return g.db_read_session


def new_session() -> Session:
    """A session independent of the request's (for records that must outlive its rollback)."""
    return current_app.extensions["db_sessionmaker"]()


def _close_session(exc: BaseException | None) -> None:
    replica: Session | None = g.pop("db_read_session", None)
    if replica is not None:
        replica.rollback()
        replica.close()
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        if exc is not None or session.in_transaction():
            session.rollback()
        session.close()
