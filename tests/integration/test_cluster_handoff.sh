# Partitions move between instances and their users move with them, through
# the state topic. Three static members of one group share six input
# partitions; one is killed with SIGKILL mid-stream, later a fourth joins.
# At the end every user lives in exactly one instance's checkpoint (the
# one holding the user's partition) with exactly as many events as it
# sent, none applied twice and none lost; every user has a list and the
# latest list of each user with enough events is personalised. Then a
# member restarted under its instance id takes its partitions back from
# its own checkpoint, without reading the state topic.
# Usage: bash test_cluster_handoff.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools jq python3 curl

N=30000
"$SR_BIN" gen --events "$N" --users 1500 --items 400 --seed 21 \
  -o "$SR_TMP/events.jsonl" || fail "gen"
start_broker --topics events,recs,sync,state --partitions 6

declare -A PORT PID
# member NAME [LOG]: starts a member (its log is $SR_TMP/LOG.err, LOG
# defaulting to NAME).
member() {
  PORT[$1]=$(free_port)
  PORT[${2:-$1}]=${PORT[$1]}
  run_bg "${2:-$1}" --set "kafka.brokers=$BROKERS" --set kafka.group_id=g \
    --set "checkpoint.dir=$SR_TMP/$1" --set checkpoint.interval_s=2 \
    --set "metrics.listen=127.0.0.1:${PORT[$1]}" \
    --set cluster.sync_topic=sync --set cluster.state_topic=state \
    --set cluster.sync_interval_ms=200 --set "cluster.instance_id=$1" \
    --set kafka.properties.session.timeout.ms=6000 \
    --set kafka.properties.fetch.wait.max.ms=20 --set model.min_user_events=5
  PID[$1]=$RUN_PID
}

# metric PORT NAME: the sum of a metric's series on a member's /metrics.
metric() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { print s + 0 }'
}

# settled COUNT NAME...: each member holds COUNT partitions and has taken
# them over (ready: nothing left to restore).
settled() {
  local count=$1 name
  shift
  for name in "$@"; do
    [ "$(held "$SR_TMP/$name.err")" = "$count" ] || return 1
    curl -sf "http://127.0.0.1:${PORT[$name]}/readyz" >/dev/null || return 1
  done
}

# quiet SECS NAME...: no member's log has shown a partition move for SECS.
quiet() {
  local secs=$1 name last now
  shift
  now=$(date +%s)
  for name in "$@"; do
    last=$(grep 'msg="partitions \(assigned\|revoked\|lost\)"' \
      "$SR_TMP/$name.err" | tail -n 1 | sed -n 's/^ts=\([^ ]*\) .*/\1/p')
    [ -z "$last" ] && continue
    [ $((now - $(date -d "$last" +%s))) -ge "$secs" ] || return 1
  done
}

# caught_up COUNT NAME...: each member holds COUNT partitions, nothing is
# restoring and no lag is left.
caught_up() {
  local name
  settled "$@" || return 1
  shift
  for name in "$@"; do
    [ "$(metric "${PORT[$name]}" streamrec_restoring_partitions)" = 0 ] ||
      return 1
    [ "$(metric "${PORT[$name]}" streamrec_consumer_lag)" = 0 ] || return 1
  done
}

# A state topic that does not exist stops the start with exit 2 and the
# command that creates it, partitioned like the input and compacted.
"$SR_BIN" run --set "kafka.brokers=$BROKERS" --set kafka.group_id=g \
  --set cluster.sync_topic=sync --set cluster.state_topic=nostate \
  --set metrics.listen=off --set "checkpoint.dir=$SR_TMP/x" \
  >"$SR_TMP/x.out" 2>"$SR_TMP/x.err"
assert_eq "$?" 2 "exit code with a missing state topic"
assert_contains "$(cat "$SR_TMP/x.err")" \
  "--create --topic nostate --partitions 6 --config cleanup.policy=compact" \
  "the command that creates the state topic"

for name in a b c; do member "$name"; done
wait_for 60 settled 2 a b c

# The stream flows for about 6 s; c dies a second in, d joins later.
"$SR_BIN" produce "$SR_TMP/events.jsonl" --topic events --brokers "$BROKERS" \
  --rate 5000 >"$SR_TMP/produce.log" 2>&1 &
PRODUCER=$!
SR_PIDS+=("$PRODUCER")
sleep 1.5
kill -KILL "${PID[c]}"
wait "${PID[c]}" 2>/dev/null
# a and b take c's partitions over once its session times out, from the
# state topic; then d joins and takes two of them over in turn.
wait_for 60 settled 3 a b
member d
wait_for 60 settled 2 a b d
wait_exit "$PRODUCER" 60
assert_eq "$RC" 0 "producer exit code"
wait_for 60 caught_up 2 a b d
# The group settles: no partition has moved for 8 s, so that the final
# commits meet no rebalance.
wait_for 40 quiet 8 a b d
restored=0
for name in a b d; do
  restored=$((restored + $(metric "${PORT[$name]}" \
    'streamrec_partition_takeovers_total{source="state_topic"}')))
