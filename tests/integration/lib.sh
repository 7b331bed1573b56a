# Helpers shared by the integration tests; sourced, never run. The caller
# sets SR_BIN to the streamrec binary before sourcing.
#
# Every test gets a private temporary directory ($SR_TMP) and a trap that
# stops the processes it started in the background and removes the
# directory, so a failing assertion leaves nothing behind.

set -u

SR_TMP=$(mktemp -d "${TMPDIR:-/tmp}/streamrec-test.XXXXXX")
# Background processes to stop at the end: brokers apart, because they are
# stopped last (see sr_cleanup).
SR_PIDS=()
SR_BROKER_PIDS=()

# sr_alive PID...: prints those of PID... that are running background jobs
# of this shell. A pid that was waited for already (or never was our child)
# is not one, so that a pid the system reused is never signalled.
sr_alive() {
  local pid job
  for pid in "$@"; do
    for job in $(jobs -rp); do
      [ "$pid" != "$job" ] || echo "$pid"
    done
  done
}

# sr_stop SECONDS PID...: SIGTERM to each PID still running, up to SECONDS
# for them to exit, then SIGKILL to the rest (and up to 5 s more); reaps
# those that exited. Never blocks longer than SECONDS + 5.
sr_stop() {
  local grace=$1 pid deadline left
  shift
  # shellcheck disable=SC2207 # pids are words
  left=($(sr_alive "$@"))
  [ "${#left[@]}" -gt 0 ] || return 0
  kill -TERM "${left[@]}" 2>/dev/null
  deadline=$((SECONDS + grace))
  while [ -n "$(sr_alive "${left[@]}")" ] && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.05
  done
  # shellcheck disable=SC2207
  left=($(sr_alive "${left[@]}"))
  if [ "${#left[@]}" -gt 0 ]; then
    echo "cleanup: pids ${left[*]} still running ${grace} s after SIGTERM; SIGKILL" >&2
    kill -KILL "${left[@]}" 2>/dev/null
    deadline=$((SECONDS + 5))
    while [ -n "$(sr_alive "${left[@]}")" ] && [ "$SECONDS" -lt "$deadline" ]; do
      sleep 0.05
    done
  fi
  for pid in "$@"; do
    [ -n "$(sr_alive "$pid")" ] || wait "$pid" 2>/dev/null
  done
}

# The daemons and clients stop first, while their broker is still up (a
# daemon's graceful stop flushes and commits through it); the brokers after.
sr_cleanup() {
  sr_stop 10 "${SR_PIDS[@]}"
  sr_stop 10 "${SR_BROKER_PIDS[@]}"
  rm -rf "$SR_TMP"
}
trap sr_cleanup EXIT

# fail MESSAGE: print the logs the test left, report and end the test.
# With SR_KEEP=DIR in the environment, the test's files are copied there.
fail() {
  [ -n "${SR_KEEP:-}" ] && cp -r "$SR_TMP" "$SR_KEEP"
  sr_dump_logs
  echo "FAIL: $*" >&2
  exit 1
}

# require_tools TOOL...: ends the test as skipped (exit 77, which ctest
# reports as "Skipped") when a tool is missing.
require_tools() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      echo "SKIP: $tool missing"
      exit 77
    fi
  done
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
  [ "$1" == "$2" ] || fail "$3: expected '$2', got '$1'"
}

# assert_contains HAYSTACK NEEDLE WHAT: NEEDLE is a fixed string.
assert_contains() {
  grep -qF -- "$2" <<<"$1" || fail "$3: '$2' not found in: $1"
}

# assert_not_contains HAYSTACK NEEDLE WHAT
assert_not_contains() {
  if grep -qF -- "$2" <<<"$1"; then
    fail "$3: '$2' unexpectedly found in: $1"
  fi
}

# assert_exit CODE WHAT COMMAND...: runs COMMAND (at most 30 s) and checks
# its exit code; its stdout and stderr are left in $SR_TMP/out, $SR_TMP/err.
assert_exit() {
  local want=$1 what=$2
  shift 2
  local rc=0
  timeout 30 "$@" >"$SR_TMP/out" 2>"$SR_TMP/err" || rc=$?
  [ "$rc" == "$want" ] ||
    fail "$what: exit $rc, expected $want; stderr: $(cat "$SR_TMP/err")"
}

# wait_for SECONDS COMMAND...: retries COMMAND every 0.1 s until it
# succeeds; fails the test after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for: $*"
    sleep 0.1
  done
}

