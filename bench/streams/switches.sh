#!/usr/bin/env bash
# The append load's thread hand-offs, for A/B runs of two builds or JVM options (Tether only).
# Starts `TREE/tether serve` on CPU 0 on a fresh data dir (TETHER_JAVA_OPTS and SERVER_ARGS pass through),
# makes 100 streams, runs `wrk -t1 -c64` appends of 256 B over them on CPU 1 (PIN=off: no
# taskset for either) for WARMUP s untimed, then SECONDS measured, and prints: wrk's rate, the
# server's CPU (utime + stime of every thread, /proc/PID/task/*/stat), the fdatasync calls the
# server made over 5 s of it (`perf stat` of the syscalls tracepoint, when perf can), and per
# thread its voluntary and involuntary context switches (/proc/PID/task/*/status) and CPU ticks
# over the measured run, busiest first; and the group commits over the measured run, from the
# server's /metrics: flushes a second, commands per flush, the mean fdatasync.
#
# Usage: [PIN=off] [SERVER_ARGS='--event-loops 1'] bench/streams/switches.sh [SECONDS] [TREE] [WARMUP]   (defaults: 10, this checkout, 20)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SECS="${1:-10}"
TREE="${2:-$(cd "$HERE/../.." && pwd)}"
WARMUP="${3:-20}"
# shellcheck source=bench/streams/pinned-server.sh
. "$HERE/pinned-server.sh"
start_pinned_server "$TREE"
${LOAD[@]+"${LOAD[@]}"} node "$HERE/setup-streams.mjs" --url "$URL" --count 100 >/dev/null 2>&1

post() { # SECONDS
  BENCH_STREAMS=100 BENCH_EXPECT=204 BENCH_LUA_DIR="$HERE/wrk" \
    ${LOAD[@]+"${LOAD[@]}"} wrk -t1 -c64 -d"$1"s -s "$HERE/wrk/post.lua" "$URL/" >"$DATA.post" 2>&1
}
# One line per thread: tid, voluntary and involuntary switches, utime + stime, name.
threads() {
  for task in /proc/"$SERVER"/task/*; do
    local vol invol ticks name
    vol="$(awk '/^voluntary_ctxt_switches/ {print $2}' "$task/status" 2>/dev/null)" || continue
    invol="$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$task/status" 2>/dev/null)" || continue
    ticks="$(sed 's/.*) //' "$task/stat" 2>/dev/null | awk '{print $12 + $13}')" || continue
    name="$(tr ' ' '_' <"$task/comm" 2>/dev/null)" || continue
    if [ -n "$vol" ]; then echo "${task##*/} $vol $invol $ticks $name"; fi
  done | sort
}

# The group commits so far: flushes, seconds in them, commands committed; "-" when /metrics does
# not answer them (a server with --auth-config, or one that died), so the rest still prints.
commits() {
  { curl -fsS "$URL/metrics" 2>/dev/null || true; } | awk '
    /^tether_store_fsync_seconds_count / { n = $2 } /^tether_store_fsync_seconds_sum / { s = $2 }
    /^tether_store_batch_commands_sum / { c = $2 }
    END { if (n == "" || s == "" || c == "") print "-"; else print n, s, c }'
}

# Untimed: the JIT settles, in two halves with a /metrics read between them, so that the new
# wrk's connections (after the last one's closed) and the /metrics read that start the measured
# run are not the first the server sees after a POST-only load: those first ones threw the event
# loop's compiled methods out, and C2 compiled them again inside the measured run (1.0-1.5 s of
# its 10 s; 0.05-0.06 s with the halves; docs/benchmarks.md, "2026-12-07 (evening)").
HALF=$((WARMUP / 2))
post "$((WARMUP - HALF))"
commits >/dev/null
if [ "$HALF" -gt 0 ]; then post "$HALF"; fi
threads >"$DATA.t0"
commits >"$DATA.c0"
post "$SECS" &
RUN=$!
if command -v perf >/dev/null && [ "$SECS" -ge 7 ]; then
  sleep 1
  perf stat -x, -e syscalls:sys_enter_fdatasync -p "$SERVER" -- sleep 5 2>"$DATA.perf" >/dev/null || true
fi
wait "$RUN"
threads >"$DATA.t1"
commits >"$DATA.c1"

echo "appends: $(grep Requests/sec "$DATA.post" | tr -s ' ')"
if [ -s "$DATA.perf" ]; then echo "fdatasync calls in 5 s: $(grep sys_enter_fdatasync "$DATA.perf" | cut -d, -f1)"; fi
join "$DATA.t0" "$DATA.t1" | awk '
  { vol = $6 - $2; invol = $7 - $3; ticks = $8 - $4
    if (vol + invol >= 100 || ticks >= 3) printf "%-26s voluntary %8d  involuntary %8d  CPU ticks %5d\n", $5, vol, invol, ticks }' |
  sort -k8,8nr
echo "server CPU ticks (1/100 s) in ${SECS} s: $(join "$DATA.t0" "$DATA.t1" | awk '{ total += $8 - $4 } END { print total }')"
paste -d' ' "$DATA.c0" "$DATA.c1" | awk -v secs="$SECS" '{ n = $4 - $1
  if (NF != 6) print "group commits: n/a (the server'"'"'s /metrics did not answer)"
  else if (n > 0) printf "group commits: %.0f flushes/s, %.1f commands per flush, fdatasync mean %.0f us\n", n / secs, ($6 - $3) / n, ($5 - $2) / n * 1e6
  else print "group commits: none in the measured run" }'
