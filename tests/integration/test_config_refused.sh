# Configurations that cannot work stop `streamrec run` before it starts,
# with exit 2 and a message naming the key: an output or dead-letter topic
# that is also an input topic, topic names Kafka forbids, librdkafka
# properties streamrec sets itself, a key given twice in a -c file, and a
# checkpoint.dir that is a regular file. A checkpoint directory that cannot
# be written is a disk failure: exit 1. So is a directory where no
# checkpoint verifies, which must not claim to use an older "(none)".
# A tombstone (null value) is dead-lettered as `tombstone`, and `inspect`
# counts live users and items apart from the rows they occupy.
# Usage: bash test_config_refused.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq

# --until end makes a run that is wrongly accepted end at once (the embedded
# broker's topics are empty) instead of running until the timeout.
common=(run --set metrics.listen=off --set "checkpoint.dir=$SR_TMP/state"
  --until end)

# refused KEY ARGS...: the run exits 2 naming KEY.
refused() {
  local key=$1
  shift
  assert_exit 2 "$*" "$SR_BIN" "${common[@]}" "$@"
  assert_contains "$(cat "$SR_TMP/err")" "$key" "message of $*"
}

refused kafka.output_topic --set kafka.output_topic=events
refused kafka.dead_letter_topic --set kafka.dead_letter_topic=events
refused kafka.dead_letter_topic --set kafka.dead_letter_topic=recs
refused kafka.input_topics --set kafka.input_topics=events,bad/name
refused kafka.output_topic --set kafka.output_topic=..
refused kafka.dead_letter_topic --set "kafka.dead_letter_topic=dead$(
  printf 'x%.0s' $(seq 1 250))"
refused kafka.properties.group.id --set kafka.properties.group.id=other
refused kafka.properties.bootstrap.servers \
  --set kafka.properties.bootstrap.servers=127.0.0.1:1
refused kafka.properties.enable.auto.commit \
  --set kafka.properties.enable.auto.commit=true
printf '{"model": {"dims": 8, "dims": 9}}\n' >"$SR_TMP/twice.json"
refused dims -c "$SR_TMP/twice.json"
printf '{"model": {"dims": 8}, "model.dims": 9}\n' >"$SR_TMP/both.json"
refused model.dims -c "$SR_TMP/both.json"

# checkpoint.dir naming a regular file is a configuration error.
: >"$SR_TMP/file"
assert_exit 2 "checkpoint.dir a file" "$SR_BIN" "${common[@]}" \
  --set "checkpoint.dir=$SR_TMP/file"
assert_contains "$(cat "$SR_TMP/err")" "not a directory" "checkpoint.dir a file"
assert_not_contains "$(cat "$SR_TMP/err")" "Permission denied" \
  "checkpoint.dir a file"

# A read-only directory is a disk failure. Root ignores mode bits, so the
# directory is made read-only by a bind mount in a private namespace, or
# else made immutable.
ro="$SR_TMP/ro"
mkdir -p "$ro"
ro_msg="checkpoint.dir: cannot write to $ro"
if unshare -m sh -c "mount --bind -o ro '$ro' '$ro'" 2>/dev/null; then
  assert_exit 1 "read-only checkpoint.dir" unshare -m sh -c \
    "mount --bind -o ro '$ro' '$ro' && exec \"\$@\"" sh "$SR_BIN" \
    "${common[@]}" --set "checkpoint.dir=$ro"
  assert_contains "$(cat "$SR_TMP/err")" "$ro_msg" "read-only checkpoint.dir"
elif chattr +i "$ro" 2>/dev/null; then
  rc=0
  timeout 30 "$SR_BIN" "${common[@]}" --set "checkpoint.dir=$ro" \
    >"$SR_TMP/out" 2>"$SR_TMP/err" || rc=$?
  chattr -i "$ro"
  assert_eq "$rc" 1 "immutable checkpoint.dir exit code"
  assert_contains "$(cat "$SR_TMP/err")" "$ro_msg" "immutable checkpoint.dir"
else
  echo "SKIP (read-only checkpoint.dir): no bind mount or chattr +i here"
