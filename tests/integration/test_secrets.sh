# Secrets and unusable SASL setups.
# (a) A value given as ${VAR} never reaches stderr or /metrics, whatever the
#     property's name and the value's length: client.id is quoted in every
#     librdkafka line (client=<id>#consumer-1), debug's rejected element in
#     the startup error. Covers run, tail and produce.
# (b) SASL setups that librdkafka accepts property by property but cannot
#     use (OAUTHBEARER, which crashed run and tail with SIGSEGV when its
#     token was refreshed; PLAIN without a username; an unknown mechanism)
#     are refused at start with exit 2 naming the property.
# Usage: bash test_secrets.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools curl

export SR_T_ID=Zq9-client-id-secret
export SR_T_SHORT=q
export SR_T_LIST=generic,Wv7-listed-secret
NOWHERE=127.0.0.1:1 # nothing listens: librdkafka logs a FAIL line at once

# (a) run: the long secret in every rdkafka line, and not on /metrics.
run_bg leak --set kafka.brokers=$NOWHERE --set "checkpoint.dir=$SR_TMP/st" \
  --set 'kafka.properties.client.id=${SR_T_ID}'
wait_for 15 grep -q 'fac=FAIL' "$SR_TMP/leak.err"
port=$(grep -o 'serving metrics.* port=[0-9]*' "$SR_TMP/leak.err" |
  sed 's/.*port=//')
curl -sf "http://127.0.0.1:$port/metrics" >"$SR_TMP/metrics.txt" ||
  fail "GET /metrics"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
assert_contains "$(cat "$SR_TMP/leak.err")" "client=***#" "run stderr"
assert_not_contains "$(cat "$SR_TMP/leak.err")" Zq9 "run stderr"
assert_not_contains "$(cat "$SR_TMP/metrics.txt")" Zq9 "/metrics"

# run: an element of a list, quoted alone in the startup error.
assert_exit 2 "run with a bad debug list" "$SR_BIN" run \
  --set kafka.brokers=$NOWHERE --set metrics.listen=127.0.0.1:0 \
  --set 'kafka.properties.debug=${SR_T_LIST}'
assert_contains "$(cat "$SR_TMP/err")" "kafka.properties.debug:" "run error"
assert_not_contains "$(cat "$SR_TMP/err")" Wv7 "run startup error"

# tail: -X takes ${VAR} too; a one-letter secret is masked where it stands
# alone (client=q#consumer-1) without blanking every q of the line.
timeout 3 "$SR_BIN" tail --brokers $NOWHERE -X 'client.id=${SR_T_SHORT}' \
  -X log_level=7 >/dev/null 2>"$SR_TMP/tail.err"
assert_contains "$(cat "$SR_TMP/tail.err")" "client=***#consumer" "tail stderr"
assert_not_contains "$(cat "$SR_TMP/tail.err")" "client=q#" "tail stderr"
assert_exit 2 "tail with a bad debug list" "$SR_BIN" tail \
  --brokers $NOWHERE -X 'debug=${SR_T_LIST}'
assert_contains "$(cat "$SR_TMP/err")" "-X debug:" "tail error"
assert_not_contains "$(cat "$SR_TMP/err")" Wv7 "tail startup error"

# produce: the delivery failures and librdkafka's lines.
"$SR_BIN" gen --events 3 --users 2 --items 2 -o "$SR_TMP/ev.jsonl" ||
  fail "gen"
assert_exit 1 "produce to nowhere" "$SR_BIN" produce "$SR_TMP/ev.jsonl" \
  --topic events --brokers $NOWHERE -X 'client.id=${SR_T_ID}' \
  -X log_level=7 \
  -X message.timeout.ms=1000
assert_contains "$(cat "$SR_TMP/err")" "client=***#producer" "produce stderr"
assert_not_contains "$(cat "$SR_TMP/err")" Zq9 "produce stderr"

# (b) every unusable SASL setup, in run and in tail.
start_broker --topics recs
sasl=(security.protocol=SASL_PLAINTEXT)
oauth=("${sasl[@]}" sasl.mechanism=OAUTHBEARER)
jwt=("${oauth[@]}" enable.sasl.oauthbearer.unsecure.jwt=true)
cases=(
  "sasl.mechanism|${oauth[*]}"
  "sasl.mechanism|${jwt[*]}"
  "sasl.mechanism|${jwt[*]} sasl.oauthbearer.config=principal=admin"
  "sasl.mechanism|${jwt[*]} sasl.oauthbearer.config=garbage"
  "sasl.username|${sasl[*]} sasl.mechanism=PLAIN"
  "sasl.mechanism|${sasl[*]} sasl.mechanism=NOPE"
)
for c in "${cases[@]}"; do
  prop=${c%%|*}
  sets=() xs=()
  for kv in ${c#*|}; do
    sets+=(--set "kafka.properties.$kv")
    xs+=(-X "$kv")
  done
  assert_exit 2 "run ${c#*|}" "$SR_BIN" run --set "kafka.brokers=$BROKERS" \
    --set "checkpoint.dir=$SR_TMP/st" --set metrics.listen=127.0.0.1:0 \
    "${sets[@]}"
  assert_contains "$(cat "$SR_TMP/err")" "kafka.properties.$prop:" \
    "run ${c#*|}"
  assert_exit 2 "tail ${c#*|}" "$SR_BIN" tail --brokers "$BROKERS" -e \
    "${xs[@]}"
  assert_contains "$(cat "$SR_TMP/err")" "-X $prop:" "tail ${c#*|}"
done
echo "PASS"
