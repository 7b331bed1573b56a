# The operator's view of `streamrec run`: /metrics counters follow the
# events sent (N consumed, M rejected by reason, lists published, lag down to
# 0), /readyz turns ready after assignment and not ready once the broker is
# gone, /healthz answers, bad HTTP requests get 400/405/413 without
# disturbing the daemon, a taken port fails the start with exit 2, and
# log.format=json writes one JSON object per line.
# Usage: bash test_metrics.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"


require_tools curl jq python3

N=3000
DECODE_BAD=30
EMPTY_BAD=20
M=$((DECODE_BAD + EMPTY_BAD))

# metric NAME_WITH_LABELS: the value of one series in the last scrape.
metric() {
  awk -v k="$1" '$1 == k { print $2 }' "$SR_TMP/metrics.txt"
}

scrape() {
  curl -sf "http://$ADDR/metrics" >"$SR_TMP/metrics.txt"
}

# sum_of NAME: the sum over every series of NAME in the last scrape.
sum_of() {
  awk -v k="$1" 'index($1, k "{") == 1 || $1 == k { s += $2 } END { print s + 0 }' \
    "$SR_TMP/metrics.txt"
}

# consumed_all [COUNT]: every message (default N + M) was consumed.
consumed_all() {
  scrape && [ "$(sum_of streamrec_events_consumed_total)" == "${1:-$((N + M))}" ]
}

lag_zero() {
  scrape && grep -q '^streamrec_consumer_lag{' "$SR_TMP/metrics.txt" &&
    [ "$(sum_of streamrec_consumer_lag)" == 0 ]
}

published_some() {
  scrape && [ "$(metric streamrec_lists_published_total)" -gt 0 ]
}

http_status() {
  curl -s -o "$SR_TMP/body" -w '%{http_code}' "$@"
}

ready_is() {
  [ "$(http_status "http://$ADDR/readyz")" == "$1" ]
}

start_broker --topics events,recs --partitions 2

"$SR_BIN" gen --events $N --users 300 --items 200 --seed 11 \
  -o "$SR_TMP/good.jsonl" || fail "gen"
{
  cat "$SR_TMP/good.jsonl"
  for ((i = 0; i < DECODE_BAD; i++)); do echo "garbage $i {"; done
  for ((i = 0; i < EMPTY_BAD; i++)); do
    echo '{"user_id":"","item_id":"i1","type":"VIEW","value":0,"timestamp_ms":1700000000000}'
  done
} >"$SR_TMP/all.jsonl"
assert_exit 0 "produce --raw" "$SR_BIN" produce "$SR_TMP/all.jsonl" \
  --topic events --raw --brokers "$BROKERS"

PORT=$(free_port)
ADDR=127.0.0.1:$PORT
run_bg daemon --set "kafka.brokers=$BROKERS" --set kafka.group_id=metrics \
  --set "checkpoint.dir=$SR_TMP/state" --set checkpoint.interval_s=1 \
  --set kafka.properties.session.timeout.ms=3000 \
  --set kafka.properties.heartbeat.interval.ms=500 \
  --set "metrics.listen=$ADDR" --set log.format=json
DAEMON_PID=$RUN_PID

wait_for 30 ready_is 200
assert_eq "$(jq -r .ready "$SR_TMP/body")" true "/readyz body"
assert_eq "$(http_status "http://$ADDR/healthz")" 200 "/healthz"
assert_eq "$(jq -r .status "$SR_TMP/body")" ok "/healthz body"

# Counters while running, then once everything is in.
wait_for 30 consumed_all
assert_eq "$(metric 'streamrec_events_rejected_total{reason="decode_error"}')" \
  $DECODE_BAD "rejected decode_error"
assert_eq "$(metric 'streamrec_events_rejected_total{reason="empty_id"}')" \
  $EMPTY_BAD "rejected empty_id"
assert_eq "$(metric 'streamrec_events_rejected_total{reason="id_too_long"}')" \
  0 "every reason shown at 0"
assert_eq "$(metric streamrec_updates_total)" $N "updates_total"
wait_for 20 lag_zero
wait_for 20 published_some
for name in streamrec_model_users streamrec_model_items streamrec_model_bytes \
  streamrec_refresh_latency_seconds_count streamrec_loop_stall_seconds_count \
  streamrec_prequential_evaluated_total streamrec_prequential_hits_total \
  streamrec_publish_errors_total streamrec_dead_letters_total; do
  [ -n "$(metric "$name")" ] || fail "$name missing from /metrics"
done
[ "$(metric streamrec_model_users)" -gt 0 ] || fail "model_users is 0"
[ "$(metric streamrec_refresh_latency_seconds_count)" -gt 0 ] ||
  fail "no refresh latency observed"
# The live quality signal needs events that arrive after their user's list
# was published: send the stream again now that lists are out.
assert_exit 0 "produce again" "$SR_BIN" produce "$SR_TMP/good.jsonl" \
  --topic events --brokers "$BROKERS"
prequential_seen() {
  scrape && [ "$(metric streamrec_prequential_evaluated_total)" -gt 0 ]
}
wait_for 30 prequential_seen
wait_for 30 consumed_all $((2 * N + M))
grep -q '^# TYPE streamrec_checkpoint_duration_seconds histogram' \
  "$SR_TMP/metrics.txt" || fail "checkpoint duration histogram missing"
wait_for 10 eval '[ "$(curl -sf "http://$ADDR/metrics" |
  awk "\$1 == \"streamrec_checkpoint_last_success_timestamp_seconds\" { print \$2 }")" ]'

