# Checkpoints that cannot be used. A truncated newest checkpoint: the next
# start says so, restores the previous one and re-applies the events after
# it, ending with the model an uninterrupted run builds. A checkpoint of
# other dims than the config's: exit 2 with a message naming both values.
# Checkpoints are written both ways, forked and copied.
# Usage: bash test_checkpoint_fallback.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"


require_tools kcat jq

start_broker --topics events,recs --partitions 1
"$SR_BIN" gen --events 6000 --users 600 --items 400 --seed 21 \
  -o "$SR_TMP/events.jsonl" || fail "gen"
sed -n 1,3000p "$SR_TMP/events.jsonl" >"$SR_TMP/part1.jsonl"
sed -n 3001,4500p "$SR_TMP/events.jsonl" >"$SR_TMP/part2.jsonl"
sed -n 4501,6000p "$SR_TMP/events.jsonl" >"$SR_TMP/part3.jsonl"

state="$SR_TMP/state"
common=(--set "kafka.brokers=$BROKERS" --set metrics.listen=off
  --set kafka.group_id=fallback --set "checkpoint.dir=$state"
  --set kafka.properties.session.timeout.ms=3000
  --set kafka.properties.heartbeat.interval.ms=500)

# Two backfills leave two checkpoints: after 3000 and after 4500 events.
# The first is written by copying the model (checkpoint.writer=copy), the
# second by a forked writer; the fallback below restores the first.
assert_exit 0 "produce part 1" "$SR_BIN" produce "$SR_TMP/part1.jsonl" \
  --topic events --brokers "$BROKERS"
run_bg first "${common[@]}" --set checkpoint.writer=copy --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "first run exit code"
older=$(newest_ckpt "$state")
assert_eq "$(ckpt_field "$state" .events_applied)" 3000 "first run"

assert_exit 0 "produce part 2" "$SR_BIN" produce "$SR_TMP/part2.jsonl" \
  --topic events --brokers "$BROKERS"
run_bg second "${common[@]}" --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "second run exit code"
newest=$(newest_ckpt "$state")
[ "$newest" != "$older" ] || fail "the second run wrote no checkpoint"
assert_eq "$(ckpt_field "$state" .events_applied)" 4500 "second run"

# Half of the newest file is lost, as after a disk failure.
truncate -s $(($(stat -c %s "$newest") / 2)) "$newest"
assert_exit 0 "produce part 3" "$SR_BIN" produce "$SR_TMP/part3.jsonl" \
  --topic events --brokers "$BROKERS"
run_bg third "${common[@]}" --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "exit code of the run after the truncation"
log=$(cat "$SR_TMP/third.err")
assert_contains "$log" "checkpoint $newest unreadable (" \
  "log of the run after the truncation"
assert_contains "$log" "); using older $older" \
  "log of the run after the truncation"
# Restored at 3000 events, it re-applies the 1500 the lost file held and
# the 1500 new ones, once each.
assert_eq "$(ckpt_field "$state" .events_applied)" 6000 \
  "events applied after falling back"
assert_eq "$(ckpt_field "$state" '.offsets[0].offset')" 6000 \
  "offset after falling back"

run_bg ref "${common[@]}" --set kafka.group_id=fallback-ref \
  --set "checkpoint.dir=$SR_TMP/state-ref" --until end --no-publish
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "uninterrupted run exit code"
assert_eq "$(ckpt_field "$state" .digest)" \
  "$(ckpt_field "$SR_TMP/state-ref" .digest)" \
  "digest after falling back vs an uninterrupted run"

# The checkpoints hold 32 dims (the default); a config of 16 contradicts
# them. Nothing is consumed and nothing is written.
before=$(ls "$state")
assert_exit 2 "start with other dims" "$SR_BIN" run "${common[@]}" \
  --set model.dims=16 --until end
err=$(cat "$SR_TMP/err")
assert_contains "$err" "has dims 32" "dims mismatch message"
assert_contains "$err" "model.dims is 16" "dims mismatch message"
assert_eq "$(ls "$state")" "$before" "checkpoint directory after exit 2"

echo "PASS: checkpoint fallback (${newest##*/} -> ${older##*/}; dims 32 vs 16)"
