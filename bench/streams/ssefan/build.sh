#!/usr/bin/env bash
# Builds ssefan (the C SSE fan-out client) next to this script, only when the binary is
# missing or older than ssefan.c. Needs gcc; no other dependencies (libc only).
# Exit 0 when the binary is up to date; non-zero with a one-line "ERROR: ..." otherwise.
set -uo pipefail
src="${BASH_SOURCE[0]}"
[[ "$src" == */* ]] && dir="${src%/*}" || dir=.
dir="$(cd "$dir" && pwd)"
if ! command -v gcc >/dev/null 2>&1; then
  echo "ERROR: gcc not found: needed to build $dir/ssefan (e.g. apt-get install gcc)" >&2
  exit 1
fi
if [[ -x "$dir/ssefan" && ! "$dir/ssefan.c" -nt "$dir/ssefan" ]]; then
  exit 0
fi
# Build under a temporary name so a failed build never leaves a broken binary behind.
if ! (cd "$dir" && gcc -O2 -Wall -Wextra -o ssefan.tmp.$$ ssefan.c && mv -f ssefan.tmp.$$ ssefan); then
  rm -f "$dir/ssefan.tmp.$$"
  echo "ERROR: building $dir/ssefan failed (gcc output above)" >&2
  exit 1
fi
echo "built $dir/ssefan" >&2
