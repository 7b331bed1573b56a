# Reading a platform's own topic: the events of `streamrec gen`, rewritten
# as Segment-style track events (the user id in the Kafka key, the item and
# value nested under properties, platform type names, ISO-8601 timestamps
# with UTC and +01:00 zones), are read with input.fields.* and input.types;
# the model's digest equals that of a run over the same events in
# streamrec's own JSON. Among them, an event of a type the platform has and
# streamrec does not is skipped (input.unknown_types=skip, not
# dead-lettered), and messages with a missing item or an unparsable
# timestamp land in the dead-letter topic with the configured path in their
# error detail. The same events in a flat shape of their own, with
# timestamps in fractional seconds, are read by the overrides of
# input.topics.TOPIC.* on top of that config, to the same digest. A mapping
# that cannot work exits 2 naming its key.
# Usage: bash test_input_mapping.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq

assert_exit 2 "an empty path segment" "$SR_BIN" run \
  --set input.fields.item_id=properties..id
assert_contains "$(cat "$SR_TMP/err")" "input.fields.item_id" "empty path"
assert_exit 2 "an unknown target type" "$SR_BIN" run \
  --set input.types.order=SHIPPED
assert_contains "$(cat "$SR_TMP/err")" "input.types.order" "unknown type"
assert_exit 2 "an unknown timestamp format" "$SR_BIN" run \
  --set input.timestamp_format=minutes
assert_contains "$(cat "$SR_TMP/err")" "input.timestamp_format" "format"

N=2000
start_broker --topics own,platform,flat,recs,dead --partitions 1
own="$SR_TMP/own.jsonl"
"$SR_BIN" gen --events "$N" --users 300 --items 200 --seed 13 -o "$own" ||
  fail "gen"

# KEY<TAB>nested event per line, in the same order; odd events carry
# their time in +01:00.
jq -rc '
  def iso($ms; $off):
    (($ms / 1000 | floor) + $off * 3600 | strftime("%Y-%m-%dT%H:%M:%S"))
    + "." + ($ms % 1000 | tostring | ("00" + .)[-3:])
    + (if $off == 0 then "Z" else "+01:00" end);
  {"VIEW": "page_view", "CLICK": "product_clicked",
   "ADD_TO_CART": "add_to_basket", "PURCHASE": "order"} as $names
  | [inputs] | to_entries[] | .key as $i | .value
  | .user_id + "\t" + ({
      type: "track",
      event: ($names[.type] // (.type | ascii_downcase)),
      properties: {product_id: .item_id, value: .value},
      context: {library: {name: "analytics.js"}},
      timestamp: iso(.timestamp_ms; $i % 2)
    } | tojson)' -n "$own" >"$SR_TMP/platform.tsv" || fail "jq"
# Appended: a type streamrec lacks (skipped), then two bad messages.
{
  printf 'u1\t{"type":"identify","event":"signed_up","properties":{"product_id":"i1","value":0},"timestamp":"2023-11-14T22:13:20Z"}\n'
  printf 'u1\t{"type":"track","event":"order","properties":{"value":0},"timestamp":"2023-11-14T22:13:20Z"}\n'
  printf 'u1\t{"type":"track","event":"order","properties":{"product_id":"i1","value":0},"timestamp":"yesterday"}\n'
} >>"$SR_TMP/platform.tsv"

jq -c '{who: .user_id, what: .item_id, kind: .type, v: .value,
  at: (.timestamp_ms / 1000)}' "$own" >"$SR_TMP/flat.jsonl" || fail "jq flat"

assert_exit 0 "produce own events" "$SR_BIN" produce "$own" --topic own \
  --encode json --brokers "$BROKERS"
assert_exit 0 "produce flat events" "$SR_BIN" produce "$SR_TMP/flat.jsonl" \
  --topic flat --raw --brokers "$BROKERS"
timeout 20 kcat -b "$BROKERS" -P -t platform -K $'\t' \
  <"$SR_TMP/platform.tsv" || fail "kcat produce platform events"

common=(--set "kafka.brokers=$BROKERS" --set metrics.listen=off
  --set kafka.properties.session.timeout.ms=3000
  --set kafka.properties.heartbeat.interval.ms=500
  --set input.max_future_skew_ms=0)

run_bg own "${common[@]}" --set kafka.group_id=map-own \
  --set kafka.input_topics=own --set "checkpoint.dir=$SR_TMP/state-own" \
  --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "own format run exit code"

cat >"$SR_TMP/mapping.json" <<'EOF'
{"input": {
   "fields": {"user_id": "@key", "item_id": "properties.product_id",
              "type": "event", "value": "properties.value",
              "timestamp": "timestamp"},
   "timestamp_format": "iso8601",
   "unknown_types": "skip",
   "types": {"page_view": "VIEW", "product_clicked": "CLICK",
             "add_to_basket": "ADD_TO_CART", "order": "PURCHASE"}}}
EOF
run_bg mapped "${common[@]}" -c "$SR_TMP/mapping.json" \
  --set kafka.group_id=map-platform --set kafka.input_topics=platform \
  --set kafka.dead_letter_topic=dead \
  --set "checkpoint.dir=$SR_TMP/state-mapped" --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "mapped run exit code"

assert_eq "$(ckpt_field "$SR_TMP/state-mapped" .events_applied)" "$N" \
  "events applied from the platform topic"
digest=$(ckpt_field "$SR_TMP/state-own" .digest)
assert_eq "$(ckpt_field "$SR_TMP/state-mapped" .digest)" "$digest" \
  "digest of the mapped run vs streamrec's own format"

# Two dead letters: the skipped type is not one.
dead_headers dead 2
assert_contains "$(sed -n 1p "$SR_TMP/dead.headers")" \
  "streamrec-error=missing_field" "reason of the missing item"
assert_contains "$(sed -n 1p "$SR_TMP/dead.headers")" \
  "item_id (properties.product_id) is missing" "detail of the missing item"
assert_contains "$(sed -n 2p "$SR_TMP/dead.headers")" \
  "streamrec-error=bad_timestamp" "reason of the bad timestamp"
assert_contains "$(sed -n 2p "$SR_TMP/dead.headers")" \
  "timestamp (timestamp) \"yesterday\"" "detail of the bad timestamp"

# One topic of another shape, by its own overrides of the same config.
run_bg flat "${common[@]}" -c "$SR_TMP/mapping.json" \
  --set kafka.group_id=map-flat --set kafka.input_topics=flat \
  --set input.topics.flat.fields.user_id=who \
  --set input.topics.flat.fields.item_id=what \
  --set input.topics.flat.fields.type=kind \
  --set input.topics.flat.fields.value=v \
  --set input.topics.flat.fields.timestamp=at \
  --set input.topics.flat.timestamp_format=s \
  --set "checkpoint.dir=$SR_TMP/state-flat" --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "per-topic mapped run exit code"
assert_eq "$(ckpt_field "$SR_TMP/state-flat" .events_applied)" "$N" \
  "events applied from the flat topic"
assert_eq "$(ckpt_field "$SR_TMP/state-flat" .digest)" "$digest" \
  "digest of the per-topic mapped run vs streamrec's own format"
assert_exit 2 "a topic mapping of a topic not read" "$SR_BIN" run \
  --set input.topics.elsewhere.fields.user_id=who
assert_contains "$(cat "$SR_TMP/err")" "input.topics.elsewhere" \
  "topic mapping of a topic not read"

echo "PASS: input mapping ($N events, digest $digest)"
