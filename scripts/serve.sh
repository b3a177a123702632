#!/usr/bin/env bash
# Serve monitor-api as `make run` does (README "Serving"): nginx on HOST:PORT in front of two
# gunicorn pools on unix sockets, the API and the tus uploads, and the job worker beside them
# (photo verification, schedules: README "Background jobs"). Needs DATABASE_URL, a migrated
# database and the virtual environment (scripts/run.sh prepares all three). When any of the
# four processes stops, the others are stopped too. NO_WORKER=1 leaves the worker out (when
# workers run elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/front.sh install
NGINX=$(bash scripts/front.sh path)

# Each slow client holds a file descriptor in nginx: raise the soft limit to the hard one
# (at most 65536); nginx.conf is sized from what we get.
hard=$(ulimit -Hn)
want=65536
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$want" ]; then
  ulimit -Sn "$want"
fi

# Sockets, pid file and nginx's buffers. Outside the checkout: as root, nginx's workers run as
# nobody, who must be able to reach them.
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/monitor-api.XXXXXX")
chmod 755 "$RUN_DIR"
pids=()
cleanup() {
  trap - EXIT INT TERM
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two glibc malloc arenas per process: big image decodes hand their memory back (README
# "Uploads"; the photo code also sets it on its first decode).
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
# The client address the API throttles logins by comes from our nginx's X-Forwarded-For.
export TRUSTED_PROXIES=$(( ${TRUSTED_PROXIES:-0} + 1 ))
.venv/bin/python -m monitor_api.serving nginx-conf "$RUN_DIR" > "$RUN_DIR/nginx.conf"
"$NGINX" -t -q -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e stderr -g 'daemon off;'

# Prometheus counters of every process of this machine, added up at /metrics (README
# "Metrics"); emptied at each start.
export PROMETHEUS_MULTIPROC_DIR="$RUN_DIR/metrics"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

for pool in api uploads; do
  MONITOR_POOL=$pool GUNICORN_BIND="unix:$RUN_DIR/$pool.sock" \
    GUNICORN_CONTROL_SOCKET="$RUN_DIR/$pool.ctl" \
    .venv/bin/gunicorn -c python:monitor_api.gunicorn_conf 'monitor_api.app:create_app()' &
  pids+=($!)
done
"$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e stderr -g 'daemon off;' &
pids+=($!)
if [ "${NO_WORKER:-0}" != 1 ]; then
  .venv/bin/monitor-api worker &
  pids+=($!)
fi
wait -n
