# Sourced by the npm interop tests (web/*/run.sh) and scripts/build-web.sh: installing the web
# workspace's pinned packages (one npm ci in web/), starting
# servers on free ports and stopping them by PID. The caller defines log().

# npm ci in $1 when node_modules is missing or older than the lockfile; $2 names what is installed.
interop_install() {
  local dir="$1" what="$2"
  command -v node >/dev/null || { log "node (20+) is required"; return 1; }
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    command -v npm >/dev/null || { log "npm is required (apt-get install nodejs npm)"; return 1; }
    log "installing $what (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Stops process $1 (TERM, then KILL after 5 s); nothing when empty or gone.
interop_stop() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}

# Prints the port once log file $1 matches sed pattern $2; fails (with the log's tail) when
# process $3 (named $4) exits first or $5 seconds pass.
interop_wait_for_port() {
  local out="$1" pattern="$2" pid="$3" name="$4" tries=$(($5 * 10)) port="" i
  for i in $(seq 1 "$tries"); do
    port="$( [ -f "$out" ] && sed -n "$pattern" "$out" | head -1)" || true
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || { log "$name exited before listening:"; tail -50 "$out" >&2; return 1; }
    sleep 0.1
  done
  log "$name did not start listening within $5 s:"; tail -50 "$out" >&2
  return 1
}

# Starts the scripted Chat Completions upstream (web/openai-compat/upstream.mjs; its settings come
# from the environment) with its log in $WORK/upstream.log; sets UP_PID and UPORT.
interop_start_upstream() {
  local here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  node "$here/web/openai-compat/upstream.mjs" 0 >"$WORK/upstream.log" 2>&1 &
  UP_PID=$!
  UPORT="$(interop_wait_for_port "$WORK/upstream.log" 's|^upstream listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$UP_PID" upstream 10)"
  log "upstream on port $UPORT (pid $UP_PID)"
}

# Starts $TETHER_SERVE (a command prefix, word-split on purpose) with --port 0 --data-dir
# $WORK/data and the arguments given, its log in $WORK/tether.log; sets TETHER_PID and TPORT.
# With TETHER_NAME=N set, the data dir is $WORK/data-N and the log $WORK/tether-N.log, and the
# PID also joins CLUSTER_PIDS: several named servers can run side by side, each stopped on exit.
interop_start_tether() {
  local name="${TETHER_NAME:+-$TETHER_NAME}"
  # shellcheck disable=SC2086
  $TETHER_SERVE --port 0 --data-dir "$WORK/data$name" "$@" >"$WORK/tether$name.log" 2>&1 &
  TETHER_PID=$!
  [ -z "$name" ] || CLUSTER_PIDS="$TETHER_PID ${CLUSTER_PIDS:-}"
  TPORT="$(interop_wait_for_port "$WORK/tether$name.log" 's|^.*Tether listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TETHER_PID" "Tether$name" 90)"
  log "Tether$name on port $TPORT (pid $TETHER_PID): $TETHER_SERVE"
}

# Starts a redis-server of its own (a free port, AOF with an fsync per write: what cluster mode
# requires) with its files in $WORK/redis; sets REDIS_PID, REDIS_PORT and REDIS_URL. Needs
# REDIS_SERVER (tether_install_redis in packages.sh).
interop_start_redis() {
  local i
  REDIS_PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
  mkdir -p "$WORK/redis"
  "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes --appendfsync always \
    --save "" >>"$WORK/redis/redis.log" 2>&1 &
  REDIS_PID=$!
  for i in $(seq 1 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && { REDIS_URL="redis://127.0.0.1:$REDIS_PORT"; return 0; }
    sleep 0.1
  done
  cat "$WORK/redis/redis.log" >&2
  log "redis-server did not start"
  return 1
}

# Cluster mode: starts a redis-server, $1 Tether nodes on it (n1..nN, each with the arguments
# given, logs in $WORK/tether-nK.log) and a round-robin balancer in front (scripts/round-robin.mjs);
# sets TPORT to the balancer's port and CLUSTER_PIDS (stopped on exit by interop_workdir's trap).
interop_start_cluster() {
  local nodes="$1" n port here backends=()
  shift
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  interop_start_redis
  CLUSTER_PIDS="$REDIS_PID"
  for n in $(seq 1 "$nodes"); do
    # shellcheck disable=SC2086
    $TETHER_SERVE --port 0 --data-dir "$WORK/data-n$n" --store redis --redis "$REDIS_URL" --node-id "n$n" "$@" \
      >"$WORK/tether-n$n.log" 2>&1 &
    CLUSTER_PIDS="$! $CLUSTER_PIDS"
    port="$(interop_wait_for_port "$WORK/tether-n$n.log" 's|^.*Tether listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$!" "Tether n$n" 90)"
    backends+=("http://127.0.0.1:$port")
  done
  node "$here/scripts/round-robin.mjs" "${backends[@]}" >"$WORK/round-robin.log" 2>&1 &
  CLUSTER_PIDS="$! $CLUSTER_PIDS"
  TPORT="$(interop_wait_for_port "$WORK/round-robin.log" 's|^round-robin listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$!" round-robin 10)"
  log "$nodes Tether nodes on $REDIS_URL behind round-robin port $TPORT: ${backends[*]}"
}

# Ends a test run named $1 that exited with $2 under a timeout of $3 seconds: on failure prints
# the tails of the server logs in $WORK and exits with the status.
interop_finish() {
  local name="$1" status="$2" limit="$3"
  if [ "$status" -ne 0 ]; then
    [ "$status" -eq 124 ] && log "the test run timed out ($limit s)"
    local f
    for f in "$WORK"/tether*.log; do
      [ -f "$f" ] && { log "$(basename "$f") (tail):"; tail -60 "$f" >&2; }
    done
    [ -f "$WORK/upstream.log" ] && { log "upstream log (tail):"; tail -20 "$WORK/upstream.log" >&2; }
    log "$name FAILED (exit $status)"
    exit "$status"
  fi
  log "$name passed"
}

# A scratch directory in WORK, removed on exit after the servers started with
# interop_start_upstream / interop_start_tether are stopped.
interop_workdir() {
  WORK="$(mktemp -d)"
  UP_PID=""
  TETHER_PID=""
  CLUSTER_PIDS=""
  trap '[ -n "${KEEP_WORK:-}" ] && cp -r "$WORK" /tmp/e2e-work; interop_stop "$TETHER_PID"; for p in $CLUSTER_PIDS; do interop_stop "$p"; done; interop_stop "$UP_PID"; rm -rf "$WORK"' EXIT
  trap 'exit 130' INT TERM
}
