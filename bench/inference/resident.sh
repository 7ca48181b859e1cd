#!/usr/bin/env bash
# Embedded engine benchmark: how much resident sessions slow each other's decoding down
# (llama.cpp b4916 attends over every occupied KV cell). One server, K = 1, 2, 4, 8 stored
# sessions of ~1,400 tokens each made resident one after another, and a measured 64-token
# turn of one of them per rep. Writes results/resident.md. See README.md.
#
# Usage: bench/inference/resident.sh [--sessions 1,2,4,8] [--reps N] [--history-words N]
#          [--output N] [--context N] [--size 134m|small|tiny] [--groups N]
# --groups N: serve with --engine-groups N (results go to results/resident-groupsN.md).
# Env: TETHER  the launcher to use (default: $ROOT/tether)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TETHER="${TETHER:-$ROOT/tether}"
COMMAND="bench/inference/resident.sh${*:+ $*}"
SESSIONS=1,2,4,8
REPS=3
HISTORY_WORDS=390
OUTPUT=64
CONTEXT=2048
SIZE=134m
ENGINE_GROUPS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sessions) SESSIONS="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --history-words) HISTORY_WORDS="$2"; shift 2 ;;
    --output) OUTPUT="$2"; shift 2 ;;
    --context) CONTEXT="$2"; shift 2 ;;
    --size) SIZE="$2"; shift 2 ;;
    --groups) ENGINE_GROUPS="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v node >/dev/null || { echo "bench/inference needs node (20+)" >&2; exit 1; }
[[ "$SESSIONS" =~ ^[1-8](,[1-8])*$ ]] || { echo "--sessions: a comma-separated list of 1..8 (the engine holds 8 sessions)" >&2; exit 2; }

# KV bytes per token of each shape (layers x dim x 2 (K and V) x 2 bytes of f16).
case "$SIZE" in
  134m) PER_TOKEN=36864 ;;
  small) PER_TOKEN=4096 ;;
  tiny) PER_TOKEN=512 ;;
  *) echo "--size: 134m, small or tiny" >&2; exit 2 ;;
esac
# Room for all 8 sequences the engine has at the full session context, so no session is ever
# evicted (spilled) to make room: 8 x 2,048 cells x 36,864 bytes = 576 MiB for the 134m shape.
BUDGET=$((8 * CONTEXT * PER_TOKEN))

# Builds the launcher if sources changed (and records its AOT cache) before anything is timed.
"$TETHER" help >/dev/null

MODELS="$HERE/.models"   # generated, never committed (*.gguf is git-ignored)
MODEL="$MODELS/$SIZE.gguf"
mkdir -p "$MODELS" "$HERE/results/raw"
if [ ! -f "$MODEL" ]; then
  "$TETHER" model generate --out "$MODEL" --size "$SIZE" >&2
fi

log() { printf '[resident %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# shellcheck source=../../scripts/lib/interop.sh
. "$ROOT/scripts/lib/interop.sh"
interop_workdir
TETHER_SERVE="$TETHER serve"
interop_start_tether --model "$MODEL" --kv-budget "$BUDGET" --context "$CONTEXT" --engine-groups "$ENGINE_GROUPS"
URL="http://127.0.0.1:$TPORT"
LOG="$WORK/tether.log"
echo "Tether at $URL, model $MODEL, context $CONTEXT, KV budget $BUDGET bytes" >&2

RAW="$HERE/results/raw"
NAME=resident
[ "$ENGINE_GROUPS" = 1 ] || NAME="resident-groups$ENGINE_GROUPS"
timeout 330 node "$HERE/resident.mjs" "$URL" --sessions "$SESSIONS" --reps "$REPS" \
  --history-words "$HISTORY_WORDS" --output "$OUTPUT" --bytes-per-token "$PER_TOKEN" \
  --server-log "$LOG" --kv-dir "$WORK/data/kv" --json "$RAW/$NAME.json" --md "$HERE/results/$NAME.md" \
  --command "$COMMAND" --rev "$(git -C "$ROOT" describe --always --dirty)" --size "$SIZE" \
  --context "$CONTEXT" --budget "$BUDGET"
grep -E "INFO .*turn |WARNING|SEVERE|spill" "$LOG" > "$RAW/$NAME-server.log" || true
cat "$HERE/results/$NAME.md"
