#!/usr/bin/env bash
# The web app's bundle size and time to first paint (docs/benchmarks.md): builds the app, starts
# `./tether serve` (open mode, demo model) on a free port, loads the chat view cold in chromium.
#   bench/webapp/run.sh [RUNS]      (default 10)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
log() { printf '[webapp %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# shellcheck source=../../scripts/lib/interop.sh
. "$ROOT/scripts/lib/interop.sh"
# shellcheck source=../../scripts/lib/packages.sh
. "$ROOT/scripts/lib/packages.sh"
tether_install_chromium
"$ROOT/scripts/build-web.sh"
TETHER_SERVE="$ROOT/tether serve"
interop_workdir
interop_start_tether
log "chromium: $("$CHROMIUM_PATH" --version 2>/dev/null | head -1)"
node "$HERE/measure.mjs" "http://127.0.0.1:$TPORT" "${1:-10}" | tee "$HERE/results/latest.md"
