#!/usr/bin/env bash
# Runs a time-bounded fuzz campaign over the Durable Streams API, the Responses API, raw HTTP/1.1
# bytes and the Responses WebSocket, and prints counts and every distinct failure. See README.md.
#
# Usage: bench/fuzz/run.sh [--cases N] [--seconds S] [--seed X] [--only AREA:INDEX]
#                          [--areas a,b] [--url URL] [--token T] [--server-arg ARG]... [--help]
# Without --url it starts its own server (tiny random-weight model). Exit status 1 = failures found.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

# shellcheck source=../../scripts/lib/jdk.sh
. "$ROOT/scripts/lib/jdk.sh"
JAVA_HOME="$(tether_find_jdk 25)" || { echo "fuzz: no JDK 25 or newer found (set JAVA_HOME)" >&2; exit 2; }
export JAVA_HOME

# The fuzzer lives in the test sources: compiled, and their class path written, once per change.
TEST_CP="$(tether_test_classpath "$ROOT" "fuzz")"

# shellcheck source=../../scripts/lib/native-deps.sh
. "$ROOT/scripts/lib/native-deps.sh"
tether_check_libgomp # the tiny model runs on the embedded engine, which needs the OpenMP runtime

exec "$JAVA_HOME/bin/java" -XX:+ExitOnOutOfMemoryError --enable-native-access=ALL-UNNAMED \
  --sun-misc-unsafe-memory-access=allow \
  -cp "$TEST_CP" \
  dev.tether.fuzz.FuzzMain "$@"
