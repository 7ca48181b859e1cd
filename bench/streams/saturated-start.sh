#!/usr/bin/env bash
# A fresh Tether pinned to CPU 0 under a load that saturates it from its first second: WINDOWS
# back-to-back runs of `wrk -t1 -c64 -d5s` from CPU 1 (empty 256-byte POSTs to /v1/noop, or
# appends over STREAMS streams when STREAMS > 0), printing requests/s per 5 s window on one line.
# Shows how long the JIT takes to catch up when the server never idles (SERVER_ARGS, e.g.
# "--jit-nice 19", is added to its flags; TETHER_JAVA_OPTS passes through).
#
# Usage: bench/streams/saturated-start.sh [TREE]   (env: WINDOWS=12, STREAMS=0, SERVER_ARGS)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TREE="${1:-$(cd "$HERE/../.." && pwd)}"
for tool in wrk taskset; do
  command -v "$tool" >/dev/null || { echo "'$tool' not found (bench/streams/run.sh installs it)" >&2; exit 1; }
done
. "$HERE/pinned-server.sh"
start_pinned_server "$TREE"
if [ "${STREAMS:-0}" -gt 0 ]; then
  ${LOAD[@]+"${LOAD[@]}"} node "$HERE/setup-streams.mjs" --url "$URL" --count "$STREAMS" >/dev/null 2>&1
fi
out=""
for _ in $(seq 1 "${WINDOWS:-12}"); do
  r="$(BENCH_STREAMS="${STREAMS:-0}" BENCH_EXPECT=204 BENCH_LUA_DIR="$HERE/wrk" \
    ${LOAD[@]+"${LOAD[@]}"} wrk -t1 -c64 -d5s -s "$HERE/wrk/post.lua" "$URL/" 2>&1 | awk '/Requests\/sec/ {printf "%d", $2}')"
  out="$out ${r:-failed}"
done
echo "requests/s per 5 s window:$out"
