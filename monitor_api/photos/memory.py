"""Bounded memory for image work: a per-process budget of decoded bytes, memory given back.

A 48 MP photo decodes to ~190 MiB of pixels and only JPEG can be decoded at a reduced scale.
So every decode first reserves its estimated bytes from one process-wide budget: images that
fit decode side by side, a bigger one waits for its turn and runs alone (first come, first
served), and eight parallel 48 MP uploads queue instead of allocating 1.5 GiB at once.

glibc would keep what those decodes freed: big blocks come from malloc arenas once its
dynamic mmap threshold has risen, and per-thread arenas multiply that. The allocator is set
(on first use) to mmap every block of 1 MiB or more, so freeing one returns it to the system,
to create at most two arenas, and is trimmed after each big decode. Elsewhere (musl, macOS)
these are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

MiB = 1024 * 1024
# Decoded bytes one process may hold at once: one 48-50 MP image (with its working copies),
# or several 12 MP JPEGs. With a gunicorn worker idling at ~120 MiB this keeps it < 512 MiB.
DECODE_BUDGET = 256 * MiB
TRIM_AFTER = 64 * MiB  # give memory back after any decode at least this big

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_tune_lock = threading.Lock()
_libc: ctypes.CDLL | None = None
_tuned = False


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018  (glibc only)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def tune_allocator() -> bool:
    """Make freed image memory go back to the OS (once per process); False off glibc."""
    global _libc, _tuned
    with _tune_lock:
        if not _tuned:
            _libc, _tuned = _glibc(), True
            if _libc is not None:
                _libc.mallopt(_M_MMAP_THRESHOLD, MiB)  # also stops the dynamic threshold
                _libc.mallopt(_M_TRIM_THRESHOLD, 8 * MiB)
                _libc.mallopt(_M_ARENA_MAX, 2)
    return _libc is not None


def release_memory() -> None:
    """Return free heap memory to the operating system (glibc `malloc_trim`)."""
    if _libc is not None:
        _libc.malloc_trim(0)


class DecodeBudget:
    """Decoded bytes a process may hold at once; waiters are served in arrival order."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0  # the most ever held at once (for tests and the benchmark)
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()

    @contextmanager
    def hold(self, nbytes: int) -> Iterator[None]:
        """Reserve `nbytes` (at most the whole budget) for the duration of the block."""
        tune_allocator()
        need = max(0, min(nbytes, self.limit))
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                self._cond.wait_for(lambda: self._queue[0] is ticket
                                    and self.used + need <= self.limit)
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()
            self.used += need
            self.peak = max(self.peak, self.used)
        try:
            yield
        finally:
            with self._cond:
                self.used -= need
                self._cond.notify_all()
            if nbytes >= TRIM_AFTER:
                release_memory()


BUDGET = DecodeBudget(DECODE_BUDGET)
