# The operator's tools against the embedded broker: `streamrec broker`,
# `produce` and `tail`, cross-checked with kcat.
# Usage: bash test_operator_tools.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat

# Every subcommand explains itself, and bad usage names the option.
for cmd in broker produce tail; do
  assert_exit 0 "$cmd --help" "$SR_BIN" "$cmd" --help
  assert_contains "$(cat "$SR_TMP/out")" "usage: streamrec $cmd" "$cmd --help"
  assert_exit 2 "$cmd --bogus" "$SR_BIN" "$cmd" --bogus
  assert_contains "$(cat "$SR_TMP/err")" "--bogus" "$cmd --bogus"
done
assert_exit 2 "broker --port x" "$SR_BIN" broker --port x
assert_contains "$(cat "$SR_TMP/err")" "--port" "broker --port x"
assert_exit 2 "tail --from middle" "$SR_BIN" tail --from middle --brokers x:1
assert_contains "$(cat "$SR_TMP/err")" "--from" "tail --from middle"
assert_exit 2 "produce without brokers" \
  env -u STREAMREC_BROKERS "$SR_BIN" produce - --topic events
assert_contains "$(cat "$SR_TMP/err")" "--brokers" "produce without brokers"

start_broker --topics events,recs --partitions 2
[[ "$BROKERS" =~ ^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+)*$ ]] ||
  fail "broker's first line is not a bootstrap address: '$BROKERS'"

# Five events, one of them with a key (user) of its own, loaded as protobuf.
events="$SR_TMP/events.jsonl"
printf '%s\n' \
  '{"user_id":"alice","item_id":"i1","type":"VIEW","timestamp_ms":1700000000000}' \
  '{"user_id":"bob","item_id":"i2","type":"CLICK","timestamp_ms":1700000000001}' \
  '{"user_id":"alice","item_id":"i3","type":"PURCHASE","timestamp_ms":1700000000002}' \
  '{"user_id":"carol","item_id":"i1","type":"LIKE","timestamp_ms":1700000000003}' \
  '{"user_id":"bob","item_id":"i4","type":"RATING","value":4.5,"timestamp_ms":1700000000004}' \
  >"$events"
assert_exit 0 "produce" "$SR_BIN" produce "$events" --topic events \
  --brokers "$BROKERS"
assert_contains "$(cat "$SR_TMP/err")" "produced 5 events, 0 skipped invalid" \
  "produce summary"

keys=$(timeout 20 kcat -b "$BROKERS" -C -t events -e -q -f '%k\n' | sort)
assert_eq "$(echo $keys)" "alice alice bob bob carol" "keys on the events topic"

# An invalid line is skipped and named, the good ones still go out; the
# broker address may also come from the environment.
printf '%s\n' '{"user_id":"dave","item_id":"i5","type":"VIEW"}' 'not json' \
  >"$SR_TMP/mixed.jsonl"
STREAMREC_BROKERS=$BROKERS assert_exit 0 "produce mixed" \
  "$SR_BIN" produce "$SR_TMP/mixed.jsonl" --topic events --encode json
assert_contains "$(cat "$SR_TMP/err")" "produced 1 events, 1 skipped invalid" \
  "mixed summary"
assert_contains "$(cat "$SR_TMP/err")" "decode_error: 1" "mixed reasons"

# Lists written by hand with kcat, one per partition, plus one undecodable
# message: tail prints the lists as JSON lines and reports the bad one.
printf '%s' '{"user_id":"alice","items":[{"item_id":"i9","score":0.5}],"model_version":"3","source":"PERSONAL"}' |
  kcat -b "$BROKERS" -P -t recs -k alice -p 0
printf '%s' '{"user_id":"bob","items":[{"item_id":"i7","score":0.25}],"source":"POPULAR"}' |
  kcat -b "$BROKERS" -P -t recs -k bob -p 1
printf '%s' 'not a list' | kcat -b "$BROKERS" -P -t recs -k bob -p 1

assert_exit 0 "tail -e" "$SR_BIN" tail --topic recs -e --from beginning \
  --brokers "$BROKERS"
out=$(cat "$SR_TMP/out")
assert_eq "$(wc -l <<<"$out")" 2 "lines printed by tail"
assert_contains "$out" '"user_id":"alice"' "tail output"
assert_contains "$out" '"item_id":"i9"' "tail output"
assert_contains "$out" '"model_version":"3"' "tail output"
assert_contains "$out" '"user_id":"bob"' "tail output"
assert_contains "$(cat "$SR_TMP/err")" '"partition":1,"offset":1' \
  "tail error line"

assert_exit 0 "tail --user" "$SR_BIN" tail --topic recs -e --from beginning \
  --user alice --brokers "$BROKERS"
out=$(cat "$SR_TMP/out")
assert_eq "$(wc -l <<<"$out")" 1 "lines printed by tail --user alice"
assert_contains "$out" '"user_id":"alice"' "tail --user alice"
assert_not_contains "$out" '"user_id":"bob"' "tail --user alice"

# From the end, -e prints nothing that was there before.
assert_exit 0 "tail --from end" "$SR_BIN" tail --topic recs -e --from end \
  --brokers "$BROKERS"
assert_eq "$(cat "$SR_TMP/out")" "" "tail --from end output"

# A running tail follows new lists and exits 0 on SIGINT.
"$SR_BIN" tail --topic recs --user carol --brokers "$BROKERS" \
  >"$SR_TMP/follow.out" 2>"$SR_TMP/follow.err" &
tail_pid=$!
SR_PIDS+=("$tail_pid")
sleep 1
printf '%s' '{"user_id":"carol","items":[{"item_id":"i1","score":1}]}' |
  kcat -b "$BROKERS" -P -t recs -k carol
wait_for 10 grep -q '"user_id":"carol"' "$SR_TMP/follow.out"
kill -INT "$tail_pid"
rc=0
wait "$tail_pid" || rc=$?
assert_eq "$rc" 0 "tail exit code after SIGINT"

stop_broker

# A fixed --port is the address printed, and clients bootstrap through it.
port=$((20000 + RANDOM % 20000))
start_broker --port "$port" --topics events
assert_eq "$BROKERS" "127.0.0.1:$port" "address of a broker on a fixed port"
assert_exit 0 "kcat -L via fixed port" kcat -b "$BROKERS" -L -t events
assert_contains "$(cat "$SR_TMP/out")" 'topic "events" with 1 partitions' \
  "metadata via fixed port"
assert_exit 0 "produce via fixed port" "$SR_BIN" produce "$events" \
  --topic events --brokers "$BROKERS" --raw
keys=$(timeout 20 kcat -b "$BROKERS" -C -t events -e -q -f '%k\n' | sort)
assert_eq "$(echo $keys)" "alice alice bob bob carol" "keys via fixed port"
stop_broker

echo "PASS: operator tools"
