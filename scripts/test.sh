#!/usr/bin/env bash
# `make test`: install, provision PostGIS, nginx, Chromium and the phone-side JS libraries
# (tests/clients), a fresh test database, lint,
# then pytest
# (the test session itself starts and stops moto's S3 server and runs `alembic upgrade head`;
# tests/serving starts the server as `make run` does, nginx included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/front.sh install
bash scripts/browser.sh
bash scripts/clients.sh install
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  TEST_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_test)
  export TEST_DATABASE_URL
fi
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
