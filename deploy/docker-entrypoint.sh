#!/bin/sh
# The image's roles (README "Production image"):
#   api       migrate, seed the demo data only when DEMO=1, serve the API pool (gunicorn)
#   uploads   serve the tus uploads pool (the api service migrates first)
#   worker    run background jobs (photo verification, schedules) from the PostgreSQL queue
#   anything else runs as a command, e.g. `monitor-api backup --to s3://bucket/backups`
set -eu
# Prometheus counters of this container's processes (emptied at start; README "Metrics").
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
role=${1:-api}
case "$role" in
  api)
    monitor-api migrate
    if [ "${DEMO:-0}" = 1 ]; then monitor-api seed-demo --if-empty; fi
    export MONITOR_POOL=api
    exec gunicorn -c python:monitor_api.gunicorn_conf 'monitor_api.app:create_app()' ;;
  uploads)
    export MONITOR_POOL=uploads
    exec gunicorn -c python:monitor_api.gunicorn_conf 'monitor_api.app:create_app()' ;;
  worker)
    export ROLE=worker
    exec monitor-api worker ;;
  *)
    exec "$@" ;;
esac
