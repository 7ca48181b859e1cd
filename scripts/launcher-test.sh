#!/usr/bin/env bash
# Tests of the launcher's class path and native-library check (run by scripts/test.sh): the build
# leaves only the current dependencies' jars in server/target/lib; the launcher must find libgomp
# every time (a pipeline under pipefail once failed 10 times in 200), also when /usr/sbin is
# not on PATH, and a normal start must never call the package manager. Then the web app's
# build on serve (on a copy of the launcher with a recording java and npm: no JVM, no npm
# install) and the chromium set-up for the browser tests (with a recording apt-get).
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

# server/target/lib is copied afresh on every package: a jar that a dependency's older version left
# there shares the class path with the new one (two Netty versions at once, after a bump, closed
# keep-alive connections mid-request).
STALE="$ROOT/server/target/lib/netty-buffer-4.0.0.Final.jar"
mkdir -p "$ROOT/server/target/lib"
touch "$STALE"
if ! (cd "$ROOT" && ./mvnw -B -q -pl server package -DskipTests -Dspotless.check.skip=true) >"$FAKE/package.log" 2>&1; then
  rm -f "$STALE"
  fail "./mvnw package failed: $(tail -20 "$FAKE/package.log")"
fi
[ ! -e "$STALE" ] || { rm -f "$STALE"; fail "a package left a jar no dependency names in server/target/lib"; }

found="$(tether_find_libgomp)" || fail "libgomp.so.1 not found on this machine"
[ -e "$found" ] || fail "tether_find_libgomp printed '$found', which does not exist"

for i in $(seq 1 200); do
  PATH="$FAKE:/usr/bin:/bin" tether_find_libgomp >/dev/null || fail "check $i of 200 did not find libgomp"
done

# The whole launcher, with the package manager replaced by recorders and /usr/sbin off PATH.
PATH="$FAKE:/usr/bin:/bin" "$ROOT/tether" help >/dev/null 2>"$FAKE/stderr" || fail "./tether help failed: $(cat "$FAKE/stderr")"
[ ! -e "$FAKE/calls" ] || fail "the launcher called the package manager: $(cat "$FAKE/calls")"
if grep -q 'libgomp' "$FAKE/stderr"; then fail "the launcher warned about libgomp although it is installed"; fi

