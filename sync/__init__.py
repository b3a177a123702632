"""The sync engine: a generic WatermelonDB-protocol pull/push over SQLAlchemy (never Flask).

It is told which tables sync (`Registry` of `SyncTable`s), how each is scoped to an `Actor`,
which are push-only or pull-only and which fields the server sets; it knows nothing else.
"""

from sync.apply import NotNew
from sync.fields import Field
from sync.history import current_raw, history, record_revision
from sync.pull import PullRequest, pull
from sync.push import SyncError, push
from sync.push import body_hash as push_body_hash
from sync.registry import Actor, Registry, SyncTable
from sync.store import MAX_CURSOR, horizon, horizon_status

__all__ = ["MAX_CURSOR", "Actor", "Field", "NotNew", "PullRequest", "Registry", "SyncError",
           "SyncTable", "current_raw", "history", "horizon", "horizon_status", "pull", "push",
           "push_body_hash", "record_revision"]
