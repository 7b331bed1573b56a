# Idle and slow HTTP clients cannot starve the probes of `streamrec run`:
# with 400 idle connections and a few slowloris ones (a header line every
# 0.3 s, never finishing the request) held open, /healthz still answers 200
# within a second, every attacking connection is closed by the server within
# metrics.idle_timeout_ms (plus a margin), the closes are counted in
# streamrec_http_connections_dropped_total, and events are consumed as usual.
# Usage: bash test_http_limits.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools curl python3

N=2000
IDLE=400
SLOW=5
TIMEOUT_MS=2000

# metric NAME_WITH_LABELS: the value of one series in a fresh scrape.
metric() {
  curl -sf --max-time 1 "http://$ADDR/metrics" |
    awk -v k="$1" '$1 == k { print $2 }'
}

healthz_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$ADDR/healthz"
}

healthz_ok() {
  [ "$(healthz_status)" == 200 ]
}

consumed_all() {
  [ "$(metric 'streamrec_events_consumed_total{topic="events"}')" == "$N" ]
}

# The attacker: opens IDLE silent connections and SLOW slowloris ones,
# touches $SR_TMP/holding, then watches them until the server has closed
# every one (or 15 s pass) and prints "closed MAX_SECONDS" or "open COUNT".
cat >"$SR_TMP/attack.py" <<'EOF'
import select, socket, sys, time

port, n_idle, n_slow, holding = int(sys.argv[1]), int(sys.argv[2]), \
    int(sys.argv[3]), sys.argv[4]
start = time.monotonic()
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n_idle)]
slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(n_slow)]
for s in slow:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
socks += slow
open(holding, "w").close()
fds = {s.fileno(): s for s in socks}
poll = select.poll()
for fd in fds:
    poll.register(fd, select.POLLIN)
closed_at, last_drip = {}, time.monotonic()
while len(closed_at) < len(socks) and time.monotonic() - start < 15:
    now = time.monotonic()
    if now - last_drip >= 0.3:
        last_drip = now
        for s in slow:
            if s.fileno() not in closed_at:
                try:
                    s.send(b"X-Drip: 1\r\n")
                except OSError:
                    closed_at[s.fileno()] = now
    for fd, _ in poll.poll(100):
        try:
            data = fds[fd].recv(4096)
        except OSError:
            data = b""
        if not data:
            closed_at[fd] = time.monotonic()
            poll.unregister(fd)
if len(closed_at) < len(socks):
    print("open", len(socks) - len(closed_at))
else:
    print("closed %.2f" % (max(closed_at.values()) - start))
EOF

start_broker --topics events,recs
"$SR_BIN" gen --events $N --users 200 --items 100 --seed 5 \
  -o "$SR_TMP/events.jsonl" || fail "gen"

PORT=$(free_port)
ADDR=127.0.0.1:$PORT
run_bg daemon --set "kafka.brokers=$BROKERS" --set kafka.group_id=limits \
  --set "checkpoint.dir=$SR_TMP/state" --set "metrics.listen=$ADDR" \
  --set metrics.idle_timeout_ms=$TIMEOUT_MS
wait_for 30 healthz_ok

python3 "$SR_TMP/attack.py" "$PORT" $IDLE $SLOW "$SR_TMP/holding" \
  >"$SR_TMP/attack.out" 2>"$SR_TMP/attack.err" &
ATTACK_PID=$!
SR_PIDS+=("$ATTACK_PID")
wait_for 10 test -e "$SR_TMP/holding"

# The probes, as the kubelet sends them, while the attack holds.
for i in 1 2 3 4 5; do
  assert_eq "$(healthz_status)" 200 "/healthz under attack, probe $i"
  sleep 0.1
done
assert_exit 0 "produce under attack" "$SR_BIN" produce "$SR_TMP/events.jsonl" \
  --topic events --brokers "$BROKERS"
wait_for 30 consumed_all

# Every attacking connection is gone within the idle timeout.
wait "$ATTACK_PID" || fail "attacker failed: $(cat "$SR_TMP/attack.err")"
read -r outcome seconds <"$SR_TMP/attack.out"
assert_eq "$outcome" closed "attacking connections ($(cat "$SR_TMP/attack.out"))"
awk -v s="$seconds" -v t=$TIMEOUT_MS 'BEGIN { exit !(s <= t / 1000 + 1.5) }' ||
  fail "last attacking connection closed after $seconds s"

timed_out=$(metric 'streamrec_http_connections_dropped_total{reason="idle_timeout"}')
evicted=$(metric 'streamrec_http_connections_dropped_total{reason="evicted"}')
[ "${timed_out:-0}" -ge $SLOW ] || fail "idle_timeout drops: '$timed_out'"
[ "${evicted:-0}" -ge $((IDLE - 64)) ] || fail "evicted drops: '$evicted'"
[ -n "$(metric streamrec_http_connections)" ] ||
  fail "streamrec_http_connections missing"
healthz_ok || fail "/healthz after the attack"
echo "PASS"
