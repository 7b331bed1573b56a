# `streamrec check-input`: the first messages of a platform's topic decoded
# with the daemon's configuration, one JSON line each: the event a message
# becomes (the user from the Kafka key, nested fields, a platform type name,
# an ISO-8601 time with a zone), or the reason it would be rejected, naming
# the configured path. Exit 0 when every message decodes, 1 when one would
# be rejected, 2 for a mapping the daemon would refuse. Nothing is consumed
# for good: a second check reads the same messages.
# Usage: bash test_check_input.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq

assert_exit 0 "check-input --help" "$SR_BIN" check-input --help
assert_contains "$(cat "$SR_TMP/out")" "usage: streamrec check-input" "help"
assert_exit 2 "check-input -n 0" "$SR_BIN" check-input -n 0 --brokers x:1
assert_contains "$(cat "$SR_TMP/err")" "-n" "-n 0"
assert_exit 2 "a mapping that cannot work" "$SR_BIN" check-input \
  --brokers x:1 --set input.types.order=SHIPPED
assert_contains "$(cat "$SR_TMP/err")" "input.types.order" "bad mapping"

start_broker --topics clicks --partitions 1
{
  printf 'u7\t{"event":"order","properties":{"product_id":"i42","value":2.5},"timestamp":"2026-01-02T03:04:05.250+01:00"}\n'
  printf 'u8\t{"event":"page_view","properties":{"product_id":1234,"value":1},"timestamp":"2026-01-02T02:04:05Z"}\n'
  printf 'u9\t{"event":"order","properties":{"value":1},"timestamp":"2026-01-02T02:04:05Z"}\n'
  printf 'u9\t{"event":"order","properties":{"product_id":"i1","value":1},"timestamp":"yesterday"}\n'
} >"$SR_TMP/clicks.tsv"
timeout 20 kcat -b "$BROKERS" -P -t clicks -K $'\t' <"$SR_TMP/clicks.tsv" ||
  fail "kcat produce"

cat >"$SR_TMP/mapping.json" <<'EOF'
{"kafka": {"input_topics": "clicks"},
 "input": {
   "fields": {"user_id": "@key", "item_id": "properties.product_id",
              "type": "event", "value": "properties.value",
              "timestamp": "timestamp"},
   "types": {"page_view": "VIEW", "order": "PURCHASE"}}}
EOF
assert_exit 1 "check-input with a rejected message" timeout 30 \
  "$SR_BIN" check-input -c "$SR_TMP/mapping.json" --brokers "$BROKERS"
out="$SR_TMP/out"
assert_eq "$(wc -l <"$out")" 4 "one line per message"
assert_eq "$(jq -c 'select(.offset == 0) | .event' "$out")" \
  '{"user_id":"u7","item_id":"i42","type":"PURCHASE","value":2.5,"timestamp_ms":1767319445250}' \
  "the event of a nested message with a +01:00 time"
assert_eq "$(jq -c 'select(.offset == 1) | .event | [.item_id, .type, .value]' "$out")" \
  '["1234","VIEW",1]' "a numeric id as its decimal text"
assert_eq "$(jq -r 'select(.offset == 2) | .rejected' "$out")" \
  missing_field "reason of the missing item"
assert_contains "$(jq -r 'select(.offset == 2) | .detail' "$out")" \
  "properties.product_id" "detail names the configured path"
assert_eq "$(jq -r 'select(.offset == 3) | .rejected' "$out")" \
  bad_timestamp "reason of the unparsable time"
assert_contains "$(cat "$SR_TMP/err")" \
  "4 messages: 2 events, 2 rejected (missing_field 1, bad_timestamp 1)" \
  "summary"

assert_exit 0 "check-input -n 2, all good" timeout 30 \
  "$SR_BIN" check-input -c "$SR_TMP/mapping.json" --brokers "$BROKERS" -n 2
assert_eq "$(jq -r '.event.user_id' "$SR_TMP/out" | tr '\n' ' ')" "u7 u8 " \
  "the first two messages again"

# Without the mapping the platform's JSON is not streamrec's Event.
assert_exit 1 "check-input in streamrec's own format" timeout 30 \
  "$SR_BIN" check-input --topic clicks --brokers "$BROKERS" -n 1
assert_eq "$(jq -r .rejected "$SR_TMP/out")" empty_id \
  "own format: the platform's message has no user_id"

echo "PASS: check-input"
