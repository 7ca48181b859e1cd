#!/usr/bin/env bash
# Measures what the JDK AOT cache (server/target/tether.aot, recorded by ./tether after a build)
# buys: start-up time, append throughput in the first seconds, and SSE p99 right after an append
# phase, with and without the cache, alternating, on fresh data directories. Server on CPU 0, load
# on CPU 1. Prints a markdown table and writes it to results/aot.md.
#
# Usage: bench/streams/aot.sh [--reps N] [--out FILE]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
REPS=2
OUT="$HERE/results/aot.md"
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || { echo "--reps must be a positive integer" >&2; exit 2; }
for tool in wrk taskset setsid curl node; do
  command -v "$tool" >/dev/null || { echo "'$tool' not found (bench/streams/run.sh installs it)" >&2; exit 1; }
done
[ -d "$HERE/node_modules" ] || { echo "run bench/streams/run.sh once first (npm ci)" >&2; exit 1; }
log() { printf '[aot %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

log "building if needed, which records the AOT cache (./tether help)"
(cd "$ROOT" && ./tether help >/dev/null)
[ -s "$ROOT/server/target/tether.aot" ] || { echo "no AOT cache was recorded (see ./tether's output)" >&2; exit 1; }

PID=""
DATA=""
cleanup() {
  [ -z "$PID" ] || kill -TERM -- "-$PID" 2>/dev/null || true
  [ -z "$DATA" ] || rm -rf "$DATA"
}
trap cleanup EXIT

# run MODE(1|0): one start with TETHER_AOT=MODE; prints "ready_ms first3s_appends sse_p99"
run() {
  local port url t0 t1 first sse
  port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  url="http://127.0.0.1:$port"
  DATA="$(mktemp -d)"
  t0="$(date +%s%N)"
  (cd "$ROOT" && TETHER_AOT="$1" exec setsid taskset -c 0 ./tether serve --port "$port" --data-dir "$DATA" \
    --upstream http://127.0.0.1:9/v1) >"$DATA.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 3000); do
    curl -s -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' "$url/v1/stream/__ready__" && break
    sleep 0.01
  done
  t1="$(date +%s%N)"
  timeout 60 taskset -c 1 node "$HERE/setup-streams.mjs" --url "$url" --count 100 2>/dev/null
  first="$(BENCH_STREAMS=100 BENCH_EXPECT=204 timeout 60 taskset -c 1 wrk -t1 -c64 -d3s -s "$HERE/wrk/post.lua" "$url/" \
    | sed -n 's/^Requests\/sec: *//p')"
  BENCH_STREAMS=100 BENCH_EXPECT=204 timeout 60 taskset -c 1 wrk -t1 -c64 -d5s -s "$HERE/wrk/post.lua" "$url/" >/dev/null
  sse="$(timeout 120 taskset -c 1 node "$HERE/sse-fanout.mjs" --url "$url" --subscribers 100 --rate 50 --duration 10 --warmup 1 \
    2>/dev/null | tail -1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).lat_ms.p99.toFixed(2)))')"
  kill -TERM -- "-$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
  rm -rf "$DATA" "$DATA.log"
  DATA=""
  echo "$(((t1 - t0) / 1000000)) ${first%.*} $sse"
}

rows=""
for rep in $(seq 1 "$REPS"); do
  for mode in 1 0; do
    log "rep $rep, AOT cache $([ "$mode" = 1 ] && echo on || echo off)"
    read -r ready first sse < <(run "$mode")
    rows+="| $rep | $([ "$mode" = 1 ] && echo "with the cache" || echo "without (TETHER_AOT=0)") | $ready | $first | $sse |"$'\n'
  done
done
{
  echo "# AOT cache: start-up and warm-up"
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ); Tether git $(git -C "$ROOT" describe --always --dirty); command: \`bench/streams/aot.sh --reps $REPS\`"
  echo "- Server: \`./tether serve --upstream http://127.0.0.1:9/v1\` (log store, fresh data dir) on CPU 0; wrk and node clients on CPU 1"
  echo "- Ready: launcher start until \`PUT /v1/stream/__ready__\` answers (the JVM start, the log's recovery, the HTTP server)."
  echo "- First 3 s: wrk -t1 -c64 appends of 256 B over 100 streams, right after the start (JIT still warming)."
  echo "- SSE p99: 100 subscribers, 50 events/s for 10 s, right after 5 more seconds of appends."
  echo
  echo "| Rep | Server | Ready (ms) | Appends/s, first 3 s | SSE p99 (ms) |"
  echo "|---|---|---:|---:|---:|"
  printf '%s' "$rows"
} | tee "$OUT"
