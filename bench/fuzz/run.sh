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

# The fuzzer lives in the test sources: compile them and write the test class path once per change.
CP_FILE="$ROOT/server/target/fuzz.classpath"
if [ ! -f "$CP_FILE" ] || [ -n "$(find "$ROOT/server/src" "$ROOT/server/pom.xml" -newer "$CP_FILE" -print -quit)" ]; then
  echo "fuzz: compiling (sources changed)..." >&2
  (cd "$ROOT" && ./mvnw -B -q -pl server test-compile dependency:build-classpath \
    -Dmdep.outputFile="$CP_FILE" -Dmdep.includeScope=test -Dspotless.check.skip=true) >&2
fi

# shellcheck source=../../scripts/lib/native-deps.sh
. "$ROOT/scripts/lib/native-deps.sh"
tether_check_libgomp # the tiny model runs on the embedded engine, which needs the OpenMP runtime

exec "$JAVA_HOME/bin/java" -XX:+ExitOnOutOfMemoryError --enable-native-access=ALL-UNNAMED \
  --sun-misc-unsafe-memory-access=allow \
  -cp "$ROOT/server/target/test-classes:$ROOT/server/target/classes:$(cat "$CP_FILE")" \
  dev.tether.fuzz.FuzzMain "$@"
