#!/usr/bin/env bash
# `make lock`: regenerate the dependency locks from pyproject.toml, with hashes (pip-tools).
#   requirements/runtime.lock  [project] dependencies: what the image installs
#   requirements/dev.lock      the [dev] extra, pinned to the runtime versions: tests, lint
# scripts/bootstrap.sh installs both (`pip install --require-hashes`), from PyPI only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${LOCK_PIP_COMPILE:-}" ] || bash scripts/bootstrap.sh  # pip-tools is in the [dev] extra
# The machine's pip configuration (local mirrors, wheel folders, constraints) is ignored: the
# locks name PyPI's files only.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT
PIPC=("${LOCK_PIP_COMPILE:-.venv/bin/pip-compile}" --quiet --generate-hashes --allow-unsafe
      --strip-extras --no-emit-index-url --no-emit-find-links --resolver=backtracking
      --index-url https://pypi.org/simple)
"${PIPC[@]}" --output-file requirements/runtime.lock pyproject.toml
# The dev set is resolved under the runtime pins, then the runtime packages are left out:
# each file lists its own packages, and installing both gives one consistent environment.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"${PIPC[@]}" --extra dev --constraint requirements/runtime.lock --output-file "$tmp" pyproject.toml
.venv/bin/python scripts/lockdiff.py requirements/runtime.lock "$tmp" > requirements/dev.lock
echo "lock: $(grep -c '==' requirements/runtime.lock) runtime, $(grep -c '==' requirements/dev.lock) development packages"
