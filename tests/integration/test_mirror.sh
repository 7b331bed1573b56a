#!/usr/bin/env bash
# Unit tests mirror src/ file for file: src/LAYER/NAME.c is tested by
# tests/unit/LAYER/test_NAME.c, and every tests/unit/LAYER/test_X.c names a
# source file of its layer (test_NAME.c, or test_NAME_ASPECT.c for a second
# file about one module). src/cli is driven through the real binary by
# tests/integration instead. Files still without a unit test are listed
# below; the list may only shrink.
# Usage: bash test_mirror.sh [STREAMREC_BINARY] (the binary is not used)
set -u
cd "${SR_SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1

known=""

failed=0
for file in src/*/*.c; do
  layer=$(basename "$(dirname "$file")")
  [ "$layer" != cli ] || continue
  name=$(basename "$file" .c)
  test=tests/unit/$layer/test_$name.c
  if [ -f "$test" ]; then
    if grep -qxF -- "$file" <<<"$known"; then
      echo "FAIL: $file has $test now: remove it from the list" >&2
      failed=1
    fi
  elif ! grep -qxF -- "$file" <<<"$known"; then
    echo "FAIL: $file has no unit test ($test)" >&2
    failed=1
  fi
done
for test in tests/unit/*/test_*.c; do
  layer=$(basename "$(dirname "$test")")
  name=$(basename "$test" .c)
  name=${name#test_}
  ok=0
  while [ -n "$name" ]; do
    [ -f "src/$layer/$name.c" ] && ok=1 && break
    [[ $name == *_* ]] || break
    name=${name%_*}
  done
  if [ $ok -eq 0 ]; then
    echo "FAIL: $test names no file in src/$layer" >&2
    failed=1
  fi
done
for file in $known; do
  [ -f "$file" ] || { echo "FAIL: listed $file no longer exists" >&2; failed=1; }
done
[ "$failed" -eq 0 ] || exit 1
echo "PASS: tests/unit mirrors src/ ($(grep -c . <<<"$known") files still without a unit test)"
