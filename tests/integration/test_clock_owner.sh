#!/usr/bin/env bash
# One place owns time: the daemon's loop reads the clock and passes the time
# down. Nothing under src/core, src/codec or src/store may read a clock
# (sr_now_ms, sr_mono_ns, clock_gettime, time, gettimeofday, libuv's clocks),
# so that the model, the codec and the store behave the same in a replay, a
# test or a fuzzer as in the daemon. Comments are ignored.
# Usage: bash test_clock_owner.sh [STREAMREC_BINARY] (the binary is not used)
set -u
cd "${SR_SOURCE_DIR:-$(dirname "$0")/../..}" || exit 1

calls='\b(sr_now_ms|sr_mono_ns|clock_gettime|clock|time|gettimeofday|timespec_get|uv_now|uv_hrtime|uv_update_time)\s*\('
found=0
for file in src/core/*.[ch] src/codec/*.[ch] src/store/*.[ch]; do
  [ -f "$file" ] || continue
  # Blank out comments (keeping line numbers), then look for calls.
  hits=$(perl -0777 -pe 's{/\*.*?\*/}{$& =~ tr/\n//cdr}gse; s{//[^\n]*}{}g' \
    "$file" | grep -nP "$calls")
  if [ -n "$hits" ]; then
    while read -r hit; do
      echo "FAIL: $file:${hit%%:*} reads a clock (take the time from the" \
        "caller): ${hit#*:}" >&2
    done <<<"$hits"
    found=1
  fi
done
[ "$found" -eq 0 ] || exit 1
echo "PASS: no clock is read under src/core, src/codec or src/store"
