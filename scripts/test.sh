#!/usr/bin/env bash
# Runs every test: JUnit (unit + integration, via Maven), the official Durable Streams
# conformance suite against a real server on a free port (once per store tier: SQLite, memory, the
# log store (in development), and
# one node on a redis-server of its own; then three nodes on that Redis behind a round-robin
# balancer), and the
# official openai npm SDK against the Responses API (web/openai-compat), the official openai
# Python SDK against it (web/openai-compat/python: the embedded demo model), and a session log
# materialised by createStreamDB from the official @durable-streams/state (web/session-state),
# and the clients (TypeScript SDK, web app, useChat over the AI SDK transport) in chromium (web/e2e),
# then cluster mode: the SDK's session tests against three nodes on one Redis, and the chaos test
# (scripts/chaos/cluster.sh: a node and Redis killed under load).
# Called by `./tether test` (which finds the JDK); extra arguments go to Maven.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${JAVA_HOME:?run this through ./tether test, which finds a JDK 25}"
log() { printf '[test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=lib/native-deps.sh
. "$ROOT/scripts/lib/native-deps.sh"
tether_install_libgomp # the embedded engine's tests need the OpenMP runtime
# shellcheck source=lib/packages.sh
. "$ROOT/scripts/lib/packages.sh"
tether_install_redis # the Redis store's tests start their own redis-server on free ports

log "1/7 JUnit tests (./mvnw verify)"
(cd "$ROOT" && ./mvnw -B -q verify "$@")
touch "$ROOT/server/target/.tether-build-stamp"
"$ROOT/scripts/launcher-test.sh"

log "2/7 Durable Streams conformance suite (@durable-streams/server-conformance-tests, pinned)"
CONF="$ROOT/web/conformance"
# shellcheck source=lib/interop.sh
. "$ROOT/scripts/lib/interop.sh"
interop_install "$ROOT/web" "the web workspace (one npm ci for every JavaScript test)"

WORK="$(mktemp -d)"
SERVER_PIDS=()
REDIS_PID=""
cleanup() {
  stop_nodes
  interop_stop "$REDIS_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT

# The servers' long-poll timeout and the suite's matching setting; the tests that wait it out take
# about a second each. The SSE keep-alive has its own interval, longer than any SSE read of the
# suite (2-5 s): when it was the long-poll timeout, a client read delayed by that long (a loaded
# machine) saw a keep-alive's control event beside the first one, failing the tests that count them.
LONG_POLL_MS=1000
SSE_KEEP_ALIVE=30s

# Starts one server in the background (`$1` names its log, then serve options); sets NODE_PID and NODE_PORT.
start_node() {
  local name="$1" out="$WORK/server-$1.log" i
  shift
  NODE_PORT=""
  : >"$out" # exists before the first look at it, however the background start is scheduled
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$ROOT/server/target/classes:$ROOT/server/target/lib/*" \
    dev.tether.Main serve --port 0 --long-poll-timeout "${LONG_POLL_MS}ms" --sse-keep-alive "$SSE_KEEP_ALIVE" "$@" >"$out" 2>&1 &
  NODE_PID=$!
  SERVER_PIDS+=("$NODE_PID")
  for i in $(seq 1 300); do
    NODE_PORT="$(sed -n 's|^Tether listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$out")"
    [ -n "$NODE_PORT" ] && return 0
    kill -0 "$NODE_PID" 2>/dev/null || { cat "$out" >&2; log "server $name exited before listening"; exit 1; }
    sleep 0.1
  done
  cat "$out" >&2; log "server $name did not start within 30 s"; exit 1
}

stop_nodes() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
}

conformance() { # $1 = what runs it (for the log), $2 = the URL
  local status=0
  log "conformance against $1 at $2"
  (cd "$CONF" && CONFORMANCE_TEST_URL="$2" LONG_POLL_TIMEOUT_MS="$LONG_POLL_MS" \
    NO_COLOR=1 timeout 600 npx vitest run --reporter=default) || status=$?
  if [ "$status" -ne 0 ]; then
    local f
    for f in "$WORK"/server-*.log; do log "$f:"; tail -30 "$f" >&2; done
    log "conformance FAILED against $1"; exit "$status"
  fi
}

run_suite() { # $1 = store tier, then extra serve options
  local store="$1"
  shift
  start_node "$store" --store "$store" --data-dir "$WORK/data-$store" "$@"
  conformance "the $store store (one node, pid $NODE_PID)" "http://127.0.0.1:$NODE_PORT"
  stop_nodes
}

# Three nodes on one Redis behind a round-robin balancer: consecutive requests of one test (create,
# append, read, long-poll, SSE) land on different nodes.
run_cluster_suite() {
  local n backends=() lb_log="$WORK/round-robin.log" lb_url="" i
  for n in 1 2 3; do
    start_node "cluster-n$n" --store redis --redis "$REDIS_URL" --node-id "n$n" --data-dir "$WORK/data-n$n"
    backends+=("http://127.0.0.1:$NODE_PORT")
  done
  : >"$lb_log"
  node "$ROOT/scripts/round-robin.mjs" "${backends[@]}" >"$lb_log" 2>&1 &
  SERVER_PIDS+=("$!")
  for i in $(seq 1 100); do
    lb_url="$(sed -n 's|^round-robin listening on \(http://[^ ]*\) .*|\1|p' "$lb_log")"
    [ -n "$lb_url" ] && break
    sleep 0.1
  done
  [ -n "$lb_url" ] || { cat "$lb_log" >&2; log "the round-robin balancer did not start"; exit 1; }
  conformance "three nodes on one Redis, requests round-robin" "$lb_url"
  stop_nodes
}

run_suite sqlite
run_suite memory
run_suite log
interop_start_redis # a redis-server of our own: a free port, AOF with an fsync per write
run_suite redis --redis "$REDIS_URL"
run_cluster_suite
interop_stop "$REDIS_PID"

log "3/7 openai npm SDK compatibility (web/openai-compat, pinned openai + ws)"
TETHER_SERVE="$ROOT/tether serve" "$ROOT/web/openai-compat/run.sh"

log "4/7 openai Python SDK compatibility (web/openai-compat/python, pinned openai in a venv; skipped where it cannot be installed)"
TETHER_SERVE="$ROOT/tether serve" "$ROOT/web/openai-compat/python/run.sh"

log "5/7 session log materialised by @durable-streams/state createStreamDB (web/session-state, pinned)"
TETHER_SERVE="$ROOT/tether serve" "$ROOT/web/session-state/run.sh"

log "6/7 clients: the TypeScript SDK, the web app and the useChat page in chromium (web/e2e)"
TETHER_SERVE="$ROOT/tether serve" "$ROOT/web/e2e/run.sh"

log "7/7 cluster mode: the SDK's session tests on three nodes behind round-robin, then the chaos test"
CLUSTER=3 E2E_FILES="e2e/sdk.test.mjs e2e/transport.test.mjs" TETHER_SERVE="$ROOT/tether serve" "$ROOT/web/e2e/run.sh"
TETHER_SERVE="$ROOT/tether serve" "$ROOT/scripts/chaos/cluster.sh"
log "all tests passed"
