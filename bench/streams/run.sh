#!/usr/bin/env bash
# Benchmarks Tether against the Node reference Durable Streams server in one run
# and prints a markdown table of both, with Tether/Node ratios. See README.md.
#
# Usage: bench/streams/run.sh [--duration SECONDS] [--warmup SECONDS] [--sse-warmup SECONDS]
#                             [--only tether|node] [--out FILE] [--skip-install]
#                             [--store log|sqlite|memory]  (Tether's store; default log, as shipped)
#                             [--pin on|off] [--java-opts "JVM OPTIONS"] [--label TEXT]
#                             [--server-warmup SECONDS]  (untimed appends before the first phase; default 30)
#                             [--sse-client c|node]  (the SSE fan-out client: ssefan/ssefan.c or sse-fanout.mjs)
#                             [--server-arg ARG]...  (added to Tether's serve command, e.g. --log-preallocate on)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
COMMAND="bench/streams/run.sh$(printf ' %q' "$@")"; [ $# -gt 0 ] || COMMAND="bench/streams/run.sh"
STORE=log          # Tether's --store (the default store)

DURATION=10        # seconds per measured phase (wrk runs, SSE writer, catch-up passes)
WARMUP=5           # seconds of untimed load before each measured phase (wrk runs, catch-up passes)
SSE_WARMUP=1       # SSE's own warm-up: events delivered and checked, latency not recorded
SERVER_WARMUP=30   # untimed load once per server before the first phase (JIT settles): SSE, then appends
SSE_CLIENT=c       # c: ssefan/ssefan (built with gcc, ~40% of the node client's CPU); node: sse-fanout.mjs
ONLY=""
OUT=""             # default: results/latest.md (--pin on) or results/latest-unpinned.md (--pin off)
SKIP_INSTALL=0
PIN=on             # on: server on CPU 0, load generators on CPU 1 (taskset); off: no taskset
JAVA_OPTS="${TETHER_JAVA_OPTS:-}"  # passed to ./tether as TETHER_JAVA_OPTS (--java-opts)
LABEL=""           # appended to the table's title (--label)
TETHER_ARGS=()     # more arguments for ./tether serve (--server-arg, repeatable)
CONNS=64           # wrk connections for append / no-op
GET_CONNS=16       # wrk connections for the catch-up GET (each response is ~2.5 MB)
STREAMS=100        # append scenario: streams bench-1..bench-N
SUBSCRIBERS=100    # SSE fan-out subscribers
RATE=50            # SSE writer events/s
MESSAGES=10000     # catch-up stream size (256-byte binary appends)
READY_TIMEOUT=90   # seconds to wait for a server to answer PUT /v1/stream/__ready__
BUILD_TIMEOUT=900  # seconds allowed for ./tether to (re)build itself before the run

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --sse-warmup) SSE_WARMUP="$2"; shift 2 ;;
    --server-warmup) SERVER_WARMUP="$2"; shift 2 ;;
    --sse-client) SSE_CLIENT="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    --store) STORE="$2"; shift 2 ;;
    --pin) PIN="$2"; shift 2 ;;
    --java-opts) JAVA_OPTS="$2"; shift 2 ;;
    --label) LABEL="$2"; shift 2 ;;
    --server-arg) TETHER_ARGS+=("$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$ONLY" in ""|tether|node) ;; *) echo "--only must be tether or node" >&2; exit 2 ;; esac
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 ]] || { echo "--duration must be a positive integer" >&2; exit 2; }
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "--warmup must be a non-negative integer" >&2; exit 2; }
[[ "$SSE_WARMUP" =~ ^[0-9]+$ ]] || { echo "--sse-warmup must be a non-negative integer" >&2; exit 2; }
[[ "$SERVER_WARMUP" =~ ^[0-9]+$ ]] || { echo "--server-warmup must be a non-negative integer" >&2; exit 2; }
case "$PIN" in on|off) ;; *) echo "--pin must be on or off" >&2; exit 2 ;; esac
case "$SSE_CLIENT" in c|node) ;; *) echo "--sse-client must be c or node" >&2; exit 2 ;; esac
case "$STORE" in sqlite|log|memory) ;; *) echo "--store must be sqlite, log or memory" >&2; exit 2 ;; esac
if [ -z "$OUT" ]; then
  if [ "$PIN" = on ]; then OUT="$HERE/results/latest.md"; else OUT="$HERE/results/latest-unpinned.md"; fi
