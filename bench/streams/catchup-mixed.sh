#!/usr/bin/env bash
# Catch-up of a stream that is being written, with other streams' appends between its messages
# in the log (Tether only, for A/B runs of two builds): starts `TREE/tether serve` on CPU 0 on a
# fresh data dir (so everything is in the log's first segment, which is not preallocated and
# grows), creates bench-1..bench-10, then runs `wrk -t1 -c2` appends over the ten streams and
# `wrk -t1 -c4` GETs of /v1/stream/bench-1?offset=-1 together on CPU 1: 15 s untimed, then
# SECONDS measured. Prints both wrk rates and the server's utime + stime over the measured run.
#
# Usage: bench/streams/catchup-mixed.sh [SECONDS] [TREE]   (defaults: 12, this checkout)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SECS="${1:-12}"
TREE="${2:-$(cd "$HERE/../.." && pwd)}"
DATA="$(mktemp -d)"
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$DATA" "$DATA".*; }
trap cleanup EXIT

(cd "$TREE" && exec taskset -c 0 ./tether serve --port 0 --data-dir "$DATA") >"$DATA.out" 2>&1 &
PORT=""
for _ in $(seq 1 600); do
  PORT="$(sed -n 's|^Tether listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$DATA.out")"
  [ -n "$PORT" ] && break
  sleep 0.2
done
[ -n "$PORT" ] || { cat "$DATA.out" >&2; echo "the server did not start" >&2; exit 1; }
SERVER="$(pgrep -f "dev.tether.Main serve --port 0 --data-dir $DATA")"
URL="http://127.0.0.1:$PORT"
taskset -c 1 node "$HERE/setup-streams.mjs" --url "$URL" --count 10 >/dev/null

both() { # SECONDS: appends and catch-up GETs at once
  BENCH_STREAMS=10 BENCH_EXPECT=204 BENCH_LUA_DIR="$HERE/wrk" \
    taskset -c 1 wrk -t1 -c2 -d"$1"s -s "$HERE/wrk/post.lua" "$URL/" >"$DATA.post" 2>&1 &
  local appends=$!
  BENCH_PATH="/v1/stream/bench-1?offset=-1" BENCH_LUA_DIR="$HERE/wrk" \
    taskset -c 1 wrk -t1 -c4 -d"$1"s -s "$HERE/wrk/get.lua" "$URL/" >"$DATA.get" 2>&1
  wait "$appends"
}

both 15 # untimed: the JIT settles
T0="$(awk '{print $14 + $15}' "/proc/$SERVER/stat")"
both "$SECS"
T1="$(awk '{print $14 + $15}' "/proc/$SERVER/stat")"
echo "appends: $(grep Requests/sec "$DATA.post" | tr -s ' ')"
echo "catch-up GETs: $(grep -E 'Requests/sec|Transfer/sec' "$DATA.get" | tr -s ' ' | tr '\n' ' ')"
echo "server CPU: $((T1 - T0)) ticks of 1/$(getconf CLK_TCK) s in ${SECS} s"
