#!/usr/bin/env bash
# Compatibility test with the official `openai` Python SDK as the client (test_openai_sdk.py).
# Installs the pinned SDK into .venv here (once: skipped when that version is installed), starts
# a Tether serving its embedded demo model and, when node is there, the scripted Chat Completions
# upstream (../upstream.mjs) with a second Tether in front of it, each on a free port, runs the
# tests (pytest when it could be installed, else unittest), and stops the servers.
#
#   web/openai-compat/python/run.sh
#   TETHER_SERVE="/path/to/other/checkout/tether serve" web/openai-compat/python/run.sh
#   web/openai-compat/python/run.sh -k websocket          (extra arguments go to pytest/unittest)
#
# A machine where python3, its venv module or the package index cannot provide openai==3.22.1
# prints "skipped: cannot install openai==3.22.1 here (…)" and exits 0. Once installed, any
# failing test fails the run.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
TETHER_SERVE="${TETHER_SERVE:-$ROOT/tether serve}"
OPENAI_VERSION=3.22.1
VENV="${OPENAI_PY_VENV:-$HERE/.venv}" # another place for the venv: OPENAI_PY_VENV=DIR
PY="$VENV/bin/python"
log() { printf '[openai-compat-python %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
skip() {
  log "skipped: cannot install openai==$OPENAI_VERSION here ($1)"
  exit 0
}

# 1. the SDK, in a venv of its own
has() { # the venv's python has distribution $1 at version $2 (any version when $2 is empty)
  [ -x "$PY" ] && "$PY" - "$1" "${2:-}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
v = version(sys.argv[1])
sys.exit(0 if not sys.argv[2] or v == sys.argv[2] else 1)
EOF
}
pip_install() { # quiet, no retries against an unreachable index; the output goes to $VENV/pip.log
  "$PY" -m pip install --disable-pip-version-check --no-input --retries 0 --timeout 30 "$@" >>"$VENV/pip.log" 2>&1
}
if ! has openai "$OPENAI_VERSION"; then
  command -v python3 >/dev/null || skip "python3 not found"
  if [ ! -x "$PY" ] || ! "$PY" -c '' 2>/dev/null; then
    rm -rf "$VENV"
    python3 -m venv "$VENV" >/dev/null 2>&1 || { rm -rf "$VENV"; skip "python3 -m venv failed: install python3-venv"; }
  fi
  log "installing openai==$OPENAI_VERSION into $VENV"
  # [realtime] brings websockets, for responses.connect(); without it that one test is skipped
  pip_install "openai[realtime]==$OPENAI_VERSION" || pip_install "openai==$OPENAI_VERSION" ||
    skip "pip: $(grep -E 'ERROR|error:' "$VENV/pip.log" | tail -1 | cut -c1-200)$(grep -qE 'NewConnectionError|Connection refused|Name or service not known|timed out' "$VENV/pip.log" && echo '; no package index was reachable')"
  has openai "$OPENAI_VERSION" || skip "pip finished but openai $OPENAI_VERSION is not importable"
fi
RUNNER=(-m pytest -v -p no:cacheprovider)
if ! has pytest; then
  [ -f "$VENV/.no-pytest" ] || pip_install "pytest>=8" || { touch "$VENV/.no-pytest"; log "pytest could not be installed: running under unittest"; }
  has pytest || RUNNER=(-m unittest -v)
fi

# shellcheck source=../../../scripts/lib/interop.sh
. "$ROOT/scripts/lib/interop.sh"
interop_workdir

# 2. Tether with the demo model; the scripted upstream with a Tether in front of it (needs node)
TETHER_NAME=demo interop_start_tether
DEMO_URL="http://127.0.0.1:$TPORT"
UPSTREAM_TETHER_URL=""
if command -v node >/dev/null; then
  interop_start_upstream
  TETHER_NAME=upstream interop_start_tether --upstream "http://127.0.0.1:$UPORT/v1"
  UPSTREAM_TETHER_URL="http://127.0.0.1:$TPORT"
else
  log "node not found: the scripted-upstream tests are skipped"
fi

# 3. the tests
status=0
(cd "$HERE" && TETHER_URL="$DEMO_URL" TETHER_UPSTREAM_URL="$UPSTREAM_TETHER_URL" \
  timeout 300 "$PY" "${RUNNER[@]}" "$@" test_openai_sdk.py) || status=$?
interop_finish openai-compat-python "$status" 300
