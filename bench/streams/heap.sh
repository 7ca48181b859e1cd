#!/usr/bin/env bash
# The server's heap under a long append load (Tether only, for A/B runs of two builds): what stays
# on the heap as the log keeps more messages, and what G1 does about it.
# Starts `TREE/tether serve` on CPU 0 (PIN=off: anywhere) on a fresh data dir with a GC log and
# HEAP as its -Xmx (`default`: the JVM's own, a quarter of RAM), makes STREAMS streams (100 unless
# set), runs `wrk -t1 -c64` appends of 256 B over them on CPU 1 for SECONDS, then prints: whether the server
# is still up (an OutOfMemoryError ends it: the launcher runs it with -XX:+ExitOnOutOfMemoryError),
# wrk's totals, then after QUIET seconds with no load (0 unless set; the log parks a quiet stream's
# index chunk 10-20 s after its last write), the data dir's size, the top of a class histogram (jcmd GC.class_histogram, after
# a full collection: what is live), and a summary of the GC log (gc-summary.py: pauses, concurrent
# cycles, the heap after the last pause before each mark). With REOPEN=1 it then kills the server
# with SIGKILL and starts it again on the same data: how long until it listens, what its log says
# about the recovery, and the live classes again (OUT.reopen.histo). OUT.gc, OUT.wrk and OUT.histo
# keep the whole outputs.
#
# Usage: [PIN=off] [STREAMS=N] [QUIET=S] [REOPEN=1] bench/streams/heap.sh HEAP SECONDS OUT [TREE]   (TREE: this checkout by default)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HEAP="${1:?usage: heap.sh HEAP SECONDS OUT [TREE]}"
SECS="${2:?usage: heap.sh HEAP SECONDS OUT [TREE]}"
OUT="${3:?usage: heap.sh HEAP SECONDS OUT [TREE]}"
TREE="${4:-$(cd "$HERE/../.." && pwd)}"
STREAMS="${STREAMS:-100}"
QUIET="${QUIET:-0}"
OPTS="-Xlog:gc:file=$OUT.gc:uptime"
[ "$HEAP" = default ] || OPTS="-Xmx$HEAP $OPTS"
export TETHER_JAVA_OPTS="${TETHER_JAVA_OPTS:-} $OPTS"
# shellcheck source=scripts/lib/jdk.sh
. "$HERE/../../scripts/lib/jdk.sh"
JDK="$(tether_find_jdk 25)" || { echo "heap.sh: no JDK 25 or newer found (for jcmd)" >&2; exit 2; }
# shellcheck source=bench/streams/pinned-server.sh
. "$HERE/pinned-server.sh"
start_pinned_server "$TREE"
${LOAD[@]+"${LOAD[@]}"} node "$HERE/setup-streams.mjs" --url "$URL" --count "$STREAMS" >/dev/null 2>&1 \
  || { echo "making the streams failed" >&2; exit 1; }
BENCH_STREAMS="$STREAMS" BENCH_EXPECT=204 BENCH_LUA_DIR="$HERE/wrk" \
  ${LOAD[@]+"${LOAD[@]}"} wrk -t1 -c64 -d"$SECS"s -s "$HERE/wrk/post.lua" "$URL/" >"$OUT.wrk" 2>&1
sleep "$QUIET"
if kill -0 "$SERVER" 2>/dev/null; then up=yes; else up="no (it exited)"; fi
echo "tree $TREE ($(git -C "$TREE" describe --always --dirty 2>/dev/null)), heap $HEAP, $SECS s of appends over $STREAMS streams, then $QUIET s quiet; server still up: $up"
grep -E 'requests in|Requests/sec|Non-2xx|Socket errors' "$OUT.wrk"
grep -i 'OutOfMemory' "$DATA.out" | head -2
echo "data dir: $(du -sh "$DATA" | cut -f1)"
if [ "$up" = yes ]; then
  "$JDK/bin/jcmd" "$SERVER" GC.class_histogram >"$OUT.histo" 2>&1
  head -8 "$OUT.histo"
  tail -1 "$OUT.histo"
fi
python3 "$HERE/gc-summary.py" "$OUT.gc"
if [ "${REOPEN:-0}" = 1 ] && [ "$up" = yes ]; then
  kill -9 "$SERVER"
  while kill -0 "$SERVER" 2>/dev/null; do sleep 0.1; done
  TETHER_JAVA_OPTS="${TETHER_JAVA_OPTS/"$OUT.gc"/"$OUT.reopen.gc"}"
  started=$(date +%s%N)
  start_pinned_server "$TREE" "$DATA"
  echo "after kill -9: listening again in $(( ($(date +%s%N) - started) / 1000000 )) ms (the launcher's own start included)"
  grep -o 'log opened in .*' "$DATA.out" | head -1
  "$JDK/bin/jcmd" "$SERVER" GC.class_histogram >"$OUT.reopen.histo" 2>&1
  head -8 "$OUT.reopen.histo"
  tail -1 "$OUT.reopen.histo"
fi
