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

interop_workdir

# 1. the scripted upstream, and Tether in front of it
interop_start_upstream
interop_start_tether --upstream "http://127.0.0.1:$UPORT/v1"

# 2. the tests
status=0
(cd "$HERE" && TETHER_URL="http://127.0.0.1:$TPORT" UPSTREAM_URL="http://127.0.0.1:$UPORT" NO_COLOR=1 \
  timeout 300 node --test --test-reporter=spec "$@" compat.test.mjs) || status=$?
interop_finish openai-compat "$status" 300
