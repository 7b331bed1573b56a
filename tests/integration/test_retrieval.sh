# Lists from the approximate index (recommend.retrieval=ann): the daemon
# turns ready only once the first index is built, every list it publishes
# leaves out the user's own items and free rows (item capacity below the
# catalogue, so items are evicted), and the metrics show the index in use,
# lists drawn from it, and its sampled recall at or above the configured
# floor (recommend.ann_recall_floor), with no warning that it fell below.
# Usage: bash test_retrieval.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq curl

N=6000
RECALL_FLOOR=0.8
start_broker --topics events,recs --partitions 1

"$SR_BIN" gen --events "$N" --users 300 --items 3000 --seed 3 \
  -o "$SR_TMP/events.jsonl" || fail "gen"
assert_exit 0 "produce events" "$SR_BIN" produce "$SR_TMP/events.jsonl" \
  --topic events --brokers "$BROKERS"

ADDR=127.0.0.1:$(free_port)
run_bg run --set "kafka.brokers=$BROKERS" --set "metrics.listen=$ADDR" \
  --set kafka.group_id=retrieval --set kafka.output_format=json \
  --set "checkpoint.dir=$SR_TMP/state" --set model.max_items=2500 \
  --set recommend.retrieval=ann --set recommend.ann_probe=16 \
  --set recommend.ann_refresh_s=1 \
  --set "recommend.ann_recall_floor=$RECALL_FLOOR" \
  --set kafka.properties.session.timeout.ms=3000 \
  --set kafka.properties.heartbeat.interval.ms=500

metric() {
  curl -sf "http://$ADDR/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
lists() {
  timeout 10 kcat -b "$BROKERS" -C -t recs -e -q
}
ready() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/readyz")" == 200 ]
}
consumed_all() {
  [ "$(metric streamrec_updates_total)" == "$N" ]
}
# Two builds: the second copies the factors after the events were learnt.
built_twice() {
  [ "$(metric streamrec_ann_builds_total)" -ge 2 ] 2>/dev/null
}

wait_for 30 ready
wait_for 60 consumed_all
wait_for 30 built_twice
settle_topic recs

assert_eq "$(metric 'streamrec_retrieval_mode{mode="ann"}')" 1 "mode ann"
[ "$(metric streamrec_ann_lists_total)" -gt 0 ] || fail "no list from the index"
[ "$(metric streamrec_ann_index_bytes)" -gt 0 ] || fail "index bytes"
recall=$(metric streamrec_ann_recall)
[ -n "$recall" ] || fail "streamrec_ann_recall absent"
awk -v r="$recall" -v f="$RECALL_FLOOR" 'BEGIN { exit !(r >= f) }' ||
  fail "sampled recall $recall below $RECALL_FLOOR"
! grep -q 'recall below recommend.ann_recall_floor' "$SR_TMP/run.err" ||
  fail "a recall below the floor was logged: $(grep -m1 'recall below' \
    "$SR_TMP/run.err")"

# Each user's last list came after its last event: none of its items may
# be one the user had an event on, nor a free row (no id).
lists | jq -s 'reduce .[] as $l ({}; .[$l.user_id] = [$l.items[].item_id])' \
  >"$SR_TMP/last.json"
jq -s 'group_by(.user_id) | map({(.[0].user_id): map(.item_id)}) | add' \
  "$SR_TMP/events.jsonl" >"$SR_TMP/seen.json"
bad=$(jq -n --slurpfile last "$SR_TMP/last.json" \
  --slurpfile seen "$SR_TMP/seen.json" '
  [$last[0] | to_entries[] | .key as $u | .value[] |
   . as $it | select($it == "" or (($seen[0][$u] // []) | index($it)))] |
  length')
assert_eq "$bad" 0 "seen or free items in the last lists"
[ "$(jq 'length' "$SR_TMP/last.json")" -gt 100 ] || fail "few users listed"
kill -TERM "$RUN_PID"
wait_exit "$RUN_PID" 30
assert_eq "$RC" 0 "exit code after SIGTERM"
