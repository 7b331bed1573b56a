# Takedowns after a handoff in cluster mode: each user's last published
# list travels with its state through the state topic, so the instance
# that takes a partition over refreshes the lists its previous owner
# published. Member a learns every event and stops; member b, with a
# state directory of its own, takes both partitions over from the state
# topic. An item taken down while no member runs gives every user whose
# latest list (published by a) holds it a new list without it once b has
# taken the partitions over; an item taken down after that does the same
# (both counted in streamrec_takedown_refreshes_total), and no list
# published afterwards holds either.
# Usage: bash test_takedown_handoff.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq curl

N=2000
start_broker --topics events,recs,sync,state,items,dead --partitions 2

"$SR_BIN" gen --events "$N" --users 150 --items 40 --seed 9 \
  -o "$SR_TMP/events.jsonl" || fail "gen"
"$SR_BIN" produce "$SR_TMP/events.jsonl" --topic events \
  --brokers "$BROKERS" >/dev/null 2>&1 || fail "produce events"

# member NAME: a member of group g with its own state directory; its
# metrics address goes to ADDR.
member() {
  ADDR=127.0.0.1:$(free_port)
  run_bg "$1" --set "kafka.brokers=$BROKERS" --set kafka.group_id=g \
    --set "checkpoint.dir=$SR_TMP/$1" --set checkpoint.interval_s=1 \
    --set "metrics.listen=$ADDR" --set kafka.items_topic=items \
    --set kafka.dead_letter_topic=dead --set kafka.output_format=json \
    --set recommend.n=10 --set cluster.sync_topic=sync \
    --set cluster.state_topic=state --set "cluster.instance_id=$1" \
    --set kafka.properties.session.timeout.ms=3000 \
    --set kafka.properties.heartbeat.interval.ms=500
}
metric() {
  curl -sf "http://$ADDR/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
lists() {
  timeout 10 kcat -b "$BROKERS" -C -t recs -e -q -f '%p %o\t%s\n'
}
# Positions of the output topic's partitions now, "p o" per line.
ends() {
  lists | cut -f1 | sort -k1,1 -k2,2n | awk '{e[$1] = $2 + 1} END {for (p in e) print p, e[p]}'
}
# Lists published after the positions in file $1 (one line per list).
after() {
  lists | awk -F'\t' -v f="$1" 'BEGIN {while ((getline l < f) > 0) {split(l, a, " "); e[a[1]] = a[2]}}
    {split($1, a, " "); if (a[2] >= e[a[1]] + 0) print $2}'
}
# Users whose latest list holds item $1, sorted.
holders() {
  lists | cut -f2 | latest_holding "$1"
}
# refreshed COUNT: COUNT takedown refreshes in all, and every user in
# holders has a list published after mark.
refreshed() {
  [ "$(metric streamrec_takedown_refreshes_total)" == "$1" ] &&
    [ -z "$(after "$SR_TMP/mark" | jq -r .user_id | sort -u |
      comm -13 - "$SR_TMP/holders")" ]
}
# take_down ITEM: marks the output topic's ends, notes ITEM's holders and
# takes ITEM down.
take_down() {
  [ -n "$1" ] && [ "$1" != null ] || fail "no item in any list"
  holders "$1" >"$SR_TMP/holders"
  [ -s "$SR_TMP/holders" ] || fail "nobody holds $1"
  echo "taking down $1, held by $(wc -l <"$SR_TMP/holders") users"
  ends >"$SR_TMP/mark"
  mark_unavailable "$1"
}
# none_hold ITEM: no list published after mark holds ITEM.
none_hold() {
  assert_eq "$(after "$SR_TMP/mark" | users_holding "$1")" "" \
    "lists published after $1 was taken down that hold it"
}

# Member a learns every event; its state flush and checkpoint follow.
member a
wait_for 60 eval '[ "$(metric streamrec_updates_total)" == "$N" ]'
settle_topic recs
wait_for 30 eval '[ "$(applied_in "$SR_TMP/a")" == "$N" ]'
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 30
assert_eq "$RC" 0 "member a's exit code"

# While no member runs, an item of a's lists is taken down.
first=$(lists | cut -f2 | most_held)
take_down "$first"
first_holders=$(wc -l <"$SR_TMP/holders")

# Member b takes both partitions over from the state topic, with a's
# lists, and refreshes those that hold the item.
member b
wait_for 30 eval '[ "$(held "$SR_TMP/b.err")" == 2 ] &&
  curl -sf "http://$ADDR/readyz" >/dev/null'
assert_contains "$(cat "$SR_TMP/b.err")" "partition taken over from the state topic" \
  "member b's log"
wait_for 20 refreshed "$first_holders"
settle_topic recs
none_hold "$first"

# An item taken down now refreshes the lists that hold it.
item=$(lists | cut -f2 | most_held)
take_down "$item"
wait_for 20 refreshed $((first_holders + $(wc -l <"$SR_TMP/holders")))
settle_topic recs
none_hold "$item"
