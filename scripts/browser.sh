#!/usr/bin/env bash
# The browser of `make test`'s page tests: Debian's Chromium (never a downloaded one), with
# fonts that cover Cyrillic (Russian, Tajik). Installed with apt like PostGIS and nginx.
set -euo pipefail
log() { echo "browser: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi dejavu; then
  exit 0
fi
log "installing Debian's chromium and fonts-dejavu-core"
as_root apt-get update -qq >&2 || { log "cannot run apt-get: install chromium"; exit 1; }
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core >&2
