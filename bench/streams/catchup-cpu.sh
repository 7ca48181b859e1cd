#!/usr/bin/env bash
# The server's CPU per byte of catch-up, for A/B runs of two builds (Tether only, no Node).
# Starts `TREE/tether serve` on CPU 0 on a fresh data dir, then, with the load on CPU 1:
#   default: fills one stream with 10,000 x 256 B (catchup.mjs) and reads it from ?offset=-1 again
#            and again: 25 s untimed, then SECONDS measured. The reader is the C catch-up client
#            (catchupc: sequential passes on one connection, the server sets the pace); with
#            CLIENT=wrk, `wrk -t1 -c16` GETs (wrk's 8 KiB reads make wrk the bound on two cores).
#   --mixed: a stream read while it is written, its messages between other streams' in the log's
#            first segment (not preallocated, growing): `wrk -t1 -c2` appends over bench-1..10 and
#            `wrk -t1 -c4` GETs of bench-1?offset=-1 at once: 15 s untimed, then SECONDS measured.
# Prints the client's rates and the server's utime + stime (/proc/PID/stat) over the measured run. With
# PERF=FILE it also records a perf profile of the server into FILE over it (for Java frames, set
# TETHER_JAVA_OPTS="-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -XX:+PreserveFramePointer").
#
# Usage: [PIN=off] bench/streams/catchup-cpu.sh [--mixed] [SECONDS] [TREE]   (defaults: 12, this checkout;
# PIN=off: no taskset for the server or the load; SERVER_ARGS: more serve flags)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MIXED=0
if [ "${1:-}" = "--mixed" ]; then MIXED=1; shift; fi
SECS="${1:-12}"
TREE="${2:-$(cd "$HERE/../.." && pwd)}"
# shellcheck source=bench/streams/pinned-server.sh
. "$HERE/pinned-server.sh"
start_pinned_server "$TREE"

get() { # SECONDS CONNECTIONS PATH
  BENCH_PATH="$3?offset=-1" BENCH_LUA_DIR="$HERE/wrk" \
    ${LOAD[@]+"${LOAD[@]}"} wrk -t1 -c"$2" -d"$1"s -s "$HERE/wrk/get.lua" "$URL/" >"$DATA.get" 2>&1
}
if [ "$MIXED" = 1 ]; then
  ${LOAD[@]+"${LOAD[@]}"} node "$HERE/setup-streams.mjs" --url "$URL" --count 10 >/dev/null 2>&1
  load() { # SECONDS: appends and catch-up GETs at once
    BENCH_STREAMS=10 BENCH_EXPECT=204 BENCH_LUA_DIR="$HERE/wrk" \
      ${LOAD[@]+"${LOAD[@]}"} wrk -t1 -c2 -d"$1"s -s "$HERE/wrk/post.lua" "$URL/" >"$DATA.post" 2>&1 &
    local appends=$!
    get "$1" 4 /v1/stream/bench-1
    wait "$appends"
  }
  WARMUP=15
else
  RESULT="$(${LOAD[@]+"${LOAD[@]}"} node "$HERE/catchup.mjs" --url "$URL" --messages 10000 --duration 1 2>/dev/null | tail -1)"
  STREAM="$(echo "$RESULT" | sed -n 's|.*"stream":"\([^"]*\)".*|\1|p')"
  [ -n "$STREAM" ] || { echo "filling the stream failed: $RESULT" >&2; exit 1; }
  if [ "${CLIENT:-c}" = wrk ]; then
    load() { get "$1" 16 "$STREAM"; }
  else
    "$HERE/build-c.sh" catchupc/catchupc
    load() { # SECONDS: catch-up passes; the result line into $DATA.get
      ${LOAD[@]+"${LOAD[@]}"} "$HERE/catchupc/catchupc" --url "$URL" --path "$STREAM" --duration "$1" >"$DATA.get" 2>&1
    }
  fi
  WARMUP=25
fi

load "$WARMUP" # untimed: the JIT settles
T0="$(awk '{print $14 + $15}' "/proc/$SERVER/stat")"
if [ -n "${PERF:-}" ]; then
  load "$SECS" &
  sleep 1
  perf record -F 2999 -g -p "$SERVER" -o "$PERF" -- sleep $((SECS - 2)) >/dev/null 2>&1
  wait $!
else
  load "$SECS"
fi
T1="$(awk '{print $14 + $15}' "/proc/$SERVER/stat")"
[ "$MIXED" = 1 ] && echo "appends: $(grep Requests/sec "$DATA.post" | tr -s ' ')"
if [ "$MIXED" = 1 ] || [ "${CLIENT:-c}" = wrk ]; then
  echo "catch-up GETs: $(grep -E 'Requests/sec|Transfer/sec' "$DATA.get" | tr -s ' ' | tr '\n' ' ')"
else
  echo "catch-up passes (catchupc): $(tail -1 "$DATA.get")"
fi
echo "server CPU: $((T1 - T0)) ticks of 1/$(getconf CLK_TCK) s in ${SECS} s"
