#!/usr/bin/env bash
# The server's CPU per byte of catch-up, for A/B runs of two builds (Tether only, no Node):
# starts `TREE/tether serve` on CPU 0, fills one stream with 10,000 x 256 B (catchup.mjs, on
# CPU 1), runs 25 s of untimed `wrk -t1 -c16` GETs of ?offset=-1, then SECONDS measured, and
# prints wrk's rate and the server's utime + stime (/proc/PID/stat) over the measured run.
# With PERF=FILE it also records a perf profile of the server into FILE over the measured run
# (start it with TETHER_JAVA_OPTS="-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit
# -XX:+PreserveFramePointer" for Java frames).
#
# Usage: bench/streams/catchup-cpu.sh [SECONDS] [TREE]   (defaults: 12, this checkout)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SECS="${1:-12}"
TREE="${2:-$(cd "$HERE/../.." && pwd)}"
DATA="$(mktemp -d)"
OUT="$DATA.out"
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$DATA" "$OUT" "$DATA.wrk"; }
trap cleanup EXIT

(cd "$TREE" && exec taskset -c 0 ./tether serve --port 0 --data-dir "$DATA") >"$OUT" 2>&1 &
PORT=""
for _ in $(seq 1 600); do
  PORT="$(sed -n 's|^Tether listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$OUT")"
  [ -n "$PORT" ] && break
  sleep 0.2
done
[ -n "$PORT" ] || { cat "$OUT" >&2; echo "the server did not start" >&2; exit 1; }
SERVER="$(pgrep -f "dev.tether.Main serve --port 0 --data-dir $DATA")"
URL="http://127.0.0.1:$PORT"

RESULT="$(taskset -c 1 node "$HERE/catchup.mjs" --url "$URL" --messages 10000 --duration 1 2>/dev/null | tail -1)"
STREAM="$(echo "$RESULT" | sed -n 's|.*"stream":"\([^"]*\)".*|\1|p')"
[ -n "$STREAM" ] || { echo "filling the stream failed: $RESULT" >&2; exit 1; }
get() { BENCH_PATH="$STREAM?offset=-1" BENCH_LUA_DIR="$HERE/wrk" taskset -c 1 wrk -t1 -c16 -d"$1"s -s "$HERE/wrk/get.lua" "$URL/"; }

get 25 >/dev/null # untimed: the JIT settles
T0="$(awk '{print $14 + $15}' "/proc/$SERVER/stat")"
if [ -n "${PERF:-}" ]; then
  get "$SECS" >"$DATA.wrk" &
  sleep 1
  perf record -F 2999 -g -p "$SERVER" -o "$PERF" -- sleep $((SECS - 2)) >/dev/null 2>&1
  wait $!
else
  get "$SECS" >"$DATA.wrk"
fi
T1="$(awk '{print $14 + $15}' "/proc/$SERVER/stat")"
grep -E "Requests/sec|Transfer/sec" "$DATA.wrk"
echo "server CPU: $((T1 - T0)) ticks of 1/$(getconf CLK_TCK) s in ${SECS} s"
