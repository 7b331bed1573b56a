# Takedowns after a crash: the users whose latest list on the output topic
# holds an item are found after a kill -9 and a restart from the
# checkpoint, which carries each user's last published list. An item taken
# down after the restart, and one taken down while the daemon was down,
# both give each of those users a new list without the item (takedown
# refreshes, counted in streamrec_takedown_refreshes_total), and no list
# published after the takedown holds it. Refreshed lists alone, with no
# event, make the next checkpoint worth writing.
# Usage: bash test_takedown_restart.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq curl pgrep

N=2000
start_broker --topics events,recs,items,dead --partitions 1

"$SR_BIN" gen --events "$N" --users 150 --items 40 --seed 7 \
  -o "$SR_TMP/events.jsonl" || fail "gen"
"$SR_BIN" produce "$SR_TMP/events.jsonl" --topic events \
  --brokers "$BROKERS" >/dev/null 2>&1 || fail "produce events"

STATE=$SR_TMP/state
# A short session lets the restarted member rejoin the group quickly.
args=(--set "kafka.brokers=$BROKERS" --set kafka.group_id=takedown-restart
  --set kafka.items_topic=items --set kafka.dead_letter_topic=dead
  --set kafka.output_format=json --set recommend.n=10
  --set "checkpoint.dir=$STATE" --set checkpoint.interval_s=1
  --set kafka.properties.session.timeout.ms=3000
  --set kafka.properties.heartbeat.interval.ms=500)

# start NAME: a daemon with its metrics on a port of its own, in ADDR.
start() {
  ADDR=127.0.0.1:$(free_port)
  run_bg "$1" "${args[@]}" --set "metrics.listen=$ADDR"
  wait_for 30 curl -sf "http://$ADDR/healthz" -o /dev/null
}
# kill9: SIGKILL, and waits until no checkpoint writer of STATE is left
# to rename a file behind the next run's back.
kill9() {
  kill -KILL "$RUN_PID"
  wait "$RUN_PID" 2>/dev/null
  wait_for 5 bash -c "! pgrep -f -- '[c]heckpoint.dir=$STATE'"
}
metric() {
  curl -sf "http://$ADDR/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
lists() {
  timeout 10 kcat -b "$BROKERS" -C -t recs -e -q -f '%o\t%s\n'
}
# Users whose latest list holds item $1, sorted.
holders() {
  lists | cut -f2 | latest_holding "$1"
}
# refreshed HOLDERS MARK: every holder has a list from offset MARK on, and
# the refreshes counted since the start are as many as the holders.
refreshed() {
  [ "$(metric streamrec_takedown_refreshes_total)" == "$(wc -l <"$1")" ] &&
    [ -z "$(lists | listed_after "$2" | comm -13 - "$1")" ]
}
# check_takedown ITEM MARK DOWN: the item is in no list from offset MARK
# on, and DOWN items are unavailable.
check_takedown() {
  settle_topic recs
  assert_eq "$(lists | holding_after "$2" "$1")" "" \
    "lists published after $1 was taken down that hold it"
  assert_eq "$(metric streamrec_items_unavailable)" "$3" "items unavailable"
}

# Run 1: every event learned, its lists published, a checkpoint holding
# them all; then SIGKILL.
start r1
wait_for 60 eval '[ "$(metric streamrec_updates_total)" == "$N" ]'
settle_topic recs
wait_for 30 eval '[ "$(applied_in "$STATE")" == "$N" ]'
kill9

# Run 2 restarts from that checkpoint with nothing to replay: the lists
# on the output topic are run 1's. An item taken down now must still
# reach every user whose latest list holds it.
start r2
item=$(lists | cut -f2 | most_held)
[ -n "$item" ] && [ "$item" != null ] || fail "no item in any list"
holders "$item" >"$SR_TMP/holders1"
[ -s "$SR_TMP/holders1" ] || fail "nobody holds $item"
echo "taking down $item, held by $(wc -l <"$SR_TMP/holders1") users"
mark=$(topic_count recs)
written=$(grep -c "checkpoint written" "$SR_TMP/r2.err")
mark_unavailable "$item"
wait_for 20 refreshed "$SR_TMP/holders1" "$mark"
check_takedown "$item" "$mark" 1

# The refreshed lists make the next checkpoint differ from the last one,
# though no event came: it is written (after every list is delivered).
# Then SIGKILL again, and a second item is taken down while no daemon runs.
wait_for 30 eval '[ "$(grep -c "checkpoint written" "$SR_TMP/r2.err")" -gt "$written" ]'
kill9
item2=$(lists | cut -f2 | most_held)
[ "$item2" != "$item" ] || fail "$item still in lists"
holders "$item2" >"$SR_TMP/holders2"
[ -s "$SR_TMP/holders2" ] || fail "nobody holds $item2"
echo "taking down $item2 while stopped, held by $(wc -l <"$SR_TMP/holders2") users"
mark=$(topic_count recs)
mark_unavailable "$item2"

# Run 3 reads the takedown at start-up: the holders get their new lists
# without any event or takedown after the start.
start r3
wait_for 20 refreshed "$SR_TMP/holders2" "$mark"
check_takedown "$item2" "$mark" 2
assert_contains "$(cat "$SR_TMP/r3.err")" "last published lists restored" \
  "the restart's log"
