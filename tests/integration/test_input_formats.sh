# Reading a platform's topics of three shapes with one configuration:
# nested JSON with ISO-8601 timestamps and the platform's type names, Avro
# framed for the Schema Registry (written by `streamrec produce --encode
# avro` through libavro's encoder), and streamrec's protobuf Event framed
# for the Schema Registry. One run reads all three topics at once and
# learns every event under the same users as a run over the same events
# in streamrec's own format. Since the interleaving of topics is not
# fixed, the digest is compared over runs of the same configuration that
# find the topics filled one after another (a restart from the checkpoint
# is bit-identical): it equals the own-format run's. A framed Avro message
# that is not a record, and one whose mapped user is null, land in the
# dead-letter topic with their reason and the schema id in
# streamrec-schema-id. A schema file that cannot work exits 2 naming its
# key.
# Usage: bash test_input_formats.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq python3

cat >"$SR_TMP/clicks.avsc" <<'EOF'
{"type": "record", "name": "Click", "namespace": "shop.v3", "fields": [
  {"name": "user", "type": ["null", {"type": "record", "name": "User",
     "fields": [{"name": "id", "type": "string"},
                {"name": "segment", "type": ["null", "string"]}]}]},
  {"name": "product", "type": {"type": "record", "name": "Product",
     "fields": [{"name": "sku", "type": "string"},
                {"name": "price", "type": ["null", "double"]}]}},
  {"name": "action", "type": {"type": "enum", "name": "Action",
     "symbols": ["page_view", "product_clicked", "add_to_basket", "order",
                 "like", "dislike", "rating"]}},
  {"name": "occurred_at", "type": {"type": "long",
     "logicalType": "timestamp-millis"}}]}
EOF
cat >"$SR_TMP/input.json" <<EOF
{"kafka": {"input_topics": "nested,clicks,orders"},
 "input": {
   "types": {"page_view": "VIEW", "product_clicked": "CLICK",
             "add_to_basket": "ADD_TO_CART", "order": "PURCHASE",
             "like": "LIKE", "dislike": "DISLIKE", "rating": "RATING"},
   "topics": {
     "nested": {"fields": {"user_id": "context.user.id",
                           "item_id": "properties.product_id",
                           "type": "event", "value": "properties.value",
                           "timestamp": "timestamp"},
                "timestamp_format": "iso8601"},
     "clicks": {"format": "avro",
                "avro": {"schema_file": "$SR_TMP/clicks.avsc"},
                "fields": {"user_id": "user.id", "item_id": "product.sku",
                           "type": "action", "value": "product.price",
                           "timestamp": "occurred_at"}}}}}
EOF

assert_exit 2 "a schema without the mapped field" "$SR_BIN" run \
  -c "$SR_TMP/input.json" --set input.topics.clicks.fields.user_id=user.name
assert_contains "$(cat "$SR_TMP/err")" \
  "input.topics.clicks.fields.user_id: 'user.name'" "unmapped schema field"
assert_exit 2 "an unreadable schema file" "$SR_BIN" run \
  -c "$SR_TMP/input.json" \
  --set input.topics.clicks.avro.schema_file=/nonexistent.avsc
assert_contains "$(cat "$SR_TMP/err")" \
  "input.topics.clicks.avro.schema_file: cannot read" "unreadable schema"

N=1500
start_broker --topics own,nested,clicks,orders,recs,dead --partitions 1
own="$SR_TMP/own.jsonl"
"$SR_BIN" gen --events "$N" --users 300 --items 200 --seed 17 -o "$own" ||
  fail "gen"
