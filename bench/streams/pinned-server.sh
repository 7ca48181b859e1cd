# Sourced by the Tether-only A/B scripts (catchup-cpu.sh, switches.sh), not run.
# start_pinned_server TREE: starts `TREE/tether serve` on CPU 0 (anywhere with PIN=off) on a fresh
# data dir (TETHER_JAVA_OPTS passes through; SERVER_ARGS, split on spaces, is added to its flags)
# and sets DATA (the data dir; DATA.* are scratch files beside it), SERVER (its pid), URL and LOAD
# (the command prefix for load generators: `taskset -c 1`, or nothing with PIN=off); an EXIT trap
# stops the server and removes them.
start_pinned_server() {
  local tree="$1" port="" server=()
  if [ "${PIN:-on}" = off ]; then LOAD=(); else server=(taskset -c 0); LOAD=(taskset -c 1); fi
  DATA="$(mktemp -d)"
  SERVER=""
  trap 'if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null; fi; rm -rf "$DATA" "$DATA".*' EXIT
  # shellcheck disable=SC2086 # SERVER_ARGS is split into flags on purpose
  (cd "$tree" && exec ${server[@]+"${server[@]}"} ./tether serve --port 0 --data-dir "$DATA" ${SERVER_ARGS:-}) >"$DATA.out" 2>&1 &
  for _ in $(seq 1 600); do
    port="$(sed -n 's|^Tether listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$DATA.out")"
    [ -n "$port" ] && break
    sleep 0.2
  done
  [ -n "$port" ] || { cat "$DATA.out" >&2; echo "the server did not start" >&2; exit 1; }
  SERVER="$(pgrep -f "dev.tether.Main serve --port 0 --data-dir $DATA")"
  URL="http://127.0.0.1:$port"
}
