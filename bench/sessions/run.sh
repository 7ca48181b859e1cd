#!/usr/bin/env bash
# Tether sessions under load: (1) fan-out of one agent's stream to N devices, (2) a resume
# storm of 1,000 devices, (3) presence churn. Writes a markdown table. See README.md.
#
# Usage: bench/sessions/run.sh [--duration S] [--devices 10,100,1000] [--only fanout,resume,presence]
#                              [--entries N] [--storm-devices N] [--storm-from mid|start]
#                              [--warmup S] [--out FILE] [--no-pin] [--skip-install]
# Env:   TETHER_SERVE  command prefix that starts the server (default: "$ROOT/tether serve");
#                      run.sh appends --port 0 --data-dir <fresh dir> --upstream http://127.0.0.1:9/v1
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
COMMAND="bench/sessions/run.sh${*:+ $*}"

DURATION=10             # seconds the agent streams (fan-out) and the churn lasts (presence)
DEVICES="10,100,1000"   # fan-out device counts, each over SSE and over WebSocket
ONLY="fanout,resume,presence"
ENTRIES=10000           # resume storm: message entries in the session
STORM_DEVICES=1000      # resume storm: devices reconnecting at once
STORM_FROM=mid          # resume storm: read from the middle of the log (mid) or from -1 (start)
WARMUP=3                # seconds of untimed streaming to 10 devices before the fan-out phases
RATE=50                 # fan-out: deltas per second
CHURN_RATE=100          # presence: joins + leaves per second
OUT="$HERE/results/latest.md"
PIN=1
SKIP_INSTALL=0
READY_TIMEOUT=90
BUILD_TIMEOUT=900
SERVE_DEFAULT=0
if [ -z "${TETHER_SERVE:-}" ]; then TETHER_SERVE="$ROOT/tether serve"; SERVE_DEFAULT=1; fi

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --devices) DEVICES="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --entries) ENTRIES="$2"; shift 2 ;;
    --storm-devices) STORM_DEVICES="$2"; shift 2 ;;
    --storm-from) STORM_FROM="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 ]] || { echo "--duration must be a positive integer" >&2; exit 2; }
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "--warmup must be a non-negative integer" >&2; exit 2; }
[[ "$DEVICES" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "--devices must be a comma-separated list of counts" >&2; exit 2; }
[[ "$ENTRIES" =~ ^[0-9]+$ && "$ENTRIES" -ge 2 ]] || { echo "--entries must be an integer >= 2" >&2; exit 2; }
[[ "$STORM_DEVICES" =~ ^[0-9]+$ && "$STORM_DEVICES" -ge 1 ]] || { echo "--storm-devices must be a positive integer" >&2; exit 2; }
case "$STORM_FROM" in mid|start) ;; *) echo "--storm-from must be mid or start" >&2; exit 2 ;; esac
for s in ${ONLY//,/ }; do case "$s" in fanout|resume|presence) ;; *) echo "--only takes fanout, resume, presence (comma-separated)" >&2; exit 2 ;; esac; done
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
has() { [[ ",$ONLY," == *",$1,"* ]]; }

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- dependencies (idempotent) -------------------------------------------------
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  command -v apt-get >/dev/null || die "'$1' is missing and there is no apt-get to install it: install $* yourself"
  timeout 300 $SUDO apt-get update -qq || die "apt-get update failed (needed to install $*)"
  DEBIAN_FRONTEND=noninteractive timeout 600 $SUDO apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}
