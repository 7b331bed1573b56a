# Broker outages: the daemon starts while nothing listens at its bootstrap
# address, stays up, logs and retries, and consumes once a broker comes up
# there. The broker is then killed (SIGKILL) mid-stream: the daemon stays up
# and logs. A new broker on the same port is a brand-new cluster (empty
# topics, offsets from 0); the daemon follows it and applies the events
# produced to it, each once.
# Usage: bash test_broker_outage.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"


require_tools kcat jq python3

# A port nobody listens on (the kernel picks it; it is released at once).
PORT=$(free_port)

"$SR_BIN" gen --events 6000 --users 500 --items 300 --seed 17 \
  -o "$SR_TMP/events.jsonl" || fail "gen"
sed -n 1,2000p "$SR_TMP/events.jsonl" >"$SR_TMP/part1.jsonl"
sed -n 2001,5000p "$SR_TMP/events.jsonl" >"$SR_TMP/part2.jsonl"
# Fewer events than the daemon will have applied from the first cluster,
# so that every offset of the new cluster is below its old position.
sed -n 5001,5800p "$SR_TMP/events.jsonl" >"$SR_TMP/part3.jsonl"

state="$SR_TMP/state"
run_bg daemon --set "kafka.brokers=127.0.0.1:$PORT" --set metrics.listen=off \
  --set kafka.group_id=outage --set "checkpoint.dir=$state" \
  --set checkpoint.interval_s=1 \
  --set kafka.properties.session.timeout.ms=3000 \
  --set kafka.properties.heartbeat.interval.ms=500
daemon_pid=$RUN_PID

applied() {
  applied_in "$state"
}
applied_is() {
  [ "$(applied)" == "$1" ]
}
applied_over() {
  [ "$(applied)" -gt "$1" ]
}
# log_since LINE: the daemon's log after its first LINE lines.
log_since() {
  tail -n +"$(($1 + 1))" "$SR_TMP/daemon.err"
}

sleep 3
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited without a broker"
assert_contains "$(cat "$SR_TMP/daemon.err")" "Connection refused" \
  "log without a broker"
assert_contains "$(cat "$SR_TMP/daemon.err")" "brokers are down" \
  "log without a broker"

start_broker --port "$PORT" --topics events,recs --partitions 1
assert_eq "$BROKERS" "127.0.0.1:$PORT" "address of the broker"
assert_exit 0 "produce part 1" "$SR_BIN" produce "$SR_TMP/part1.jsonl" \
  --topic events --brokers "$BROKERS"
wait_for 40 applied_is 2000
lists1=$(timeout 10 kcat -b "$BROKERS" -C -t recs -e -q -f 'x\n' | wc -l)
[ "$lists1" -gt 0 ] || fail "no lists published to the first broker"

# The broker dies while events are still arriving: part 2 takes 10 s to
# produce, far longer than a checkpoint lags behind the model on a loaded
# machine, so the kill lands while the producer is still at work.
"$SR_BIN" produce "$SR_TMP/part2.jsonl" --topic events --brokers "$BROKERS" \
  --rate 300 >"$SR_TMP/produce2.out" 2>"$SR_TMP/produce2.log" &
produce_pid=$!
SR_PIDS+=("$produce_pid")
wait_for 20 applied_over 2500
kill -0 "$produce_pid" 2>/dev/null ||
  fail "part 2 was all produced before the broker could be killed"
mark=$(wc -l <"$SR_TMP/daemon.err")
# The producer would retry until its messages time out.
{
  kill -KILL "$BROKER_PID" "$produce_pid"
  wait "$BROKER_PID" "$produce_pid"
} 2>/dev/null
sleep 4
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited with the broker"
assert_contains "$(log_since "$mark")" "Connection refused" \
  "log after the broker was killed"
before=$(applied)
[ "$before" -gt 2500 ] && [ "$before" -lt 5000 ] ||
  fail "events applied when the broker died: $before, expected 2500 < x < 5000"

# A brand-new cluster on the same port: its topic starts at offset 0.
mark=$(wc -l <"$SR_TMP/daemon.err")
start_broker --port "$PORT" --topics events,recs --partitions 1
assert_exit 0 "produce part 3" "$SR_BIN" produce "$SR_TMP/part3.jsonl" \
  --topic events --brokers "$BROKERS"
# The model may hold more than the last checkpoint did (a checkpoint waits
# for lists the dead broker never acknowledged): the reset names the
# position reached in the old cluster.
wait_for 60 grep -q 'msg="partition log went backwards"' "$SR_TMP/daemon.err"
old=$(grep -o 'msg="partition log went backwards".*next_offset=[0-9]*' \
  "$SR_TMP/daemon.err" | head -n 1 | grep -o '[0-9]*$')
[ "$old" -ge "$before" ] && [ "$old" -lt 5000 ] ||
  fail "position in the old cluster: $old, expected $before <= x < 5000"
wait_for 60 applied_is "$((old + 800))"
kill -0 "$daemon_pid" 2>/dev/null || fail "the daemon exited"
lists3=$(timeout 10 kcat -b "$BROKERS" -C -t recs -e -q -f 'x\n' | wc -l)
[ "$lists3" -gt 0 ] || fail "no lists published to the new broker"

kill -TERM "$daemon_pid"
wait_exit "$daemon_pid" 30
assert_eq "$RC" 0 "exit code after SIGTERM"
assert_eq "$(ckpt_field "$state" .events_applied)" "$((old + 800))" \
  "events applied at the end"
assert_eq "$(ckpt_field "$state" '.offsets[0].offset')" 800 \
  "offset in the new cluster at the end"

echo "PASS: broker outage ($old events before the kill, +800 after)"
