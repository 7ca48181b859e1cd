#!/usr/bin/env bash
# Builds one of the bench's C clients, DIR/NAME from DIR/NAME.c (e.g. ssefan/ssefan,
# catchupc/catchupc), only when the binary is missing or older than its source. Needs gcc; no
# other dependencies (libc only).
# Usage: build-c.sh DIR/NAME (relative to this script's directory, or absolute)
# Exit 0 when the binary is up to date; non-zero with a one-line "ERROR: ..." otherwise.
set -uo pipefail
src="${BASH_SOURCE[0]}"
[[ "$src" == */* ]] && here="${src%/*}" || here=.
here="$(cd "$here" && pwd)"
[ $# -eq 1 ] || { echo "ERROR: usage: build-c.sh DIR/NAME" >&2; exit 2; }
case "$1" in /*) bin="$1" ;; *) bin="$here/$1" ;; esac
dir="$(dirname "$bin")"; name="$(basename "$bin")"
[ -f "$dir/$name.c" ] || { echo "ERROR: $dir/$name.c not found" >&2; exit 1; }
if ! command -v gcc >/dev/null 2>&1; then
  echo "ERROR: gcc not found: needed to build $dir/$name (e.g. apt-get install gcc)" >&2
  exit 1
fi
if [[ -x "$dir/$name" && ! "$dir/$name.c" -nt "$dir/$name" ]]; then
  exit 0
fi
# Build under a temporary name so a failed build never leaves a broken binary behind.
if ! (cd "$dir" && gcc -O2 -Wall -Wextra -o "$name.tmp.$$" "$name.c" && mv -f "$name.tmp.$$" "$name"); then
  rm -f "$dir/$name.tmp.$$"
  echo "ERROR: building $dir/$name failed (gcc output above)" >&2
  exit 1
fi
echo "built $dir/$name" >&2