# topic_count TOPIC: the messages TOPIC holds now (all partitions).
topic_count() {
  timeout 10 kcat -b "$BROKERS" -C -t "$1" -e -q -f 'x\n' | wc -l
}

# topic_has TOPIC N: true once TOPIC holds at least N messages.
topic_has() {
  [ "$(topic_count "$1")" -ge "$2" ]
}

# settle_topic TOPIC: waits until TOPIC has stopped growing for a second.
settle_topic() {
  local before=-1 now
  now=$(topic_count "$1")
  while [ "$now" != "$before" ]; do
    before=$now
    sleep 1
    now=$(topic_count "$1")
  done
}

# latest_holding ITEM: of the JSON lists on stdin (one a line, in the
# order published), the users whose latest list holds ITEM, sorted.
latest_holding() {
  jq -r -s --arg it "$1" 'reduce .[] as $l ({}; .[$l.user_id] = $l) |
    to_entries[] | select([.value.items[].item_id] | index($it)) | .key' |
    sort
}

# users_holding ITEM: of the JSON lists on stdin, the users of those that
# hold ITEM, one per list.
users_holding() {
  jq -r --arg it "$1" 'select([.items[].item_id] | index($it)) | .user_id'
}

# Of the lists on stdin, one a line as "offset<TAB>JSON" (kcat -f
# '%o\t%s\n'), on one partition:
# holding_after OFFSET ITEM: the users of those from OFFSET on that hold
# ITEM, one per list.
holding_after() {
  awk -F'\t' -v lim="$1" '$1 >= lim {print $2}' | users_holding "$2"
}

# listed_after OFFSET: the users with a list from OFFSET on, sorted.
listed_after() {
  awk -F'\t' -v lim="$1" '$1 >= lim {print $2}' | jq -r .user_id | sort -u
}

# mark_unavailable ITEM: produces the message that takes ITEM down to the
# items topic.
mark_unavailable() {
  printf '{"item_id":"%s","available":false}\n' "$1" >"$SR_TMP/item.jsonl"
  "$SR_BIN" produce "$SR_TMP/item.jsonl" --type item --topic items \
    --brokers "$BROKERS" >/dev/null 2>&1 || fail "produce item $1"
}

# most_held: of the JSON lists on stdin, the item in the most users'
# latest lists.
most_held() {
  jq -r -s 'reduce .[] as $l ({}; .[$l.user_id] = $l) |
    [.[].items[].item_id] | group_by(.) | max_by(length) | .[0]'
}

# dead_headers TOPIC N: waits up to 20 s for N messages on the dead-letter
# topic TOPIC, then writes each one's headers, a line per message in
# order, to $SR_TMP/dead.headers and checks there are exactly N.
dead_headers() {
  wait_for 20 topic_has "$1" "$2"
  timeout 10 kcat -b "$BROKERS" -C -t "$1" -e -q -f '%h\n' \
    >"$SR_TMP/dead.headers" || fail "kcat headers of $1"
  assert_eq "$(wc -l <"$SR_TMP/dead.headers")" "$2" "dead letters on $1"
}

# start_broker [ARGS...]: runs `streamrec broker ARGS` in the background and
# sets BROKERS (and BROKER_PID) from the first line it prints.
start_broker() {
  local out="$SR_TMP/broker.out" err="$SR_TMP/broker.err"
  # A previous broker's address must not be read before the new one's
  # redirection truncates the file.
  rm -f "$out" "$err"
  "$SR_BIN" broker "$@" >"$out" 2>"$err" &
  BROKER_PID=$!
  SR_BROKER_PIDS+=("$BROKER_PID")
  local deadline=$((SECONDS + 10))
  until [ -n "$(head -n 1 "$out" 2>/dev/null)" ]; do
    kill -0 "$BROKER_PID" 2>/dev/null ||
      fail "streamrec broker exited early: $(cat "$err")"
    [ "$SECONDS" -lt "$deadline" ] || fail "streamrec broker printed nothing"
    sleep 0.1
  done
  BROKERS=$(head -n 1 "$out")
}

# stop_broker: sends SIGTERM and checks that the broker exits 0.
stop_broker() {
  kill -TERM "$BROKER_PID"
  wait_exit "$BROKER_PID" 30
  local pid rest=()
  for pid in "${SR_BROKER_PIDS[@]}"; do
    [ "$pid" == "$BROKER_PID" ] || rest+=("$pid")
  done
  SR_BROKER_PIDS=("${rest[@]}")
  assert_eq "$RC" 0 "broker exit code after SIGTERM"
}

