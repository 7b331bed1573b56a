# `streamrec eval` reads the files platforms and public datasets come in
# without being told their format: a name says it (.jsonl, .pb,
# .dat/.tsv/.csv/.data), or else the first line does (MovieLens 100K's
# u.data, a file named `ratings`). Each gives the figures of the same
# events read with --format. A file no record of which can be read exits 1
# and says to check --format, rather than printing a recall of 0. `gen -o`
# writes the format its file's name says; so is an --items file's form
# known, and one that gives no content refused; a file out of time order
# is said to be, unless --sort puts it in order. eval keeps a read event in
# tens of bytes, not the 536 of a whole one, so that tens of millions of
# ratings fit in memory. No broker.
# Usage: bash test_eval_files.sh STREAMREC_BINARY

SR_BIN=$1
source "${SR_SOURCE_DIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

require_tools jq

gen() {
  "$SR_BIN" gen --events 3000 --users 200 --items 150 --seed 5 "$@" ||
    fail "gen $*"
}
# figures FILE [ARGS...]: events read and recall@10 of `eval --json`.
figures() {
  "$SR_BIN" eval "$@" --json 2>"$SR_TMP/eval.err" |
    jq -r '"\(.events) \(.recall_at_n)"'
}

gen --format tsv -o "$SR_TMP/ratings.tsv"
want=$(figures "$SR_TMP/ratings.tsv" --format tsv)
[ "${want%% *}" == 3000 ] || fail "ratings.tsv: $want"
# The tab-separated lines under names that say nothing.
cp "$SR_TMP/ratings.tsv" "$SR_TMP/u.data"
cp "$SR_TMP/ratings.tsv" "$SR_TMP/ratings"
assert_eq "$(figures "$SR_TMP/u.data")" "$want" "eval u.data"
assert_eq "$(figures "$SR_TMP/ratings")" "$want" "eval of a file named ratings"
# MovieLens 1M's "::" lines without a telling name.
sed 's/\t/::/g' "$SR_TMP/ratings.tsv" >"$SR_TMP/ml1m"
assert_eq "$(figures "$SR_TMP/ml1m")" "$want" "eval of '::' lines"

# gen writes protobuf to a .pb file, JSON lines to a file named otherwise.
gen -o "$SR_TMP/g.pb"
gen -o "$SR_TMP/g"
head -c 1 "$SR_TMP/g" | grep -q '{' || fail "gen -o g: not JSON lines"
head -c 1 "$SR_TMP/g.pb" | grep -q '{' && fail "gen -o g.pb: JSON, not protobuf"
want=$(figures "$SR_TMP/g" --format jsonl)
assert_eq "$(figures "$SR_TMP/g.pb")" "$want" "eval g.pb"
cp "$SR_TMP/g.pb" "$SR_TMP/g-proto"
assert_eq "$(figures "$SR_TMP/g-proto")" "$want" "eval of protobuf named g-proto"

# A pipe is never looked into ahead (its first bytes would be lost): JSON
# lines unless --format says otherwise, every event read either way.
assert_eq "$(figures <(cat "$SR_TMP/g"))" "$want" "eval of JSON lines from a pipe"
assert_eq "$(figures <(cat "$SR_TMP/g.pb") --format proto)" "$want" \
  "eval of protobuf from a pipe, --format proto"

# Read as the wrong format, nothing is a record: exit 1, and why.
assert_exit 1 "eval u.data as jsonl" "$SR_BIN" eval "$SR_TMP/u.data" \
  --format jsonl
assert_contains "$(cat "$SR_TMP/err")" \
  "u.data: no record could be read as jsonl; is --format right?" "the reason"

# A file in user order, as MovieLens 1M's ratings.dat is: eval says that
# --sort replays it in time's order; with --sort, or in time order, not.
sort -t "$(printf '\t')" -k1,1 -s "$SR_TMP/ratings.tsv" >"$SR_TMP/by_user.tsv"
"$SR_BIN" eval "$SR_TMP/by_user.tsv" >/dev/null 2>"$SR_TMP/order.err" ||
  fail "eval by_user.tsv"
assert_contains "$(cat "$SR_TMP/order.err")" \
  "are older than the one before them; the figures replay the file's order, --sort replays time's" \
  "eval of a file in user order"
"$SR_BIN" eval "$SR_TMP/by_user.tsv" --sort >/dev/null 2>"$SR_TMP/order.err" ||
  fail "eval by_user.tsv --sort"
assert_not_contains "$(cat "$SR_TMP/order.err")" "older than" \
  "eval --sort of a file in user order"
"$SR_BIN" eval "$SR_TMP/ratings.tsv" >/dev/null 2>"$SR_TMP/order.err" ||
  fail "eval ratings.tsv"
assert_not_contains "$(cat "$SR_TMP/order.err")" "older than" \
  "eval of a file in time order"

# --items: MovieLens 100K's u.item under another name still gives content;
# a file that gives no item content at all is refused, not ignored.
for i in $(seq 0 149); do
  printf 'i%d|Movie %d (199%d)|01-Jan-1995||http://x|0|%d|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|%d\n' \
    "$i" "$i" "$((i % 10))" "$((i % 2))" "$((i % 3 == 0))"
done >"$SR_TMP/catalogue"
"$SR_BIN" eval "$SR_TMP/ratings.tsv" --items "$SR_TMP/catalogue" \
  >/dev/null 2>"$SR_TMP/items.err" || fail "eval --items catalogue"
assert_contains "$(cat "$SR_TMP/items.err")" "150 items with content" \
  "u.item lines under another name"
# Item lines from a pipe: every one read (none looked at twice).
for i in $(seq 0 149); do
  printf '{"item_id":"i%d","features":["g:%d"]}\n' "$i" "$((i % 7))"
done >"$SR_TMP/items.jsonl"
"$SR_BIN" eval "$SR_TMP/ratings.tsv" --items <(cat "$SR_TMP/items.jsonl") \
  >/dev/null 2>"$SR_TMP/items.err" || fail "eval --items from a pipe"
assert_contains "$(cat "$SR_TMP/items.err")" "150 items with content" \
  "Item lines from a pipe"
assert_exit 1 "eval --items of a ratings file" "$SR_BIN" eval \
  "$SR_TMP/ratings.tsv" --items "$SR_TMP/u.data"
assert_contains "$(cat "$SR_TMP/err")" \
  "u.data: no item with features or an embedding; is it an item file" \
  "the reason"

# 300 000 events kept whole and sorted would take 320 MB; kept as rows of
# their ids, with the model and the ids, they take a tenth of that.
if nm -D "$SR_BIN" 2>/dev/null | grep -q __asan_init ||
  ldd "$SR_BIN" 2>/dev/null | grep -q libasan; then
  echo "SKIP (eval's peak memory): resident sizes under AddressSanitizer"
else
  gen --events 300000 --users 2000 --format tsv -o "$SR_TMP/big.tsv"
  peak_kb=$(python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' \
    "$SR_BIN" eval "$SR_TMP/big.tsv" --sort) || fail "eval big.tsv"
  [ "$peak_kb" -lt 80000 ] ||
    fail "eval of 300 000 events peaked at $peak_kb KB, expected < 80 MB"
fi

echo "PASS: eval reads files by name or first line, in little memory"
