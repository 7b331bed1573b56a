# A backfill (--until end) always ends: without a broker it gives up after
# kafka.until_timeout_s with exit 1; a signal before the end offsets were
# reached exits 1, not 0; a broker that restarts empty after the end offsets
# were taken does not leave it waiting for offsets that no longer exist.
# Usage: bash test_until_end.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools jq python3

PORT=$(free_port)

# No broker at all: exit 1 once kafka.until_timeout_s passed without
# progress, with the reason in the log.
run_bg nobroker --set "kafka.brokers=127.0.0.1:$PORT" \
  --set "checkpoint.dir=$SR_TMP/state-0" --set kafka.until_timeout_s=2 \
  --until end --no-publish
wait_exit "$RUN_PID" 20
assert_eq "$RC" 1 "exit code of --until end without a broker"
assert_contains "$(cat "$SR_TMP/nobroker.err")" \
  "made no progress for kafka.until_timeout_s" "log without a broker"

# A signal before the end: exit 1.
run_bg signalled --set "kafka.brokers=127.0.0.1:$PORT" \
  --set "checkpoint.dir=$SR_TMP/state-1" --until end --no-publish
sleep 1
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 20
assert_eq "$RC" 1 "exit code of --until end stopped by SIGTERM"

# The broker restarts empty after the end offsets were taken: the run
# follows the new log and ends.
# Lists are published one user at a time, so that the backfill takes long
# enough to be stopped (SIGSTOP) once its end offsets are taken.
N=300000
"$SR_BIN" gen --events "$N" --users 2000 --items 800 --seed 29 \
  -o "$SR_TMP/events.jsonl" || fail "gen"
start_broker --port "$PORT" --topics events,recs --partitions 1
assert_exit 0 "produce" "$SR_BIN" produce "$SR_TMP/events.jsonl" \
  --topic events --brokers "$BROKERS"
run_bg backfill --set "kafka.brokers=$BROKERS" \
  --set "checkpoint.dir=$SR_TMP/state-2" --set kafka.until_timeout_s=30 \
  --set kafka.properties.session.timeout.ms=3000 \
  --set kafka.properties.heartbeat.interval.ms=500 \
  --set recommend.batch_max=1 --until end
backfill_pid=$RUN_PID
deadline=$((SECONDS + 20))
until grep -q "end offsets taken" "$SR_TMP/backfill.err"; do
  [ "$SECONDS" -lt "$deadline" ] || fail "no end offsets taken"
  sleep 0.01
done
kill -STOP "$backfill_pid"
kill -KILL "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
start_broker --port "$PORT" --topics events,recs --partitions 1
kill -CONT "$backfill_pid"
wait_exit "$backfill_pid" 60
assert_eq "$RC" 0 "exit code of the backfill whose broker was replaced"
grep -qE 'msg="(partition log went backwards|the cluster behind kafka.brokers changed)"' \
  "$SR_TMP/backfill.err" || fail "the backfill did not see the new cluster"
applied=$(applied_in "$SR_TMP/state-2") # -1: stopped before its first
[ "$applied" -lt "$N" ] ||
  fail "the backfill applied $applied events; the broker died before the end"

echo "PASS: --until end always ends"
