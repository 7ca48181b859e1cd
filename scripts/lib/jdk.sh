# Sourced by ./tether and by the bench scripts that run Java themselves: finds a JDK of a given
# feature version or newer (reads `java -XshowSettings:properties` whole and matches it in bash: no
# pipe for an early-exiting reader to break under pipefail), and gives the bench scripts that run
# mains from the server's test sources (bench/fuzz, bench/storage) its test class path.

# Prints the feature version of the java binary $1, or nothing.
tether_java_major() {
  local props
  props="$("$1" -XshowSettings:properties -version 2>&1 || true)"
  [[ "$props" =~ java\.specification\.version\ =\ ([0-9]+) ]] && printf '%s\n' "${BASH_REMATCH[1]}"
  return 0
}

# Prints the home of a JDK (java and javac) of feature version $1 or newer, looking at JAVA_HOME
# first and then /usr/lib/jvm/*; fails when there is none.
tether_find_jdk() {
  local candidates=() c v
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for c in /usr/lib/jvm/*; do [ -d "$c" ] && candidates+=("$c"); done
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    v="$(tether_java_major "$c/bin/java")"
    if [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge "$1" ]; then
      printf '%s\n' "$c"
      return 0
    fi
  done
  return 1
}

# Prints the server's test class path (test classes, classes, every test-scope dependency) for the
# checkout at $1, compiling the test sources first when sources changed since the last time (the
# dependency list is kept in server/target/fuzz.classpath). $2 names the caller in its progress line.
tether_test_classpath() {
  local root="$1" cp_file="$1/server/target/fuzz.classpath"
  if [ ! -f "$cp_file" ] || [ -n "$(find "$root/server/src" "$root/server/pom.xml" "$root/pom.xml" -newer "$cp_file" -print -quit)" ]; then
    echo "$2: compiling (sources changed)..." >&2
    (cd "$root" && ./mvnw -B -q -pl server test-compile dependency:build-classpath \
      -Dmdep.outputFile="$cp_file" -Dmdep.includeScope=test -Dspotless.check.skip=true) >&2
  fi
  printf '%s\n' "$root/server/target/test-classes:$root/server/target/classes:$(cat "$cp_file")"
}
