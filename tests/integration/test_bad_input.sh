# Bad input never stops the stream: garbage bytes, empty ids, 300-byte ids,
# NaN values, unknown event types and timestamps in the year 2100 (beyond
# input.max_future_skew_ms of the loop's wall time) interleaved with good
# events on one partition. The daemon applies every good event (its final
# checkpoint has the same digest as a run over the good events alone, in the
# same order), copies every bad message unchanged to the dead-letter topic
# with a `streamrec-error` header naming the reason, and keeps running until
# SIGTERM.
# Usage: bash test_bad_input.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"


require_tools kcat jq

N=3000
start_broker --topics events,good,recs,dead --partitions 1

good="$SR_TMP/good.jsonl"
"$SR_BIN" gen --events "$N" --users 400 --items 300 --seed 8 -o "$good" ||
  fail "gen"

# One bad record after every 50th good one, cycling through the kinds, and
# one last, so that its arrival in the dead-letter topic proves that every
# message before it was handled. The reason each kind must be given is
# kept alongside in bad.reasons.
long_id=$(printf 'u%.0s' $(seq 1 300))
ev='"item_id":"i1","type":"VIEW","value":0,"timestamp_ms":1700000000000'
bad_kinds=(
  "decode_error|this is not an event"
  "decode_error|$(printf '\xff\xfe\x01\x80garbage')"
  "decode_error|{\"user_id\":\"u1\",\"item_id\":"
  "empty_id|{\"user_id\":\"\",$ev}"
  "empty_id|{\"user_id\":\"u1\",\"item_id\":\"\",\"type\":\"CLICK\",\"value\":0,\"timestamp_ms\":1700000000000}"
  "id_too_long|{\"user_id\":\"$long_id\",$ev}"
  "non_finite_value|{\"user_id\":\"u1\",\"item_id\":\"i1\",\"type\":\"RATING\",\"value\":\"NaN\",\"timestamp_ms\":1700000000000}"
  "unknown_event_type|{\"user_id\":\"u1\",\"item_id\":\"i1\",\"type\":\"TELEPORT\",\"value\":0,\"timestamp_ms\":1700000000000}"
  "future_timestamp|{\"user_id\":\"u1\",\"item_id\":\"i1\",\"type\":\"VIEW\",\"value\":0,\"timestamp_ms\":4102444800000}"
)
mixed="$SR_TMP/mixed.jsonl"
: >"$mixed"
: >"$SR_TMP/bad.reasons"
: >"$SR_TMP/bad.lines"
k=0
add_bad() {
  local entry=${bad_kinds[$((k % ${#bad_kinds[@]}))]}
  k=$((k + 1))
  printf '%s\n' "${entry#*|}" >>"$mixed"
  printf '%s\n' "${entry#*|}" >>"$SR_TMP/bad.lines"
  printf '%s\n' "${entry%%|*}" >>"$SR_TMP/bad.reasons"
}
i=0
while IFS= read -r line; do
  printf '%s\n' "$line" >>"$mixed"
  i=$((i + 1))
  [ $((i % 50)) -ne 0 ] || add_bad
done <"$good"
add_bad
n_bad=$(wc -l <"$SR_TMP/bad.lines")

common=(--set "kafka.brokers=$BROKERS" --set metrics.listen=off
  --set kafka.properties.session.timeout.ms=3000
  --set kafka.properties.heartbeat.interval.ms=500)

# The reference: the good events alone, in the same order.
assert_exit 0 "produce good events" "$SR_BIN" produce "$good" --topic good \
  --brokers "$BROKERS"
run_bg ref "${common[@]}" --set kafka.group_id=bad-ref \
  --set kafka.input_topics=good --set kafka.output_topic=recs \
  --set "checkpoint.dir=$SR_TMP/state-ref" --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "reference run exit code"
assert_eq "$(ckpt_field "$SR_TMP/state-ref" .events_applied)" "$N" \
  "events applied by the reference run"

# The daemon is running when the bad input arrives.
run_bg mixed "${common[@]}" --set kafka.group_id=bad-mixed \
  --set kafka.dead_letter_topic=dead \
  --set "checkpoint.dir=$SR_TMP/state-mixed" --set checkpoint.interval_s=1
mixed_pid=$RUN_PID
wait_for 30 grep -q "partitions assigned" "$SR_TMP/mixed.err"
assert_exit 0 "produce --raw mixed input" "$SR_BIN" produce "$mixed" \
  --topic events --raw --brokers "$BROKERS"

wait_for 45 topic_has dead "$n_bad"
assert_eq "$(topic_count dead)" "$n_bad" "messages in the dead-letter topic"

# A few checkpoint intervals with only bad input behind it: still running.
sleep 2
kill -0 "$mixed_pid" 2>/dev/null || fail "the daemon exited on bad input"

# Every bad message, unchanged, with its reason: counted per reason.
timeout 10 kcat -b "$BROKERS" -C -t dead -e -q -f '%h\n' \
  >"$SR_TMP/dead.headers" || fail "kcat headers of the dead-letter topic"
got=$(grep -o 'streamrec-error=[a-z_]*' "$SR_TMP/dead.headers" |
  cut -d= -f2 | sort | uniq -c)
want=$(sort "$SR_TMP/bad.reasons" | uniq -c)
assert_eq "$got" "$want" "dead letters per reason"
# Each message's reason matches the record sent in its place.
assert_eq "$(grep -o 'streamrec-error=[a-z_]*' "$SR_TMP/dead.headers" |
  cut -d= -f2)" "$(cat "$SR_TMP/bad.reasons")" "dead-letter reasons in order"
timeout 10 kcat -b "$BROKERS" -C -t dead -e -q -f '%s\n' \
  >"$SR_TMP/dead.payloads" || fail "kcat payloads of the dead-letter topic"
cmp -s "$SR_TMP/dead.payloads" "$SR_TMP/bad.lines" ||
  fail "dead-letter payloads differ from the bad records sent"

kill -TERM "$mixed_pid"
wait_exit "$mixed_pid" 30
assert_eq "$RC" 0 "exit code after SIGTERM"
assert_eq "$(ckpt_field "$SR_TMP/state-mixed" .events_applied)" "$N" \
  "good events applied among the bad ones"
assert_eq "$(ckpt_field "$SR_TMP/state-mixed" '.offsets[0].offset')" \
  "$((N + n_bad))" "offset after the mixed input"
digest=$(ckpt_field "$SR_TMP/state-ref" .digest)
assert_eq "$(ckpt_field "$SR_TMP/state-mixed" .digest)" "$digest" \
  "digest of the mixed run vs the good events alone"

echo "PASS: bad input ($N good, $n_bad bad, digest $digest)"
