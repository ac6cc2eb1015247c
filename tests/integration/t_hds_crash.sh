#!/bin/sh
#
# t_hds_crash: a kill -9 at any moment loses at most the tick being written
# and never corrupts the store. tests/tools/hdsgen writes synthetic ticks as
# fast as they commit (5 s of fake time each, so that minute rollups, hour
# closes, baselines and retention deletes all happen within seconds) and
# prints each committed tick; the test kills it at random moments, several
# times over the same file, and each time checks that
#   - PRAGMA integrity_check is ok;
#   - the raw ticks are one run of consecutive ticks, every value the
#     generator's, ending at the last tick reported committed or the one
#     after (committed, not yet reported): nothing else is lost;
#   - every minute rollup equals the generator's n/mean/min/max;
# and that the next run goes on from there. Exit 0 pass, 77 skip, other fail.

. "$(dirname "$0")/../lib/common.sh"

GEN=$TOP/tests/tools/hdsgen
[ -x "$GEN" ] || fail "tests/tools/hdsgen not built (make testprogs)"
DB=$T/crash.hds
ARGS="--comps 100 --step-us 5000000"
ROUNDS=6

round=1
while [ $round -le $ROUNDS ]; do
    "$GEN" write "$DB" $ARGS --ticks 0 --sync --raw-window 600 --retention 7200 --events 25 \
        > "$T/write$round.out" 2> "$T/write$round.err" &
    pid=$!
    # a moment between 0.3 and 1.6 s, different each round and each run
    pause=$(awk -v s="$$$round" 'BEGIN { srand(s); printf "%.2f", 0.3 + 1.3 * rand() }')
    sleep "$pause"
    kill -9 $pid
    wait $pid 2> /dev/null
    last=$(awk '/^committed/ { c = $2 } END { print (c == "" ? -1 : c) }' "$T/write$round.out")
    start=$(awk '/^start/ { print $2 }' "$T/write$round.out")
    [ "$last" -ge 0 ] || fail "round $round: nothing committed in ${pause}s ($(cat "$T/write$round.err"))"
    "$GEN" verify "$DB" $ARGS --min-last "$last" > "$T/verify$round.out" 2>&1 ||
        fail "round $round (killed after ${pause}s, last committed $last): $(cat "$T/verify$round.out")"
    end=$(sed -n 's/^ticks [0-9]*\.\.\([0-9]*\),.*/\1/p' "$T/verify$round.out")
    assert_le "round $round: killed after ${pause}s, ticks $start..$last committed; last stored" "$end" $((last + 1))
    round=$((round + 1))
done

# a clean run after all that, and the file reads as a store
"$GEN" write "$DB" $ARGS --ticks 50 --sync --raw-window 600 --retention 7200 > "$T/final.out" 2>&1 ||
    fail "a clean run after the kills: $(tail -3 "$T/final.out")"
"$GEN" verify "$DB" $ARGS > "$T/verify.out" 2>&1 || fail "after a clean run: $(cat "$T/verify.out")"
say "$(tail -n 1 "$T/verify.out")"
"$HS" hds stats "$DB" > "$T/stats.out" 2>&1 || fail "hds stats: $(cat "$T/stats.out")"
runs=$(awk '$1 == "runs" { print $2 }' "$T/stats.out")
assert_eq "runs recorded" "$runs" $((ROUNDS + 1))
hours=$(awk '$1 == "hours" { print $2 }' "$T/stats.out")
assert_ge "hours closed under the kills" "$hours" 1
pass
