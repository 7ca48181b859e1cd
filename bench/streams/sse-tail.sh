#!/usr/bin/env bash
# What made the SSE phase's slowest events slow (Tether only): the bench's order on one pinned
# core, then a scheduler trace of the measured SSE phase, and for each slow event what ran on the
# server's core inside its window.
#
# Starts `TREE/tether serve` on CPU 0 on a fresh data dir (TETHER_JAVA_OPTS and SERVER_ARGS pass
# through), makes 100 streams, and runs what bench/streams/run.sh runs before its SSE phase: an
# untimed fan-out of 100 subscribers at 50 events/s for 10 s, then `wrk -t1 -c64` appends of 256 B
# over the streams for APPEND_SECONDS (45: the run's 30 s of server warm-up, 5 s of warm-up and 10
# s measured) from CPU 1. Then the SSE phase as run.sh measures it (ssefan, 100 subscribers, 50
# events/s, 1 s of warm-up and 10 s measured) under `perf record` of the scheduler's switches and
# wake-ups and the server's fdatasync calls, on both CPUs. ssefan writes one line per event
# (SSEFAN_EVENTS: its append latency, fastest and slowest delivery); sse-tail.py matches each
# event to the writer's fdatasync for it and sums the run time of each kind of thread on CPU 0
# inside the event's window (from its send to its slowest delivery). Prints the client's result
# line and that table for the slowest events; keeps everything in OUT.
#
# Needs perf with tracepoint access (root here). The trace itself costs the server a little CPU.
# Usage: [SERVER_ARGS='--jit-slice-us 0'] bench/streams/sse-tail.sh [OUT] [TREE]
#        (defaults: a new directory under /tmp, this checkout); TOP=N shows N events (12)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$(mktemp -d /tmp/sse-tail.XXXXXX)}"
TREE="${2:-$(cd "$HERE/../.." && pwd)}"
mkdir -p "$OUT"
for tool in wrk taskset perf node python3; do
  command -v "$tool" >/dev/null || { echo "'$tool' not found (bench/streams/run.sh installs wrk)" >&2; exit 1; }
done
"$HERE/build-c.sh" ssefan/ssefan
# shellcheck source=bench/streams/pinned-server.sh
. "$HERE/pinned-server.sh"
start_pinned_server "$TREE"
echo "server pid $SERVER, $URL; output in $OUT" >&2

load_before_sse "$OUT"

"${LOAD[@]}" perf record -q -k mono -a -o "$OUT/perf.data" \
  -e sched:sched_switch -e sched:sched_wakeup \
  -e syscalls:sys_enter_fdatasync -e syscalls:sys_exit_fdatasync \
  >/dev/null 2>"$OUT/perf.err" &
PERF=$!
sleep 0.5
kill -0 "$PERF" 2>/dev/null || { echo "perf record stopped: $(tail -2 "$OUT/perf.err")" >&2; exit 1; }
python3 -c 'import time; print(time.clock_gettime(time.CLOCK_MONOTONIC))' >"$OUT/t0.txt"
rc=0
SSEFAN_EVENTS="$OUT/events.txt" "${LOAD[@]}" "$HERE/ssefan/ssefan" --url "$URL" --server-pid "$SERVER" \
  --subscribers 100 --rate 50 --duration 10 --warmup 1 >"$OUT/sse.json" 2>"$OUT/sse.err" || rc=$?
kill -INT "$PERF"
wait "$PERF" || true
[ "$rc" -eq 0 ] || { echo "ssefan failed (exit $rc): $(tail -2 "$OUT/sse.err")" >&2; exit 1; }

tail -1 "$OUT/sse.json"
perf script -i "$OUT/perf.data" -F tid,time,event 2>/dev/null | grep fdatasync >"$OUT/fdatasync.txt" || true
perf sched timehist -i "$OUT/perf.data" >"$OUT/timehist.txt" 2>/dev/null
python3 "$HERE/sse-tail.py" "$OUT" "${TOP:-12}"
