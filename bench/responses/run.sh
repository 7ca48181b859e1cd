#!/usr/bin/env bash
# Replays a coding-agent trace against Tether's Responses API in three modes (stateless
# HTTP, HTTP + previous_response_id, WebSocket mode) and directly against the upstream,
# and prints a markdown table of bytes, wall time and Tether's overhead. See README.md.
#
# Usage: bench/responses/run.sh [--reps N] [--warmup N] [--wall-reps N] [--wall-warmup N]
#          [--prefill-us-per-token N] [--no-prefix-cache] [--turns N] [--seed N]
#          [--chunk-chars N] [--modes direct,stateless,chained,ws,ws-deflate] [--out FILE] [--skip-install]
#          [--pin on|off]  (on, the default: Tether on CPU 0, upstream and client on CPU 1; off: no taskset)
# Env: TETHER_SERVE  command prefix that runs Tether (default: "$ROOT/tether serve"); the
#                    script appends --port 0 --data-dir DIR --upstream URL
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
COMMAND="${TETHER_SERVE:+TETHER_SERVE=\"$TETHER_SERVE\" }bench/responses/run.sh${*:+ $*}"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"

REPS=5            # overhead phase (prefill 0): measured replays per mode
WARMUP=40         # untimed replays per mode before the overhead phase (JIT warm-up; see the README)
WALL_REPS=3       # wall-time phase (prefill P): measured replays per mode
WALL_WARMUP=1     # untimed replays per mode before the wall-time phase (fresh client process)
PREFILL=20        # µs per uncached prompt token in the wall-time phase
PREFIX_CACHE=on
TURNS=24
SEED=42
CHUNK_CHARS=4     # characters per upstream chunk (≈ one token)
MODES="direct,stateless,chained,ws,ws-deflate"
OUT="$HERE/results/latest.md"
SKIP_INSTALL=0
PIN=on
READY_TIMEOUT=120 # seconds for Tether to print its "listening" line
BUILD_TIMEOUT=900 # seconds allowed for the launcher to (re)build itself first
PHASE_TIMEOUT=1800

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
posint() { [[ "$2" =~ ^[0-9]+$ && "$2" -ge "$3" ]] || { echo "$1 must be an integer >= $3" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) posint "$1" "${2:-}" 1; REPS="$2"; shift 2 ;;
    --warmup) posint "$1" "${2:-}" 0; WARMUP="$2"; shift 2 ;;
    --wall-reps) posint "$1" "${2:-}" 1; WALL_REPS="$2"; shift 2 ;;
    --wall-warmup) posint "$1" "${2:-}" 0; WALL_WARMUP="$2"; shift 2 ;;
    --prefill-us-per-token) posint "$1" "${2:-}" 0; PREFILL="$2"; shift 2 ;;
    --no-prefix-cache) PREFIX_CACHE=off; shift ;;
    --turns) posint "$1" "${2:-}" 1; TURNS="$2"; shift 2 ;;
    --seed) posint "$1" "${2:-}" 0; SEED="$2"; shift 2 ;;
    --chunk-chars) posint "$1" "${2:-}" 1; CHUNK_CHARS="$2"; shift 2 ;;
    --modes) MODES="${2:-}"; shift 2 ;;
    --out) OUT="${2:-}"; shift 2 ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    --pin) case "${2:-}" in on|off) PIN="$2" ;; *) echo "--pin must be on or off" >&2; exit 2 ;; esac; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$MODES" =~ ^(direct|stateless|chained|ws|ws-deflate)(,(direct|stateless|chained|ws|ws-deflate))*$ ]] \
  || { echo "--modes must be a comma-separated subset of direct,stateless,chained,ws,ws-deflate" >&2; exit 2; }
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
NEED_TETHER=0; [[ ",$MODES," =~ ,(stateless|chained|ws|ws-deflate), ]] && NEED_TETHER=1
# The overhead column needs direct next to the Tether modes.
if [ "$NEED_TETHER" -eq 1 ] && [[ ",$MODES," != *",direct,"* ]]; then MODES="direct,$MODES"; fi

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- dependencies (idempotent) -------------------------------------------------------
install_deps() {
  command -v node >/dev/null || die "node (>= 20) is required"
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "node >= 20 is required, found $(node -v)"
  if ! command -v taskset >/dev/null || ! command -v setsid >/dev/null; then
    command -v apt-get >/dev/null || die "taskset/setsid missing and no apt-get: install util-linux"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    log "installing util-linux (taskset, setsid)"
    timeout 300 $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 $sudo apt-get install -y -qq util-linux >/dev/null \
      || die "apt-get install util-linux failed"
  fi
  # npm ci only when the lockfile changed since the last install.
  local stamp="$HERE/node_modules/.bench-lock.sha256" want
  want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "npm ci in bench/responses"
    (cd "$HERE" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >&2) \
      || die "npm ci in bench/responses failed (registry reachable? see above)"
    node -e 'if (require(process.argv[1]).version !== "8.23.0") process.exit(1)' \
      "$HERE/node_modules/ws/package.json" || die "ws 8.23.0 not installed"
    echo "$want" > "$stamp"
  fi
}
[ "$SKIP_INSTALL" -eq 1 ] || install_deps
[ -f "$HERE/node_modules/ws/package.json" ] || die "bench/responses/node_modules has no ws (run without --skip-install)"
for tool in node timeout; do command -v "$tool" >/dev/null || die "'$tool' not found"; done

