# Two instances in one group share one model through the sync topic: each
# applies the events of its own partitions exactly once and learns the
# items from the other's deltas; the group's prequential hit rate with and
# without sync is printed.
# Usage: bash test_cluster_sync.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools jq python3

N=120000
"$SR_BIN" gen --events "$N" --users 3000 --items 1000 --seed 11 \
  -o "$SR_TMP/events.jsonl" || fail "gen"
start_broker --topics events,recs,sync --partitions 4
assert_exit 0 "produce" "$SR_BIN" produce "$SR_TMP/events.jsonl" \
  --topic events --brokers "$BROKERS"

# A static member (group.instance.id) does not leave the group when it
# exits, so the one that finishes first does not hand its partitions to
# the other, which would replay them from the start (the user handoff is
# not built yet). Both start within the broker's 3 s initial join delay and
# so share the first assignment.
# run_pair LABEL ID_OPTION ARGS...: runs members a and b (ID_OPTION set to
# their names) to --until end; both must exit 0.
run_pair() {
  local label=$1 id_option=$2 pids=() name
  shift 2
  for name in a b; do
    run_bg "$label-$name" --set "kafka.brokers=$BROKERS" \
      --set "kafka.group_id=$label" \
      --set "checkpoint.dir=$SR_TMP/$label-$name" \
      --set kafka.until_timeout_s=20 --set "$id_option=$name" "$@" --until end
    pids+=("$RUN_PID")
  done
  for name in 0 1; do
    wait_exit "${pids[$name]}" 40
    assert_eq "$RC" 0 "exit code of $label member $name"
  done
}

# field LOG MSG KEY: the value of KEY on the line of message MSG.
field() {
  grep "msg=\"$2\"" "$1" | tail -n 1 | sed -n "s/.* $3=\\([^ ]*\\).*/\\1/p"
}

# hit_rate LABEL: the pair's prequential hits over evaluated events.
hit_rate() {
  local hits=0 evaluated=0 name
  for name in a b; do
    hits=$((hits + $(field "$SR_TMP/$1-$name.err" stopped prequential_hits)))
    evaluated=$((evaluated + $(field "$SR_TMP/$1-$name.err" stopped \
      prequential_evaluated)))
  done
  python3 -c "print(f'{$hits / $evaluated:.4f}')"
}

run_pair nosync kafka.properties.group.instance.id
# The broker answers an idle fetch only after fetch.wait.max.ms: kept short
# so that deltas arrive within a sync interval.
run_pair sync cluster.instance_id --set cluster.sync_topic=sync \
  --set cluster.sync_interval_ms=50 --set kafka.properties.fetch.wait.max.ms=20

# (a) Every event applied exactly once across the pair, none skipped.
total=0
for name in a b; do
  applied=$(applied_in "$SR_TMP/sync-$name")
  [ "$applied" -gt 0 ] || fail "member $name applied no event"
  total=$((total + applied))
  assert_eq "$(field "$SR_TMP/sync-$name.err" "cluster member stopped" \
    skipped_events)" 0 "events skipped by member $name"
  assert_eq "$(field "$SR_TMP/sync-$name.err" "cluster member stopped" \
    misrouted_events)" 0 "misrouted events of member $name"
done
assert_eq "$total" "$N" "events applied by the pair"

# (b) Each member sent deltas, and the other's reached it; its checkpoint
# keeps its member id and the sync topic's offset. A member that reaches
# its end offsets exits without waiting for the other's last batches, so
# under load the first to finish may have applied none: at least one must.
any_applied=0
for name in a b; do
  log="$SR_TMP/sync-$name.err"
  sent=$(field "$log" "cluster member stopped" deltas_sent)
  applied=$(field "$log" "cluster member stopped" deltas_applied)
  [ "$sent" -gt 0 ] || fail "member $name sent no deltas"
  [ "$applied" -gt 0 ] && any_applied=1
  assert_eq "$(field "$log" "cluster member stopped" deltas_failed)" 0 \
    "deltas lost by member $name"
  offsets=$("$SR_BIN" inspect --json "$(newest_ckpt "$SR_TMP/sync-$name")" |
    jq -c '[.offsets[] | .topic]')
  assert_contains "$offsets" "\"member:$name\"" "member id in checkpoint"
  assert_contains "$offsets" '"sync"' "sync offset in checkpoint"
  echo "member $name: deltas sent $sent, applied $applied," \
    "sync bytes $(field "$log" "cluster member stopped" sync_bytes_sent)"
done

[ "$any_applied" -eq 1 ] || fail "no member applied the other's deltas"

# (c) The group's prequential hit rate with and without sync, printed.
# Not asserted yet: on this stream the two are within noise of each other
# (about 0.166 both; one instance gets 0.182), which docs/scaling.md lists
# as open.
without=$(hit_rate nosync)
with=$(hit_rate sync)
echo "cluster prequential hit rate: without sync $without, with sync $with"

echo "PASS: two instances share one model through the sync topic"