# sr_dump_logs: prints the logs the test left in $SR_TMP (*.err, *.log),
# the last 60 lines of each, for a failure report.
sr_dump_logs() {
  local f
  for f in "$SR_TMP"/*.err "$SR_TMP"/*.log; do
    [ -s "$f" ] || continue
    echo "----- ${f##*/} (last 60 lines) -----" >&2
    tail -n 60 "$f" >&2
  done
}

# run_bg NAME ARGS...: starts `streamrec run ARGS` in the background with
# stdout and stderr in $SR_TMP/NAME.out and $SR_TMP/NAME.err; sets RUN_PID.
# The metrics endpoint gets a free port (ARGS may choose another), so that
# daemons of tests running side by side do not fight over the default one.
run_bg() {
  local name=$1
  shift
  "$SR_BIN" run --set metrics.listen=127.0.0.1:0 "$@" \
    >"$SR_TMP/$name.out" 2>"$SR_TMP/$name.err" &
  RUN_PID=$!
  SR_PIDS+=("$RUN_PID")
}

# kill_mid_run NAME STATE_DIR DELAY ARGS...: starts `streamrec run ARGS` as
# run_bg NAME does, waits for its partitions to be assigned and for a
# checkpoint of its own (so that every killed run leaves one, however slow
# the machine; a restarted run may write it before a slow assignment, and
# none after it when nothing is left to replay), lets it run DELAY seconds
# more, kills it with SIGKILL and waits for it. A checkpoint writer it had
# forked (checkpoint.dir=STATE_DIR) dies with it too, rather than renaming
# a file into place behind the next run's back; ([c] keeps the pattern
# from matching the shell that runs pgrep.)
kill_mid_run() {
  local name=$1 dir=$2 delay=$3
  shift 3
  run_bg "$name" "$@"
  wait_for 30 grep -q "partitions assigned" "$SR_TMP/$name.err"
  wait_for 30 grep -q "checkpoint written" "$SR_TMP/$name.err"
  sleep "$delay"
  kill -0 "$RUN_PID" 2>/dev/null || fail "run $name exited early"
  kill -KILL "$RUN_PID"
  wait "$RUN_PID" 2>/dev/null
  wait_for 5 bash -c "! pgrep -f -- '[c]heckpoint.dir=$dir'"
}

# wait_exit PID SECONDS: waits for PID (a child) to exit and sets RC to its
# exit code; fails the test if it is still running after SECONDS.
wait_exit() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL "$pid" 2>/dev/null
      fail "process $pid still running after $2 s"
    fi
    sleep 0.1
  done
  RC=0
  wait "$pid" || RC=$?
}

# free_port: prints a TCP port on 127.0.0.1 that nobody listens on (the
# kernel picks it and releases it at once).
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# applied_in DIR: events applied per the newest checkpoint in DIR, or -1
# while there is none.
applied_in() {
  local ckpt n
  ckpt=$(newest_ckpt "$1")
  n=$([ -n "$ckpt" ] && "$SR_BIN" inspect --json "$ckpt" 2>/dev/null |
    jq -r .events_applied 2>/dev/null)
  echo "${n:--1}"
}

# newest_ckpt DIR: prints the path of the newest checkpoint file in DIR.
newest_ckpt() {
  ls "$1"/checkpoint-*.ckpt 2>/dev/null | sort | tail -n 1
}

# ckpt_field DIR FIELD: prints FIELD (a jq path such as .digest) of the
# newest checkpoint in DIR, as `streamrec inspect --json` reports it.
ckpt_field() {
  local ckpt
  ckpt=$(newest_ckpt "$1")
  [ -n "$ckpt" ] || fail "no checkpoint in $1"
  "$SR_BIN" inspect --json "$ckpt" | jq -r "$2"
}

# held LOG: the partitions a cluster member holds per its log (assigned
# minus revoked or lost).
held() {
  python3 - "$1" <<'PY'
import re, sys
held = set()
for line in open(sys.argv[1]):
    m = re.search(r'msg="partitions (assigned|revoked|lost)" partitions=(\S+)', line)
    if m:
        parts = {p.split("@")[0] for p in m.group(2).strip('"').split(",")}
        held = held | parts if m.group(1) == "assigned" else held - parts
print(len(held))
PY
}