# Pinning: Tether on CPU 0, upstream + replay client on CPU 1 (when there are 2 CPUs), unless --pin off.
PIN_SERVER=(); PIN_LOAD=(); PINNING="none (fewer than 2 CPUs or no taskset): numbers are noisier"
if [ "$PIN" = off ]; then
  PINNING="none (--pin off): Tether, the upstream and the replay client share every CPU"
elif command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c 0); PIN_LOAD=(taskset -c 1)
  PINNING="Tether on CPU 0; upstream and replay client on CPU 1 (\`taskset\`)"
fi

TETHER_SERVE="${TETHER_SERVE:-$ROOT/tether serve}"
read -ra TETHER_CMD <<<"$TETHER_SERVE"
[ "${#TETHER_CMD[@]}" -gt 0 ] || die "TETHER_SERVE is empty"

# ---- process lifecycle ---------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tether-bench-responses.XXXXXX")"
PIDS=()
stop_pid() {
  local pid="$1" target="$1"
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  # setsid made each server its own process-group leader: signal the group, so a
  # launcher script and the JVM it started go down together.
  [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && target="-$pid"
  kill -TERM -- "$target" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "$target" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  PIDS=()
  if [ -d "$WORK" ]; then
    local raw; raw="$(dirname "$OUT")/raw"
    rm -rf "$WORK/data"
    rm -rf "$raw" && mkdir -p "$raw" && cp -p "$WORK"/* "$raw"/ 2>/dev/null || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_line PID LOGFILE REGEX SECONDS WHAT: echoes the first match of REGEX in LOGFILE
wait_line() {
  local pid="$1" logf="$2" re="$3" secs="$4" what="$5" line deadline=$((SECONDS + $4))
  while :; do
    line="$(grep -m1 -oE "$re" "$logf" 2>/dev/null || true)"
    [ -z "$line" ] || { echo "$line"; return 0; }
    kill -0 "$pid" 2>/dev/null || { tail -20 "$logf" >&2; die "$what exited during startup"; }
    [ "$SECONDS" -lt "$deadline" ] || { tail -20 "$logf" >&2; die "$what printed no '$re' line within ${secs}s"; }
    sleep 0.1
  done
}

# ---- the upstream ------------------------------------------------------------------------------
UP_ARGS=(--port 0 --seed "$SEED" --turns "$TURNS" --prefill-us-per-token 0 --chunk-chars "$CHUNK_CHARS")
(cd "$HERE" && exec setsid "${PIN_LOAD[@]}" node upstream.mjs "${UP_ARGS[@]}") >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
UPSTREAM="$(wait_line "$!" "$WORK/upstream.log" 'http://127\.0\.0\.1:[0-9]+/v1' 20 "the bench upstream")"
log "upstream: pid ${PIDS[-1]}, $UPSTREAM"

# ---- Tether ----------------------------------------------------------------------------------------
TETHER_URL=""; TETHER_JAVA=""; TETHER_JVM_PID=""; TETHER_REV="not run"
if [ "$NEED_TETHER" -eq 1 ]; then
  # A launcher that builds itself on demand (./tether) does that here, outside the
  # readiness timeout, so a build is never mistaken for a slow start.
  if [ "${TETHER_CMD[-1]}" = "serve" ] && [ "${#TETHER_CMD[@]}" -ge 2 ]; then
    log "tether: building if sources changed (${TETHER_CMD[*]:0:${#TETHER_CMD[@]}-1} help)"
    timeout --kill-after=10 "$BUILD_TIMEOUT" "${TETHER_CMD[@]:0:${#TETHER_CMD[@]}-1}" help >"$WORK/tether-build.log" 2>&1 \
      || { tail -20 "$WORK/tether-build.log" >&2; die "'${TETHER_CMD[*]:0:${#TETHER_CMD[@]}-1} help' failed or took over ${BUILD_TIMEOUT}s"; }
  fi
  mkdir -p "$WORK/data"
  setsid "${PIN_SERVER[@]}" "${TETHER_CMD[@]}" --port 0 --data-dir "$WORK/data" --upstream "$UPSTREAM" >"$WORK/tether.log" 2>&1 &
  TETHER_PID=$!
  PIDS+=("$TETHER_PID")
  TETHER_URL="$(wait_line "$TETHER_PID" "$WORK/tether.log" 'Tether listening on http://127\.0\.0\.1:[0-9]+' "$READY_TIMEOUT" "Tether")"
  TETHER_URL="${TETHER_URL#Tether listening on }"
  log "tether: pid $TETHER_PID, $TETHER_URL"
  # Which JVM runs it (the launcher may exec java, or start it as a child).
  for p in "$TETHER_PID" $(pgrep -g "$TETHER_PID" 2>/dev/null || true); do
    exe="$(readlink "/proc/$p/exe" 2>/dev/null || true)"
    case "$exe" in */java) TETHER_JAVA="$exe"; TETHER_JVM_PID="$p"; break ;; esac
  done
  tdir="$(dirname "$(readlink -f "${TETHER_CMD[0]}" 2>/dev/null || echo "${TETHER_CMD[0]}")")"
  TETHER_REV="git $(git -C "$tdir" describe --always --dirty 2>/dev/null || echo 'n/a') in $tdir"
fi

# ---- phases -------------------------------------------------------------------------------------------
DIED=""
still_up() {
  [ "$NEED_TETHER" -eq 1 ] && [ -z "$DIED" ] || return 0
  kill -0 "$TETHER_PID" 2>/dev/null && return 0
  DIED="$1"
  log "ERROR: Tether (pid $TETHER_PID) exited during $1; last log lines: $(tail -3 "$WORK/tether.log" | tr '\n' ' ')"
}
# run_phase NAME ARGS...: replay.mjs on the load CPU, bounded; its JSON goes to $WORK/NAME.json
run_phase() {
  local name="$1" rc=0; shift
  timeout --kill-after=5 "$PHASE_TIMEOUT" "${PIN_LOAD[@]}" node "$HERE/replay.mjs" \
    --upstream "$UPSTREAM" ${TETHER_URL:+--tether "$TETHER_URL"} --modes "$MODES" \
    --seed "$SEED" --turns "$TURNS" --label "$name" --out "$WORK/$name.json" \
    ${TETHER_JVM_PID:+--server-pid "$TETHER_JVM_PID"} "$@" 2> >(tee "$WORK/$name.err" >&2) || rc=$?
  [ "$rc" -ne 124 ] || { log "$name phase timed out after ${PHASE_TIMEOUT}s"; echo "{\"error\":\"timed out after ${PHASE_TIMEOUT}s\"}" >"$WORK/$name.json"; }
  [ -s "$WORK/$name.json" ] || echo "{\"error\":\"replay.mjs wrote no result (exit $rc)\"}" >"$WORK/$name.json"
  still_up "$name phase"
}

log "overhead phase: prefill 0, $WARMUP warm-up + $REPS measured replays per mode ($MODES)"
run_phase overhead --prefill-us-per-token 0 --reps "$REPS" --warmup "$WARMUP"
log "wall-time phase: prefill $PREFILL us/token, prefix cache $PREFIX_CACHE, $WALL_WARMUP warm-up + $WALL_REPS measured replays per mode"
run_phase wall --prefill-us-per-token "$PREFILL" --prefix-cache "$PREFIX_CACHE" --reps "$WALL_REPS" --warmup "$WALL_WARMUP"

# Stop the servers now, so their logs are complete before the scan.
for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
PIDS=()
LOGF="$WORK/tether.log" OUTF="$WORK/tether-log.json" DIED="$DIED" node -e '
  const fs = require("fs");
  const lines = fs.existsSync(process.env.LOGF) ? fs.readFileSync(process.env.LOGF, "utf8").split("\n") : [];
  const re = /exception|error|warn|severe|fatal|uncaught|\bat [\w$.]+\(/i;
  const hits = lines.filter((l) => re.test(l));
  fs.writeFileSync(process.env.OUTF, JSON.stringify({ lines: lines.length, suspicious: hits.length, first: hits.slice(0, 8), died_during: process.env.DIED || null }));'

# ---- report ------------------------------------------------------------------------------------------
java_v="JVM n/a"
[ -z "$TETHER_JAVA" ] || java_v="$( ("$TETHER_JAVA" -version 2>&1 || true) | head -1 | tr -d '"')"
M_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" M_COMMAND="$COMMAND" M_NPROC="$(nproc)" \
M_CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" M_KERNEL="$(uname -sr)" \
M_LOAD="$LOAD_START" M_PINNING="$PINNING" \
M_VERSIONS="$java_v; Node $(node -v); ws $(node -p 'require(process.argv[1]).version' "$HERE/node_modules/ws/package.json")" \
M_TETHER_CMD="${TETHER_SERVE} --port 0 --data-dir <fresh temp dir> --upstream $UPSTREAM" M_TETHER_REV="$TETHER_REV" \
M_BENCH_REV="git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo 'n/a') in $ROOT$( [ -z "$(git -C "$ROOT" status --porcelain -- bench/responses 2>/dev/null)" ] || echo ' (bench/responses has uncommitted changes)')" \
M_MODES="$MODES" M_ELAPSED="$SECONDS" META="$WORK/meta.json" \
M_PARAMS="{\"reps\":$REPS,\"warmup\":$WARMUP,\"wall_reps\":$WALL_REPS,\"wall_warmup\":$WALL_WARMUP,\"prefill\":$PREFILL,\"prefix_cache\":$([ "$PREFIX_CACHE" = on ] && echo true || echo false),\"turns\":$TURNS,\"seed\":$SEED,\"chunk_chars\":$CHUNK_CHARS}" \
node -e '
  const e = process.env;
  require("fs").writeFileSync(e.META, JSON.stringify({
    date: e.M_DATE, command: e.M_COMMAND, nproc: e.M_NPROC, cpu: e.M_CPU, kernel: e.M_KERNEL, loadavg: e.M_LOAD,
    pinning: e.M_PINNING, versions: e.M_VERSIONS, tether_cmd: e.M_TETHER_CMD, tether_rev: e.M_TETHER_REV,
    bench_rev: e.M_BENCH_REV, modes: e.M_MODES.split(","), elapsed_s: Number(e.M_ELAPSED), params: JSON.parse(e.M_PARAMS) }));'

rc=0
node "$HERE/render.mjs" --dir "$WORK" --meta "$WORK/meta.json" --out "$OUT" || rc=$?
log "results written to $OUT"
case "$rc" in
  0) ;;
  3) log "WARNING: protocol notes, upstream context errors or server log warnings: see the report" ;;
  *) log "ERROR: some mode failed: see the report" ;;
esac
exit "$rc"
