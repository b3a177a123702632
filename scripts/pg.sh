#!/usr/bin/env bash
# Provision (or reuse) the project-local PostgreSQL + PostGIS cluster under var/pg.
# Prints nothing on stdout but the DATABASE_URL of the requested database:
#   scripts/pg.sh ensure [dbname]        start the cluster, create dbname (default monitor_api)
#   scripts/pg.sh recreate dbname        drop and create dbname (fresh database for tests)
#   scripts/pg.sh stop                   stop the cluster
# PostgreSQL refuses to run as root, so as root the cluster belongs to the 'postgres' user.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORTFILE=var/pg-port
log() { echo "pg: $*" >&2; }

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  [ -n "$d" ] && echo "$d"
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

install_packages() {
  local bindir ver
  bindir=$(pg_bindir || true)
  if [ -n "$bindir" ]; then
    ver=$(basename "$(dirname "$bindir")")
    [ -f "/usr/share/postgresql/$ver/extension/postgis.control" ] && return 0
    log "installing PostGIS for PostgreSQL $ver (Debian package postgresql-$ver-postgis-3)"
    as_root apt-get update -qq >&2 || { log "cannot run apt-get: install postgresql-$ver-postgis-3"; exit 1; }
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "postgresql-$ver-postgis-3" >&2
  else
    log "installing PostgreSQL and PostGIS (Debian packages postgresql, postgis)"
    as_root apt-get update -qq >&2 || { log "cannot run apt-get: install postgresql and postgis"; exit 1; }
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql postgis >&2
  fi
}

# Who runs the cluster, and where its files live.
setup_paths() {
  mkdir -p var
  if [ "$(id -u)" = 0 ]; then
    RUNAS=(runuser -u postgres --)
    # The postgres user must be able to reach the data directory. When the checkout sits
    # in a directory it cannot traverse (e.g. a mktemp folder), keep the data beside the
    # system clusters and link it into var/.
    if runuser -u postgres -- test -x "$ROOT/var" 2>/dev/null && runuser -u postgres -- test -w "$ROOT/var" 2>/dev/null \
       || { chown postgres: "$ROOT/var" 2>/dev/null && runuser -u postgres -- test -w "$ROOT/var" 2>/dev/null; }; then
      DATA="$ROOT/var/pg"
    else
      local key; key=$(echo -n "$ROOT" | sha256sum | cut -c1-12)
      DATA="/var/lib/postgresql/monitor-api-$key"
      mkdir -p "$DATA"; chown postgres: "$DATA"; chmod 700 "$DATA"
      [ -L var/pg ] || { rm -rf var/pg; ln -s "$DATA" var/pg; }
    fi
  else
    RUNAS=()
    DATA="$ROOT/var/pg"
  fi
  SECRET="$ROOT/var/pg-password"
  # The port is chosen once, at initdb: MONITOR_PGPORT, else the first free one from 55432
  # (another checkout's cluster may hold 55432).
  if [ -s "$PORTFILE" ]; then
    PGPORT=$(cat "$PORTFILE")
  else
    PGPORT=${MONITOR_PGPORT:-}
    if [ -z "$PGPORT" ]; then
      PGPORT=55432
      while (exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null; do PGPORT=$((PGPORT + 1)); done
    fi
  fi
}

ensure_running() {
  install_packages
  local bin; bin=$(pg_bindir)
  setup_paths
  if [ ! -s "$SECRET" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET")
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "initialising cluster in $DATA"
    local pwfile; pwfile=$(mktemp); cp "$SECRET" "$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres: "$pwfile" && { [ -d "$DATA" ] || { mkdir -p "$DATA"; chown postgres: "$DATA"; }; }
    "${RUNAS[@]}" "$bin/initdb" -D "$DATA" -U monitor --auth=scram-sha-256 --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >&2
    rm -f "$pwfile"
    echo "$PGPORT" > "$PORTFILE"
    cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$DATA'
idle_in_transaction_session_timeout = '60s'
max_connections = 200
fsync = ${MONITOR_PG_FSYNC:-on}
CONF
  fi
  if ! "${RUNAS[@]}" "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "starting cluster on 127.0.0.1:$PGPORT"
    "${RUNAS[@]}" "$bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start >&2
  fi
}

psql_admin() {
  PGPASSWORD=$(cat "$SECRET") "$(pg_bindir)/psql" -h 127.0.0.1 -p "$PGPORT" -U monitor -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

url() { echo "postgresql+psycopg://monitor:$(cat "$SECRET")@127.0.0.1:$PGPORT/$1"; }

cmd=${1:-ensure}
case "$cmd" in
  ensure)
    db=${2:-monitor_api}
    ensure_running
    if [ "$(psql_admin -c "select 1 from pg_database where datname = '$db'")" != 1 ]; then
      psql_admin -c "create database \"$db\"" >&2
    fi
    url "$db" ;;
  recreate)
    db=${2:?database name}
    ensure_running
    psql_admin -c "drop database if exists \"$db\" with (force)" >&2
    psql_admin -c "create database \"$db\"" >&2
    url "$db" ;;
  stop)
    setup_paths
    "${RUNAS[@]}" "$(pg_bindir)/pg_ctl" -D "$DATA" -m fast stop >&2 || true ;;
  *) echo "usage: $0 ensure [db] | recreate db | stop" >&2; exit 2 ;;
esac
