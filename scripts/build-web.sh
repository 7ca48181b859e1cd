#!/usr/bin/env bash
# Builds the web app into web/app/dist (served at / by ./tether serve, which calls this when the
# build is missing or older than its sources). Installs the npm workspace first when
# node_modules is missing or older than the lockfile. Safe to run again: npm ci only when the
# lockfile changed, and the build replaces dist whole.
#   scripts/build-web.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/web"
log() { printf 'build-web: %s\n' "$*" >&2; }

for tool in node npm; do
  command -v "$tool" >/dev/null || { log "$tool is required (Node.js 20+: apt-get install nodejs npm)"; exit 1; }
done
[ -f "$WEB/package.json" ] || { log "no npm workspace at $WEB/package.json"; exit 1; }

# shellcheck source=lib/interop.sh
. "$ROOT/scripts/lib/interop.sh"
interop_install "$WEB" "the web workspace"

log "building the web app (npm run build --workspace @tether/app)"
(cd "$WEB" && npm run build --workspace @tether/app)
[ -f "$WEB/app/dist/index.html" ] || { log "the build finished without web/app/dist/index.html"; exit 1; }
log "done: web/app/dist"
