# Sourced by ./tether and by scripts/test.sh: checks for the native libraries the embedded engine
# needs. The check only reads files: no pipeline (an early-exiting grep once made ldconfig die of
# SIGPIPE under pipefail), no dependency on ldconfig being on PATH (/usr/sbin often is not), and
# never the package manager on a normal start.

# Prints the path of libgomp.so.1 and succeeds, or fails quietly.
tether_find_libgomp() {
  local dir arch cache
  arch="$(uname -m)-linux-gnu"
  for dir in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }} /usr/local/lib "/usr/local/lib/$arch" "/lib/$arch" "/usr/lib/$arch" \
    /lib64 /usr/lib64 /lib /usr/lib; do
    if [ -e "$dir/libgomp.so.1" ]; then
      printf '%s\n' "$dir/libgomp.so.1"
      return 0
    fi
  done
  # Other directories listed in the loader's cache (read whole, then matched: no pipe).
  for cache in /sbin/ldconfig /usr/sbin/ldconfig; do
    [ -x "$cache" ] || continue
    local listing
    listing="$("$cache" -p 2>/dev/null || true)"
    if [[ "$listing" =~ libgomp\.so\.1[^$'\n']*=\>\ ([^$'\n']+) ]]; then
      printf '%s\n' "${BASH_REMATCH[1]}"
      return 0
    fi
    break
  done
  return 1
}

# Warns (once, on stderr) when libgomp is missing; never installs anything.
tether_check_libgomp() {
  tether_find_libgomp >/dev/null && return 0
  echo "tether: libgomp.so.1 (the OpenMP runtime) was not found; the embedded model engine needs it." >&2
  echo "  Install it with your package manager, e.g. 'apt-get install libgomp1', or serve with --upstream URL." >&2
  return 0
}

# For test set-up only (scripts/test.sh): installs libgomp1 when missing and we are root on Debian.
tether_install_libgomp() {
  tether_find_libgomp >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "tether: installing libgomp1 for the embedded engine's tests..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgomp1) >&2
  else
    echo "tether: libgomp.so.1 is missing and cannot be installed here (apt-get install libgomp1)" >&2
    return 1
  fi
}
