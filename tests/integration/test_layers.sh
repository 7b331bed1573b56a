#!/usr/bin/env bash
# Layers depend one way: util <- core <- codec, store <- kafka <- daemon <-
# cli, and include/streamrec holds only the embedding API. Every #include "LAYER/..." in src/ must name the file's own layer or
# one to its left (codec and store do not include each other). The few
# inclusions that still run the other way are listed below by file and
# header; the list may only shrink: a new one fails, and so does a listed
# one that is gone (delete it from the list).
# Usage: bash test_layers.sh [STREAMREC_BINARY] (the binary is not used)
set -u
cd "${SR_SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1

# None left; a line reads "src/LAYER/FILE LAYER/HEADER".
known=""

rank() {
  case $1 in
  util) echo 0 ;; core) echo 1 ;; codec | store) echo 2 ;; kafka) echo 3 ;;
  daemon) echo 4 ;; cli) echo 5 ;; *) echo -1 ;;
  esac
}

found=""
for file in src/*/*.[ch]; do
  own=$(basename "$(dirname "$file")")
  while read -r header; do
    layer=${header%%/*}
    [ "$(rank "$layer")" -ge 0 ] || continue
    if [ "$(rank "$layer")" -gt "$(rank "$own")" ] ||
      { [ "$layer" != "$own" ] && [ "$(rank "$layer")" == "$(rank "$own")" ]; }; then
      found+="$file $header"$'\n'
    fi
  done < <(sed -n 's/^#include "\([a-z]*\/[^"]*\)".*/\1/p' "$file")
done
# The public headers are the embedding API alone: they include only each
# other and system headers.
for file in include/streamrec/*.h; do
  while read -r header; do
    case $header in streamrec/*) ;; *) found+="$file $header"$'\n' ;; esac
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done
found=$(printf '%s' "$found" | sort)

failed=0
while read -r line; do
  [ -n "$line" ] || continue
  if ! grep -qxF -- "$line" <<<"$known"; then
    echo "FAIL: include against the layer order: $line" >&2
    failed=1
  fi
done <<<"$found"
while read -r line; do
  [ -n "$line" ] || continue
  if ! grep -qxF -- "$line" <<<"$found"; then
    echo "FAIL: listed exception no longer exists (remove it): $line" >&2
    failed=1
  fi
done <<<"$known"
[ "$failed" -eq 0 ] || exit 1
echo "PASS: layers depend one way ($(grep -c . <<<"$known") known exceptions)"
