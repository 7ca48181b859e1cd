#!/usr/bin/env bash
# The server's heap under a long append load (Tether only, for A/B runs of two builds): what stays
# on the heap as the log keeps more messages, and what G1 does about it.
# Starts `TREE/tether serve` on CPU 0 (PIN=off: anywhere) on a fresh data dir with a GC log and
# HEAP as its -Xmx (`default`: the JVM's own, a quarter of RAM), makes 100 streams, runs
# `wrk -t1 -c64` appends of 256 B over them on CPU 1 for SECONDS, then prints: whether the server
# is still up (an OutOfMemoryError ends it: the launcher runs it with -XX:+ExitOnOutOfMemoryError),
# wrk's totals, the data dir's size, the top of a class histogram (jcmd GC.class_histogram, after
# a full collection: what is live), and a summary of the GC log (gc-summary.py: pauses, concurrent
# cycles, the heap after the last pause before each mark). OUT.gc, OUT.wrk and OUT.histo keep the
# whole outputs.
#
# Usage: [PIN=off] bench/streams/heap.sh HEAP SECONDS OUT [TREE]   (TREE: this checkout by default)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HEAP="${1:?usage: heap.sh HEAP SECONDS OUT [TREE]}"
SECS="${2:?usage: heap.sh HEAP SECONDS OUT [TREE]}"
OUT="${3:?usage: heap.sh HEAP SECONDS OUT [TREE]}"
TREE="${4:-$(cd "$HERE/../.." && pwd)}"
OPTS="-Xlog:gc:file=$OUT.gc:uptime"
[ "$HEAP" = default ] || OPTS="-Xmx$HEAP $OPTS"
export TETHER_JAVA_OPTS="${TETHER_JAVA_OPTS:-} $OPTS"
# shellcheck source=scripts/lib/jdk.sh
. "$HERE/../../scripts/lib/jdk.sh"
JDK="$(tether_find_jdk 25)" || { echo "heap.sh: no JDK 25 or newer found (for jcmd)" >&2; exit 2; }
# shellcheck source=bench/streams/pinned-server.sh
. "$HERE/pinned-server.sh"
start_pinned_server "$TREE"
${LOAD[@]+"${LOAD[@]}"} node "$HERE/setup-streams.mjs" --url "$URL" --count 100 >/dev/null 2>&1 \
  || { echo "making the streams failed" >&2; exit 1; }
BENCH_STREAMS=100 BENCH_EXPECT=204 BENCH_LUA_DIR="$HERE/wrk" \
  ${LOAD[@]+"${LOAD[@]}"} wrk -t1 -c64 -d"$SECS"s -s "$HERE/wrk/post.lua" "$URL/" >"$OUT.wrk" 2>&1
if kill -0 "$SERVER" 2>/dev/null; then up=yes; else up="no (it exited)"; fi
echo "tree $TREE ($(git -C "$TREE" describe --always --dirty 2>/dev/null)), heap $HEAP, $SECS s of appends; server still up: $up"
grep -E 'requests in|Requests/sec|Non-2xx|Socket errors' "$OUT.wrk"
grep -i 'OutOfMemory' "$DATA.out" | head -2
echo "data dir: $(du -sh "$DATA" | cut -f1)"
if [ "$up" = yes ]; then
  "$JDK/bin/jcmd" "$SERVER" GC.class_histogram >"$OUT.histo" 2>&1
  head -8 "$OUT.histo"
  tail -1 "$OUT.histo"
fi
python3 "$HERE/gc-summary.py" "$OUT.gc"
