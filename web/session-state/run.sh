#!/usr/bin/env bash
# Interop test: a Tether session log materialised by `createStreamDB` from the official
# @durable-streams/state npm package (session-state.test.mjs). Starts a Tether server on a free
# port, runs the tests, and stops the server.
#
#   web/session-state/run.sh
#   TETHER_SERVE="/path/to/other/checkout/tether serve" web/session-state/run.sh
#
# TETHER_SERVE is a command prefix; this script appends
#   --port 0 --data-dir $WORK/data --long-poll-timeout 1s
# (a short long-poll so live readers also see 204 time-outs) and waits for
# "Tether listening on http://127.0.0.1:PORT" in its output.
# Extra arguments are passed to `node --test` (e.g. --test-name-pattern=SSE).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TETHER_SERVE="${TETHER_SERVE:-$ROOT/tether serve}"
log() { printf '[session-state %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=../../scripts/lib/interop.sh
. "$ROOT/scripts/lib/interop.sh"
interop_install "$ROOT/web" "the web workspace (@durable-streams/state and @tanstack/db)"

WORK="$(mktemp -d)"
TETHER_PID=""
cleanup() {
  interop_stop "$TETHER_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Tether (word-split TETHER_SERVE on purpose: it is a command prefix)
# shellcheck disable=SC2086
$TETHER_SERVE --port 0 --data-dir "$WORK/data" --long-poll-timeout 1s >"$WORK/tether.log" 2>&1 &
TETHER_PID=$!
TPORT="$(interop_wait_for_port "$WORK/tether.log" 's|^.*Tether listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TETHER_PID" Tether 60)"
log "Tether on port $TPORT (pid $TETHER_PID): $TETHER_SERVE"
URL="http://127.0.0.1:$TPORT"

# 2. the tests
status=0
(cd "$HERE" && TETHER_URL="$URL" NO_COLOR=1 \
  timeout 300 node --test --test-reporter=spec "$@" session-state.test.mjs) || status=$?
if [ "$status" -ne 0 ]; then
  [ "$status" -eq 124 ] && log "the test run timed out (300 s)"
  log "Tether log (tail):"; tail -80 "$WORK/tether.log" >&2
  log "session-state FAILED (exit $status)"
  exit "$status"
fi
log "session-state passed"
