#!/usr/bin/env bash
# Benchmarks Tether's cluster mode: 1, 2 and 3 Tether nodes (separate JVMs) on ONE redis-server
# started here; append throughput with CPU accounting, SSE fan-out latency, cross-node delivery
# latency. Prints a markdown table (also written to results/latest.md). See README.md.
#
# Usage: bench/cluster/run.sh [--duration SECONDS] [--warmup SECONDS] [--nodes 1,2,3]
#                             [--out FILE] [--skip-install] [--skip-build]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STREAMS_DIR="$ROOT/bench/streams" # shared helpers: setup-streams.mjs, verify-appends.mjs, wrk/*.lua
COMMAND="bench/cluster/run.sh${*:+ $*}"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

DURATION=10        # seconds per measured phase (append wrk run, SSE writer, cross-node writer)
WARMUP=5           # seconds of untimed load before each measured phase
NODES="1,2,3"      # cluster sizes to measure
OUT="$HERE/results/latest.md"
SKIP_INSTALL=0
SKIP_BUILD=0
CONNS=64           # wrk connections in total, split evenly over the nodes
STREAMS=100        # append streams bench-1..bench-N
SUBSCRIBERS=100    # SSE fan-out subscribers, spread round-robin over the nodes
RATE=50            # SSE writer events/s (fan-out and cross-node)
READY_TIMEOUT=120  # seconds for a node to print its "listening" line
BUILD_TIMEOUT=900  # seconds for ./tether to (re)build itself

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --nodes) NODES="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 ]] || { echo "--duration must be a positive integer" >&2; exit 2; }
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "--warmup must be a non-negative integer" >&2; exit 2; }
[[ "$NODES" =~ ^[1-9](,[1-9])*$ ]] || { echo "--nodes must be node counts 1-9, comma-separated (e.g. 1,2,3)" >&2; exit 2; }
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- dependencies (idempotent) -------------------------------------------------
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
export JAVA_HOME
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ "$SKIP_INSTALL" -eq 0 ]; then
  if ! command -v wrk >/dev/null; then
    log "installing wrk (apt)"
    command -v apt-get >/dev/null || die "wrk is missing and there is no apt-get: install wrk yourself"
    timeout 300 $SUDO apt-get update -qq || die "apt-get update failed (needed to install wrk)"
    DEBIAN_FRONTEND=noninteractive timeout 600 $SUDO apt-get install -y -qq wrk >/dev/null || die "apt-get install wrk failed"
  fi
  # shellcheck source=../../scripts/lib/packages.sh
  . "$ROOT/scripts/lib/packages.sh"
  tether_install_redis || die "redis-server is missing and could not be installed"
fi
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
[ -n "$REDIS_SERVER" ] || die "redis-server not found (run without --skip-install)"
for tool in wrk redis-cli node curl timeout; do
  command -v "$tool" >/dev/null || die "'$tool' not found (run without --skip-install, or install it)"
done
[ -x "$JAVA_HOME/bin/java" ] || die "no java in JAVA_HOME=$JAVA_HOME (a JDK 25)"
[ -f "$STREAMS_DIR/wrk/post.lua" ] && [ -f "$STREAMS_DIR/verify-appends.mjs" ] || die "bench/streams helpers are missing"

if [ "$SKIP_BUILD" -eq 0 ]; then
  # ./tether rebuilds when sources are newer than its stamp; never inside a timed phase.
  log "tether: building if sources changed (./tether help)"
  BUILD_LOG="${TMPDIR:-/tmp}/tether-cluster-build.$$.log"
  if ! (cd "$ROOT" && timeout --kill-after=10 "$BUILD_TIMEOUT" ./tether help) >"$BUILD_LOG" 2>&1; then
    tail -20 "$BUILD_LOG" >&2
    die "building Tether failed or took over ${BUILD_TIMEOUT}s (log: $BUILD_LOG)"
  fi
  rm -f "$BUILD_LOG"
fi
[ -d "$ROOT/server/target/classes/dev/tether" ] && [ -d "$ROOT/server/target/lib" ] \
  || die "server/target/classes or server/target/lib is missing (run without --skip-build)"

