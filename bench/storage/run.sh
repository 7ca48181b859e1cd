#!/usr/bin/env bash
# The log store's group commit without HTTP (dev.tether.store.log.GroupCommitBench): one thread
# commits batches of appends, another fdatasyncs them, rounds alternating between plain segments
# and zero-filled ones (--log-preallocate). Prints a markdown table of appends/s and sync
# latency per round. Options (all optional):
#   --rounds N (6)  --seconds S per round (10)  --batch N appends per commit (64)
#   --size BYTES per append (256)  --pause-us U between commits (0: as fast as the disk syncs)
#   --dir DIR where the logs go (the temp dir: put it on the disk you mean to measure)
#   --prefill-mb M of log first, untimed (the data a checkpoint in the window carries; 0)
#   --segments both|plain|zero-filled (both: rounds alternate)
#   --keep true leaves each round's log in place; --reopen DIR only opens such a log, timed, in a
#     fresh JVM (recovery after a crash, files in the page cache)
#   --cpu N pins the JVM to CPU N (taskset), as the server is in bench/streams
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

COMMAND="bench/storage/run.sh $*"
ARGS=()
CPU=""
DIR="${TMPDIR:-/tmp}"
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) CPU="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --dir) DIR="$2"; ARGS+=("$1" "$2"); shift 2 ;;
    --rounds|--seconds|--batch|--size|--pause-us|--prefill-mb|--segments|--keep|--reopen) ARGS+=("$1" "$2"); shift 2 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# shellcheck source=../../scripts/lib/jdk.sh
. "$ROOT/scripts/lib/jdk.sh"
JAVA_HOME="$(tether_find_jdk 25)" || { echo "storage bench: no JDK 25 or newer found (set JAVA_HOME)" >&2; exit 2; }
export JAVA_HOME

TEST_CP="$(tether_test_classpath "$ROOT" "storage bench")"

PIN=()
[ -n "$CPU" ] && PIN=(taskset -c "$CPU")
echo "- Command: \`${COMMAND% }\`"
echo "- Date: $(date -u +%Y-%m-%dT%H:%M:%SZ); git $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "?"); file system of the logs: $(df -T "$DIR" 2>/dev/null | awk 'NR==2{print $2}')"
echo
exec "${PIN[@]}" "$JAVA_HOME/bin/java" -XX:+ExitOnOutOfMemoryError -XX:+UseG1GC \
  -cp "$TEST_CP" \
  dev.tether.store.log.GroupCommitBench "${ARGS[@]}"
