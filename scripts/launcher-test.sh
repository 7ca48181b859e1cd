#!/usr/bin/env bash
# Tests of the launcher's native-library check (run by scripts/test.sh): it must find libgomp
# every time (a pipeline under pipefail once failed 10 times in 200), also when /usr/sbin is
# not on PATH, and a normal start must never call the package manager.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/native-deps.sh
. "$ROOT/scripts/lib/native-deps.sh"
fail() { echo "launcher-test: FAIL: $*" >&2; exit 1; }

FAKE="$(mktemp -d)"
trap 'rm -rf "$FAKE"' EXIT
for tool in apt-get apt dpkg; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/calls"\nexit 1\n' "$tool" "$FAKE" > "$FAKE/$tool"
  chmod +x "$FAKE/$tool"
done

found="$(tether_find_libgomp)" || fail "libgomp.so.1 not found on this machine"
[ -e "$found" ] || fail "tether_find_libgomp printed '$found', which does not exist"

for i in $(seq 1 200); do
  PATH="$FAKE:/usr/bin:/bin" tether_find_libgomp >/dev/null || fail "check $i of 200 did not find libgomp"
done

# The whole launcher, with the package manager replaced by recorders and /usr/sbin off PATH.
PATH="$FAKE:/usr/bin:/bin" "$ROOT/tether" help >/dev/null 2>"$FAKE/stderr" || fail "./tether help failed: $(cat "$FAKE/stderr")"
[ ! -e "$FAKE/calls" ] || fail "the launcher called the package manager: $(cat "$FAKE/calls")"
if grep -q 'libgomp' "$FAKE/stderr"; then fail "the launcher warned about libgomp although it is installed"; fi
echo "launcher-test: ok (200 checks, no package manager on start)"
