# `streamrec run` end to end: events in JSON and in protobuf, mixed on 3
# partitions of a `streamrec broker`, consumed until the end; every user
# with events gets a list on the output topic keyed by its id, which
# `streamrec tail` decodes and kcat reads (as JSON with output_format=json).
# Also: --help, a bad option exits 2 naming the key, and the embedded broker.
# Usage: bash test_run_e2e.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"


require_tools kcat jq

assert_exit 0 "run --help" "$SR_BIN" run --help
assert_contains "$(cat "$SR_TMP/out")" "usage: streamrec run" "run --help"
assert_contains "$(cat "$SR_TMP/out")" "recommend.batch_ms" "option table"
assert_exit 2 "run --bogus" "$SR_BIN" run --bogus
assert_contains "$(cat "$SR_TMP/err")" "--bogus" "run --bogus"
assert_exit 2 "bad option value" "$SR_BIN" run --set model.dims=0
assert_contains "$(cat "$SR_TMP/err")" "model.dims" "bad option value"
assert_exit 2 "bad --from" "$SR_BIN" run --from middle
assert_contains "$(cat "$SR_TMP/err")" "--from" "bad --from"

start_broker --topics events,recs,recs-json --partitions 3

# Half of the stream as JSON messages, half as protobuf.
events="$SR_TMP/events.jsonl"
"$SR_BIN" gen --events 6000 --users 700 --items 400 --seed 5 -o "$events" ||
  fail "gen"
head -n 3000 "$events" >"$SR_TMP/first.jsonl"
tail -n +3001 "$events" >"$SR_TMP/second.jsonl"
assert_exit 0 "produce JSON" "$SR_BIN" produce "$SR_TMP/first.jsonl" \
  --topic events --encode json --brokers "$BROKERS"
assert_exit 0 "produce protobuf" "$SR_BIN" produce "$SR_TMP/second.jsonl" \
  --topic events --encode proto --brokers "$BROKERS"

users=$(grep -o '"user_id":"[^"]*"' "$events" | cut -d'"' -f4 | sort -u)
n_users=$(wc -l <<<"$users")

common=(--set "kafka.brokers=$BROKERS"
  --set kafka.properties.session.timeout.ms=3000
  --set kafka.properties.heartbeat.interval.ms=500)

started_ms=$(($(date +%s) * 1000))
run_bg proto "${common[@]}" --set kafka.group_id=e2e \
  --set "checkpoint.dir=$SR_TMP/state" --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "run --until end exit code"
assert_eq "$(ckpt_field "$SR_TMP/state" .events_applied)" 6000 \
  "events applied"
# The checkpoint records the loop's wall time, taken during the run.
created_ms=$(ckpt_field "$SR_TMP/state" .created_ms)
[ "$created_ms" -ge "$started_ms" ] &&
  [ "$created_ms" -le $((($(date +%s) + 1) * 1000)) ] ||
  fail "checkpoint created_ms $created_ms is not the time of the run"
assert_not_contains "$(cat "$SR_TMP/proto.out")" "embedded Kafka" \
  "stdout with an external broker"

# inspect --users: every user with its events; a single instance records
# no partitions.
ckpt=$(newest_ckpt "$SR_TMP/state")
assert_exit 0 "inspect --users --json" "$SR_BIN" inspect "$ckpt" --users --json
assert_eq "$(jq -r .user_id "$SR_TMP/out" | sort)" "$users" "users listed"
assert_eq "$(jq -s 'map(.events) | add' "$SR_TMP/out")" 6000 \
  "events of the users listed"
assert_eq "$(jq -c 'select(.partition != null)' "$SR_TMP/out" | head -n 1)" "" \
  "partitions of a single instance's users"
assert_exit 0 "inspect --users" "$SR_BIN" inspect "$ckpt" --users
assert_eq "$(($(wc -l <"$SR_TMP/out") - 1))" "$n_users" "text lines of users"
assert_exit 2 "inspect --users --user" "$SR_BIN" inspect "$ckpt" --users \
  --user x

# Every user has a list keyed by its id; tail decodes all of them.
keys=$(timeout 20 kcat -b "$BROKERS" -C -t recs -e -q -f '%k\n' | sort -u)
assert_eq "$keys" "$users" "keys on the output topic"
assert_exit 0 "tail -e" "$SR_BIN" tail --topic recs -e --from beginning \
  --brokers "$BROKERS"
tailed=$(jq -r .user_id "$SR_TMP/out" | sort -u)
assert_eq "$tailed" "$users" "users decoded by tail"
assert_eq "$(jq -c 'select((.items | length) == 0)' "$SR_TMP/out" | head -n 1)" \
  "" "lists without items"
last=$(tail -n 1 "$SR_TMP/out")
assert_contains "$last" '"model_version":"' "a list's model_version"
assert_contains "$last" '"event_timestamp_ms":"17' "a list's event time"

# The same with JSON lists: kcat shows readable JSON.
run_bg json "${common[@]}" --set kafka.group_id=e2e-json \
  --set kafka.output_topic=recs-json --set kafka.output_format=json \
  --set "checkpoint.dir=$SR_TMP/state-json" --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "run with JSON output exit code"
timeout 20 kcat -b "$BROKERS" -C -t recs-json -e -q -f '%k\t%s\n' \
  >"$SR_TMP/json.tsv"
json_users=$(cut -f2 "$SR_TMP/json.tsv" | jq -r .user_id | sort -u) ||
  fail "JSON lists do not parse"
assert_eq "$json_users" "$users" "users with JSON lists"
mismatched=$(awk -F'\t' '{ if (index($2, "\"user_id\":\"" $1 "\"") == 0) print }' \
  "$SR_TMP/json.tsv" | head -n 1)
assert_eq "$mismatched" "" "a JSON list keyed by another user"

stop_broker

# The embedded broker: its address comes first on stdout and clients
# attach to it; events produced there come back as lists.
run_bg embedded --set "checkpoint.dir=$SR_TMP/state-embedded" \
  --set kafka.partitions=2
embedded_pid=$RUN_PID
wait_for 20 grep -q "embedded Kafka at 127.0.0.1:" "$SR_TMP/embedded.out"
address=$(sed -n 's/^embedded Kafka at //p' "$SR_TMP/embedded.out")
assert_exit 0 "kcat -L on the embedded broker" kcat -b "$address" -L -t events
assert_contains "$(cat "$SR_TMP/out")" 'topic "events" with 2 partitions' \
  "embedded events topic"
head -n 50 "$events" >"$SR_TMP/few.jsonl"
assert_exit 0 "produce to the embedded broker" "$SR_BIN" produce \
  "$SR_TMP/few.jsonl" --topic events --brokers "$address"
first_user=$(head -n 1 "$SR_TMP/few.jsonl" | jq -r .user_id)
wait_for 30 sh -c "kcat -b '$address' -C -t recs -e -q -f '%k\n' | grep -qx '$first_user'"
kill -TERM "$embedded_pid"
wait_exit "$embedded_pid" 30
assert_eq "$RC" 0 "embedded run exit code after SIGTERM"
assert_eq "$(ckpt_field "$SR_TMP/state-embedded" .events_applied)" 50 \
  "events applied through the embedded broker"

echo "PASS: run end to end ($n_users users)"
