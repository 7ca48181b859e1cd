#!/usr/bin/env bash
# What G1 copies on each young pause under the append load (Tether only), for A/B runs of two
# builds or JVM options.
#
# Starts `TREE/tether serve` on CPU 0 on a fresh data dir with a GC log (`-Xlog:gc*,gc+age=trace`,
# after TETHER_JAVA_OPTS, which passes through), makes 100 streams, and runs what
# bench/streams/run.sh runs before its SSE phase: an untimed fan-out of 100 subscribers at 50
# events/s for 10 s, then `wrk -t1 -c64` appends of 256 B over the streams for APPEND_SECONDS (45)
# from CPU 1, then the SSE phase (ssefan, 100 subscribers, 50 events/s, 1 s of warm-up and 10 s
# measured). Prints wrk's rate, the SSE client's latency line, the young pauses from 20 s of the
# JVM's uptime to the end of the appends (count, median, 90th percentile, max, total), and for the
# last of those pauses its evacuation phases, region counts and age table (the bytes that survived
# it, by how many young collections they had survived). Keeps the GC log and the clients' output in OUT.
#
# Usage: [TETHER_JAVA_OPTS=...] [PIN=off] bench/streams/gc-pauses.sh [OUT] [TREE]
#        (defaults: a new directory under /tmp, this checkout)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$(mktemp -d /tmp/gc-pauses.XXXXXX)}"
TREE="${2:-$(cd "$HERE/../.." && pwd)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
# The log's path goes into -Xlog (':' separates its fields) inside TETHER_JAVA_OPTS (split on spaces).
case "$OUT" in *[[:space:]:]*) echo "OUT must not contain spaces or ':': $OUT" >&2; exit 1 ;; esac
for tool in wrk node; do
  command -v "$tool" >/dev/null || { echo "'$tool' not found (bench/streams/run.sh installs wrk)" >&2; exit 1; }
done
"$HERE/build-c.sh" ssefan/ssefan
export TETHER_JAVA_OPTS="${TETHER_JAVA_OPTS:-} -Xlog:gc*,gc+age=trace:file=$OUT/gc.log:uptimemillis"
# shellcheck source=bench/streams/pinned-server.sh
. "$HERE/pinned-server.sh"
start_pinned_server "$TREE"
echo "server pid $SERVER, $URL; output in $OUT" >&2

load_before_sse "$OUT"
# The JVM's uptime when the appends ended: the last line the GC log has written by now.
appends_end="$(sed -n 's/^\[\([0-9]*\)ms\].*/\1/p' "$OUT/gc.log" | tail -1)"
${LOAD[@]+"${LOAD[@]}"} "$HERE/ssefan/ssefan" --url "$URL" --server-pid "$SERVER" \
  --subscribers 100 --rate 50 --duration 10 --warmup 1 >"$OUT/sse.json" 2>"$OUT/sse.err" \
  || { echo "ssefan failed: $(tail -2 "$OUT/sse.err")" >&2; exit 1; }

grep -h "Requests/sec" "$OUT/wrk.txt"
tail -1 "$OUT/sse.json" | grep -o '"lat_ms":{[^}]*}'
# "[12345ms] GC(7) Pause Young (Normal) (G1 Evacuation Pause) 261M->37M(384M) 3.153ms"
pauses="$({ grep -E '^\[[0-9]+ms\] GC\([0-9]+\) Pause Young .* [0-9.]+ms$' "$OUT/gc.log" || true; } \
  | sed 's/^\[\([0-9]*\)ms\] GC(\([0-9]*\)).* \([0-9.]*\)ms$/\1 \2 \3/' \
  | awk -v end="${appends_end:-0}" '$1 >= 20000 && $1 <= end')"
[ -n "$pauses" ] || { echo "no young pause between 20 s and the appends' end (${appends_end:-?} ms)" >&2; exit 1; }
awk '{print $3}' <<<"$pauses" | sort -n | awk '{a[NR] = $1; s += $1} END {
  p90 = int(NR * 0.9); if (p90 < 1) p90 = 1
  printf "young pauses under the appends (20 s to the end): %d, median %.2f ms, p90 %.2f, max %.2f, total %.0f ms\n",
    NR, a[int((NR + 1) / 2)], a[p90], a[NR], s }'
last="$(tail -1 <<<"$pauses" | awk '{print $2}')"
echo "the last of them, GC($last):"
grep -F "GC($last)" "$OUT/gc.log" | grep -E 'Evacuate Collection Set|- age|regions:|Pause Young .*ms$' | sed 's/^/  /'
