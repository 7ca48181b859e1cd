# Sourced by the test set-up: makes Debian's redis-server (Redis 7) available for the cluster-mode
# tests, which start their own servers on free ports (never the system service). Idempotent: an
# installed redis-server is used as it is; the package manager is only called when it is missing.

# Installs redis-server when missing (as root, or through sudo without a password prompt), then
# exports REDIS_SERVER; fails with what to do when neither is possible.
tether_install_redis() {
  local path sudo=""
  if ! path="$(command -v redis-server)"; then
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
      else
        echo "tether: redis-server is missing and cannot be installed here (not root, no passwordless sudo):" \
          "install it with 'apt-get install redis-server'" >&2
        return 1
      fi
    fi
    command -v apt-get >/dev/null || {
      echo "tether: redis-server is missing and apt-get is not available: install Redis 7 with your package manager" >&2
      return 1
    }
    echo "tether: installing redis-server for the cluster-mode tests..." >&2
    ($sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2
    path="$(command -v redis-server)" || {
      echo "tether: apt-get installed redis-server, but none is on PATH ($PATH)" >&2
      return 1
    }
  fi
  export REDIS_SERVER="$path"
}
