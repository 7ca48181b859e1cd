#!/usr/bin/env bash
# The clients' tests against a real server: the TypeScript SDK in Node (e2e/sdk.test.mjs) and the
# web app plus the useChat page in Debian's chromium driven by playwright-core (web/e2e/*.test.mjs).
# Starts the scripted Chat Completions upstream (web/openai-compat/upstream.mjs) and a Tether server
# in front of it with auth on (a generated key and HS256 secret), serving the freshly built app.
#
#   web/e2e/run.sh                      all of it
#   web/e2e/run.sh --test-name-pattern=reload
#   SCREENSHOTS=docs/screenshots web/e2e/run.sh   also write the three views' screenshots
#   TETHER_SERVE="/other/checkout/tether serve" web/e2e/run.sh
#   CLUSTER=3 E2E_FILES=e2e/sdk.test.mjs web/e2e/run.sh   three nodes on one Redis, round-robin
# Extra arguments go to `node --test`.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WEB="$(cd "$HERE/.." && pwd)"
ROOT="$(cd "$WEB/.." && pwd)"
TETHER_SERVE="${TETHER_SERVE:-$ROOT/tether serve}"
log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=../../scripts/lib/interop.sh
. "$ROOT/scripts/lib/interop.sh"
# shellcheck source=../../scripts/lib/packages.sh
. "$ROOT/scripts/lib/packages.sh"
interop_install "$WEB" "the web workspace"
tether_install_chromium
log "building the SDK, the transport and the web app"
BUILD_LOG="$(mktemp)"
(cd "$WEB" && npm run --silent build >"$BUILD_LOG" 2>&1) || { cat "$BUILD_LOG" >&2; log "the build failed"; exit 1; }
rm -f "$BUILD_LOG"

interop_workdir

# 1. the scripted upstream: "count to N" streams N numbers 40 ms apart, "weather" calls a tool
COUNT_DELAY_MS="${COUNT_DELAY_MS:-40}" interop_start_upstream

# 2. Tether with auth on
KEY="e2e-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
SECRET="$(od -An -N48 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$WORK/auth.json" <<JSON
{"keys": [{"name": "backend", "secret": "$KEY", "capabilities": {"*": ["*"]}}],
 "jwt": {"hs256_secret": "$SECRET"}}
JSON
if [ -n "${CLUSTER:-}" ]; then
  tether_install_redis
  interop_start_cluster "$CLUSTER" --auth-config "$WORK/auth.json" --upstream "http://127.0.0.1:$UPORT/v1" \
    --web-root "$WEB/app/dist"
else
  interop_start_tether --auth-config "$WORK/auth.json" --upstream "http://127.0.0.1:$UPORT/v1" --web-root "$WEB/app/dist"
fi
log "chromium: $CHROMIUM_PATH"

# 3. the tests
status=0
(cd "$WEB" && TETHER_URL="http://127.0.0.1:$TPORT" TETHER_KEY="$KEY" CHROMIUM_PATH="$CHROMIUM_PATH" \
  SCREENSHOTS="${SCREENSHOTS:+$(cd "$ROOT" && mkdir -p "$SCREENSHOTS" && cd "$SCREENSHOTS" && pwd)}" NO_COLOR=1 \
  timeout 600 node --test --test-concurrency=1 --test-timeout=60000 --test-reporter=spec "$@" ${E2E_FILES:-e2e/*.test.mjs}) || status=$?
interop_finish e2e "$status" 600
