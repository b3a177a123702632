#!/usr/bin/env bash
# `make run`: install, provision PostGIS when DATABASE_URL is unset, migrate, seed once, serve
# (nginx on HOST:PORT in front of the gunicorn pools: scripts/serve.sh, README "Serving").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL=$(bash scripts/pg.sh ensure monitor_api)
  export DATABASE_URL
fi
if [ -z "${S3_BUCKET:-}" ]; then
  export BLOB_DIR=${BLOB_DIR:-$PWD/var/blobs}
fi
export MONITOR_STATE_DIR=${MONITOR_STATE_DIR:-$PWD/var}
.venv/bin/monitor-api migrate
.venv/bin/monitor-api seed-demo --if-empty
echo "monitor-api: serving on http://${HOST:-127.0.0.1}:${PORT:-8000}"
echo "  web pages:    http://${HOST:-127.0.0.1}:${PORT:-8000}/"
echo "  API docs:     http://${HOST:-127.0.0.1}:${PORT:-8000}/api/docs"
echo "  OpenAPI:      http://${HOST:-127.0.0.1}:${PORT:-8000}/api/openapi.json"
echo "  readiness:    http://${HOST:-127.0.0.1}:${PORT:-8000}/readyz"
exec bash scripts/serve.sh