done
[ "$restored" -ge 4 ] || fail "only $restored partitions restored from the state topic"

# Static members stop without leaving the group: nothing moves meanwhile.
for name in a b d; do kill -TERM "${PID[$name]}"; done
for name in a b d; do
  wait_exit "${PID[$name]}" 30
  assert_eq "$RC" 0 "exit code of $name"
done

# check NAME...: each partition is held by exactly one of the members'
# final checkpoints, read to its end; each user lives there alone, with
# exactly the events it sent; every user has a list, and the latest is
# personalised (min_user_events is 5) for every user who sent 5 or more.
check() {
  local name ckpt
  for name in "$@"; do
    ckpt=$(newest_ckpt "$SR_TMP/$name")
    "$SR_BIN" inspect --json "$ckpt" >"$SR_TMP/$name.ckpt.json" ||
      fail "inspect $name"
    "$SR_BIN" inspect --users --json "$ckpt" >"$SR_TMP/$name.users.jsonl" ||
      fail "inspect --users $name"
  done
  "$SR_BIN" tail --topic recs --brokers "$BROKERS" --from beginning -e \
    >"$SR_TMP/recs.jsonl" 2>"$SR_TMP/tail.err" || fail "tail recs"
  python3 - "$SR_TMP" "$N" "$@" <<'PY' || fail "users are not exactly where they belong ($*)"
import collections, json, sys
tmp, n, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
sent = collections.Counter(json.loads(l)["user_id"] for l in open(f"{tmp}/events.jsonl"))
owner, errors = {}, []
for name in names:
    ck = json.load(open(f"{tmp}/{name}.ckpt.json"))
    for off in ck["offsets"]:
        if off["topic"] != "events":
            continue
        if off["partition"] in owner:
            errors.append(f"partition {off['partition']} in {owner[off['partition']][0]} and {name}")
        owner[off["partition"]] = (name, off["offset"])
if sorted(owner) != list(range(6)):
    errors.append(f"partitions held: {sorted(owner)}")
if sum(o for _, o in owner.values()) != n:
    errors.append(f"offsets sum to {sum(o for _, o in owner.values())}, not {n}")
seen = {}
for name in names:
    for line in open(f"{tmp}/{name}.users.jsonl"):
        u = json.loads(line)
        uid = u["user_id"]
        if uid in seen:
            errors.append(f"user {uid} in {seen[uid]} and {name}")
        seen[uid] = name
        if owner.get(u["partition"], ("?",))[0] != name:
            errors.append(f"user {uid} of partition {u['partition']} in {name}")
        if u["events"] != sent[uid]:
            errors.append(f"user {uid}: {u['events']} events applied, {sent[uid]} sent")
missing = set(sent) - set(seen)
if missing:
    errors.append(f"{len(missing)} users in no checkpoint, e.g. {sorted(missing)[:3]}")
latest = {}
for line in open(f"{tmp}/recs.jsonl"):
    r = json.loads(line)
    latest[r["user_id"]] = r
nolist = set(sent) - set(latest)
if nolist:
    errors.append(f"{len(nolist)} users without a list, e.g. {sorted(nolist)[:3]}")
popular = [u for u, r in latest.items() if sent[u] >= 5 and r.get("source") != "PERSONAL"]
if popular:
    errors.append(f"{len(popular)} users with 5+ events got the popularity list, e.g. {popular[:3]}")
for e in errors[:20]:
    print(e, file=sys.stderr)
print(f"{' '.join(names)}: {len(seen)} users, {sum(sent.values())} events "
      f"applied exactly once, {len(latest)} lists")
sys.exit(1 if errors else 0)
PY
}
check a b d

# (3) a restarted under its instance id takes its own partitions back from
# its checkpoint, reading no state record for them. Once b's and d's
# sessions time out it holds all six, the others restored from the state
# topic: every user is then in a's final checkpoint, exact.
# When a's final commit met a rebalance after all, the group's offsets are
# older than its checkpoint: then it must restore every partition instead.
if grep -q 'msg="final offsets committed"' "$SR_TMP/a.err"; then
  own=2
else
  own=0
  echo "a's final commit was refused: it restores all six partitions"
fi
member a a2
wait_for 60 caught_up 6 a2
assert_eq "$(metric "${PORT[a]}" 'streamrec_partition_takeovers_total{source="local"}')" "$own" \
  "partitions a took over from its checkpoint"
assert_eq "$(metric "${PORT[a]}" 'streamrec_partition_takeovers_total{source="state_topic"}')" $((6 - own)) \
  "partitions a restored from the state topic"
kill -TERM "${PID[a]}"
wait_exit "${PID[a]}" 30
assert_eq "$RC" 0 "exit code of a after its restart"
check a

echo "PASS: partitions move between instances with their users' state"
