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
    port="$(sed -n "$pattern" "$out" | head -1)"
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || { log "$name exited before listening:"; tail -50 "$out" >&2; return 1; }
    sleep 0.1
  done
  log "$name did not start listening within $5 s:"; tail -50 "$out" >&2
  return 1
}
