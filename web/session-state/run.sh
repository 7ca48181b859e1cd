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

interop_workdir

# 1. Tether
interop_start_tether --long-poll-timeout 1s
URL="http://127.0.0.1:$TPORT"

# 2. the tests
status=0
(cd "$HERE" && TETHER_URL="$URL" NO_COLOR=1 \
  timeout 300 node --test --test-reporter=spec "$@" session-state.test.mjs) || status=$?
interop_finish session-state "$status" 300
