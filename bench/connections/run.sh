#!/usr/bin/env bash
# Measures the memory cost per idle connection of a running Tether server: idle Durable Streams
# SSE readers and idle Responses WebSockets, one fresh server per kind. Prints a markdown table
# (also written to results/latest.md, raw outputs to results/raw/). See README.md.
#
# Usage: bench/connections/run.sh [--levels 1000,2000,5000] [--warmup N] [--settle S]
#          [--warmup-rounds N] [--kinds sse,ws] [--out FILE] [--skip-install] [--skip-build]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
COMMAND="bench/connections/run.sh${*:+ $*}"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

LEVELS="1000,2000,5000" # open idle connections per measurement, each level opened fresh
WARMUP=100              # connections opened and closed before the baseline (class loading, JIT)...
WARMUP_ROUNDS=5         # ...this many times
SETTLE=5                # seconds between the last connect and the sample
KINDS="sse,ws"
OUT="$HERE/results/latest.md"
SKIP_INSTALL=0
SKIP_BUILD=0
READY_TIMEOUT=120       # seconds for the server to print its "listening" line
MEASURE_TIMEOUT=600     # seconds for one kind's whole measurement
# Extra JVM options for investigation runs, e.g. CONNBENCH_JAVA_OPTS=-XX:NativeMemoryTracking=summary
# (then sampled too); the published table uses none.
read -ra JAVA_OPTS <<<"${CONNBENCH_JAVA_OPTS:-}"
NMT=0
[[ " ${JAVA_OPTS[*]} " == *" -XX:NativeMemoryTracking="* ]] && NMT=1

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --levels) LEVELS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --warmup-rounds) WARMUP_ROUNDS="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --kinds) KINDS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$LEVELS" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "--levels must be positive integers, comma-separated" >&2; exit 2; }
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "--warmup must be a non-negative integer" >&2; exit 2; }
[[ "$WARMUP_ROUNDS" =~ ^[0-9]+$ ]] || { echo "--warmup-rounds must be a non-negative integer" >&2; exit 2; }
[[ "$SETTLE" =~ ^[0-9]+$ ]] || { echo "--settle must be a non-negative integer" >&2; exit 2; }
[[ "$KINDS" =~ ^(sse|ws)(,(sse|ws))?$ ]] || { echo "--kinds must be sse, ws or sse,ws" >&2; exit 2; }
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac

log() { printf '[connbench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME
[ -x "$JAVA_HOME/bin/java" ] && [ -x "$JAVA_HOME/bin/jcmd" ] || die "no java/jcmd in JAVA_HOME=$JAVA_HOME (a JDK 25)"
command -v node >/dev/null || die "node (>= 20) is required"

# Every connection is a descriptor in the client and in the server (both inherit this limit).
MAX_LEVEL="$(tr ',' '\n' <<<"$LEVELS" | sort -n | tail -1)"
NEED_FDS=$((MAX_LEVEL + 1000))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$NEED_FDS" ]; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$NEED_FDS" ] \
    || die "need $NEED_FDS file descriptors, the hard limit is $(ulimit -Hn) (raise it or lower --levels)"
fi
log "file descriptor limit $(ulimit -n)"

