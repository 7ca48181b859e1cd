#!/usr/bin/env bash
# Embedded engine benchmark on the 134M shape: warm vs recomputed time to first token, restore
# from disk vs recompute, and a 20-turn agent loop stateless vs pinned, all through Tether's
# Responses API in one run. Writes results/latest.md. See README.md.
#
# Usage: bench/inference/run.sh [--reps N] [--history-words N] [--loop-turns N] [--size 134m|small|tiny]
# Env: TETHER  the launcher to use (default: $ROOT/tether)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TETHER="${TETHER:-$ROOT/tether}"
COMMAND="bench/inference/run.sh${*:+ $*}"
REPS=3
HISTORY_WORDS=560
LOOP_TURNS=20
SIZE=134m
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --history-words) HISTORY_WORDS="$2"; shift 2 ;;
    --loop-turns) LOOP_TURNS="$2"; shift 2 ;;
    --size) SIZE="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v node >/dev/null || { echo "bench/inference needs node (20+)" >&2; exit 1; }

MODELS="$HERE/.models"   # generated, never committed (*.gguf is git-ignored)
MODEL="$MODELS/$SIZE.gguf"
mkdir -p "$MODELS" "$HERE/results"
if [ ! -f "$MODEL" ]; then
  "$TETHER" model generate --out "$MODEL" --size "$SIZE" >&2
fi

# The KV budget and the session context are 3,072 tokens: one ~2,100-token session fits, two
# do not, so every measured turn runs alone and a push request makes the server spill to disk.
case "$SIZE" in
  134m) PER_TOKEN=36864 ;;
  small) PER_TOKEN=4096 ;;
  tiny) PER_TOKEN=512 ;;
esac
CELLS=3072
BUDGET=$((CELLS * PER_TOKEN))

DATA="$(mktemp -d)"
LOG="$DATA/server.log"
cleanup() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
"$TETHER" serve --port 0 --data-dir "$DATA" --model "$MODEL" --kv-budget "$BUDGET" --context "$CELLS" >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 1 600); do
  grep -q "^Tether listening" "$LOG" && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.2
done
URL="$(sed -n 's/^Tether listening on \(http:[^ ]*\).*/\1/p' "$LOG")"
[ -n "$URL" ] || { echo "server did not start" >&2; cat "$LOG" >&2; exit 1; }
echo "Tether at $URL, model $MODEL, KV budget $BUDGET bytes" >&2

RAW="$HERE/results/raw"
mkdir -p "$RAW"
timeout 1800 node "$HERE/bench.mjs" "$URL" --reps "$REPS" --history-words "$HISTORY_WORDS" \
  --loop-turns "$LOOP_TURNS" --kv-dir "$DATA/kv" --json "$RAW/latest.json"
grep -E "INFO .*turn |WARNING|spill" "$LOG" > "$RAW/server-turns.log" || true
node "$HERE/render.mjs" "$RAW/latest.json" "$COMMAND" "$(git -C "$ROOT" rev-parse --short HEAD)" \
  "$(grep -m1 'embedded llama.cpp' "$LOG" | sed 's/.*EmbeddedBackend: //')" > "$HERE/results/latest.md"
cat "$HERE/results/latest.md"
