# Sourced by the browser tests' set-up: makes Debian's chromium available and exports
# CHROMIUM_PATH for them. Idempotent: a chromium already on PATH is used as it is, and the package
# manager is only called when it is missing. Never sourced by a normal start.

# Installs chromium when missing (as root, or through sudo without a password prompt), then
# exports CHROMIUM_PATH; fails with what to do when neither is possible.
tether_install_chromium() {
  local path sudo=""
  if ! path="$(command -v chromium)"; then
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
      else
        echo "tether: chromium is missing and cannot be installed here (not root, no passwordless sudo):" \
          "install it with 'apt-get install chromium', or put a chromium binary on PATH" >&2
        return 1
      fi
    fi
    command -v apt-get >/dev/null || {
      echo "tether: chromium is missing and apt-get is not available: install chromium with your package manager" >&2
      return 1
    }
    echo "tether: installing chromium for the browser tests..." >&2
    ($sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2
    path="$(command -v chromium)" || {
      echo "tether: apt-get installed chromium, but no chromium is on PATH ($PATH)" >&2
      return 1
    }
  fi
  export CHROMIUM_PATH="$path"
}
