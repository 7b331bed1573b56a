# Exact recovery: one partition, N events. Run A consumes them without
# interruption (--until end). Run B starts from an empty state directory
# with a 1 s checkpoint interval and is killed with SIGKILL at random
# moments while the events are still arriving, restarted each time (same
# group), the last run with --until end. Both final checkpoints must hold
# the same model (digest) and N events applied.
# Usage: bash test_recovery.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"


require_tools kcat jq pgrep

N=20000
KILLS=3
start_broker --topics events,recs --partitions 1

"$SR_BIN" gen --events "$N" --users 2000 --items 1000 --seed 11 \
  -o "$SR_TMP/events.jsonl" || fail "gen"

# The events arrive over ~20 s, so that every kill lands mid-stream.
"$SR_BIN" produce "$SR_TMP/events.jsonl" --topic events --brokers "$BROKERS" \
  --rate 1000 >"$SR_TMP/produce.out" 2>"$SR_TMP/produce.log" &
produce_pid=$!
SR_PIDS+=("$produce_pid")

# A short session lets a restarted member rejoin the group quickly.
common=(--set "kafka.brokers=$BROKERS"
  --set kafka.properties.session.timeout.ms=3000
  --set kafka.properties.heartbeat.interval.ms=500)
run_b=("${common[@]}" --set kafka.group_id=recovery-b
  --set "checkpoint.dir=$SR_TMP/state-b" --set checkpoint.interval_s=1)

for i in $(seq 1 "$KILLS"); do
  # 0.0 .. 1.9 s after the first checkpoint of the run: sometimes right
  # after it, sometimes after another, sometimes in the middle of writing one.
  kill_mid_run "b$i" "$SR_TMP/state-b" "$((RANDOM % 2)).$((RANDOM % 10))" \
    "${run_b[@]}"
  echo "run b$i killed; newest checkpoint: $(newest_ckpt "$SR_TMP/state-b")"
done

wait_exit "$produce_pid" 60
assert_eq "$RC" 0 "produce exit code"

# The last run B and run A both consume the whole stream now that it is
# produced; each has its own group and state directory, so they run side
# by side.
run_bg b-final "${run_b[@]}" --until end
final_pid=$RUN_PID
run_bg a "${common[@]}" --set kafka.group_id=recovery-a \
  --set "checkpoint.dir=$SR_TMP/state-a" --until end
a_pid=$RUN_PID
wait_exit "$final_pid" 60
assert_eq "$RC" 0 "last run B (--until end) exit code"
wait_exit "$a_pid" 60
assert_eq "$RC" 0 "run A exit code"

# The restarts resumed from checkpoints, not from scratch.
restored=$(cat "$SR_TMP"/b[2-9].err "$SR_TMP/b-final.err" |
  grep -c "checkpoint restored")
[ "$restored" -eq "$KILLS" ] ||
  fail "only $restored of $KILLS restarts restored a checkpoint"

assert_eq "$(ckpt_field "$SR_TMP/state-a" .events_applied)" "$N" \
  "events applied by run A"
assert_eq "$(ckpt_field "$SR_TMP/state-b" .events_applied)" "$N" \
  "events applied by run B"
assert_eq "$(ckpt_field "$SR_TMP/state-b" '.offsets[0].offset')" "$N" \
  "offset in run B's final checkpoint"
digest_a=$(ckpt_field "$SR_TMP/state-a" .digest)
digest_b=$(ckpt_field "$SR_TMP/state-b" .digest)
assert_eq "$digest_b" "$digest_a" "digest of the killed-and-restarted run"

echo "PASS: recovery (digest $digest_a, $restored restores)"
