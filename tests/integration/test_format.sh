#!/usr/bin/env bash
# Every C source and header is formatted by the committed .clang-format.
set -euo pipefail
cd "${SR_SOURCE_DIR:-$(dirname "$0")/../..}"
if ! command -v clang-format >/dev/null; then
  echo "SKIP: clang-format not installed"
  exit 77
fi
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests tools -name '*.[ch]')
if ! clang-format --dry-run --Werror $files; then
  echo "FAIL: run clang-format -i on the files above" >&2
  exit 1
fi
echo "ok - $(echo "$files" | wc -w) files formatted"
