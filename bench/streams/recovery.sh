#!/usr/bin/env bash
# Recovery time after kill -9: for each store, writes SIZE MB of appends (64 KiB each unless
# --append-bytes says otherwise, over 64 streams, 32 in flight), kills the server with SIGKILL,
# starts it again on the same data and measures how long until it listens and until it serves
# the last append; an empty store's start time is measured the same way, for comparison (no
# model backend is loaded: --upstream to a closed port). Prints a markdown table.
#
# Usage: bench/streams/recovery.sh [--size-mb 1024] [--stores sqlite,log] [--append-bytes 65536] [--out FILE]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SIZE_MB=1024
STORES="sqlite,log"
APPEND_BYTES=65536
OUT="$HERE/results/recovery.md"
while [ $# -gt 0 ]; do
  case "$1" in
    --size-mb) SIZE_MB="$2"; shift 2 ;;
    --stores) STORES="$2"; shift 2 ;;
    --append-bytes) APPEND_BYTES="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
log() { printf '[recovery %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
(cd "$ROOT" && ./tether help >/dev/null) # builds when sources changed
WORK="$(mktemp -d)"
PID=""
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

# start STORE DIR -> sets PID, PORT, LISTEN_MS (from exec to the "listening" line)
start() {
  local out="$WORK/server-$1-$RANDOM.log" t0 i
  : >"$out"
  t0=$(date +%s%N)
  "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$ROOT/server/target/classes:$ROOT/server/target/lib/*" \
    dev.tether.Main serve --port 0 --store "$1" --data-dir "$2" --upstream http://127.0.0.1:9/v1 >"$out" 2>&1 &
  PID=$!
  for i in $(seq 1 6000); do
    PORT="$(sed -n 's|^Tether listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$out")"
    [ -n "$PORT" ] && { LISTEN_MS=$(( ($(date +%s%N) - t0) / 1000000 )); return 0; }
    kill -0 "$PID" 2>/dev/null || { cat "$out" >&2; log "server exited"; exit 1; }
    sleep 0.01
  done
  log "server did not start within 60 s"; exit 1
}

ROWS=()
for store in ${STORES//,/ }; do
  data="$WORK/data-$store"
  start "$store" "$WORK/empty-$store"; empty_ms=$LISTEN_MS; kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  start "$store" "$data"
  log "$store: writing $SIZE_MB MB in appends of $APPEND_BYTES bytes"
  last="$(PORT=$PORT SIZE_MB=$SIZE_MB APPEND_BYTES=$APPEND_BYTES node --input-type=module -e '
    const base = `http://127.0.0.1:${process.env.PORT}/v1/stream/rec-`;
    const size = Number(process.env.APPEND_BYTES);
    const body = new Uint8Array(size).fill(120);
    const total = Math.ceil(Number(process.env.SIZE_MB) * 1048576 / size);
    let started = Date.now();
    for (let s = 0; s < 64; s++) await fetch(base + s, { method: "PUT", headers: { "content-type": "application/octet-stream" } });
    let next = 0, last = "";
    async function worker() {
      while (next < total) {
        const i = next++;
        const r = await fetch(base + (i % 64), { method: "POST", headers: { "content-type": "application/octet-stream" }, body });
        if (r.status !== 204) throw new Error(`append ${i}: ${r.status}`);
        if (i === total - 1) last = `${i % 64} ${r.headers.get("stream-next-offset")}`;
        if (Date.now() - started > 10000) { // progress on long writes
          started = Date.now();
          console.error(`[recovery] ${i + 1} of ${total} appends`);
        }
      }
    }
    await Promise.all(Array.from({ length: 32 }, worker));
    console.log(last);
  ')"
  bytes=$(du -sb "$data" | cut -f1)
  log "$store: kill -9 with $(( bytes / 1048576 )) MB on disk"
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  t0=$(date +%s%N)
  start "$store" "$data"
  stream="${last%% *}"; offset="${last##* }"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/stream/rec-$stream?offset=-1" -r 0-0)" = 200 ]; do sleep 0.01; done
  tail_ok="$(curl -s -I "http://127.0.0.1:$PORT/v1/stream/rec-$stream" | tr -d '\r' | sed -n 's/^stream-next-offset: //Ip')"
  serve_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$tail_ok" = "$offset" ] || { log "$store: after recovery the tail is $tail_ok, expected $offset"; exit 1; }
  ROWS+=("| $store | $(( bytes / 1048576 )) | $empty_ms | $LISTEN_MS | $serve_ms | $(( LISTEN_MS - empty_ms )) |")
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true; PID=""
done
{
  echo "# Recovery after kill -9"
  echo
  echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ); command: \`bench/streams/recovery.sh --size-mb $SIZE_MB --stores $STORES --append-bytes $APPEND_BYTES\`; git $(git -C "$ROOT" rev-parse --short HEAD)"
  echo "- Times from starting the JVM; \"serves\" also includes a read of the last stream and its tail checked against the last acknowledged append."
  echo
  echo "| store | data on disk (MB) | empty start (ms) | listening after kill -9 (ms) | serving the last append (ms) | recovery over an empty start (ms) |"
  echo "|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$OUT"
