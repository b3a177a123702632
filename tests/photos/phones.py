"""Phones on the real phone-side libraries: runs the scripts of tests/clients
(WatermelonDB's synchronize() and tus-js-client, under Node.js; installed by
scripts/clients.sh) against a server and returns what they printed (see the scripts)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.photos.images import jpeg

CLIENTS = Path(__file__).resolve().parents[1] / "clients"


def photo_files(folder: Path) -> list[Path]:
    """Two JPEGs; the second, sent in 256 KiB chunks and aborted after the first, is over
    1 MiB."""
    files = []
    for i, pad in enumerate((0, 1_200_000)):
        path = folder / f"cell-{i}.jpg"
        path.write_bytes(jpeg(1600, 1200, pad=pad))
        files.append(path)
    return files


def run_script(script: str, env: dict[str, str],
               on_pause: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run tests/clients/<script> with `env`; its last line of output, parsed. A script that
    prints `PAUSE <name>` waits for a line on its stdin: `on_pause(name)` runs first (the
    test changes the server meanwhile). A failed check of its own or a hang fails the test."""
    node = shutil.which("node")
    if node is None or not (CLIENTS / "node_modules" / "@nozbe" / "watermelondb").is_dir():
        pytest.fail("Node.js and tests/clients/node_modules are needed: bash scripts/clients.sh")
    with subprocess.Popen([node, str(CLIENTS / script)], cwd=CLIENTS, env={**os.environ, **env},
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        watchdog = threading.Timer(240, proc.kill)  # a hang anywhere, before a pause or after
        watchdog.start()
        head = []
        try:
            if on_pause is not None:
                for line in proc.stdout:  # WatermelonDB's own log lines come first
                    head.append(line)
                    if line.startswith("PAUSE "):
                        on_pause(line.split(" ", 1)[1].strip())
                        proc.stdin.write("go\n")
                        proc.stdin.flush()
                        break
            stdout, stderr = proc.communicate()
        finally:
            hung = not watchdog.is_alive()
            watchdog.cancel()
    stdout = "".join(head) + stdout
    if hung:
        pytest.fail(f"the phones' script hung:\n{stderr[-4000:]}\n{stdout[-2000:]}")
    assert proc.returncode == 0, f"{stderr[-4000:]}\n{stdout[-2000:]}"
    out = dict(json.loads(stdout.strip().splitlines()[-1]))
    assert out["diagnostics"] == []  # nothing WatermelonDB takes for a server bug
    return out


def run_phones(base: str, *, token_a: str, token_b: str, visit_id: Any, facility_id: Any,
               files: list[Path]) -> dict[str, Any]:
    """The field scenario of watermelon_sync.cjs (two phones, photos by tus-js-client)."""
    out = run_script("watermelon_sync.cjs", {
        "BASE": base, "TOKEN_A": token_a, "TOKEN_B": token_b, "VISIT_ID": str(visit_id),
        "FACILITY_ID": str(facility_id), "PHOTO_FILES": ":".join(map(str, files))})
    assert out["sameB"]["conflicts"] == 1  # a real 409, then pull, merge, push
    assert out["migrated"]["migrations"]  # B's first pull after its update asked for them
    return out


def run_random(base: str, *, tokens: list[str], visit_id: Any, seed: int,
               steps: int) -> dict[str, Any]:
    """watermelon_random.cjs: phones doing random field work converge (its JSON line)."""
    return run_script("watermelon_random.cjs", {
        "BASE": base, "TOKENS": ",".join(tokens), "VISIT_ID": str(visit_id),
        "SEED": str(seed), "STEPS": str(steps)})


def run_replacement(base: str, *, tokens: list[str], visit_id: Any,
                    prune: Callable[[], None]) -> dict[str, Any]:
    """watermelon_replacement.cjs; `prune` expires the sync retention when it pauses."""
    return run_script("watermelon_replacement.cjs", {
        "BASE": base, "TOKENS": ",".join(tokens), "VISIT_ID": str(visit_id)},
        on_pause=lambda _name: prune())