install_deps() {
  { command -v taskset >/dev/null && command -v setsid >/dev/null; } || { log "installing util-linux (taskset, setsid)"; apt_install util-linux; }
  command -v node >/dev/null || die "node (>= 20) is required"
  local stamp="$HERE/node_modules/.bench-lock.sha256" want
  want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "npm ci in bench/sessions"
    (cd "$HERE" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >&2) \
      || die "npm ci in bench/sessions failed (registry reachable? see above)"
    node -e 'if (require(process.argv[1]).version !== "8.23.0") process.exit(1)' \
      "$HERE/node_modules/ws/package.json" || die "ws 8.23.0 not installed"
    echo "$want" > "$stamp"
  fi
}
[ "$SKIP_INSTALL" -eq 1 ] || install_deps
[ -f "$HERE/node_modules/ws/package.json" ] || die "bench/sessions/node_modules is missing ws (run without --skip-install)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "node >= 20 is required (found $(node -v))"
for tool in taskset setsid node timeout; do command -v "$tool" >/dev/null || die "'$tool' not found"; done
[ "$PIN" -eq 0 ] || [ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (server on CPU 0, clients on CPU 1); nproc=$(nproc); use --no-pin"

# Many sockets per process: raise the soft fd limit to the hard one (server and clients inherit it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NEED_FDS=$(( $(echo "$DEVICES,$STORM_DEVICES" | tr ',' '\n' | sort -n | tail -1) * 2 + 1000 ))
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$NEED_FDS" ] \
  || die "the fd limit ($(ulimit -n)) is below $NEED_FDS; raise 'ulimit -n' (hard limit) first"

# The default launcher (./tether) builds itself when its sources changed: do that first, so a
# build is never mistaken for a slow start. A custom TETHER_SERVE is used as it is.
read -r -a SERVE_CMD <<< "$TETHER_SERVE"
if [ "$SERVE_DEFAULT" -eq 1 ]; then
  [ -x "$ROOT/tether" ] || die "$ROOT/tether not found (build Tether first, or set TETHER_SERVE)"
  log "tether: building if sources changed (./tether help)"
  (cd "$ROOT" && timeout --kill-after=10 "$BUILD_TIMEOUT" ./tether help) >"${TMPDIR:-/tmp}/tether-sessions-build.log" 2>&1 \
    || { tail -20 "${TMPDIR:-/tmp}/tether-sessions-build.log" >&2; die "building Tether failed or took over ${BUILD_TIMEOUT}s"; }
  rm -f "${TMPDIR:-/tmp}/tether-sessions-build.log"
fi

# ---- server lifecycle ------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tether-sessions.XXXXXX")"
SERVER_PID=""     # the process we started (its process group is signalled)
JVM_PID=""        # the JVM inside it (for /proc CPU readings)
DATA_DIRS=()
SERVER_LOGS=()
SRV_CPU="";  CLI_CPU=""
if [ "$PIN" -eq 1 ]; then SRV_CPU="taskset -c 0"; CLI_CPU="taskset -c 1"; fi

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid="$SERVER_PID" target="$SERVER_PID"
  SERVER_PID=""; JVM_PID=""
  [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && target="-$pid"
  kill -TERM -- "$target" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "$target" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_server
  for d in "${DATA_DIRS[@]}"; do rm -rf "$d"; done
  if [ -d "$WORK" ]; then
    local raw; raw="$(dirname "$OUT")/raw"
    rm -rf "$raw" && mkdir -p "$raw" && cp -p "$WORK"/* "$raw"/ 2>/dev/null || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The JVM: the started process itself when the launcher exec's java, else its java descendant.
find_jvm() {
  local pid="$1" queue=("$1") p kids
  while [ ${#queue[@]} -gt 0 ]; do
    p="${queue[0]}"; queue=("${queue[@]:1}")
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = java ] && { echo "$p"; return 0; }
    kids="$(cat /proc/"$p"/task/*/children 2>/dev/null || true)"
    for k in $kids; do queue+=("$k"); done
  done
  echo "$pid"
}

