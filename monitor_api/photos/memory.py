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

Request-serving processes want the opposite for the few-MiB buffers every uploaded photo
passes through: `tune_for_request_bodies` (called by gunicorn_conf) keeps those in the arenas.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

MiB = 1024 * 1024
# Decoded bytes one process may hold at once: one 48-50 MP image (with its working copies),
# or several 12 MP JPEGs. With a gunicorn worker idling at ~120 MiB this keeps it < 512 MiB.
DECODE_BUDGET = 256 * MiB
TRIM_AFTER = 64 * MiB  # give memory back after any decode at least this big

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
# A request-serving process (below): blocks up to this size come from the arenas and stay
# there, up to this much free memory per arena, instead of a fresh mmap for each.
BODY_BUFFERS = 16 * MiB
# glibc's own variables for these settings: when the operator sets one, it is left alone.
_MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
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


def tune_for_request_bodies(environ: Mapping[str, str] = os.environ) -> bool:
    """Keep the multi-MiB buffers a request body passes through (gunicorn's read buffers,
    werkzeug's, the hash and the S3 send) in the arenas: at most two arenas, blocks under
    16 MiB never mmapped, up to 16 MiB free kept per arena. glibc's defaults either mmap
    such a block (a zeroed page fault every 4 KiB, each time) or trim the arena after every
    request: reading a 3.9 MB body with four at once cost 9-12 ms of CPU, 4.5-5.5 ms so.
    For gunicorn workers (gunicorn_conf); image decodes still call `tune_allocator`, which
    mmaps their big blocks again. False off glibc or when glibc's MALLOC_MMAP_THRESHOLD_,
    MALLOC_TRIM_THRESHOLD_ or MALLOC_TOP_PAD_ is set (MALLOC_ARENA_MAX is kept if set)."""
    global _libc
    if any(name in environ for name in _MALLOC_ENV):
        return False
    with _tune_lock:
        if _libc is None:
            _libc = _glibc()
        if _libc is None:
            return False
        if "MALLOC_ARENA_MAX" not in environ:
            _libc.mallopt(_M_ARENA_MAX, 2)
        _libc.mallopt(_M_MMAP_THRESHOLD, BODY_BUFFERS)
        _libc.mallopt(_M_TRIM_THRESHOLD, BODY_BUFFERS)
    return True


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
