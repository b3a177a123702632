#!/usr/bin/env bash
# The buffering front of `make run` (README "Serving"): nginx from the OS packages.
#   scripts/front.sh install    install Debian's nginx package when nginx is missing
#   scripts/front.sh path       print the nginx binary
# Installing the package may also enable the system's own nginx service (port 80); ours runs
# separately, from a generated configuration, as whoever runs `make run`.
set -euo pipefail
log() { echo "front: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
find_nginx() {
  local bin
  for bin in "$(command -v nginx 2>/dev/null || true)" /usr/sbin/nginx; do
    [ -n "$bin" ] && [ -x "$bin" ] && { echo "$bin"; return 0; }
  done
  return 1
}

case "${1:-install}" in
  install)
    find_nginx >/dev/null && exit 0
    log "installing nginx (Debian package nginx)"
    as_root apt-get update -qq >&2 || { log "cannot run apt-get: install nginx"; exit 1; }
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends nginx >&2
    find_nginx >/dev/null ;;
  path)
    find_nginx || { log "nginx not found: run scripts/front.sh install"; exit 1; } ;;
  *) echo "usage: $0 install | path" >&2; exit 2 ;;
esac
