# Takedowns through the items topic: once an item is marked unavailable, no
# list published afterwards holds it, and every user whose last list held
# it gets a new list (a takedown refresh, counted in
# streamrec_takedown_refreshes_total) without any new event. Events on the
# item still train the model. Marking it available again, or removing it
# with a tombstone, lets it back into lists. A missing items topic stops the
# start with the command that creates it.
# Usage: bash test_takedown.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq curl

N=3000
start_broker --topics events,recs,items,dead --partitions 1

"$SR_BIN" gen --events "$N" --users 200 --items 40 --seed 5 \
  -o "$SR_TMP/events.jsonl" || fail "gen"
assert_exit 0 "produce events" "$SR_BIN" produce "$SR_TMP/events.jsonl" \
  --topic events --brokers "$BROKERS"

# On a cluster the items topic must exist, compacted: one that deletes old
# records would lose the takedowns with them.
assert_exit 2 "a missing items topic" timeout 30 "$SR_BIN" run \
  --set "kafka.brokers=$BROKERS" --set kafka.items_topic=noitems \
  --set metrics.listen=off --set "checkpoint.dir=$SR_TMP/none"
assert_contains "$(cat "$SR_TMP/err")" "topic noitems: missing" \
  "a missing items topic is named"
assert_contains "$(cat "$SR_TMP/err")" "cleanup.policy=compact" \
  "with the command that creates it compacted"

ADDR=127.0.0.1:$(free_port)
run_bg run --set "kafka.brokers=$BROKERS" --set "metrics.listen=$ADDR" \
  --set kafka.group_id=takedown --set kafka.items_topic=items \
  --set kafka.dead_letter_topic=dead --set kafka.output_format=json \
  --set recommend.n=10 --set "checkpoint.dir=$SR_TMP/state" \
  --set kafka.properties.session.timeout.ms=3000 \
  --set kafka.properties.heartbeat.interval.ms=500

metric() {
  curl -sf "http://$ADDR/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
# Every list so far, one line each: offset, then the list as JSON.
lists() {
  timeout 10 kcat -b "$BROKERS" -C -t recs -e -q -f '%o\t%s\n'
}
consumed_all() {
  [ "$(metric streamrec_updates_total)" == "$1" ]
}
produce_events() {
  assert_exit 0 "produce events" "$SR_BIN" produce "$1" --topic events \
    --brokers "$BROKERS"
}
produce_items() {
  printf '%s\n' "$1" >"$SR_TMP/item.jsonl"
  shift
  assert_exit 0 "produce item" "$SR_BIN" produce "$SR_TMP/item.jsonl" \
    --type item --topic items --brokers "$BROKERS" "$@"
}
# Users whose last list (up to offset $1, exclusive; all when empty) holds
# item $2, one per line, sorted.
holders() {
  lists | awk -F'\t' -v lim="$1" 'lim == "" || $1 < lim {print $2}' |
    latest_holding "$2"
}
# One event of each user named in file $1 on item $2, stamped $3.
events_for() {
  while IFS= read -r u; do
    printf '{"user_id":"%s","item_id":"%s","type":"VIEW","value":0,"timestamp_ms":%s}\n' \
      "$u" "$2" "$3"
  done <"$1"
}

wait_for 60 consumed_all "$N"
settle_topic recs
# The item in the most lists is the one taken down.
item=$(lists | cut -f2 | most_held)
[ -n "$item" ] && [ "$item" != null ] || fail "no item in any list"
holders "" "$item" >"$SR_TMP/holders"
n_holders=$(wc -l <"$SR_TMP/holders")
[ "$n_holders" -gt 0 ] || fail "nobody holds $item"
mark=$(topic_count recs)

produce_items "{\"item_id\":\"$item\",\"available\":false}"
refreshed_all() {
  [ "$(metric streamrec_takedown_refreshes_total)" == "$n_holders" ] &&
    [ "$(lists | listed_after "$mark" | comm -13 - "$SR_TMP/holders")" == "" ]
}
wait_for 30 refreshed_all
assert_eq "$(metric streamrec_items_unavailable)" 1 "items unavailable"
settle_topic recs
assert_eq "$(lists | holding_after "$mark" "$item")" "" \
  "lists after the takedown that hold $item"

# Events on the item and from its former holders: the item trains, and
# stays out of every list.
events_for "$SR_TMP/holders" "$item" 1700100000000 >"$SR_TMP/more.jsonl"
produce_events "$SR_TMP/more.jsonl"
wait_for 30 consumed_all $((N + n_holders))
settle_topic recs
assert_eq "$(lists | holding_after "$mark" "$item")" "" \
  "lists holding $item after events on it"

# Available again: new lists may hold it.
produce_items "{\"item_id\":\"$item\",\"available\":true}"
wait_for 30 eval '[ "$(metric streamrec_items_unavailable)" == 0 ]'
mark=$(topic_count recs)
# Users who never saw the item get it back among the best-ranked ones.
lists | cut -f2 | jq -r .user_id | sort -u |
  comm -23 - "$SR_TMP/holders" | head -n 100 >"$SR_TMP/others"
events_for "$SR_TMP/others" i0 1700100001000 >"$SR_TMP/back.jsonl"
produce_events "$SR_TMP/back.jsonl"
applied=$((N + n_holders + $(wc -l <"$SR_TMP/back.jsonl")))
wait_for 30 consumed_all "$applied"
settle_topic recs
[ -n "$(lists | holding_after "$mark" "$item")" ] ||
  fail "$item in no list after it was made available"

# Down again, then removed by a tombstone: available once more.
produce_items "{\"item_id\":\"$item\",\"available\":false}"
wait_for 30 eval '[ "$(metric streamrec_items_unavailable)" == 1 ]'
produce_items "{\"item_id\":\"$item\"}" --tombstones
wait_for 30 eval '[ "$(metric streamrec_items_unavailable)" == 0 ]'
mark=$(topic_count recs)
events_for "$SR_TMP/others" i1 1700100002000 >"$SR_TMP/again.jsonl"
produce_events "$SR_TMP/again.jsonl"
wait_for 30 consumed_all $((applied + $(wc -l <"$SR_TMP/again.jsonl")))
settle_topic recs
[ -n "$(lists | holding_after "$mark" "$item")" ] ||
  fail "$item in no list after its tombstone"

# A bad item message is rejected to the dead-letter topic; the run goes on.
produce_items '{"item_id":"ok"}'
printf '%s\n' 'not an item' | timeout 10 kcat -b "$BROKERS" -P -t items -k x ||
  fail "kcat produce"
wait_for 30 eval '[ "$(timeout 10 kcat -b "$BROKERS" -C -t dead -e -q \
  -f "%h\n" | grep -c streamrec-error=decode_error)" == 1 ]'

kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 30
assert_eq "$RC" 0 "exit code after SIGTERM"
