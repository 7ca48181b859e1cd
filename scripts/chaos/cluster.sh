#!/usr/bin/env bash
# The cluster chaos test: three Tether nodes on one Redis (AOF, an fsync per write) with the
# scripted upstream behind their built-in agents; scripts/chaos/load.mjs drives idempotent
# producers, SSE readers on the nodes that survive, and session runs while this script
#   1. kills -9 the node that owns the sessions (the others must take them over and end its runs),
#   2. kills -9 Redis and starts it again from its AOF,
# then stops the load, whose checks decide the outcome: every acknowledged append present exactly
# once and in order, every reader's copy equal to its stream, no run left running.
#
#   scripts/chaos/cluster.sh                   (./tether test runs it; needs the server built)
#   TETHER_SERVE="./tether serve" scripts/chaos/cluster.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TETHER_SERVE="${TETHER_SERVE:-$ROOT/tether serve}"
LOAD_SECONDS="${LOAD_SECONDS:-6}" # of load before each fault, and after the last one
log() { printf '[chaos %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=../lib/interop.sh
. "$ROOT/scripts/lib/interop.sh"
# shellcheck source=../lib/packages.sh
. "$ROOT/scripts/lib/packages.sh"
tether_install_redis
interop_workdir
COUNT_DELAY_MS=20 interop_start_upstream
interop_start_redis
CLUSTER_PIDS="$REDIS_PID"

PIDS=() URLS=()
for n in 1 2 3; do
  # shellcheck disable=SC2086
  $TETHER_SERVE --port 0 --data-dir "$WORK/data-n$n" --store redis --redis "$REDIS_URL" --node-id "n$n" \
    --upstream "http://127.0.0.1:$UPORT/v1" >"$WORK/tether-n$n.log" 2>&1 &
  pid=$!
  CLUSTER_PIDS="$pid $CLUSTER_PIDS"
  port="$(interop_wait_for_port "$WORK/tether-n$n.log" 's|^.*Tether listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$pid" "Tether n$n" 90)"
  PIDS+=("$pid") URLS+=("http://127.0.0.1:$port")
  log "node n$n on port $port (pid $pid)"
done

# the owner of the sessions is the node whose log says so
owner=""
for i in $(seq 1 100); do
  for n in 0 1 2; do
    grep -q "now owns the sessions" "$WORK/tether-n$((n + 1)).log" && owner=$n
  done
  [ -n "$owner" ] && break
  sleep 0.1
done
[ -n "$owner" ] || { log "no node took the owner lease within 10 s"; exit 1; }
survivors=()
for n in 0 1 2; do [ "$n" -ne "$owner" ] && survivors+=("${URLS[$n]}"); done
log "n$((owner + 1)) owns the sessions; readers follow on ${survivors[*]}"

STOP="$WORK/stop"
(IFS=,; NODES="${URLS[*]}" READ_NODES="${survivors[*]}" STOP_FILE="$STOP" \
  node "$ROOT/scripts/chaos/load.mjs") &
LOAD=$!
CLUSTER_PIDS="$LOAD $CLUSTER_PIDS"

sleep "$LOAD_SECONDS"
log "kill -9 n$((owner + 1)), the owner of the sessions (pid ${PIDS[$owner]})"
kill -9 "${PIDS[$owner]}"
sleep "$LOAD_SECONDS"
log "kill -9 redis-server (pid $REDIS_PID), then start it again from its AOF"
kill -9 "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null || true
sleep 1
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes --appendfsync always \
  --save "" >>"$WORK/redis/redis.log" 2>&1 &
REDIS_PID=$!
CLUSTER_PIDS="$REDIS_PID $CLUSTER_PIDS"
sleep "$LOAD_SECONDS"
log "stopping the load; checking"
touch "$STOP"
status=0
timeout 180 tail --pid="$LOAD" -f /dev/null || status=124
wait "$LOAD" || status=$?
for n in 0 1 2; do
  [ "$n" -ne "$owner" ] && grep -q "now owns the sessions" "$WORK/tether-n$((n + 1)).log" \
    && log "n$((n + 1)) took the sessions over"
done
interop_finish "the cluster chaos test" "$status" 180
