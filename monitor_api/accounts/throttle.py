"""Login throttling: every attempt reserves a failure before its password is checked.

The reservation is one short transaction of its own that locks the counters' rows: however
many processes or machines serve logins at once, at most the limit's worth of attempts get as
far as argon2 before the lock; the rest answer 429 without checking a password. A successful
login gives its reservation back; a failed or crashed one keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from monitor_api.accounts.models import LoginThrottle
from monitor_api.config import Settings
from monitor_api.db import utcnow
from monitor_api.errors import TooManyRequests

# Many users can share one address (an office NAT, a mobile carrier's CGNAT), so the per-address
# limit is this many times the per-username one: it stops spraying without locking out a team.
IP_FAILURE_FACTOR = 4


@dataclass(frozen=True)
class Reservation:
    """One counter's share of an attempt, and what giving it back must restore."""

    key: str
    window_started_at: datetime
    locked_before: datetime | None
    locked_after: datetime | None


def throttle_keys(username: str, ip: str | None) -> list[str]:
    """The counters an attempt goes against: its username and its client address."""
    keys = [f"user:{username.lower()}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def _limit(settings: Settings, key: str) -> int:
    factor = IP_FAILURE_FACTOR if key.startswith("ip:") else 1
    return settings.login_max_failures * factor


def reserve(session: Session, settings: Settings, keys: list[str]) -> list[Reservation]:
    """Count an attempt as a failure on every key before its password is checked, or 429."""
    # The caller commits `session`, a transaction of its own, before checking the password.
    now = utcnow()
    rows = []
    for key in sorted(keys):  # one lock order for every attempt: no deadlocks
        session.execute(pg_insert(LoginThrottle)
                        .values(key=key, failures=0, window_started_at=now)
                        .on_conflict_do_nothing(index_elements=["key"]))
        row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        assert row is not None
        rows.append(row)
    waits = [row.locked_until - now for row in rows
             if row.locked_until is not None and row.locked_until > now]
    if waits:  # refused attempts count for nothing (and the caller rolls back)
        raise TooManyRequests("Too many failed logins; wait before trying again.",
                              int(max(waits).total_seconds()) + 1)
    window = timedelta(seconds=settings.login_window_seconds)
    out = []
    for row in rows:
        before = row.locked_until
        if now - row.window_started_at > window:
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        over = row.failures - _limit(settings, row.key)
        if over >= 0:
            # Locked from the reservation that reaches the limit, so that no parallel attempt
            # gets past it; each further failure doubles the lockout, capped at the window.
            seconds = min(settings.login_lockout_seconds * 2 ** min(over, 16),
                          settings.login_window_seconds)
            row.locked_until = now + timedelta(seconds=seconds)
        out.append(Reservation(row.key, row.window_started_at, before, row.locked_until))
    session.flush()
    return out


def give_back(session: Session, reservations: list[Reservation]) -> None:
    """A successful login: clear its username's counter and return its address's share."""
    for r in reservations:  # in reserve()'s (sorted) lock order
        match = (LoginThrottle.key == r.key, LoginThrottle.window_started_at == r.window_started_at)
        if r.key.startswith("user:"):
            # The right password: failures on this username stop counting (as they always did).
            session.execute(update(LoginThrottle).where(LoginThrottle.key == r.key)
                            .values(failures=0, locked_until=None))
            continue
        session.execute(update(LoginThrottle).where(*match)
                        .values(failures=func.greatest(LoginThrottle.failures - 1, 0)))
        if r.locked_after != r.locked_before:  # the lock this attempt set, unless replaced
            session.execute(update(LoginThrottle)
                            .where(*match, LoginThrottle.locked_until == r.locked_after)
                            .values(locked_until=r.locked_before))
