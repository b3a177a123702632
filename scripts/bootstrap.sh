#!/usr/bin/env bash
# Create .venv and install the locked dependency sets plus the project (editable):
# requirements/runtime.lock (what the image installs) and requirements/dev.lock (tests, lint),
# both with hashes (`make lock` regenerates them from pyproject.toml). Re-runs are cheap: the
# install is skipped while the locks and pyproject.toml are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null; then
  echo "bootstrap: python3 is required" >&2; exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.monitor-api-installed
want=$(cat requirements/runtime.lock requirements/dev.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes \
    -r requirements/runtime.lock -r requirements/dev.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
