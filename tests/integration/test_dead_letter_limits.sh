# Every rejected message reaches the dead-letter topic with its original
# headers, however large: a 2 MB value (over input.max_message_bytes) and a
# 1 MB user id (over the producer's message.max.bytes) arrive cut to fit,
# with streamrec-truncated giving the original size; none is lost. Of the
# input topic's two partitions only the first gets messages: the other,
# never consumed, is logged as @none when revoked (not as @latest).
# Usage: bash test_dead_letter_limits.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq

start_broker --topics events,recs,dlq --partitions 2
big=(-X message.max.bytes=8000000 -p 0)
head -c 2000000 /dev/zero | tr '\0' 'x' >"$SR_TMP/huge.txt"
{
  printf '{"user_id":"'
  head -c 1000000 /dev/zero | tr '\0' 'u'
  printf '","item_id":"i1","type":"CLICK"}\n'
} >"$SR_TMP/long_id.json"
kcat -b "$BROKERS" "${big[@]}" -P -t events -k huge "$SR_TMP/huge.txt" ||
  fail "produce the 2 MB message"
kcat -b "$BROKERS" "${big[@]}" -P -t events -k longid "$SR_TMP/long_id.json" ||
  fail "produce the 1 MB id"
printf 'not an event\n' >"$SR_TMP/garbage.txt"
kcat -b "$BROKERS" -P -t events -p 0 -k g -H trace-id=abc123 -H origin=web \
  "$SR_TMP/garbage.txt" || fail "produce the message with headers"
printf '{"user_id":"u1","item_id":"i1","type":"CLICK"}\n' |
  kcat -b "$BROKERS" -P -t events -p 0 -k u1 || fail "produce a good event"

run_bg daemon --set "kafka.brokers=$BROKERS" --set kafka.dead_letter_topic=dlq \
  --set "checkpoint.dir=$SR_TMP/state" --until end
wait_exit "$RUN_PID" 60
assert_eq "$RC" 0 "exit code"
assert_not_contains "$(cat "$SR_TMP/daemon.err")" "dead letter not delivered" \
  "daemon log"
assert_eq "$(ckpt_field "$SR_TMP/state" .events_applied)" 1 "events applied"
revoked=$(grep 'msg="partitions revoked"' "$SR_TMP/daemon.err")
assert_contains "$revoked" "events:1@none" "partitions revoked"
assert_not_contains "$revoked" "@latest" "partitions revoked"

timeout 20 kcat -b "$BROKERS" -C -t dlq -e -q -J >"$SR_TMP/dlq.json"
assert_eq "$(wc -l <"$SR_TMP/dlq.json")" 3 "dead letters"
# header NAME KEY: the value of header NAME of the dead letter keyed KEY.
header() {
  jq -r --arg k "$2" --arg h "$1" \
    'select(.key == $k) | .headers as $hs
     | [range(0; $hs | length; 2) | select($hs[.] == $h) | $hs[. + 1]] | last' \
    "$SR_TMP/dlq.json"
}
assert_eq "$(header streamrec-error huge)" message_too_large "reason of huge"
assert_eq "$(header streamrec-truncated huge)" 2000000 "truncated huge"
assert_eq "$(header streamrec-error longid)" id_too_long "reason of longid"
assert_eq "$(header streamrec-truncated longid)" \
  "$(wc -c <"$SR_TMP/long_id.json")" "truncated longid"
assert_eq "$(header trace-id g)" abc123 "original header trace-id"
assert_eq "$(header origin g)" web "original header origin"
assert_eq "$(header streamrec-error g)" decode_error "reason of garbage"
len=$(jq -r 'select(.key == "huge") | .payload | length' "$SR_TMP/dlq.json")
[ "$len" -gt 900000 ] && [ "$len" -lt 1000000 ] ||
  fail "the cut 2 MB value keeps $len bytes, expected 0.9-1 MB"

echo "PASS: dead letters of any size"