# start_server NAME -> sets SERVER_PID, JVM_PID, URL
start_server() {
  local name="$1" logf="$WORK/server-$1.log" data
  data="$(mktemp -d "${TMPDIR:-/tmp}/tether-sessions-data.XXXXXX")"
  DATA_DIRS+=("$data")
  SERVER_LOGS+=("$name")
  DATA_FS="$(stat -f -c %T "$data")"
  (exec setsid $SRV_CPU "${SERVE_CMD[@]}" --port 0 --data-dir "$data" --upstream http://127.0.0.1:9/v1) >"$logf" 2>&1 &
  SERVER_PID=$!
  local deadline=$((SECONDS + READY_TIMEOUT)) port=""
  while :; do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$logf" >&2; SERVER_PID=""; die "the server exited during startup ($name)"; }
    port="$(sed -n 's#^Tether listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$logf" | head -1)"
    [ -z "$port" ] || break
    [ "$SECONDS" -lt "$deadline" ] || { tail -20 "$logf" >&2; die "no 'Tether listening on' line after ${READY_TIMEOUT}s ($name)"; }
    sleep 0.2
  done
  URL="http://127.0.0.1:$port"
  JVM_PID="$(find_jvm "$SERVER_PID")"
  [ -n "$JAVA_BIN" ] || JAVA_BIN="$(readlink "/proc/$JVM_PID/exe" 2>/dev/null || true)"
  log "server ($name): pid $SERVER_PID (JVM $JVM_PID), $([ "$PIN" -eq 1 ] && echo "on CPU 0" || echo "unpinned"), $URL"
}

# run_node OUTNAME LIMIT_S SCRIPT ARGS...: a node client (on CPU 1); its last stdout line is the result
run_node() {
  local name="$1" limit="$2" script="$3"; shift 3
  local rc=0 why
  timeout --kill-after=5 "$limit" $CLI_CPU node "$HERE/$script" --url "$URL" --pid "$JVM_PID" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  tail -1 "$WORK/$name.out" >"$WORK/$name.json" 2>/dev/null || true
  if ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))' "$WORK/$name.json" 2>/dev/null; then
    why="$(grep -m1 -E 'ERROR|Error' "$WORK/$name.err" | cut -c1-200 | tr -d '"\\' || true)"
    [ "$rc" -ne 124 ] || why="timed out after ${limit}s"
    log "$script failed for $name (exit $rc): ${why:-no output}"
    printf '{"error":"%s"}\n' "${why:-exit $rc}" >"$WORK/$name.json"
  elif [ "$rc" -ne 0 ]; then
    log "$script exited $rc for $name: $(grep -m1 ERROR "$WORK/$name.err" | cut -c1-200 || true)"
  fi
  sed 's/^/    /' "$WORK/$name.err" | grep -v '^    $' | tail -4 >&2 || true
}

still_up() {
  kill -0 "$SERVER_PID" 2>/dev/null && return 0
  log "ERROR: the server exited during $1: $(tail -3 "$WORK/server-$2.log" | tr '\n' ' ')"
  echo "{\"phase\":\"$1\"}" >"$WORK/server-$2-died.json"
  return 1
}

JAVA_BIN=""
DATA_FS="n/a"
T_START=$SECONDS
LOAD_START="$(cut -d' ' -f1 /proc/loadavg)"

