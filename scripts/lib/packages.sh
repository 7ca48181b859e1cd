# Sourced by the test set-up (scripts/test.sh, web/e2e/run.sh, bench/webapp/run.sh): makes the
# Debian packages the tests need available. Idempotent: a command already on PATH is used as it
# is, and the package manager is only called when it is missing. Never sourced by a normal start.

# tether_install_command COMMAND PACKAGE WHAT VAR: installs PACKAGE when COMMAND is missing (as
# root, or through sudo without a password prompt), then exports VAR with COMMAND's path; fails
# with what to do when neither is possible. WHAT says who needs it, for the messages.
tether_install_command() {
  local command="$1" package="$2" what="$3" var="$4" path sudo=""
  if ! path="$(command -v "$command")"; then
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
      else
        echo "tether: $command is missing and cannot be installed here (not root, no passwordless sudo):" \
          "install it with 'apt-get install $package', or put a $command binary on PATH" >&2
        return 1
      fi
    fi
    command -v apt-get >/dev/null || {
      echo "tether: $command is missing and apt-get is not available: install $package with your package manager" >&2
      return 1
    }
    echo "tether: installing $package for $what..." >&2
    ($sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package") >&2
    path="$(command -v "$command")" || {
      echo "tether: apt-get installed $package, but no $command is on PATH ($PATH)" >&2
      return 1
    }
  fi
  export "$var=$path"
}

# Debian's chromium for the browser tests (playwright-core drives it): exports CHROMIUM_PATH.
tether_install_chromium() {
  tether_install_command chromium chromium "the browser tests" CHROMIUM_PATH
}

# Debian's redis-server (Redis 7) for the Redis store's tests, which start their own servers on
# free ports (never the system service): exports REDIS_SERVER.
tether_install_redis() {
  tether_install_command redis-server redis-server "the Redis store's tests" REDIS_SERVER
}