# Bad requests: answered with their status codes, the daemon unharmed.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'THIS IS NOT HTTP\r\n\r\n' >&3
status=$(timeout 5 head -n 1 <&3)
exec 3<&-
assert_contains "$status" " 400" "garbage request"
assert_eq "$(http_status -X POST "http://$ADDR/metrics")" 405 "POST"
big=$(head -c 20000 /dev/zero | tr '\0' a)
assert_eq "$(http_status -H "X-Big: $big" "http://$ADDR/metrics")" 413 \
  "20 KB header"
assert_eq "$(http_status "http://$ADDR/nope")" 404 "unknown path"
scrape || fail "/metrics after bad requests"
assert_eq "$(sum_of streamrec_events_consumed_total)" $((2 * N + M)) \
  "consumed after bad requests"

# A second daemon on the same port stops at once, naming the option.
assert_exit 2 "port taken" "$SR_BIN" run --set "kafka.brokers=$BROKERS" \
  --set "checkpoint.dir=$SR_TMP/other" --set "metrics.listen=$ADDR"
assert_contains "$(cat "$SR_TMP/err")" "metrics.listen" "port taken message"

# The broker goes away: not ready, with the reason; still alive.
kill -KILL "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
wait_for 20 ready_is 503
assert_eq "$(jq -r .ready "$SR_TMP/body")" false "/readyz body when down"
jq -e '.reasons | index("broker unreachable")' "$SR_TMP/body" >/dev/null ||
  fail "/readyz reasons: $(cat "$SR_TMP/body")"
assert_eq "$(http_status "http://$ADDR/healthz")" 200 "/healthz, broker down"

kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60

# log.format=json: every line is a JSON object with the common fields.
[ -s "$SR_TMP/daemon.err" ] || fail "no log lines"
jq -c . "$SR_TMP/daemon.err" >/dev/null || fail "log lines that are not JSON"
jq -e -c 'select((.ts and .level and .component and .msg) | not)' \
  "$SR_TMP/daemon.err" >"$SR_TMP/badlines" ||
  true
[ -s "$SR_TMP/badlines" ] && fail "log lines without ts/level/component/msg"
jq -e -s 'map(select(.component == "rdkafka")) | length > 0' \
  "$SR_TMP/daemon.err" >/dev/null || fail "no librdkafka line in the log"
jq -e -s 'map(select(.msg == "invalid event")) | length > 0' \
  "$SR_TMP/daemon.err" >/dev/null || fail "no invalid event line in the log"
cp "$SR_TMP/metrics.txt" "${SR_KEEP_METRICS:-/dev/null}" 2>/dev/null
cp "$SR_TMP/daemon.err" "${SR_KEEP_LOG:-/dev/null}" 2>/dev/null
echo "PASS"