# ---- 1. fan-out ----------------------------------------------------------------------
if has fanout; then
  start_server fanout
  if [ "$WARMUP" -gt 0 ]; then
    log "fan-out: warm-up, 10 WebSocket devices for ${WARMUP}s (not reported)"
    run_node fanout-warmup $((WARMUP * 3 + 120)) fanout.mjs --transport ws --devices 10 --duration "$WARMUP" --rate "$RATE" --label warmup
  fi
  for n in ${DEVICES//,/ }; do
    for t in sse ws; do
      still_up "fan-out $t $n" fanout || break 2
      log "fan-out: $n devices over $t, agent at $RATE deltas/s for ${DURATION}s"
      run_node "fanout-$t-$n" $((DURATION * 3 + 400)) fanout.mjs --transport "$t" --devices "$n" --duration "$DURATION" --rate "$RATE"
      sleep 2   # the devices' leaves are written; the next phase starts on a quiet server
    done
  done
  still_up "fan-out" fanout || true
  stop_server
fi

# ---- 2. resume storm -----------------------------------------------------------------
if has resume; then
  start_server resume
  log "resume storm: $ENTRIES messages, then $STORM_DEVICES devices at once from $STORM_FROM (WebSocket, then HTTP)"
  run_node resume 900 resume.mjs --entries "$ENTRIES" --devices "$STORM_DEVICES" --from "$STORM_FROM" --transports ws,http --timeout-s 150
  still_up "resume storm" resume || true
  stop_server
fi

# ---- 3. presence churn ---------------------------------------------------------------
if has presence; then
  start_server presence
  for t in ws sse; do
    still_up "presence churn $t" presence || break
    log "presence churn over $t: $CHURN_RATE joins+leaves/s for ${DURATION}s"
    run_node "churn-$t" $((DURATION + 180)) churn.mjs --transport "$t" --rate "$CHURN_RATE" --duration "$DURATION"
  done
  still_up "presence churn" presence || true
  stop_server
fi

# ---- report --------------------------------------------------------------------------
java_v="n/a"
[ -z "$JAVA_BIN" ] || java_v="$( ("$JAVA_BIN" -version 2>&1 || true) | head -1 | tr -d '"')"
rev="$(git -C "$ROOT" --no-optional-locks describe --always --dirty 2>/dev/null || echo 'no commit')"
META="$WORK/meta.json" \
M_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
M_COMMAND="$COMMAND" \
M_SERVE="$TETHER_SERVE --port 0 --data-dir <fresh temp dir> --upstream http://127.0.0.1:9/v1" \
M_NPROC="$(nproc)" \
M_CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
M_MEM="$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)" \
M_KERNEL="$(uname -sr)" \
M_VERSIONS="Tether git $rev$([ "$SERVE_DEFAULT" -eq 1 ] || echo ' (the tree at run time; TETHER_SERVE may run another build)'); $java_v; Node $(node -v); ws $(node -p 'require(process.argv[1]).version' "$HERE/node_modules/ws/package.json")" \
M_FS="$DATA_FS" \
M_PIN="$PIN" \
M_ELAPSED="$((SECONDS - T_START))" \
M_LOAD="$LOAD_START $(cut -d' ' -f1 /proc/loadavg)" \
M_PARAMS="{\"duration\":$DURATION,\"devices\":\"$DEVICES\",\"rate\":$RATE,\"warmup\":$WARMUP,\"entries\":$ENTRIES,\"storm_devices\":$STORM_DEVICES,\"storm_from\":\"$STORM_FROM\",\"churn_rate\":$CHURN_RATE,\"only\":\"$ONLY\"}" \
M_LOGS="$(IFS=,; echo "${SERVER_LOGS[*]:-}")" \
node -e '
  const e = process.env;
  require("fs").writeFileSync(e.META, JSON.stringify({
    date: e.M_DATE, command: e.M_COMMAND, serve: e.M_SERVE, nproc: e.M_NPROC, cpu: e.M_CPU, mem: e.M_MEM,
    load_start: e.M_LOAD.split(" ")[0], load_end: e.M_LOAD.split(" ")[1],
    kernel: e.M_KERNEL, versions: e.M_VERSIONS, fs: e.M_FS, pinned: e.M_PIN === "1", elapsed_s: Number(e.M_ELAPSED),
    params: JSON.parse(e.M_PARAMS), server_logs: e.M_LOGS ? e.M_LOGS.split(",") : [],
  }));'

rc=0
node "$HERE/render.mjs" --dir "$WORK" --meta "$WORK/meta.json" --out "$OUT" || rc=$?
log "results written to $OUT (raw outputs: $(dirname "$OUT")/raw/)"
case "$rc" in
  0) ;;
  3) log "WARNING: a correctness check failed (lost/duplicated deltas, wrong counts, errors): see the table" ;;
  *) log "ERROR: some scenarios failed to run: see the table" ;;
esac
exit "$rc"