third=$((N / 3))
head -n "$third" "$own" >"$SR_TMP/a.jsonl"
sed -n "$((third + 1)),$((2 * third))p" "$own" >"$SR_TMP/b.jsonl"
tail -n "+$((2 * third + 1))" "$own" >"$SR_TMP/c.jsonl"
jq -c '
  def iso($ms): ($ms / 1000 | floor | strftime("%Y-%m-%dT%H:%M:%S"))
    + "." + ($ms % 1000 | tostring | ("00" + .)[-3:]) + "Z";
  {"VIEW": "page_view", "CLICK": "product_clicked",
   "ADD_TO_CART": "add_to_basket", "PURCHASE": "order"} as $names
  | {event: ($names[.type] // (.type | ascii_downcase)),
     context: {user: {id: .user_id}, library: {name: "analytics.js"}},
     properties: {product_id: .item_id, value: .value},
     timestamp: iso(.timestamp_ms)}' "$SR_TMP/a.jsonl" \
  >"$SR_TMP/a_nested.jsonl" || fail "jq nested"

# The framed Avro message that is not a record, and one whose user is
# null (branch 0), then a valid rest of the record.
python3 - "$SR_TMP" <<'PY' || fail "bad messages"
import struct, sys
head = b"\0" + struct.pack(">I", 17)
def s(t):
    return bytes([len(t) * 2]) + t
null_user = head + b"\x00" + s(b"i1") + b"\x00" + b"\x06" + b"\x02"
open(sys.argv[1] + "/bad.bin", "wb").write(head + b"\xff\xff")
open(sys.argv[1] + "/nulluser.bin", "wb").write(null_user)
PY

common=(--set "kafka.brokers=$BROKERS" --set metrics.listen=off
  --set kafka.properties.session.timeout.ms=3000
  --set kafka.properties.heartbeat.interval.ms=500
  --set input.max_future_skew_ms=0)

assert_exit 0 "produce own events" "$SR_BIN" produce "$own" --topic own \
  --brokers "$BROKERS"
run_bg own "${common[@]}" --set kafka.group_id=fmt-own \
  --set kafka.input_topics=own --set "checkpoint.dir=$SR_TMP/state-own" \
  --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "own format run exit code"

# fill TOPIC...: the three shapes, each into its topic.
fill_nested() {
  assert_exit 0 "produce nested JSON" "$SR_BIN" produce \
    "$SR_TMP/a_nested.jsonl" --topic nested --raw --brokers "$BROKERS"
}
fill_clicks() {
  assert_exit 0 "produce framed Avro" "$SR_BIN" produce "$SR_TMP/b.jsonl" \
    --topic clicks --encode avro -c "$SR_TMP/input.json" \
    --confluent-id 17 --brokers "$BROKERS"
  kcat -b "$BROKERS" -P -t clicks "$SR_TMP/bad.bin" "$SR_TMP/nulluser.bin" ||
    fail "kcat bad Avro"
}
fill_orders() {
  assert_exit 0 "produce framed protobuf" "$SR_BIN" produce \
    "$SR_TMP/c.jsonl" --topic orders --encode proto --confluent-id 5 \
    --brokers "$BROKERS"
}
# pass NAME: one --until end run of the three-topic configuration.
pass() {
  run_bg "$1" "${common[@]}" -c "$SR_TMP/input.json" \
    --set kafka.group_id=fmt-staged --set kafka.dead_letter_topic=dead \
    --set "checkpoint.dir=$SR_TMP/state-staged" --until end
  wait_exit "$RUN_PID" 60
  assert_eq "$RC" 0 "$1 exit code"
}

fill_nested
pass staged1
fill_clicks
pass staged2
fill_orders
pass staged3
assert_eq "$(ckpt_field "$SR_TMP/state-staged" .events_applied)" "$N" \
  "events applied from the three topics"
digest=$(ckpt_field "$SR_TMP/state-own" .digest)
assert_eq "$(ckpt_field "$SR_TMP/state-staged" .digest)" "$digest" \
  "digest of the three shapes vs streamrec's own format"

# All three topics at once, in one run: the same users, each with the
# same number of events.
run_bg mixed "${common[@]}" -c "$SR_TMP/input.json" \
  --set kafka.group_id=fmt-mixed --set "checkpoint.dir=$SR_TMP/state-mixed" \
  --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "one run over three topics exit code"
users() {
  "$SR_BIN" inspect --users --json "$(newest_ckpt "$1")" |
    jq -r '[.user_id, .events] | @tsv' | sort
}
users "$SR_TMP/state-own" >"$SR_TMP/own.users"
users "$SR_TMP/state-mixed" >"$SR_TMP/mixed.users"
assert_eq "$(wc -l <"$SR_TMP/mixed.users")" \
  "$(ckpt_field "$SR_TMP/state-own" .users)" "users of the mixed run"
cmp -s "$SR_TMP/own.users" "$SR_TMP/mixed.users" ||
  fail "users and their event counts differ: $(diff "$SR_TMP/own.users" \
    "$SR_TMP/mixed.users" | head -5)"
assert_eq "$(ckpt_field "$SR_TMP/state-mixed" .items)" \
  "$(ckpt_field "$SR_TMP/state-own" .items)" "items of the mixed run"

dead_headers dead 2
assert_contains "$(sed -n 1p "$SR_TMP/dead.headers")" \
  "streamrec-error=decode_error" "reason of the broken record"
assert_contains "$(sed -n 1p "$SR_TMP/dead.headers")" \
  "streamrec-schema-id=17" "schema id of the broken record"
assert_contains "$(sed -n 2p "$SR_TMP/dead.headers")" \
  "streamrec-error=missing_field" "reason of the null user"
assert_contains "$(sed -n 2p "$SR_TMP/dead.headers")" \
  "user_id (user.id) is missing" "detail of the null user"
assert_contains "$(sed -n 2p "$SR_TMP/dead.headers")" \
  "streamrec-schema-id=17" "schema id of the null user"

# check-input shows what the daemon made of the framed Avro topic: events
# with their schema id, and the two bad records with their reasons.
assert_exit 1 "check-input on the framed Avro topic" timeout 30 "$SR_BIN" \
  check-input -c "$SR_TMP/input.json" --topic clicks -n 100000 \
  --brokers "$BROKERS"
assert_eq "$(jq -s 'map(.schema_id) | unique' -c "$SR_TMP/out")" "[17]" \
  "schema ids shown by check-input"
assert_eq "$(jq -r 'select(.rejected) | .rejected' "$SR_TMP/out" |
  tr '\n' ' ')" "decode_error missing_field " "rejections shown by check-input"
assert_eq "$(jq -s 'map(select(.event)) | length' "$SR_TMP/out")" \
  "$(grep -c . "$SR_TMP/b.jsonl")" "events shown by check-input"

echo "PASS: input formats ($N events, digest $digest)"
