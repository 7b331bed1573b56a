# Three instances in one group share one model through the sync topic:
# each applies the events of its own partitions exactly once, learns the
# items from the others' deltas, and the group's prequential hit rate is
# within 5% of one instance reading the same stream alone, and above that
# of a group of three without sync, the stream read as it is produced.
# Usage: bash test_cluster_sync.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools jq python3 curl

N=60000
"$SR_BIN" gen --events "$N" --users 3000 --items 1000 --seed 11 \
  -o "$SR_TMP/events.jsonl" || fail "gen"
start_broker --topics events,recs,sync --partitions 6
# The members of each group: one instance alone, three without sync, three
# with it.
declare -A MEMBERS=([one]="a" [nosync]="a b c" [sync]="a b c")
GROUPS_RUN="one nosync sync"

# applied PORT: the events a member has learned, from its /metrics.
applied() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk '$1 == "streamrec_updates_total" { print $2 }'
}

# One instance alone and two groups of three, one with sync and one
# without, read the same stream as it is produced at 3 000 events/s, with
# the sync every 20 ms: the sync lag (about 60 events plus a fetch) is
# small next to the stream, as in production. How the hit rate falls with
# a longer lag is measured in docs/scaling.md. Static members
# (group.instance.id) all hold their partitions before the first event is
# produced, so no partition moves while events flow (moves are
# test_cluster_handoff's).
declare -A PORT PID
for label in $GROUPS_RUN; do
  for name in ${MEMBERS[$label]}; do
    PORT[$label-$name]=$(free_port)
    if [ "$label" = sync ]; then
      extra=(--set cluster.sync_topic=sync --set cluster.sync_interval_ms=20
        --set "cluster.instance_id=$name")
    else
      extra=(--set "kafka.properties.group.instance.id=$name")
    fi
    # Co-occurrence counts are each instance's own (core/cooc.h), never
    # synced: the groups compare what the sync shares, the factors and
    # popularity, so the blend is the fixed one without co-occurrence.
    run_bg "$label-$name" --set "kafka.brokers=$BROKERS" \
      --set "kafka.group_id=$label" \
      --set "checkpoint.dir=$SR_TMP/$label-$name" \
      --set "metrics.listen=127.0.0.1:${PORT[$label-$name]}" \
      --set kafka.properties.fetch.wait.max.ms=20 --set model.blend=fixed \
      "${extra[@]}"
    PID[$label-$name]=$RUN_PID
  done
done
deadline=$((SECONDS + 30))
for label in $GROUPS_RUN; do
  members=(${MEMBERS[$label]})
  for name in "${members[@]}"; do
    until [ "$(held "$SR_TMP/$label-$name.err")" = $((6 / ${#members[@]})) ]; do
      [ "$SECONDS" -lt "$deadline" ] || fail "group $label did not settle"
      sleep 0.2
    done
  done
done
assert_exit 0 "produce" "$SR_BIN" produce "$SR_TMP/events.jsonl" \
  --topic events --brokers "$BROKERS" --rate 3000

# group_applied LABEL: the events the group's members have learned.
group_applied() {
  local name total=0
  for name in ${MEMBERS[$1]}; do
    total=$((total + $(applied "${PORT[$1-$name]}")))
  done
  echo "$total"
}

# Every group learns every event, then stops.
deadline=$((SECONDS + 60))
for label in $GROUPS_RUN; do
  until [ "$(group_applied "$label")" -ge "$N" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "group $label did not learn $N events"
    sleep 0.2
  done
done
sleep 1 # the last deltas
for label in $GROUPS_RUN; do
  for name in ${MEMBERS[$label]}; do kill -TERM "${PID[$label-$name]}"; done
done
for label in $GROUPS_RUN; do
  for name in ${MEMBERS[$label]}; do
    wait_exit "${PID[$label-$name]}" 30
    assert_eq "$RC" 0 "exit code of $label-$name"
  done
done

# field LOG MSG KEY: the value of KEY on the line of message MSG.
field() {
  grep "msg=\"$2\"" "$1" | tail -n 1 | sed -n "s/.* $3=\\([^ ]*\\).*/\\1/p"
}

# hit_rate LABEL: the group's prequential hits over evaluated events.
hit_rate() {
  local hits=0 evaluated=0 name
  for name in ${MEMBERS[$1]}; do
    hits=$((hits + $(field "$SR_TMP/$1-$name.err" stopped prequential_hits)))
    evaluated=$((evaluated + $(field "$SR_TMP/$1-$name.err" stopped \
      prequential_evaluated)))
  done
  python3 -c "print(f'{$hits / $evaluated:.4f}')"
}

# (a) Every event applied exactly once across the group, none skipped.
total=0
for name in ${MEMBERS[sync]}; do
  applied=$(applied_in "$SR_TMP/sync-$name")
  [ "$applied" -gt 0 ] || fail "member $name applied no event"
  total=$((total + applied))
  assert_eq "$(field "$SR_TMP/sync-$name.err" "cluster member stopped" \
    skipped_events)" 0 "events skipped by member $name"
  assert_eq "$(field "$SR_TMP/sync-$name.err" "cluster member stopped" \
    misrouted_events)" 0 "misrouted events of member $name"
done
assert_eq "$total" "$N" "events applied by the group"

# (b) Each member sent deltas and applied the others'; its checkpoint
# keeps its member id and the sync topic's offset.
for name in ${MEMBERS[sync]}; do
  log="$SR_TMP/sync-$name.err"
  sent=$(field "$log" "cluster member stopped" deltas_sent)
  applied=$(field "$log" "cluster member stopped" deltas_applied)
  [ "$sent" -gt 0 ] || fail "member $name sent no deltas"
  [ "$applied" -gt 0 ] || fail "member $name applied none of the other's deltas"
  assert_eq "$(field "$log" "cluster member stopped" deltas_failed)" 0 \
    "deltas lost by member $name"
  offsets=$("$SR_BIN" inspect --json "$(newest_ckpt "$SR_TMP/sync-$name")" |
    jq -c '[.offsets[] | .topic]')
  assert_contains "$offsets" "\"member:$name\"" "member id in checkpoint"
  assert_contains "$offsets" '"sync"' "sync offset in checkpoint"
  echo "member $name: deltas sent $sent, applied $applied," \
    "sync bytes $(field "$log" "cluster member stopped" sync_bytes_sent)"
done

# (c) Sync makes the group one model: its prequential hit rate is within
# 5% of one instance alone, and above the group without sync (each
# member's items trained by a third of the users).
alone=$(hit_rate one)
without=$(hit_rate nosync)
with=$(hit_rate sync)
echo "prequential hit rate: one instance $alone; three with sync $with;" \
  "three without sync $without"
python3 -c "import sys; sys.exit(0 if $with > $without else 1)" ||
  fail "hit rate with sync $with is not above $without without"
# How close the group comes depends on the sync's lag, which a sanitizer
# build (several times slower, seven daemons on the machine's cores)
# stretches: there the group must only beat the one without sync.
if [ "${SR_SANITIZED:-OFF}" != ON ]; then
  python3 -c "import sys; sys.exit(0 if abs($with - $alone) <= 0.05 * $alone else 1)" ||
    fail "hit rate with sync $with is not within 5% of one instance's $alone"
fi

echo "PASS: three instances share one model through the sync topic"
