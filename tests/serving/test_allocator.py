"""gunicorn workers keep request-body-sized blocks in glibc's arenas instead of a fresh mmap
(zeroed page faults) for each one; an operator's own MALLOC_* settings win.

Each case runs in a new interpreter: the allocator's settings are process-wide, and a fresh
process still has glibc's initial 128 KiB mmap threshold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import ctypes, json, sys

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
how = sys.argv[1]
tuned = None
if how == "function":
    from monitor_api.photos.memory import tune_for_request_bodies
    tuned = tune_for_request_bodies()
elif how == "worker":
    from monitor_api import gunicorn_conf
    gunicorn_conf.post_worker_init(object())
before = libc.mallinfo2().hblkhd
block = bytearray(4 * 1024 * 1024)  # a photo-sized body buffer
print(json.dumps({"tuned": tuned, "mmapped": libc.mallinfo2().hblkhd - before}))
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


def probe(how: str, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", PROBE, how], cwd=ROOT, env={**clean, **env},
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_default_glibc_mmaps_a_body_sized_block() -> None:
    # The baseline the setting changes (if glibc changes this, the other tests say nothing).
    assert probe("none")["mmapped"] >= 4 * 1024 * 1024


def test_tuned_process_takes_it_from_the_arena() -> None:
    result = probe("function")
    assert result == {"tuned": True, "mmapped": 0}


def test_gunicorn_worker_init_tunes_the_allocator() -> None:
    assert probe("worker")["mmapped"] == 0


def test_an_operators_malloc_settings_are_left_alone() -> None:
    result = probe("function", MALLOC_MMAP_THRESHOLD_="131072")
    assert result["tuned"] is False
    assert result["mmapped"] >= 4 * 1024 * 1024
    # MALLOC_ARENA_MAX alone (make run, the image) does not stop the tuning.
    assert probe("function", MALLOC_ARENA_MAX="2") == {"tuned": True, "mmapped": 0}
