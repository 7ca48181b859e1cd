# Sourced by ./tether and by the bench scripts that run Java themselves: finds a JDK of a given
# feature version or newer. Reads `java -XshowSettings:properties` whole and matches it in bash
# (no pipe for an early-exiting reader to break under pipefail).

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
