"""What a task needs at run time: settings, a database engine and the blob store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor_api.config import Settings
from monitor_api.storage import BlobStore


@dataclass
class Runtime:
    """One per worker process, shared by its job threads."""

    settings: Settings
    engine: Engine
    store: BlobStore
    factory: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.factory = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        """Engine and store from the settings (pool sized for the job threads)."""
        from monitor_api.db import make_engine
        from monitor_api.storage import make_blob_store

        engine = make_engine(settings.database_url, pool_size=settings.job_concurrency + 2)
        from monitor_api.metrics import instrument_pool

        instrument_pool(engine, "worker")
        from monitor_api.histories import due

        due.start(engine)  # the jobs' changes are recomputed in the background too
        return cls(settings, engine, make_blob_store(settings))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends without an error."""
        from monitor_api.audit.service import acting

        with acting(self.factory(), "job") as session:
            yield session


def runtime_of(context: Any) -> Runtime:
    """The worker's runtime, from a job context (`additional_context["runtime"]`)."""
    rt = (context.additional_context or {}).get("runtime")
    if rt is None:
        raise RuntimeError("run tasks in `monitor-api worker` (it provides the runtime)")
    return rt  # type: ignore[no-any-return]
