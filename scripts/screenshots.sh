#!/usr/bin/env bash
# Regenerates the web app's screenshots in docs/screenshots/ (chat.png, operator.png,
# inspector.png): runs the browser test that drives the three views, in chromium, against a fresh
# server with the scripted upstream (see web/e2e/run.sh).
#   scripts/screenshots.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SCREENSHOTS=docs/screenshots "$ROOT/web/e2e/run.sh" --test-name-pattern="operator console lists sessions"
ls -l docs/screenshots/*.png >&2
