# Output survives kill -9: a checkpoint never records the offset of an
# event whose list (or dead letter) is not out yet. With a long
# recommend.batch_ms and batch_max, the daemon is killed (SIGKILL) right after a
# checkpoint that covers every event; after a restart, every user's latest
# list on the output topic reflects that user's latest event, and every
# rejected message is on the dead-letter topic exactly once.
# Usage: bash test_kill_output.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq

N=3000
start_broker --topics events,recs,dlq --partitions 1
"$SR_BIN" gen --events "$N" --users 700 --items 400 --seed 31 \
  -o "$SR_TMP/good.jsonl" || fail "gen"
# Five rejects among the events (an empty user id is refused).
awk 'NR % 600 == 0 {print "{\"user_id\":\"\",\"item_id\":\"bad" NR "\"}"} {print}' \
  "$SR_TMP/good.jsonl" >"$SR_TMP/events.jsonl"
total=$(wc -l <"$SR_TMP/events.jsonl")
bad=$((total - N))
kcat -b "$BROKERS" -P -t events -l "$SR_TMP/events.jsonl" ||
  fail "kcat produce"

state="$SR_TMP/state"
common=(--set "kafka.brokers=$BROKERS" --set kafka.group_id=killout
  --set "checkpoint.dir=$state" --set kafka.output_format=json
  --set kafka.dead_letter_topic=dlq
  --set kafka.properties.fetch.wait.max.ms=5)
run_bg first "${common[@]}" --set recommend.batch_ms=4000 \
  --set recommend.batch_max=100000 \
  --set checkpoint.interval_s=0.3
first_pid=$RUN_PID
covered() {
  [ "$(ckpt_field "$state" '[.offsets[].offset] | add' 2>/dev/null)" == \
    "$total" ]
}
wait_for 30 covered
kill -KILL "$first_pid"
wait "$first_pid" 2>/dev/null

# The restart has nothing left to consume; whatever it owes comes out now.
run_bg second "${common[@]}"
second_pid=$RUN_PID
wait_for 30 grep -q "partitions assigned" "$SR_TMP/second.err"
sleep 2
kill -TERM "$second_pid"
wait_exit "$second_pid" 30
assert_eq "$RC" 0 "exit code of the restart"

# user -> timestamp of the latest event, and of the latest list's event.
jq -sc 'group_by(.user_id) | map({(.[0].user_id): (map(.timestamp_ms) | max)})
  | add' "$SR_TMP/good.jsonl" >"$SR_TMP/want.json"
timeout 20 kcat -b "$BROKERS" -C -t recs -e -q -f '%s\n' >"$SR_TMP/recs.jsonl"
jq -sc 'group_by(.user_id) | map({(.[0].user_id):
  (map(.event_timestamp_ms | tonumber) | max)}) | add' \
  "$SR_TMP/recs.jsonl" >"$SR_TMP/got.json"
stale=$(jq -n --slurpfile w "$SR_TMP/want.json" --slurpfile g "$SR_TMP/got.json" \
  '[$w[0] | to_entries[] | select($g[0][.key] != .value)] | length')
assert_eq "$stale" 0 "users whose latest list misses their latest event"

timeout 20 kcat -b "$BROKERS" -C -t dlq -e -q \
  -f '%h\n' >"$SR_TMP/dlq.txt"
assert_eq "$(wc -l <"$SR_TMP/dlq.txt")" "$bad" "dead letters"
assert_eq "$(grep -o 'streamrec-source-offset=[0-9]*' "$SR_TMP/dlq.txt" |
  sort -u | wc -l)" "$bad" "distinct dead letters"

echo "PASS: lists and dead letters survive kill -9"