fi

# No checkpoint verifies: exit 1, and no "using older (none)".
mkdir -p "$SR_TMP/bad"
for seq in 1 2; do
  printf 'not a checkpoint' >"$SR_TMP/bad/checkpoint-$(printf '%020d' $seq).ckpt"
done
assert_exit 1 "no usable checkpoint" "$SR_BIN" "${common[@]}" \
  --set "checkpoint.dir=$SR_TMP/bad"
assert_contains "$(cat "$SR_TMP/err")" "no usable checkpoint" "unusable dir"
assert_not_contains "$(cat "$SR_TMP/err")" "using older" "unusable dir"

# Six users on six items a day before the seventh user's events: idle_ttl_s
# evicts the first six, leaving their rows free. A tombstone and an empty
# value arrive among them.
start_broker --topics events,recs,dead --partitions 1
for k in 1 2 3 4 5 6; do
  printf '{"user_id":"u%d","item_id":"i%d","type":"CLICK","value":0,"timestamp_ms":%d}\n' \
    "$k" "$k" $((1700000000000 + k))
done >"$SR_TMP/events.jsonl"
# The model clock is the median of recent event times: twenty late events
# move it a day on.
for k in $(seq 1 20); do
  printf '{"user_id":"u7","item_id":"i7","type":"CLICK","value":0,"timestamp_ms":%d}\n' \
    $((1700000000000 + 86400000 + k))
done >"$SR_TMP/late.jsonl"
assert_exit 0 "produce" "$SR_BIN" produce "$SR_TMP/events.jsonl" \
  --topic events --brokers "$BROKERS"
printf 'u8|\n' | kcat -b "$BROKERS" -P -Z -K '|' -t events ||
  fail "kcat: produce a tombstone"
printf 'u9|\n' | kcat -b "$BROKERS" -P -K '|' -t events ||
  fail "kcat: produce an empty value"
assert_exit 0 "produce" "$SR_BIN" produce "$SR_TMP/late.jsonl" \
  --topic events --brokers "$BROKERS"

run=(--set "kafka.brokers=$BROKERS" --set metrics.listen=off
  --set kafka.dead_letter_topic=dead --set model.idle_ttl_s=3600
  --set "checkpoint.dir=$SR_TMP/live" --until end)
run_bg first "${run[@]}"
wait_exit "$RUN_PID" 30
assert_eq "$RC" 0 "exit code of the run"
timeout 10 kcat -b "$BROKERS" -C -t dead -e -q -Z -f '%k %S %h\n' \
  >"$SR_TMP/dead.txt" || fail "kcat: read the dead-letter topic"
assert_eq "$(cut -d' ' -f1-3 "$SR_TMP/dead.txt")" \
  "$(printf 'u8 -1 streamrec-error=tombstone,streamrec-error-detail=value\nu9 0 streamrec-error=empty_id,streamrec-error-detail=user_id')" \
  "dead letters: key, value length and reason"
assert_contains "$(cat "$SR_TMP/first.err")" "reason=tombstone" "log of a tombstone"
assert_contains "$(cat "$SR_TMP/first.err")" "rejected_tombstone=1" "count of tombstones"

ckpt=$(newest_ckpt "$SR_TMP/live")
assert_eq "$("$SR_BIN" inspect --json "$ckpt" |
  jq -c '[.users, .user_rows, .items, .item_rows]')" "[1,7,1,7]" \
  "inspect --json: live users, rows, live items, rows"
text=$("$SR_BIN" inspect "$ckpt")
assert_contains "$text" "users           1" "inspect: live users"
assert_contains "$text" "user_rows       7" "inspect: user rows"

# The restore log counts the same way.
run_bg second "${run[@]}"
wait_exit "$RUN_PID" 30
assert_eq "$RC" 0 "exit code of the restarted run"
assert_contains "$(cat "$SR_TMP/second.err")" \
  "users=1 items=1 user_rows=7 item_rows=7" "checkpoint restored log"

echo "PASS: refused configurations, checkpoint.dir failures, tombstones, live counts"