# ---- processes: every one we start is recorded by PID and stopped on exit ----------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tether-cluster.XXXXXX")"
REDIS_PID=""
NODE_PIDS=()
NODE_URLS=()
WRK_PIDS=()

stop_pid() { # PID: TERM, up to 15 s, then KILL
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_nodes() {
  local pid
  for pid in ${NODE_PIDS[@]+"${NODE_PIDS[@]}"}; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in ${NODE_PIDS[@]+"${NODE_PIDS[@]}"}; do stop_pid "$pid"; done
  NODE_PIDS=()
  NODE_URLS=()
}
cleanup() {
  local pid
  for pid in ${WRK_PIDS[@]+"${WRK_PIDS[@]}"}; do stop_pid "$pid"; done
  stop_nodes
  [ -z "$REDIS_PID" ] || stop_pid "$REDIS_PID"
  rm -rf "$WORK"/data-* "$WORK/redis"
  if [ -d "$WORK" ]; then # keep the raw outputs next to the table
    local raw; raw="$(dirname "$OUT")/raw"
    rm -rf "$raw" && mkdir -p "$raw" && cp -p "$WORK"/* "$raw"/ 2>/dev/null || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# One redis-server for the whole run, as scripts/test.sh starts it: free port, 127.0.0.1, AOF with
# an fsync per write (what Tether requires), no RDB snapshots.
start_redis() {
  REDIS_PORT="$(free_port)"
  mkdir -p "$WORK/redis"
  "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes --appendfsync always \
    --save "" >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do
    if rcli ping >/dev/null 2>&1; then
      REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
      log "redis: pid $REDIS_PID on $REDIS_URL (AOF in $(stat -f -c %T "$WORK/redis"))"
      return 0
    fi
    kill -0 "$REDIS_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -20 "$WORK/redis.log" >&2
  die "redis-server did not start"
}
rcli() { timeout 30 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

# Between cluster sizes (no node running): empty Redis, then rewrite the AOF so it starts small
# again and no automatic rewrite lands inside a measured phase.
reset_redis() {
  [ "$(rcli FLUSHALL)" = OK ] || die "redis FLUSHALL failed"
  rcli BGREWRITEAOF >/dev/null || die "redis BGREWRITEAOF failed"
  for _ in $(seq 1 300); do
    rcli INFO persistence | grep -q '^aof_rewrite_in_progress:0' \
      && rcli INFO persistence | grep -q '^aof_rewrite_scheduled:0' && return 0
    sleep 0.1
  done
  die "redis AOF rewrite did not finish within 30 s"
}

# start_nodes N TAG: N JVMs on the built classes (as scripts/test.sh runs them), started together.
# The upstream is a closed port: no Responses request is made, and no demo model is generated.
start_nodes() {
  local n="$1" tag="$2" i logf port
  for i in $(seq 1 "$n"); do
    "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
      -cp "$ROOT/server/target/classes:$ROOT/server/target/lib/*" dev.tether.Main serve \
      --store redis --redis "$REDIS_URL" --node-id "n$i" --port 0 --host 127.0.0.1 \
      --data-dir "$WORK/data-$tag-n$i" --upstream http://127.0.0.1:9/v1 >"$WORK/$tag-n$i.log" 2>&1 &
    NODE_PIDS+=("$!")
  done
  for i in $(seq 1 "$n"); do
    logf="$WORK/$tag-n$i.log" port=""
    for _ in $(seq 1 $((READY_TIMEOUT * 10))); do
      port="$(sed -n 's|^Tether listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$logf" | head -1)"
      [ -n "$port" ] && break
      kill -0 "${NODE_PIDS[$((i - 1))]}" 2>/dev/null || { tail -20 "$logf" >&2; die "node n$i exited before listening"; }
      sleep 0.1
    done
    [ -n "$port" ] || { tail -20 "$logf" >&2; die "node n$i did not listen within ${READY_TIMEOUT}s"; }
    NODE_URLS+=("http://127.0.0.1:$port")
    log "$tag: node n$i pid ${NODE_PIDS[$((i - 1))]} on http://127.0.0.1:$port"
  done
}

# CPU ticks (utime + stime, all threads) of a PID; the comm field may contain spaces.
proc_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0; }

# The block device under the Redis dir, for fsync (flush) counts from /proc/diskstats.
DISK=""
find_disk() {
  local src name
  src="$(df --output=source "$WORK" 2>/dev/null | tail -1)"
  name="$(basename "$src")"
  [ -e "/sys/class/block/$name" ] || return 0
  [ -e "/sys/class/block/$name/partition" ] && name="$(basename "$(readlink -f "/sys/class/block/$name/..")")"
  grep -qw "$name" /proc/diskstats && DISK="$name"
}

# snap NAME: CPU of every process (Redis, each node) and of the machine, disk counters, Redis INFO.
snap() {
  local i
  {
    echo "time_ns $(date +%s%N)"
    head -1 /proc/stat
    echo "proc redis $(proc_ticks "$REDIS_PID")"
    for i in "${!NODE_PIDS[@]}"; do echo "proc n$((i + 1)) $(proc_ticks "${NODE_PIDS[$i]}")"; done
    # writes completed, sectors written, flushes completed, ms spent flushing
    [ -z "$DISK" ] || awk -v d="$DISK" '$3 == d {print "disk", $8, $10, $19, $20}' /proc/diskstats
  } >"$WORK/$1.snap"
  { rcli INFO; rcli INFO commandstats; } >"$WORK/$1.redis-info" 2>&1 || true
}

# run_wrks NAME SECONDS: one wrk per node, CONNS connections split evenly, all at once; each
# POSTs 256 B round-robin over bench-1..STREAMS (bench/streams/wrk/post.lua). Writes
# $WORK/NAME-nI.txt (wrk's output) and NAME-nI.json (its BENCH_JSON line).
run_wrks() {
  local name="$1" secs="$2" n="${#NODE_URLS[@]}" i c rc pids=()
  for i in $(seq 0 $((n - 1))); do
    c=$((CONNS / n + (i < CONNS % n ? 1 : 0)))
    env BENCH_LUA_DIR="$STREAMS_DIR/wrk" BENCH_STREAMS="$STREAMS" BENCH_EXPECT=204 \
      timeout --kill-after=5 $((secs + 60)) wrk -t1 -c"$c" -d"${secs}s" --timeout 10s \
      -s "$STREAMS_DIR/wrk/post.lua" "${NODE_URLS[$i]}" >"$WORK/$name-n$((i + 1)).txt" 2>&1 &
    pids+=("$!")
  done
  WRK_PIDS=("${pids[@]}")
  for i in $(seq 0 $((n - 1))); do
    rc=0
    wait "${pids[$i]}" || rc=$?
    local txt="$WORK/$name-n$((i + 1)).txt" json="$WORK/$name-n$((i + 1)).json"
    grep '^BENCH_JSON ' "$txt" | sed 's/^BENCH_JSON //' >"$json" || true
    if [ "$rc" -ne 0 ] || [ ! -s "$json" ]; then
      log "wrk failed for $name on n$((i + 1)) (exit $rc): $(tail -3 "$txt" | tr '\n' ' ')"
      echo '{"error":"wrk failed"}' >"$json"
    fi
  done
  WRK_PIDS=()
}

# run_node NAME SCRIPT ARGS...: a bounded Node client; its last stdout line is the JSON result.
run_node() {
  local name="$1" script="$2" rc=0 why
  shift 2
  local limit=$((DURATION * 3 + WARMUP + 180))
  timeout --kill-after=5 "$limit" node "$script" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  tail -1 "$WORK/$name.out" >"$WORK/$name.json" 2>/dev/null || true
  if ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))' "$WORK/$name.json" 2>/dev/null; then
    why="$(grep -m1 -iE 'error' "$WORK/$name.err" | cut -c1-200 | tr -d '"\\' || true)"
    [ "$rc" -ne 124 ] || why="timed out after ${limit}s"
    log "$(basename "$script") failed for $name (exit $rc): ${why:-no output}"
    printf '{"error":"%s: %s"}\n' "$(basename "$script") produced no result" "${why:-exit $rc}" >"$WORK/$name.json"
  elif [ "$rc" -ne 0 ]; then
    log "$(basename "$script") failed for $name (exit $rc): $(tail -c 300 "$WORK/$name.json")"
  fi
}

# still_up TAG PHASE: records (once) the first node found dead, and after which phase.
still_up() {
  local i
  [ -z "$DIED" ] || return 0
  for i in "${!NODE_PIDS[@]}"; do
    if ! kill -0 "${NODE_PIDS[$i]}" 2>/dev/null; then
      DIED="n$((i + 1)) after $2"
      log "ERROR: $1 node n$((i + 1)) (pid ${NODE_PIDS[$i]}) exited during $2: $(tail -3 "$WORK/$1-n$((i + 1)).log" | tr '\n' ' ')"
      return 0
    fi
  done
}

# scan_logs TAG: suspicious lines (exceptions, errors, warnings, stack frames) over the nodes' logs.
scan_logs() {
  DIED="$DIED" OUTF="$WORK/$1-log.json" node -e '
    const fs = require("fs");
    let lines = 0; const hits = [];
    const re = /exception|error|warn|severe|fatal|uncaught|\bat [\w$.]+\(/i;
    for (const f of process.argv.slice(1)) {
      const ls = fs.readFileSync(f, "utf8").split("\n");
      lines += ls.length;
      for (const l of ls) if (re.test(l)) hits.push(`${require("path").basename(f)}: ${l}`);
    }
    fs.writeFileSync(process.env.OUTF, JSON.stringify({ lines, suspicious: hits.length, first: hits.slice(0, 5),
      died_during: process.env.DIED || null }));' "$WORK/$1"-n*.log
}

bench_config() {
  local n="$1" tag="${1}n" i subs_cross
  DIED=""
  log "=== $n node(s) ==="
  reset_redis
  start_nodes "$n" "$tag"
  timeout 120 node "$STREAMS_DIR/setup-streams.mjs" --url "${NODE_URLS[0]}" --count "$STREAMS" 2>"$WORK/$tag-setup.err" \
    || die "$tag: could not create the $STREAMS append streams: $(tail -2 "$WORK/$tag-setup.err" | tr '\n' ' ')"

  log "$tag: (1) append, $CONNS connections over $n node(s), ${WARMUP}s warm-up + ${DURATION}s"
  [ "$WARMUP" -eq 0 ] || run_wrks "$tag-append-warmup" "$WARMUP"
  snap "$tag-before"
  run_wrks "$tag-append" "$DURATION"
  snap "$tag-after"
  log "$tag: (1) reading the $STREAMS streams back through n$n (acked appends all stored?)"
  run_node "$tag-verify" "$STREAMS_DIR/verify-appends.mjs" --url "${NODE_URLS[$((n - 1))]}" --count "$STREAMS"
  still_up "$tag" "(1) append"

  log "$tag: (2) SSE fan-out, $SUBSCRIBERS subscribers over $n node(s), writer on n1 at $RATE events/s, ${WARMUP}s warm-up + ${DURATION}s"
  snap "$tag-sse-before"
  run_node "$tag-sse" "$HERE/sse.mjs" --writer "${NODE_URLS[0]}" --subs "$(IFS=,; echo "${NODE_URLS[*]}")" \
    --subscribers "$SUBSCRIBERS" --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --name "fanout-$tag"
  snap "$tag-sse-after"
  still_up "$tag" "(2) SSE fan-out"

  if [ "$n" -ge 2 ]; then
    # One reader on every other node (cross-node) and one on n1 itself (same-node, for comparison).
    subs_cross="$(IFS=,; echo "${NODE_URLS[*]:1}"),${NODE_URLS[0]}"
    log "$tag: (3) cross-node delivery, writer on n1 at $RATE events/s, readers on n2..n$n and n1, ${WARMUP}s warm-up + ${DURATION}s"
    run_node "$tag-cross" "$HERE/sse.mjs" --writer "${NODE_URLS[0]}" --subs "$subs_cross" \
      --subscribers "$n" --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --name "cross-$tag"
    still_up "$tag" "(3) cross-node"
  fi
  stop_nodes
  scan_logs "$tag"
  log "$tag: done"
}

[ "$(nproc)" -ge 2 ] || log "warning: nproc=$(nproc); this benchmark is meant for a 2-core machine"
find_disk
start_redis
IFS=',' read -ra SIZES <<<"$NODES"
for n in "${SIZES[@]}"; do bench_config "$n"; done
stop_pid "$REDIS_PID"
REDIS_PID=""

# ---- report ------------------------------------------------------------------------
META="$WORK/meta.json" \
M_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
M_COMMAND="$COMMAND" \
M_NPROC="$(nproc)" \
M_CLK_TCK="$(getconf CLK_TCK)" \
M_HOST="$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(free -g | awk '/^Mem:/{print $2}') GiB RAM, $(uname -sr)" \
M_LOAD="load average $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end" \
M_VERSIONS="Tether git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo n/a); $("$JAVA_HOME/bin/java" -version 2>&1 | head -1 | tr -d '"'); $("$REDIS_SERVER" --version | cut -d' ' -f1-3); Node $(node -v); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" \
M_REDIS="redis-server --bind 127.0.0.1 --appendonly yes --appendfsync always --save \"\" (AOF on $(stat -f -c %T "$WORK")${DISK:+, device $DISK}); FLUSHALL + BGREWRITEAOF before each cluster size" \
M_NODE="java --enable-native-access=ALL-UNNAMED -cp server/target/classes:server/target/lib/* dev.tether.Main serve --store redis --redis URL --node-id nI --port 0 --host 127.0.0.1 --data-dir <tmp> --upstream http://127.0.0.1:9/v1 (JVM defaults; fresh JVMs for each cluster size)" \
M_SHAPE="(1) one wrk -t1 per node, $CONNS connections split evenly over the nodes, POST 256 B round-robin over $STREAMS streams, ${WARMUP}s warm-up + ${DURATION}s; (2) $SUBSCRIBERS SSE subscribers spread round-robin over the nodes, writer on n1 at $RATE events/s, ${WARMUP}s (latency not recorded) + ${DURATION}s; (3) writer on n1 at $RATE events/s, one SSE reader on each other node and one on n1, same timing. No CPU pinning: Redis, the nodes and the load generators share all CPUs" \
M_NODES="[$NODES]" \
M_PARAMS="{\"conns\":$CONNS,\"streams\":$STREAMS,\"warmup\":$WARMUP,\"duration\":$DURATION,\"subscribers\":$SUBSCRIBERS,\"rate\":$RATE}" \
M_ELAPSED="$SECONDS" \
node -e '
  const e = process.env;
  require("fs").writeFileSync(e.META, JSON.stringify({ date: e.M_DATE, command: e.M_COMMAND, nproc: Number(e.M_NPROC),
    clk_tck: Number(e.M_CLK_TCK), host: e.M_HOST, load: e.M_LOAD, versions: e.M_VERSIONS, redis: e.M_REDIS,
    node: e.M_NODE, shape: e.M_SHAPE, nodes: JSON.parse(e.M_NODES), params: JSON.parse(e.M_PARAMS),
    elapsed_s: Number(e.M_ELAPSED) }));'

rc=0
node "$HERE/render.mjs" --dir "$WORK" --meta "$WORK/meta.json" --out "$OUT" || rc=$?
log "results written to $OUT (raw outputs in $(dirname "$OUT")/raw/)"
case "$rc" in
  0) ;;
  3) log "WARNING: a correctness check failed (errors, lost/duplicate/out-of-order events, log lines): see the table" ;;
  *) log "ERROR: some scenarios failed to run: see the table" ;;
esac
exit "$rc"