fi
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
# Raw outputs go to raw/<name of the table>/ next to the table (results/raw/latest/ for
# results/latest.md), so runs written to different tables keep their own.
OUT_STEM="$(basename "$OUT")"; OUT_STEM="${OUT_STEM%.md}"
RAW_DIR="$(dirname "$OUT")/raw/$OUT_STEM"
# Pinning: the server on CPU 0, every load generator on CPU 1; or nothing at all.
if [ "$PIN" = on ]; then PIN_SERVER=(taskset -c 0); PIN_LOAD=(taskset -c 1); else PIN_SERVER=(); PIN_LOAD=(); fi

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- dependencies (idempotent) -------------------------------------------------
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "'$1' is missing and there is no apt-get to install it: install $* yourself"
  if [ "$APT_UPDATED" -eq 0 ]; then
    timeout 300 $SUDO apt-get update -qq || die "apt-get update failed (needed to install $*)"
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive timeout 600 $SUDO apt-get install -y -qq "$@" >/dev/null \
    || die "apt-get install $* failed"
}
install_deps() {
  command -v wrk >/dev/null || { log "installing wrk (apt)"; apt_install wrk; }
  [ "$PIN" = off ] || command -v taskset >/dev/null || { log "installing util-linux (taskset)"; apt_install util-linux; }
  command -v setsid >/dev/null || apt_install util-linux
  command -v curl >/dev/null || { log "installing curl (apt)"; apt_install curl; }
  command -v gcc >/dev/null || { log "installing gcc (apt), for the C clients (catch-up, SSE)"; apt_install gcc libc6-dev; }
  command -v node >/dev/null || die "node (>= 20) is required"
  # npm ci only when the lockfile changed since the last install.
  local stamp="$HERE/node_modules/.bench-lock.sha256" want
  want="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "npm ci in bench/streams"
    # A registry mirror that lacks some optional platform packages (e.g.
    # @msgpackr-extract/*-darwin-*) yields a lockfile without them, which npm ci
    # rejects as "out of sync". npm install --no-save then installs the same
    # locked versions without rewriting package-lock.json.
    if ! (cd "$HERE" && timeout 600 npm ci --no-audit --no-fund --loglevel=error >"$HERE/.npm-ci.log" 2>&1); then
      log "npm ci refused the lockfile ($(grep -m1 -o 'Missing: [^ ]*' "$HERE/.npm-ci.log" || echo 'see log')); npm install --no-save"
      (cd "$HERE" && timeout 600 npm install --no-save --no-audit --no-fund --loglevel=error >&2) \
        || die "npm install in bench/streams failed (registry reachable? see above)"
    fi
    rm -f "$HERE/.npm-ci.log"
    node -e 'if (require(process.argv[1]).version !== "0.3.7") process.exit(1)' \
      "$HERE/node_modules/@durable-streams/server/package.json" || die "@durable-streams/server 0.3.7 not installed"
    # Whichever way it was installed, every locked package must be at its locked version.
    node -e '
      const fs = require("fs"), path = require("path"), dir = process.argv[1];
      const lock = JSON.parse(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8")).packages;
      const bad = [];
      for (const [p, v] of Object.entries(lock)) {
        if (!p) continue;
        const f = path.join(dir, p, "package.json");
        if (!fs.existsSync(f)) { if (!v.optional) bad.push(p + " missing"); continue; }
        const got = JSON.parse(fs.readFileSync(f, "utf8")).version;
        if (got !== v.version) bad.push(`${p} ${got} (locked ${v.version})`);
      }
      if (bad.length) { console.error(bad.join("\n")); process.exit(1); }' "$HERE" \
      || die "node_modules does not match package-lock.json (see above); delete bench/streams/node_modules and retry"
    echo "$want" > "$stamp"
  fi
}
[ "$SKIP_INSTALL" -eq 1 ] || install_deps

# The C catch-up client, built when its source is newer than its binary.
"$HERE/build-c.sh" catchupc/catchupc || die "could not build the C catch-up client"
# The SSE client: the C one is built (when its source is newer) and must pass its own
# parser self-test (chunk and read boundaries anywhere) before it measures anything.
SSE_SCRIPT=sse-fanout.mjs
if [ "$SSE_CLIENT" = c ]; then
  "$HERE/build-c.sh" ssefan/ssefan || die "could not build the C SSE client (use --sse-client node to run without it)"
  "$HERE/ssefan/ssefan" --self-test >"$HERE/ssefan/.self-test.log" 2>&1 \
    || die "the C SSE client failed its self-test: $(tail -2 "$HERE/ssefan/.self-test.log" | tr '\n' ' ')"
  SSE_SCRIPT=ssefan/ssefan
fi

[ "$PIN" = off ] || [ "$(nproc)" -ge 2 ] || die "--pin on needs 2 CPUs (server on CPU 0, load on CPU 1); nproc=$(nproc)"
SERVERS=()
[ "$ONLY" = "node" ] || SERVERS+=(tether)
[ "$ONLY" = "tether" ] || SERVERS+=(node)
if [[ " ${SERVERS[*]} " == *" tether "* ]] && [ ! -x "$ROOT/tether" ]; then
  die "$ROOT/tether not found or not executable (build Tether first, or run with --only node)"
fi
[ -f "$HERE/node_modules/@durable-streams/server/package.json" ] \
  || die "bench/streams/node_modules is missing @durable-streams/server (run without --skip-install)"
for tool in wrk setsid curl node timeout getconf "${PIN_LOAD[@]:0:1}"; do
  command -v "$tool" >/dev/null || die "'$tool' not found (run without --skip-install, or install it)"
done
[ -r "/proc/$$/stat" ] || die "/proc/PID/stat is not readable (needed for the server CPU time per phase)"
CLK_TCK="$(getconf CLK_TCK)"

# ./tether builds itself when its sources are newer than the last build. Do that
# here, outside the server-readiness timeout, so a build is never mistaken for a
# slow start (and is never timed).
if [[ " ${SERVERS[*]} " == *" tether "* ]]; then
  log "tether: building if sources changed (./tether help)"
  if ! (cd "$ROOT" && timeout --kill-after=10 "$BUILD_TIMEOUT" ./tether help) >"${TMPDIR:-/tmp}/tether-bench-build.log" 2>&1; then
    tail -20 "${TMPDIR:-/tmp}/tether-bench-build.log" >&2
    die "building Tether failed or took over ${BUILD_TIMEOUT}s (log: ${TMPDIR:-/tmp}/tether-bench-build.log)"
  fi
  rm -f "${TMPDIR:-/tmp}/tether-bench-build.log"
fi

# ---- server lifecycle ------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tether-bench.XXXXXX")"
SERVER_PID=""
DATA_DIRS=()

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid="$SERVER_PID" target="$SERVER_PID"
  SERVER_PID=""
  # setsid made the server its own process-group leader: signal the group, so a
  # launcher script and the JVM/node it started go down together.
  [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && target="-$pid"
  kill -TERM -- "$target" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "$target" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_server
  for d in "${DATA_DIRS[@]}"; do rm -rf "$d"; done
  # Keep the raw outputs (wrk text, client JSON/stderr, server logs) next to the table.
  if [ -d "$WORK" ]; then
    rm -rf "$RAW_DIR" && mkdir -p "$RAW_DIR" && cp -p "$WORK"/* "$RAW_DIR"/ 2>/dev/null || true
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# start_server tether|node  -> sets SERVER_PID and URL
start_server() {
  local srv="$1" port logf
  port="$(free_port)"
  logf="$WORK/$srv.log"
  URL="http://127.0.0.1:$port"
  if [ "$srv" = "tether" ]; then
    local data; data="$(mktemp -d "${TMPDIR:-/tmp}/tether-bench-data.XXXXXX")"
    DATA_DIRS+=("$data")
    TETHER_FS="$(stat -f -c %T "$data")"
    # TETHER_JAVA_OPTS: ./tether puts it on the java command line, after its defaults.
    (cd "$ROOT" && export TETHER_JAVA_OPTS="$JAVA_OPTS" \
      && exec setsid "${PIN_SERVER[@]}" ./tether serve --port "$port" --data-dir "$data" --store "$STORE" ${TETHER_ARGS[@]+"${TETHER_ARGS[@]}"}) >"$logf" 2>&1 &
  else
    (cd "$HERE" && exec setsid "${PIN_SERVER[@]}" node node-server.mjs --port "$port") >"$logf" 2>&1 &
  fi
  SERVER_PID=$!
  log "$srv: pid $SERVER_PID ($([ "$PIN" = on ] && echo "on CPU 0" || echo "not pinned")), $URL"
  local deadline=$((SECONDS + READY_TIMEOUT)) code
  while :; do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$logf" >&2; SERVER_PID=""; die "$srv exited during startup"; }
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X PUT \
      -H 'Content-Type: application/octet-stream' "$URL/v1/stream/__ready__" || true)"
    case "$code" in 200|201) break ;; esac
    [ "$SECONDS" -lt "$deadline" ] || { tail -20 "$logf" >&2; die "$srv not ready after ${READY_TIMEOUT}s (last status: $code)"; }
    sleep 0.2
  done
  grep -q "listening on http://127.0.0.1:$port" "$logf" \
    || log "warning: $srv log has no 'listening on http://127.0.0.1:$port' line"
  # The launcher exec's the JVM, so the server PID is the JVM: record which one. The CPU
  # time per phase is read from this PID's /proc/PID/stat, so it must be the JVM / node
  # itself, not a launcher that waits for it.
  local exe; exe="$(readlink "/proc/$SERVER_PID/exe" 2>/dev/null || true)"
  case "$(basename "$exe")" in
    java|node) ;;
    *) log "warning: $srv pid $SERVER_PID is '$exe', not java/node: its CPU time per phase will not include the server's" ;;
  esac
  if [ "$srv" = "tether" ]; then
    TETHER_JAVA="$exe"
    local opt opts=() args=()
    read -r -a opts <<<"$JAVA_OPTS"
    mapfile -d '' args <"/proc/$SERVER_PID/cmdline" 2>/dev/null || true
    for opt in "${opts[@]}"; do
      [[ " ${args[*]} " == *" $opt "* ]] \
        || log "warning: --java-opts '$opt' is not on the JVM's command line (does ./tether pass TETHER_JAVA_OPTS?)"
    done
  fi
  log "$srv: ready"
}

# ---- CPU time per measured phase --------------------------------------------------
# cpu_sample: sets CPU_WALL_US (wall clock, µs), CPU_SRV_UT / CPU_SRV_ST (utime / stime
# of the server process, all its threads, in clock ticks; -1 if unreadable) and
# CPU_LOAD_TICKS (cutime + cstime of this shell: the CPU of the children it has waited
# for, i.e. the wrk runs) and CPU_SRV_JIT (utime + stime of the server's JIT compiler
# threads, the JVM's "C1/C2 CompilerThread"s; -1 for a server without them, such as Node,
# whose compiler shares its threads with other work). Bash builtins only, no fork, so a
# sample costs next to nothing.
cpu_sample() {
  local line="" f t comm
  CPU_WALL_US="${EPOCHREALTIME/./}"
  CPU_SRV_UT=-1; CPU_SRV_ST=-1; CPU_SRV_JIT=-1
  if [ -n "$SERVER_PID" ]; then
    for t in /proc/"$SERVER_PID"/task/*; do
      { IFS= read -r comm <"$t/comm" && IFS= read -r -d '' line <"$t/stat"; } 2>/dev/null || [ -n "$line" ] || continue
      case "$comm" in
        "C1 CompilerThre"* | "C2 CompilerThre"*)
          read -r -a f <<<"${line##*)}"
          CPU_SRV_JIT=$(( (CPU_SRV_JIT < 0 ? 0 : CPU_SRV_JIT) + f[14-3] + f[15-3] )) ;;
      esac
      line=""
    done
  fi
  # Field 2 (comm) is in parentheses and may contain spaces: split after the last ')'.
  # The fields after it start with field 3, so field N is f[N-3].
  if [ -n "$SERVER_PID" ] && { IFS= read -r -d '' line <"/proc/$SERVER_PID/stat" || [ -n "$line" ]; } 2>/dev/null; then
    read -r -a f <<<"${line##*)}"
    CPU_SRV_UT="${f[14-3]}"; CPU_SRV_ST="${f[15-3]}"
  fi
  line=""
  IFS= read -r -d '' line <"/proc/$BASHPID/stat" || true
  read -r -a f <<<"${line##*)}"
  CPU_LOAD_TICKS=$(( f[16-3] + f[17-3] ))
}
# cpu_write NAME [WHAT]: adds server_cpu {cpu_s, user_s, sys_s, wall_s, cores, jit_s} and load_cpu
# {cpu_s, wall_s, cores, what} to $WORK/NAME.json for the window between the samples
# CPU0 (before) and CPU1 (after) that run_wrk took around wrk (the same shape the
# node clients report, see cpu.mjs).
cpu_write() {
  WHAT="${2:-wrk}" CPU_FILE="$WORK/$1.json" HZ="$CLK_TCK" C0="${CPU0[*]}" C1="${CPU1[*]}" node -e '
    const fs = require("fs"), e = process.env;
    const [w0, u0, s0, l0, j0] = e.C0.split(" ").map(Number), [w1, u1, s1, l1, j1] = e.C1.split(" ").map(Number);
    let r; try { r = JSON.parse(fs.readFileSync(e.CPU_FILE, "utf8")); } catch { r = { error: "no result" }; }
    const wall = (w1 - w0) / 1e6, hz = Number(e.HZ);
    if (u0 >= 0 && u1 >= 0 && wall > 0) {
      const user = (u1 - u0) / hz, sys = (s1 - s0) / hz, cpu = (u1 - u0 + s1 - s0) / hz;
      const jit = j0 >= 0 && j1 >= 0 ? (j1 - j0) / hz : null;
      r.server_cpu = { cpu_s: cpu, user_s: user, sys_s: sys, wall_s: wall, cores: cpu / wall, jit_s: jit };
    } else r.server_cpu = null;
    const load = (l1 - l0) / hz;
    r.load_cpu = { cpu_s: load, wall_s: wall, cores: wall > 0 ? load / wall : null, what: e.WHAT };
    fs.writeFileSync(e.CPU_FILE, JSON.stringify(r) + "\n");'
}

# ---- load generators (on CPU 1 with --pin on; all bounded in time) -----------------
# run_wrk OUTNAME SECONDS CONNS LUA PATH [ENV=VAL...]: writes $WORK/OUTNAME.json
run_wrk() {
  local name="$1" secs="$2" conns="$3" lua="$4" path="$5"; shift 5
  local txt="$WORK/$name.txt" rc=0
  cpu_sample; CPU0=("$CPU_WALL_US" "$CPU_SRV_UT" "$CPU_SRV_ST" "$CPU_LOAD_TICKS" "$CPU_SRV_JIT")
  env "$@" BENCH_LUA_DIR="$HERE/wrk" timeout --kill-after=5 $((secs + 60)) \
    "${PIN_LOAD[@]}" wrk -t1 -c"$conns" -d"${secs}s" --timeout 10s -s "$HERE/wrk/$lua" "$URL$path" >"$txt" 2>&1 || rc=$?
  cpu_sample; CPU1=("$CPU_WALL_US" "$CPU_SRV_UT" "$CPU_SRV_ST" "$CPU_LOAD_TICKS" "$CPU_SRV_JIT")
  if [ "$rc" -ne 0 ]; then
    log "wrk failed for $name: $(tail -3 "$txt" | tr '\n' ' ')"
    echo "{\"error\":\"wrk failed\"}" >"$WORK/$name.json"
    return 0
  fi
  grep '^BENCH_JSON ' "$txt" | sed 's/^BENCH_JSON //' >"$WORK/$name.json"
  [ -s "$WORK/$name.json" ] || echo '{"error":"wrk printed no result"}' >"$WORK/$name.json"
}
# run_wrk_measured: run_wrk, and the server's (and wrk's) CPU time over it into its JSON.
run_wrk_measured() {
  run_wrk "$@"
  cpu_write "$1"
}

# run_catchupc OUTNAME SECONDS: catch-up passes of the C client (catchupc/catchupc.c) over
# $CATCHUP_STREAM for SECONDS, with the server's and the client's CPU time around them in
# $WORK/OUTNAME.json (as run_wrk_measured; the client checks the stream's bytes in one
# pass before its timed ones, inside that window: one pass in thousands).
run_catchupc() {
  local name="$1" secs="$2" rc=0
  cpu_sample; CPU0=("$CPU_WALL_US" "$CPU_SRV_UT" "$CPU_SRV_ST" "$CPU_LOAD_TICKS" "$CPU_SRV_JIT")
  timeout --kill-after=5 $((secs + 60)) "${PIN_LOAD[@]}" "$HERE/catchupc/catchupc" --url "$URL" \
    --path "$CATCHUP_STREAM" --messages "$MESSAGES" --duration "$secs" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  cpu_sample; CPU1=("$CPU_WALL_US" "$CPU_SRV_UT" "$CPU_SRV_ST" "$CPU_LOAD_TICKS" "$CPU_SRV_JIT")
  tail -1 "$WORK/$name.out" >"$WORK/$name.json" 2>/dev/null || true
  if [ "$rc" -ne 0 ] || ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))' "$WORK/$name.json" 2>/dev/null; then
    log "catchupc failed for $name (exit $rc): $(tail -c 300 "$WORK/$name.json" 2>/dev/null)"
    node -e 'try { JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")) } catch { process.exit(1) }' "$WORK/$name.json" 2>/dev/null \
      || printf '{"error":"catchupc produced no result (exit %s)"}\n' "$rc" >"$WORK/$name.json"
  fi
  cpu_write "$name" "catch-up client (C)"
}

# run_node OUTNAME SCRIPT ARGS...: a node client, or with a SCRIPT not ending in .mjs the
# program HERE/SCRIPT (the C SSE client) (on CPU 1 with --pin on); its last stdout
# line is the result. It gets the server's PID to measure the server's CPU time itself
# over its measured window (see cpu.mjs).
run_node() {
  local name="$1" script="$2"; shift 2
  local limit=$((DURATION * 3 + WARMUP + SSE_WARMUP + 420))   # catch-up populate may take minutes on slow disks
  local rc=0 why cmd=(node "$HERE/$script")
  [[ "$script" == *.mjs ]] || cmd=("$HERE/$script")
  timeout --kill-after=5 "$limit" "${PIN_LOAD[@]}" "${cmd[@]}" --url "$URL" \
    --server-pid "$SERVER_PID" --clk-tck "$CLK_TCK" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  tail -1 "$WORK/$name.out" >"$WORK/$name.json" 2>/dev/null || true
  if ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))' "$WORK/$name.json" 2>/dev/null; then
    why="$(grep -m1 -E '^[A-Za-z]*Error|error' "$WORK/$name.err" | cut -c1-200 | tr -d '"\\' || true)"
    [ "$rc" -ne 124 ] || why="timed out after ${limit}s"
    log "$script failed for $name (exit $rc): ${why:-no output}"
    printf '{"error":"%s: %s"}\n' "$script produced no result" "${why:-exit $rc}" >"$WORK/$name.json"
  elif [ "$rc" -ne 0 ]; then
    log "$script failed for $name (exit $rc): $(tail -c 300 "$WORK/$name.json")"
  fi
}

# still_up SERVER PHASE: notes (once) if the server process is gone after PHASE.
still_up() {
  [ -z "$DIED" ] || return 0
  kill -0 "$SERVER_PID" 2>/dev/null && return 0
  DIED="$2"
  log "ERROR: $1 (pid $SERVER_PID) exited during $2; last log lines: $(tail -3 "$WORK/$1.log" | tr '\n' ' ')"
}

# scan_log SERVER: counts suspicious lines in the server's own output (exceptions,
# errors, warnings) into $WORK/SERVER-log.json; the table reports the count. Tether's
# two start-up warnings about the demo model (served when neither --model nor --upstream
# is given, as here) are expected: counted apart, not as suspicious.
scan_log() {
  local srv="$1" logf="$WORK/$1.log"
  DIED="$DIED" LOGF="$logf" OUTF="$WORK/$srv-log.json" node -e '
    const fs = require("fs");
    const lines = fs.readFileSync(process.env.LOGF, "utf8").split("\n");
    const re = /exception|error|warn|severe|fatal|uncaught|\bat [\w$.]+\(/i;
    const expected = /WARNING dev\.tether\.TetherServer: (no --model or --upstream given: generating a small random-weight demo model|serving the DEMO MODEL )/;
    const hits = lines.filter((l) => re.test(l) && !expected.test(l));
    fs.writeFileSync(process.env.OUTF, JSON.stringify({ lines: lines.length, suspicious: hits.length, first: hits.slice(0, 5),
      expected_demo_model_warnings: lines.filter((l) => expected.test(l)).length, died_during: process.env.DIED || null }));'
}

declare -A NOOP_EXPECT=([tether]=204 [node]=204)
bench_server() {
  local srv="$1"
  DIED=""
  start_server "$srv"
  timeout 120 "${PIN_LOAD[@]}" node "$HERE/setup-streams.mjs" --url "$URL" --count "$STREAMS" 2>"$WORK/$srv-setup.err" \
    || die "$srv: could not create the $STREAMS append streams: $(tail -2 "$WORK/$srv-setup.err" | tr '\n' ' ')"

  # The server's own warm-up, once: a JVM compiles its hot paths during its first 15-20 s
  # under load (on one pinned core the C2 compiler then takes a third of it), which is
  # start-up, not steady state. The CPU table shows each phase's JIT CPU, so a phase still
  # inside warm-up shows. Same load and length for both servers.
  # The SSE paths get their own untimed fan-out first (a third as long, on a stream of its
  # own), so that (c), which follows the append load, does not compile them either.
  if [ "$SERVER_WARMUP" -gt 0 ]; then
    local sse_warm=$(( (SERVER_WARMUP + 2) / 3 ))
    log "$srv: server warm-up: ${sse_warm}s of an untimed SSE fan-out, then ${SERVER_WARMUP}s of untimed appends"
    run_node "$srv-server-warmup-sse" "$SSE_SCRIPT" --subscribers "$SUBSCRIBERS" --rate "$RATE" --duration "$sse_warm" --warmup 0
    run_wrk_measured "$srv-server-warmup" "$SERVER_WARMUP" "$CONNS" post.lua / BENCH_STREAMS="$STREAMS" BENCH_EXPECT=204
  fi
  log "$srv: (a) append, ${WARMUP}s warm-up + ${DURATION}s"
  [ "$WARMUP" -eq 0 ] || run_wrk "$srv-append-warmup" "$WARMUP" "$CONNS" post.lua / BENCH_STREAMS="$STREAMS" BENCH_EXPECT=204
  run_wrk_measured "$srv-append" "$DURATION" "$CONNS" post.lua / BENCH_STREAMS="$STREAMS" BENCH_EXPECT=204
  still_up "$srv" "(a) append"

  # SSE right after the append load (before the read-back and the no-op phase), so its
  # latency is that of a server that has just taken it; it has its own short warm-up.
  log "$srv: (c) SSE fan-out right after (a), $SUBSCRIBERS subscribers, $RATE events/s, ${SSE_WARMUP}s warm-up + ${DURATION}s"
  run_node "$srv-sse" "$SSE_SCRIPT" --subscribers "$SUBSCRIBERS" --rate "$RATE" --duration "$DURATION" --warmup "$SSE_WARMUP"
  still_up "$srv" "(c) SSE fan-out"

  log "$srv: (a) reading the $STREAMS append streams back (acked appends all stored?)"
  run_node "$srv-verify" verify-appends.mjs --count "$STREAMS"
  still_up "$srv" "(a) read-back"

  log "$srv: (b) no-op POST /v1/noop (expect ${NOOP_EXPECT[$srv]}), ${WARMUP}s warm-up + ${DURATION}s"
  [ "$WARMUP" -eq 0 ] || run_wrk "$srv-noop-warmup" "$WARMUP" "$CONNS" post.lua / BENCH_STREAMS=0 BENCH_PATH=/v1/noop BENCH_EXPECT="${NOOP_EXPECT[$srv]}"
  run_wrk_measured "$srv-noop" "$DURATION" "$CONNS" post.lua / BENCH_STREAMS=0 BENCH_PATH=/v1/noop BENCH_EXPECT="${NOOP_EXPECT[$srv]}"
  still_up "$srv" "(b) no-op"

  log "$srv: (d) catch-up of $MESSAGES x 256 B, passes for ${WARMUP}s warm-up + ${DURATION}s, then wrk GET"
  run_node "$srv-catchup" catchup.mjs --messages "$MESSAGES" --duration "$DURATION" --warmup "$WARMUP"
  local stream
  stream="$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.stdout.write(r.stream||"")' "$WORK/$srv-catchup.json")"
  if [ -n "$stream" ]; then
    # The same passes from the C client, which costs a fraction of the node client's CPU,
    # so that the server sets the pace (the node client's own ceiling: README).
    CATCHUP_STREAM="$stream"
    log "$srv: (d) catch-up passes from the C client, ${WARMUP}s warm-up + ${DURATION}s"
    [ "$WARMUP" -eq 0 ] || run_catchupc "$srv-catchupc-warmup" "$WARMUP"
    run_catchupc "$srv-catchupc" "$DURATION"
    [ "$WARMUP" -eq 0 ] || run_wrk "$srv-get-warmup" "$WARMUP" "$GET_CONNS" get.lua "$stream?offset=-1" BENCH_PATH="$stream?offset=-1"
    run_wrk_measured "$srv-get" "$DURATION" "$GET_CONNS" get.lua "$stream?offset=-1" BENCH_PATH="$stream?offset=-1"
  else
    echo '{"error":"catch-up stream was not created"}' >"$WORK/$srv-get.json"
    echo '{"error":"catch-up stream was not created"}' >"$WORK/$srv-catchupc.json"
  fi
  still_up "$srv" "(d) catch-up"
  stop_server
  scan_log "$srv"
  log "$srv: done"
}

TETHER_FS="n/a"
TETHER_JAVA=""
for srv in "${SERVERS[@]}"; do bench_server "$srv"; done

# ---- report ------------------------------------------------------------------------
java_v="JVM n/a"
[ -z "$TETHER_JAVA" ] || java_v="$( ("$TETHER_JAVA" -version 2>&1 || true) | head -1 | tr -d '"')"
tether_rev="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo 'no commit')"
ref_v="$(node -p 'require(process.argv[1]).version' "$HERE/node_modules/@durable-streams/server/package.json")"
servers_json="$(printf '"%s",' "${SERVERS[@]}")"
META="$WORK/meta.json" \
M_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
M_COMMAND="$COMMAND" \
M_NPROC="$(nproc)" \
M_CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
M_KERNEL="$(uname -sr)" \
M_VERSIONS="Tether git $tether_rev; $java_v; @durable-streams/server $ref_v; Node $(node -v); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" \
M_FS="data dir on $TETHER_FS" \
M_SHAPE="server warm-up once after start: an untimed SSE fan-out for $(( (SERVER_WARMUP + 2) / 3 ))s (as in (c)), then ${SERVER_WARMUP}s of untimed appends (as in (a)); wrk -t1 -c$CONNS -d${DURATION}s (append: 256 B over $STREAMS streams; no-op: 256 B to /v1/noop), ${WARMUP}s warm-up (untimed) before each wrk run; SSE right after the append run (before the read-back and the no-op phase), client $SSE_SCRIPT: $SUBSCRIBERS subscribers, 1 writer at $RATE events/s for ${SSE_WARMUP}s (its own warm-up, --sse-warmup: delivered and checked, latency not recorded) + ${DURATION}s; catch-up: $MESSAGES x 256 B binary appends, sequential catch-up passes for ${WARMUP}s (untimed) + ${DURATION}s from the node client (catchup.mjs), then the same from the C client (catchupc), then wrk -t1 -c$GET_CONNS -d${DURATION}s GET ?offset=-1; server CPU: utime + stime of the server process from /proc/PID/stat (CLK_TCK $CLK_TCK) over each measured phase" \
M_SERVERS="[${servers_json%,}]" \
M_ELAPSED="$SECONDS" \
M_PARAMS="{\"conns\":$CONNS,\"streams\":$STREAMS,\"warmup\":$WARMUP,\"server_warmup\":$SERVER_WARMUP,\"sse_warmup\":$SSE_WARMUP,\"duration\":$DURATION,\"subscribers\":$SUBSCRIBERS,\"rate\":$RATE,\"messages\":$MESSAGES,\"sse_client\":\"$SSE_CLIENT\"}" \
M_PIN="$PIN" \
M_STORE="$STORE" \
M_JAVA_OPTS="$JAVA_OPTS" \
M_LABEL="$LABEL" \
M_SERVER_ARGS="${TETHER_ARGS[*]+${TETHER_ARGS[*]}}" \
M_RAW="$RAW_DIR" \
node -e '
  const e = process.env;
  require("fs").writeFileSync(e.META, JSON.stringify({
    date: e.M_DATE, command: e.M_COMMAND, nproc: e.M_NPROC, cpu: e.M_CPU, kernel: e.M_KERNEL,
    versions: e.M_VERSIONS, tether_fs: e.M_FS, shape: e.M_SHAPE, servers: JSON.parse(e.M_SERVERS),
    elapsed_s: Number(e.M_ELAPSED), params: JSON.parse(e.M_PARAMS),
    pin: e.M_PIN, store: e.M_STORE, java_opts: e.M_JAVA_OPTS, label: e.M_LABEL, server_args: e.M_SERVER_ARGS, raw_dir: e.M_RAW,
    noop: { tether: "POST /v1/noop → 204 (built into Tether: reads the body, stores nothing)",
            node: "POST /v1/noop → 204 (added by node-server.mjs to the same node:http server: reads the body, stores nothing)" },
  }));'

rc=0
node "$HERE/render.mjs" --dir "$WORK" --meta "$WORK/meta.json" --out "$OUT" || rc=$?
log "results written to $OUT (raw outputs in $RAW_DIR/)"
case "$rc" in
  0) ;;
  3) log "WARNING: a correctness check failed (errors, lost/duplicate/out-of-order events): see the table" ;;
  *) log "ERROR: some scenarios failed to run: see the table" ;;
esac
exit "$rc"
