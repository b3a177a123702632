#!/usr/bin/env bash
# The phone-side libraries the real-client tests drive (tests/clients: WatermelonDB and
# tus-js-client, pinned in its package-lock.json, from the npm registry), with Node.js from
# the OS packages when the machine has none.
#   scripts/clients.sh install    npm ci in tests/clients unless its lock is installed already
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "clients: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

case "${1:-install}" in
  install)
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
      log "installing Node.js and npm (Debian packages nodejs, npm)"
      as_root apt-get update -qq >&2 || { log "cannot run apt-get: install Node.js and npm"; exit 1; }
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
        nodejs npm >&2
    fi
    stamp=tests/clients/node_modules/.installed-lock.sha256
    want=$(sha256sum tests/clients/package-lock.json | cut -d' ' -f1)
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0
    log "npm ci in tests/clients"
    npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error >&2
    echo "$want" > "$stamp" ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
