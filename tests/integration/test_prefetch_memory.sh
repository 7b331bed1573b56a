# A backlog costs bounded memory. While the daemon reads 200 000 queued
# events its resident size stays within kafka.prefetch_messages' worth of
# librdkafka's prefetch above the model, and once it has caught up it gives
# that memory back: the resident size comes back near the model's instead of
# keeping the backlog's peak. Skipped under AddressSanitizer, whose resident
# sizes say nothing about these.
# Usage: bash test_prefetch_memory.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools curl python3
if nm -D "$SR_BIN" 2>/dev/null | grep -q __asan_init ||
  ldd "$SR_BIN" 2>/dev/null | grep -q libasan; then
  echo "SKIP: resident sizes under AddressSanitizer"
  exit 77
fi

EVENTS=200000
PORT=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')

start_broker --topics events,recs --partitions 4
"$SR_BIN" gen --users 100000 --items 20000 --events "$EVENTS" --seed 1 \
  -o "$SR_TMP/events.jsonl" || fail "gen failed"
"$SR_BIN" produce "$SR_TMP/events.jsonl" --topic events --brokers "$BROKERS" \
  2>"$SR_TMP/produce.log" || fail "produce failed"

run_bg daemon --set "kafka.brokers=$BROKERS" \
  --set "metrics.listen=127.0.0.1:$PORT" \
  --set "checkpoint.dir=$SR_TMP/state" --set checkpoint.interval_s=600 \
  --set kafka.properties.fetch.wait.max.ms=5

# metric NAME: the sum of NAME's samples on /metrics.
metric() {
  curl -sf "http://127.0.0.1:$PORT/metrics" |
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {print s + 0}'
}
# status FIELD: FIELD of /proc/PID/status in kB.
status() {
  awk -v f="$1:" '$1 == f {print $2}' "/proc/$RUN_PID/status"
}

deadline=$((SECONDS + 60))
until [ "$(metric streamrec_events_consumed_total)" == "$EVENTS" ]; do
  kill -0 "$RUN_PID" 2>/dev/null || fail "the daemon exited"
  [ "$SECONDS" -lt "$deadline" ] || fail "$EVENTS events not consumed in 60 s"
  sleep 0.2
done
model_kb=$(($(metric streamrec_model_bytes | cut -d. -f1) / 1024))
peak_kb=$(status VmHWM)
echo "model ${model_kb} kB, peak RSS ${peak_kb} kB"
# 100 000 messages at about 300 bytes and the code's own 20-odd MiB stay
# well under 64 MiB; reading the whole backlog ahead took about twice that.
[ "$peak_kb" -lt $((model_kb + 65536)) ] ||
  fail "peak RSS ${peak_kb} kB, model ${model_kb} kB: the prefetch is not bounded"

# The freed prefetch is given back within the trim period (10 s).
deadline=$((SECONDS + 15))
until [ "$(status VmRSS)" -lt $((model_kb + 40960)) ]; do
  [ "$SECONDS" -lt "$deadline" ] ||
    fail "RSS $(status VmRSS) kB 15 s after the backlog was read, model ${model_kb} kB: the backlog's memory was kept"
  sleep 0.5
done
echo "steady RSS $(status VmRSS) kB"
echo "PASS"
