# Sourced by the Tether-only A/B scripts (catchup-cpu.sh, switches.sh, saturated-start.sh,
# sse-tail.sh, gc-pauses.sh), not run.
# start_pinned_server TREE [DIR]: starts `TREE/tether serve` on CPU 0 (anywhere with PIN=off) on a
# fresh data dir, or on DIR (a restart on the same data; TETHER_JAVA_OPTS passes through;
# SERVER_ARGS, split on spaces, is added to its flags)
# and sets DATA (the data dir; DATA.* are scratch files beside it), SERVER (its pid), URL and LOAD
# (the command prefix for load generators: `taskset -c 1`, or nothing with PIN=off); an EXIT trap
# stops the server and removes them.
start_pinned_server() {
  local tree="$1" port="" server=()
  if [ "${PIN:-on}" = off ]; then LOAD=(); else server=(taskset -c 0); LOAD=(taskset -c 1); fi
  DATA="${2:-$(mktemp -d)}"
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

# load_before_sse OUT: what bench/streams/run.sh runs before its SSE phase, against $URL from $LOAD:
# 100 streams, an untimed fan-out of 100 subscribers at 50 events/s for 10 s, then `wrk -t1 -c64`
# appends of 256 B over the streams for APPEND_SECONDS (45: the run's 30 s of server warm-up, 5 s
# of warm-up and 10 s measured); wrk's output in OUT/wrk.txt. Exits saying which step failed.
load_before_sse() {
  local out="$1" here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  ${LOAD[@]+"${LOAD[@]}"} node "$here/setup-streams.mjs" --url "$URL" --count 100 >"$out/setup.txt" 2>&1 \
    || { echo "making the streams failed: $(tail -2 "$out/setup.txt")" >&2; exit 1; }
  ${LOAD[@]+"${LOAD[@]}"} "$here/ssefan/ssefan" --url "$URL" --subscribers 100 --rate 50 --duration 10 --warmup 0 \
    >"$out/sse-warmup.json" 2>"$out/sse-warmup.err" \
    || { echo "the SSE warm-up failed: $(tail -2 "$out/sse-warmup.err")" >&2; exit 1; }
  BENCH_STREAMS=100 BENCH_EXPECT=204 BENCH_LUA_DIR="$here/wrk" \
    ${LOAD[@]+"${LOAD[@]}"} wrk -t1 -c64 -d"${APPEND_SECONDS:-45}"s --timeout 10s -s "$here/wrk/post.lua" "$URL/" \
    >"$out/wrk.txt" 2>&1 || { echo "wrk failed: $(tail -2 "$out/wrk.txt")" >&2; exit 1; }
  grep -q "Requests/sec" "$out/wrk.txt" || { echo "wrk printed no rate: $(tail -2 "$out/wrk.txt")" >&2; exit 1; }
}
