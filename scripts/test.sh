#!/usr/bin/env bash
# `make test`: install, provision PostGIS, a fresh test database, lint, then pytest
# (the test session itself starts and stops moto's S3 server and runs `alembic upgrade head`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  TEST_DATABASE_URL=$(bash scripts/pg.sh recreate monitor_api_test)
  export TEST_DATABASE_URL
fi
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