# ./tether serve and the web app. $T is a copy of the launcher whose JDK records the arguments
# it is started with, and whose server build is up to date; npm and node are stubs.
T="$FAKE/root"
mkdir -p "$T/scripts/lib" "$T/server/src/main" "$T/server/target" "$T/web/app/src" "$T/jdk/bin" "$FAKE/stubs"
cp "$ROOT/tether" "$T/"
cp "$ROOT/scripts/build-web.sh" "$T/scripts/"
cp "$ROOT/scripts/lib/"*.sh "$T/scripts/lib/"
printf '{}\n' > "$T/web/package.json"
printf '{}\n' > "$T/web/package-lock.json"
printf 'x\n' > "$T/web/app/src/main.ts"
touch "$T/pom.xml" "$T/server/pom.xml"
touch -d '2000-01-01' "$T/pom.xml" "$T/server/pom.xml" "$T/server/src/main" "$T/web/app/src/main.ts" "$T/web/package-lock.json"
touch "$T/server/target/.tether-build-stamp"
printf '#!/bin/sh\ncase "$1" in -XshowSettings*) echo "    java.specification.version = 25" >&2; exit 0;; esac\nprintf "%%s\\n" "$@" > "%s/args"\n' "$FAKE" > "$T/jdk/bin/java"
cp "$T/jdk/bin/java" "$T/jdk/bin/javac"
printf '#!/bin/sh\nexit 0\n' > "$FAKE/stubs/node"
printf '#!/bin/sh\necho "npm $*" >> "%s/npm-calls"\ncase "$1" in\n  ci) mkdir -p node_modules && touch node_modules/.package-lock.json ;;\n  run) [ -z "${FAIL_BUILD:-}" ] || exit 1; mkdir -p app/dist && echo "<!doctype html>" > app/dist/index.html ;;\nesac\n' "$FAKE" > "$FAKE/stubs/npm"
chmod +x "$T/jdk/bin/java" "$T/jdk/bin/javac" "$FAKE/stubs/node" "$FAKE/stubs/npm"
# A PATH with the system's tools but no node, npm, chromium, package manager or id (stubbed where needed).
mkdir -p "$FAKE/sys"
for f in /usr/local/bin/* /usr/bin/* /bin/*; do
  b="$(basename "$f")"
  case "$b" in node | nodejs | npm | npx | corepack | chromium | apt-get | apt | dpkg | sudo | id) continue ;; esac
  [ -e "$FAKE/sys/$b" ] || ln -s "$f" "$FAKE/sys/$b"
done
serve() { # runs $T/tether serve "$@" with the stubs first on PATH; stderr in $FAKE/serve-err
  rm -f "$FAKE/args"
  JAVA_HOME="$T/jdk" PATH="${SERVE_PATH:-$FAKE/stubs:$FAKE/sys}" "$T/tether" serve "$@" 2>"$FAKE/serve-err" \
    || fail "./tether serve $* failed: $(cat "$FAKE/serve-err")"
  [ -f "$FAKE/args" ] || fail "./tether serve $* did not start the server: $(cat "$FAKE/serve-err")"
}
web_roots() { grep -c -- '^--web-root$' "$FAKE/args" || true; }

serve --port 0
[ "$(web_roots)" = 1 ] || fail "serve passes --web-root once, got: $(tr '\n' ' ' < "$FAKE/args")"
grep -qx -- '--sun-misc-unsafe-memory-access=allow' "$FAKE/args" || fail "Netty may use Unsafe: $(tr '\n' ' ' < "$FAKE/args")"
grep -qx -- '-XX:+UseG1GC' "$FAKE/args" || fail "the server runs on G1: $(tr '\n' ' ' < "$FAKE/args")"
grep -qx -- '-XX:MaxTenuringThreshold=2' "$FAKE/args" || fail "G1 tenures after two young collections: $(tr '\n' ' ' < "$FAKE/args")"
TETHER_JAVA_OPTS="-XX:+UseZGC -Xmx1g" serve --port 0
grep -qx -- '-XX:+UseZGC' "$FAKE/args" || fail "TETHER_JAVA_OPTS reaches the JVM: $(tr '\n' ' ' < "$FAKE/args")"
! grep -qx -- '-XX:+UseG1GC' "$FAKE/args" || fail "a collector in TETHER_JAVA_OPTS replaces G1 (the JVM refuses two): $(tr '\n' ' ' < "$FAKE/args")"
! grep -q -- '-XX:MaxTenuringThreshold' "$FAKE/args" || fail "and G1's tenuring goes with it: $(tr '\n' ' ' < "$FAKE/args")"
TETHER_JAVA_OPTS="-XX:+UseG1GC -Xmx1g" serve --port 0
grep -qx -- '-XX:MaxTenuringThreshold=2' "$FAKE/args" || fail "G1 named in TETHER_JAVA_OPTS keeps its tenuring: $(tr '\n' ' ' < "$FAKE/args")"
grep -qx -- "$T/web/app/dist" "$FAKE/args" || fail "the default web root is web/app/dist: $(tr '\n' ' ' < "$FAKE/args")"
grep -q '^npm ci ' "$FAKE/npm-calls" || fail "the first serve installs the workspace: $(cat "$FAKE/npm-calls")"
grep -q '^npm run build --workspace @tether/app$' "$FAKE/npm-calls" || fail "and builds the app: $(cat "$FAKE/npm-calls")"
rm "$FAKE/npm-calls"
serve --port 0
[ ! -e "$FAKE/npm-calls" ] || fail "an up-to-date web app is not rebuilt: $(cat "$FAKE/npm-calls")"
touch -d "+2 seconds" "$T/web/app/src/main.ts" # newer than the last build's stamp, even within one clock tick
serve --port 0 --web-root /srv/app
[ "$(web_roots)" = 1 ] || fail "a --web-root given is not duplicated: $(tr '\n' ' ' < "$FAKE/args")"
grep -qx /srv/app "$FAKE/args" || fail "the --web-root given is kept: $(tr '\n' ' ' < "$FAKE/args")"
[ ! -e "$FAKE/npm-calls" ] || fail "with its own --web-root, web/app is not built: $(cat "$FAKE/npm-calls")"
serve --port 0
[ "$(cat "$FAKE/npm-calls")" = "npm run build --workspace @tether/app" ] || fail "a changed source rebuilds (no npm ci): $(cat "$FAKE/npm-calls")"
rm "$FAKE/npm-calls"
touch -d "+2 seconds" "$T/web/app/src/main.ts" # newer than the last build's stamp, even within one clock tick
FAIL_BUILD=1 serve --port 0
grep -q 'build failed' "$FAKE/serve-err" || fail "a failed build is reported: $(cat "$FAKE/serve-err")"
rm -rf "$T/web/app/dist"
SERVE_PATH="$FAKE/sys" serve --port 0
[ "$(grep -c . "$FAKE/serve-err")" = 1 ] && grep -q 'not built.*scripts/build-web.sh' "$FAKE/serve-err" \
  || fail "without npm: one warning line saying how to build the app: $(cat "$FAKE/serve-err")"
[ "$(web_roots)" = 1 ] || fail "without npm the server still starts with its web root"

# chromium for the browser tests: used where it is, installed with apt-get as root, else a clear failure.
# shellcheck source=lib/packages.sh
. "$ROOT/scripts/lib/packages.sh"
printf '#!/bin/sh\necho "apt-get $*" >> "%s/apt-calls"\ncase "$*" in *install*) printf "#!/bin/sh\\n" > "%s/stubs/chromium"; chmod +x "%s/stubs/chromium" ;; esac\n' \
  "$FAKE" "$FAKE" "$FAKE" > "$FAKE/stubs/apt-get"
printf '#!/bin/sh\necho "${FAKE_UID:-0}"\n' > "$FAKE/stubs/id"
chmod +x "$FAKE/stubs/apt-get" "$FAKE/stubs/id"
(PATH="$FAKE/stubs:$FAKE/sys" FAKE_UID=1000 tether_install_chromium 2>"$FAKE/chromium-err") \
  && fail "not root, no sudo, no chromium: tether_install_chromium must fail"
grep -q "apt-get install chromium" "$FAKE/chromium-err" || fail "the failure says what to do: $(cat "$FAKE/chromium-err")"
installed="$(PATH="$FAKE/stubs:$FAKE/sys" tether_install_chromium 2>/dev/null && echo "$CHROMIUM_PATH")" \
  || fail "as root tether_install_chromium installs chromium"
[ "$installed" = "$FAKE/stubs/chromium" ] || fail "CHROMIUM_PATH names the installed chromium, got '$installed'"
grep -q '^apt-get update' "$FAKE/apt-calls" && grep -q '^apt-get install -y -qq chromium$' "$FAKE/apt-calls" \
  || fail "installed with apt-get update and install: $(cat "$FAKE/apt-calls")"
rm "$FAKE/apt-calls"
again="$(PATH="$FAKE/stubs:$FAKE/sys" tether_install_chromium && echo "$CHROMIUM_PATH")"
[ "$again" = "$FAKE/stubs/chromium" ] && [ ! -e "$FAKE/apt-calls" ] || fail "a chromium on PATH is used without apt-get"
echo "launcher-test: ok (200 checks, no package manager on start, web app built on serve when stale, chromium set-up)"
