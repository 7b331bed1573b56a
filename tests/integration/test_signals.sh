# Signals and unchanged checkpoints, as docs/operations.md describes them:
#   - SIGUSR2, SIGALRM, SIGVTALRM, SIGIO and SIGPIPE leave `streamrec run`
#     running; SIGHUP stops it like SIGTERM (final checkpoint, commit, 0);
#   - SIGUSR1 on an empty model says that the checkpoint was skipped;
#   - an idle daemon writes no checkpoint identical to its last one, with
#     either writer, nor on SIGUSR1 or at a stop (which still commits);
#   - `streamrec tail` ends with 0 when its reader goes away or on SIGHUP;
#     `streamrec broker` ends with 0 on SIGHUP.
# Usage: bash test_signals.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools curl

N=600
start_broker --topics events,recs
"$SR_BIN" gen --events "$N" --users 200 --items 100 --seed 9 \
  -o "$SR_TMP/events.jsonl" || fail "gen"

common=(--set "kafka.brokers=$BROKERS" --set checkpoint.keep=1000)
# hup: publishes (for tail), checkpoints only when told to.
run_bg hup "${common[@]}" --set kafka.group_id=sig-hup \
  --set "checkpoint.dir=$SR_TMP/hup" --set checkpoint.interval_s=600
hup_pid=$RUN_PID
for writer in fork copy; do
  run_bg "$writer" "${common[@]}" --no-publish \
    --set "kafka.group_id=sig-$writer" --set "checkpoint.dir=$SR_TMP/$writer" \
    --set checkpoint.interval_s=0.2 --set "checkpoint.writer=$writer"
  eval "${writer}_pid=$RUN_PID"
done

wait_for 20 grep -q "partitions assigned" "$SR_TMP/hup.err"
kill -USR1 "$hup_pid"
wait_for 5 grep -q "checkpoint skipped: nothing learned yet" "$SR_TMP/hup.err"

"$SR_BIN" produce "$SR_TMP/events.jsonl" --topic events --brokers "$BROKERS" \
  >"$SR_TMP/produce.out" 2>"$SR_TMP/produce.log" || fail "produce"

# Signals that must not stop the daemon, while it learns.
for sig in USR2 ALRM VTALRM IO PIPE; do
  kill -"$sig" "$hup_pid"
  sleep 0.2
done
kill -0 "$hup_pid" 2>/dev/null || fail "a signal that should be ignored " \
  "stopped the daemon"
hup_log=$(cat "$SR_TMP/hup.err")
for sig in USR2 ALRM; do
  assert_contains "$hup_log" "kind=SIG$sig" "log after SIG$sig"
done

consumed() {
  local port
  port=$(sed -n 's/.*serving metrics.* port=\([0-9]*\).*/\1/p' "$SR_TMP/$1.err")
  curl -s "http://127.0.0.1:$port/metrics" |
    grep -Eq "^streamrec_events_consumed_total(\{[^}]*\})? $N\$"
}
wait_for 20 consumed hup
# The lists of all those events, without waiting for the last ones: the
# reader goes away at once (a closed pipe), and later on SIGHUP.
set -o pipefail
"$SR_BIN" tail --brokers "$BROKERS" --from beginning -e 2>"$SR_TMP/tail.err" |
  true
assert_eq "$?" 0 "tail exit code when its reader is gone"
assert_eq "$(cat "$SR_TMP/tail.err")" "" "tail's stderr"
set +o pipefail
"$SR_BIN" tail --brokers "$BROKERS" >/dev/null 2>"$SR_TMP/tail.err" &
tail_pid=$!
SR_PIDS+=("$tail_pid")
sleep 1
kill -HUP "$tail_pid"
wait_exit "$tail_pid" 10
assert_eq "$RC" 0 "tail exit code after SIGHUP"

kill -HUP "$hup_pid"
wait_exit "$hup_pid" 30
assert_eq "$RC" 0 "exit code after SIGHUP"
hup_log=$(cat "$SR_TMP/hup.err")
assert_contains "$hup_log" "reason=SIGHUP" "log after SIGHUP"
assert_contains "$hup_log" "final checkpoint written" "log after SIGHUP"
assert_contains "$hup_log" "events_applied=$N" "log after SIGHUP"

# Idle daemons: once everything is in a checkpoint, nothing new is written,
# periodically, on request or at the stop.
for writer in fork copy; do
  wait_for 20 grep -q "checkpoint written.*events_applied=$N" \
    "$SR_TMP/$writer.err"
done
sleep 0.5
before_fork=$(ls "$SR_TMP/fork" | wc -l)
before_copy=$(ls "$SR_TMP/copy" | wc -l)
kill -USR1 "$fork_pid"
sleep 3
for writer in fork copy; do
  before="before_$writer"
  assert_eq "$(ls "$SR_TMP/$writer" | wc -l)" "${!before}" \
    "checkpoint files of the idle $writer writer after 3 s"
done
assert_contains "$(cat "$SR_TMP/fork.err")" \
  "checkpoint skipped: unchanged since the last one" "log after SIGUSR1"

kill -TERM "$fork_pid" "$copy_pid"
for writer in fork copy; do
  pid="${writer}_pid"
  wait_exit "${!pid}" 30
  assert_eq "$RC" 0 "exit code of the $writer writer's daemon"
  before="before_$writer"
  assert_eq "$(ls "$SR_TMP/$writer" | wc -l)" "${!before}" \
    "checkpoint files of the $writer writer after SIGTERM"
  log=$(cat "$SR_TMP/$writer.err")
  assert_contains "$log" "final checkpoint skipped" "$writer log after SIGTERM"
  assert_contains "$log" "final offsets committed" "$writer log after SIGTERM"
done

kill -HUP "$BROKER_PID"
wait_exit "$BROKER_PID" 10
assert_eq "$RC" 0 "broker exit code after SIGHUP"

echo "PASS: signals and unchanged checkpoints"
