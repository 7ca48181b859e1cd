#!/usr/bin/env bash
# Compatibility test with the official `openai` npm SDK as the client (compat.test.mjs).
# Starts the scripted Chat Completions upstream (upstream.mjs) and a Tether server in front of it,
# each on a free port, runs the tests, and stops both servers.
#
#   web/openai-compat/run.sh
#   TETHER_SERVE="/path/to/other/checkout/tether serve" web/openai-compat/run.sh
#
# TETHER_SERVE is a command prefix; this script appends
#   --port 0 --data-dir $WORK/data --upstream http://127.0.0.1:$UPORT/v1
# and waits for "Tether listening on http://127.0.0.1:PORT" in its output.
# Extra arguments are passed to `node --test` (e.g. --test-name-pattern=WebSocket).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TETHER_SERVE="${TETHER_SERVE:-$ROOT/tether serve}"
log() { printf '[openai-compat %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=../../scripts/lib/interop.sh
. "$ROOT/scripts/lib/interop.sh"
interop_install "$ROOT/web" "the web workspace (the openai SDK)"

WORK="$(mktemp -d)"
UP_PID=""
TETHER_PID=""
cleanup() {
  interop_stop "$TETHER_PID"
  interop_stop "$UP_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. the scripted upstream
node "$HERE/upstream.mjs" 0 >"$WORK/upstream.log" 2>&1 &
UP_PID=$!
UPORT="$(interop_wait_for_port "$WORK/upstream.log" 's|^upstream listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$UP_PID" upstream 10)"
log "upstream on port $UPORT (pid $UP_PID)"

# 2. Tether in front of it (word-split TETHER_SERVE on purpose: it is a command prefix)
# shellcheck disable=SC2086
$TETHER_SERVE --port 0 --data-dir "$WORK/data" --upstream "http://127.0.0.1:$UPORT/v1" >"$WORK/tether.log" 2>&1 &
TETHER_PID=$!
TPORT="$(interop_wait_for_port "$WORK/tether.log" 's|^.*Tether listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TETHER_PID" Tether 60)"
log "Tether on port $TPORT (pid $TETHER_PID): $TETHER_SERVE"

# 3. the tests
status=0
(cd "$HERE" && TETHER_URL="http://127.0.0.1:$TPORT" UPSTREAM_URL="http://127.0.0.1:$UPORT" NO_COLOR=1 \
  timeout 300 node --test --test-reporter=spec "$@" compat.test.mjs) || status=$?
if [ "$status" -ne 0 ]; then
  [ "$status" -eq 124 ] && log "the test run timed out (300 s)"
  log "Tether log (tail):"; tail -80 "$WORK/tether.log" >&2
  log "upstream log (tail):"; tail -20 "$WORK/upstream.log" >&2
  log "openai-compat FAILED (exit $status)"
  exit "$status"
fi
log "openai-compat passed"
