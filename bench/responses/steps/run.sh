#!/usr/bin/env bash
# Times two steps of a gateway turn in the server's own classes (Steps.java): the run's events
# that echo the request, and the upstream's answers read chunk by chunk.
#   bench/responses/steps/run.sh [TREE ...]   each TREE a checkout whose server is built
#                                             (default: this one); SECONDS=20 per step
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# shellcheck source=../../../scripts/lib/jdk.sh
. "$ROOT/scripts/lib/jdk.sh"
JAVA="$(tether_find_jdk 25)/bin/java"
(cd "$HERE" && node inputs.mjs > "${TMPDIR:-/tmp}/tether-steps-inputs.json")
for tree in "${@:-$ROOT}"; do
  jar="$(ls "$tree"/server/target/tether-server-*.jar 2>/dev/null | head -1)"
  [ -n "$jar" ] || { echo "no server jar in $tree/server/target: run $tree/tether help first" >&2; exit 1; }
  cp="$jar"; for j in "$tree"/server/target/lib/*.jar; do cp="$cp:$j"; done
  echo "== $tree (git $(git -C "$tree" rev-parse --short HEAD))"
  taskset -c "${CPU:-1}" "$JAVA" -cp "$cp" "$HERE/Steps.java" "${TMPDIR:-/tmp}/tether-steps-inputs.json" "${SECONDS_PER_STEP:-20}"
done
