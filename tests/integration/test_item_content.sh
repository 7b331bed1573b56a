# Item content through the items topic: a catalogue of items with features
# and embeddings (JSONL from gen --items-out, and TSV lines through produce
# --type item) is read before the input; an embedding of the wrong length is
# dead-lettered as bad_embedding; an item marked unavailable is in no list.
# Run B is killed with SIGKILL twice while the events arrive and restarted;
# its final checkpoint must hold the same model (digest) as run A, which
# consumed everything without interruption, and differ from run C, which
# read no items topic: availability and content state survive a restart.
# Usage: bash test_item_content.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools kcat jq pgrep

N=6000
KILLS=2
start_broker --topics events,recs,items,dead --partitions 1

"$SR_BIN" gen --events "$N" --users 600 --items 500 --seed 13 \
  -o "$SR_TMP/events.jsonl" --items-out "$SR_TMP/items.jsonl" \
  --embedding-dims 16 || fail "gen"
# Three items as TSV lines (features, embedding), one of them with an
# embedding of 3 values, and one item taken down.
emb16=$(seq -s ' ' 1 16)
printf 'i1\ttopic:1|topic:2\t%s\ni2\ttopic:2,topic:3\t%s\ni3\ttopic:3\t1 2 3\n' \
  "$emb16" "$emb16" >"$SR_TMP/items.tsv"
down=$(jq -r .item_id "$SR_TMP/events.jsonl" | sort | uniq -c | sort -rn |
  awk 'NR == 1 {print $2}')
printf '{"item_id":"%s","available":false,"features":["topic:0"]}\n' \
  "$down" >>"$SR_TMP/items.tsv"
assert_exit 0 "produce items" "$SR_BIN" produce "$SR_TMP/items.jsonl" \
  --type item --topic items --brokers "$BROKERS"
assert_exit 0 "produce TSV items" "$SR_BIN" produce "$SR_TMP/items.tsv" \
  --type item --topic items --brokers "$BROKERS"

# The events arrive over ~6 s, so that every kill lands mid-stream.
"$SR_BIN" produce "$SR_TMP/events.jsonl" --topic events --brokers "$BROKERS" \
  --rate 1000 >"$SR_TMP/produce.out" 2>"$SR_TMP/produce.log" &
produce_pid=$!
SR_PIDS+=("$produce_pid")

common=(--set "kafka.brokers=$BROKERS"
  --set kafka.properties.session.timeout.ms=3000
  --set kafka.properties.heartbeat.interval.ms=500
  --set kafka.output_format=json --set recommend.n=10)
items=(--set kafka.items_topic=items --set kafka.dead_letter_topic=dead
  --set items.embedding_dims=16)
run_b=("${common[@]}" "${items[@]}" --set kafka.group_id=content-b
  --set "checkpoint.dir=$SR_TMP/state-b" --set checkpoint.interval_s=0.5)

for i in $(seq 1 "$KILLS"); do
  kill_mid_run "b$i" "$SR_TMP/state-b" "0.$((RANDOM % 10))" "${run_b[@]}"
done

wait_exit "$produce_pid" 60
assert_eq "$RC" 0 "produce exit code"

run_bg b-final "${run_b[@]}" --until end
final_pid=$RUN_PID
run_bg a "${common[@]}" "${items[@]}" --set kafka.group_id=content-a \
  --set "checkpoint.dir=$SR_TMP/state-a" --until end
a_pid=$RUN_PID
run_bg c "${common[@]}" --set kafka.group_id=content-c \
  --set "checkpoint.dir=$SR_TMP/state-c" --until end
c_pid=$RUN_PID
for pid in "$final_pid" "$a_pid" "$c_pid"; do
  wait_exit "$pid" 60
  assert_eq "$RC" 0 "exit code of run $pid"
done

restored=$(cat "$SR_TMP"/b2.err "$SR_TMP/b-final.err" |
  grep -c "checkpoint restored")
[ "$restored" -ge 1 ] || fail "no restart restored a checkpoint"
assert_eq "$(ckpt_field "$SR_TMP/state-b" .events_applied)" "$N" \
  "events applied by run B"
digest_a=$(ckpt_field "$SR_TMP/state-a" .digest)
digest_b=$(ckpt_field "$SR_TMP/state-b" .digest)
digest_c=$(ckpt_field "$SR_TMP/state-c" .digest)
assert_eq "$digest_b" "$digest_a" "digest of the killed-and-restarted run"
[ "$digest_a" != "$digest_c" ] || fail "the items topic changed nothing"

dead=$(timeout 10 kcat -b "$BROKERS" -C -t dead -e -q -f '%h\n' |
  grep -c streamrec-error=bad_embedding)
# Runs A and every run B each reject the TSV item i3 once.
[ "$dead" -ge 2 ] || fail "$dead bad_embedding dead letters, expected >= 2"
# The restored model keeps the item taken down out of every list; run C,
# without the items topic, lists it (the most popular item) for someone.
users=$(jq -r .user_id "$SR_TMP/events.jsonl" | sort -u | head -n 15)
in_lists() {
  local u n=0
  for u in $users; do
    "$SR_BIN" inspect "$(newest_ckpt "$1")" --json --user "$u" -N 20 |
      jq -e --arg it "$down" '[.. | .item_id? // empty] | index($it)' \
        >/dev/null && n=$((n + 1))
  done
  echo "$n"
}
assert_eq "$(in_lists "$SR_TMP/state-b")" 0 "run B's lists holding $down"
[ "$(in_lists "$SR_TMP/state-c")" -gt 0 ] || fail "$down in none of run C's lists"
echo "PASS: item content (digest $digest_a, $restored restores, $dead bad_embedding)"
