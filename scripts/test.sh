#!/usr/bin/env bash
# Runs every test: JUnit (unit + integration, via Maven), the official Durable Streams
# conformance suite against a real server on a free port (once per store tier: SQLite, memory, and
# one node on a redis-server of its own), and the
# official openai npm SDK against the Responses API (web/openai-compat), and a session log
# materialised by createStreamDB from the official @durable-streams/state (web/session-state),
# and the clients (TypeScript SDK, web app, useChat over the AI SDK transport) in chromium (web/e2e).
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

log "1/5 JUnit tests (./mvnw verify)"
(cd "$ROOT" && ./mvnw -B -q verify "$@")
touch "$ROOT/server/target/.tether-build-stamp"
"$ROOT/scripts/launcher-test.sh"

log "2/5 Durable Streams conformance suite (@durable-streams/server-conformance-tests, pinned)"
CONF="$ROOT/web/conformance"
# shellcheck source=lib/interop.sh
. "$ROOT/scripts/lib/interop.sh"
interop_install "$ROOT/web" "the web workspace (one npm ci for every JavaScript test)"

WORK="$(mktemp -d)"
SERVER_PID=""
REDIS_PID=""
cleanup() {
  interop_stop "$REDIS_PID"
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A redis-server of our own (free port, AOF with an fsync per write) for the Redis tier; sets
# REDIS_PID and REDIS_URL.
start_redis() {
  local port i
  port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
  mkdir -p "$WORK/redis"
  "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes --appendfsync always \
    --save "" >"$WORK/redis/redis.log" 2>&1 &
  REDIS_PID=$!
  for i in $(seq 1 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && { REDIS_URL="redis://127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  cat "$WORK/redis/redis.log" >&2
  log "redis-server did not start"
  return 1
}

run_suite() { # $1 = store tier, then extra serve options
  local store="$1" out="$WORK/server-$1.log" port="" i
  shift
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$ROOT/server/target/classes:$ROOT/server/target/lib/*" \
    dev.tether.Main serve --port 0 --store "$store" --data-dir "$WORK/data-$store" --long-poll-timeout 500ms "$@" \
    >"$out" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 300); do
    port="$(sed -n 's|^Tether listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$out")"
    [ -n "$port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$out" >&2; log "server exited before listening"; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$out" >&2; log "server did not start within 30 s"; exit 1; }
  log "conformance against the $store store on port $port (pid $SERVER_PID)"
  local status=0
  (cd "$CONF" && CONFORMANCE_TEST_URL="http://127.0.0.1:$port" LONG_POLL_TIMEOUT_MS=500 \
    NO_COLOR=1 timeout 600 npx vitest run --reporter=default) || status=$?
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  if [ "$status" -ne 0 ]; then
    log "server log:"; tail -50 "$out" >&2
    log "conformance FAILED against the $store store"; exit "$status"
  fi
}

run_suite sqlite
run_suite memory
start_redis
run_suite redis --redis "$REDIS_URL"
interop_stop "$REDIS_PID"

log "3/5 openai npm SDK compatibility (web/openai-compat, pinned openai + ws)"
TETHER_SERVE="$ROOT/tether serve" "$ROOT/web/openai-compat/run.sh"

log "4/5 session log materialised by @durable-streams/state createStreamDB (web/session-state, pinned)"
TETHER_SERVE="$ROOT/tether serve" "$ROOT/web/session-state/run.sh"

log "5/5 clients: the TypeScript SDK, the web app and the useChat page in chromium (web/e2e)"
TETHER_SERVE="$ROOT/tether serve" "$ROOT/web/e2e/run.sh"
log "all tests passed"
