# SIGTERM mid-stream: `streamrec run` exits 0 after writing a final
# checkpoint and committing its offsets to the group. The committed offsets
# are checked by what a second run of the same group finds: started with
# --from committed from an empty state directory, it must apply exactly the
# events the first run's checkpoint does not hold.
# Usage: bash test_sigterm.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"


require_tools kcat jq

N=16000
start_broker --topics events,recs --partitions 2
"$SR_BIN" gen --events "$N" --users 1500 --items 800 --seed 3 \
  -o "$SR_TMP/events.jsonl" || fail "gen"

# Paced, so that the signal arrives while events are still coming in.
"$SR_BIN" produce "$SR_TMP/events.jsonl" --topic events --brokers "$BROKERS" \
  --rate 1500 >"$SR_TMP/produce.out" 2>"$SR_TMP/produce.log" &
produce_pid=$!
SR_PIDS+=("$produce_pid")

common=(--set "kafka.brokers=$BROKERS" --set kafka.group_id=sigterm
  --set kafka.properties.session.timeout.ms=3000
  --set kafka.properties.heartbeat.interval.ms=500)

# The periodic checkpoint is far away: the final one is the only one.
run_bg first "${common[@]}" --set "checkpoint.dir=$SR_TMP/state-1" \
  --set checkpoint.interval_s=600
first_pid=$RUN_PID
wait_for 30 grep -q "partitions assigned" "$SR_TMP/first.err"
sleep 1.5
kill -0 "$produce_pid" 2>/dev/null || fail "the stream ended before SIGTERM"
kill -TERM "$first_pid"
wait_exit "$first_pid" 30
assert_eq "$RC" 0 "exit code after SIGTERM"
assert_contains "$(cat "$SR_TMP/first.err")" "final checkpoint written" \
  "log of the first run"
assert_contains "$(cat "$SR_TMP/first.err")" "final offsets committed" \
  "log of the first run"
applied=$(ckpt_field "$SR_TMP/state-1" .events_applied)
offsets_sum=$(ckpt_field "$SR_TMP/state-1" '[.offsets[].offset] | add')
[ "$applied" -gt 0 ] && [ "$applied" -lt "$N" ] ||
  fail "events applied before SIGTERM: $applied, expected 0 < x < $N"
assert_eq "$offsets_sum" "$applied" "checkpoint offsets vs events applied"

wait_exit "$produce_pid" 60
assert_eq "$RC" 0 "produce exit code"

run_bg second "${common[@]}" --set "checkpoint.dir=$SR_TMP/state-2" \
  --from committed --no-publish --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "exit code of the run from committed offsets"
assert_eq "$(ckpt_field "$SR_TMP/state-2" .events_applied)" \
  "$((N - applied))" "events applied from the committed offsets"
assert_eq "$(ckpt_field "$SR_TMP/state-2" '[.offsets[].offset] | add')" "$N" \
  "end offsets of the second run"

echo "PASS: SIGTERM ($applied of $N events before the signal)"