if [ "$SKIP_INSTALL" -eq 0 ]; then
  stamp="$HERE/node_modules/.bench-lock.sha256"
  want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "npm ci in bench/connections"
    (cd "$HERE" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed"
    echo "$want" >"$stamp"
  fi
fi
node -e 'if (require(process.argv[1]).version !== "8.23.0") process.exit(1)' "$HERE/node_modules/ws/package.json" \
  || die "ws 8.23.0 is not installed in bench/connections/node_modules (run without --skip-install)"

if [ "$SKIP_BUILD" -eq 0 ]; then
  log "building (./mvnw -q -B package -DskipTests -Dspotless.check.skip=true)"
  (cd "$ROOT" && timeout 900 ./mvnw -q -B package -DskipTests -Dspotless.check.skip=true >&2) || die "build failed"
fi
[ -d "$ROOT/server/target/classes/dev/tether" ] || die "server/target/classes is missing (run without --skip-build)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tether-connbench.XXXXXX")"
SERVER_PID=""
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid="$SERVER_PID"
  SERVER_PID=""
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_server
  rm -rf "$WORK"/data-*
  local raw; raw="$(dirname "$OUT")/raw"
  rm -rf "$raw" && mkdir -p "$raw" && cp -p "$WORK"/* "$raw"/ 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server as scripts/test.sh starts it, from the built classes; the upstream is a closed port
# (no Responses request is ever made), no --auth-config on 127.0.0.1 is open mode.
SERVER_ARGS=(--port 0 --upstream http://127.0.0.1:9/v1 --max-connections 20000 --idle-timeout 10m)
start_server() { # $1 = kind; sets SERVER_PID and URL
  local logf="$WORK/server-$1.log" port="" i
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED ${JAVA_OPTS[@]+"${JAVA_OPTS[@]}"} \
    -cp "$ROOT/server/target/classes:$ROOT/server/target/lib/*" \
    dev.tether.Main serve --data-dir "$WORK/data-$1" "${SERVER_ARGS[@]}" >"$logf" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 $((READY_TIMEOUT * 10))); do
    port="$(sed -n 's|^Tether listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$logf")"
    [ -n "$port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$logf" >&2; SERVER_PID=""; die "server exited before listening"; }
    sleep 0.1
  done
  [ -n "$port" ] || { tail -20 "$logf" >&2; die "server did not listen within ${READY_TIMEOUT}s"; }
  URL="http://127.0.0.1:$port"
  log "$1: server pid $SERVER_PID on $URL"
}

status=0
IFS=',' read -ra kinds <<<"$KINDS"
for kind in "${kinds[@]}"; do
  start_server "$kind"
  rc=0
  timeout --kill-after=10 "$MEASURE_TIMEOUT" node "$HERE/measure.mjs" --url "$URL" --pid "$SERVER_PID" \
    --jcmd "$JAVA_HOME/bin/jcmd" --kind "$kind" --levels "$LEVELS" --warmup "$WARMUP" --warmup-rounds "$WARMUP_ROUNDS" --settle "$SETTLE" \
    --nmt "$NMT" --raw "$WORK" >"$WORK/$kind.out" 2> >(tee "$WORK/$kind.err" >&2) || rc=$?
  tail -1 "$WORK/$kind.out" >"$WORK/$kind.json"
  [ "$rc" -eq 0 ] || { log "$kind: measurement failed (exit $rc)"; status=1; }
  stop_server
done

META="$WORK/meta.json" \
M_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
M_COMMAND="$COMMAND" \
M_SERVER="java --enable-native-access=ALL-UNNAMED ${JAVA_OPTS[*]:+${JAVA_OPTS[*]} }-cp server/target/classes:server/target/lib/* dev.tether.Main serve --data-dir <tmp> ${SERVER_ARGS[*]}" \
M_VERSIONS="Tether git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo n/a); $("$JAVA_HOME/bin/java" -version 2>&1 | head -1 | tr -d '"'); Node $(node -v); ws 8.23.0" \
M_HOST="$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(uname -sr)" \
M_LOAD="load average $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end" \
M_PARAMS="levels $LEVELS, warm-up $WARMUP_ROUNDS x $WARMUP connections, settle ${SETTLE}s, fd limit $(ulimit -n)" \
node -e '
  const e = process.env;
  require("fs").writeFileSync(e.META, JSON.stringify({ date: e.M_DATE, command: e.M_COMMAND, server: e.M_SERVER,
    versions: e.M_VERSIONS, host: e.M_HOST, load: e.M_LOAD, params: e.M_PARAMS }));'
mkdir -p "$(dirname "$OUT")"
node "$HERE/render.mjs" --dir "$WORK" --kinds "$KINDS" --meta "$WORK/meta.json" --out "$OUT" || status=$?
log "results written to $OUT"
exit "$status"
