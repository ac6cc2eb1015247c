#!/bin/sh
#
# t_hds_export: "hotspare hds" on a store written by tests/tools/hdsgen:
#   - export gives back, to the bit, every value that was written, with
#     empty fields for the absent ones (hdsgen check-csv recomputes them);
#   - --stream, --from and --to select; --events writes the events; the
#     minute rollups export with --minutes;
#   - stats counts ticks, events by kind, components; baseline says there
#     is none yet;
#   - a missing file, a file that is not an HDS and a newer schema exit 2
#     with the reason; a bad subcommand exits 2; an unwritable output 1.
# Exit 0 pass, 77 skip, other fail.

. "$(dirname "$0")/../lib/common.sh"

need sqlite3
GEN=$TOP/tests/tools/hdsgen
[ -x "$GEN" ] || fail "tests/tools/hdsgen not built (make testprogs)"
DB=$T/store.hds
# 30 components: the host, a GPU and 3 streams of 10 (tests/tools/synth.h);
# 300 ticks of 1 s from 2023-11-14T22:13:20Z, an event every 20
"$GEN" write "$DB" --comps 30 --ticks 300 --sync --events 20 > "$T/write.out" 2>&1 ||
    fail "hdsgen write: $(tail -3 "$T/write.out")"
COMPS=32

# ---- the round trip ------------------------------------------------------------
"$HS" hds export "$DB" --out "$T/all.csv" --events "$T/events.csv" || fail "export failed"
"$GEN" check-csv "$T/all.csv" --comps 30 --ticks 0..299 > "$T/check.out" 2>&1 ||
    fail "export does not give back what was written: $(cat "$T/check.out")"
say "export: $(cat "$T/check.out")"
"$HS" hds export "$DB" > "$T/stdout.csv" || fail "export to stdout failed"
cmp -s "$T/all.csv" "$T/stdout.csv" || fail "export to stdout differs from --out"

# ---- selections ------------------------------------------------------------------
"$HS" hds export "$DB" --stream s0001 --from 2023-11-14T22:13:30Z --to 1700000020 --out "$T/sel.csv" ||
    fail "export with a selection failed"
rows=$(awk -F, 'NR > 1 && $3 == "s0001" && $2 >= 10 && $2 <= 20 { n++ } END { print n + 0 }' "$T/sel.csv")
assert_eq "rows of s0001, ticks 10..20" "$rows" $((11 * 10))
assert_eq "rows in all" "$(($(wc -l < "$T/sel.csv") - 1))" $((11 * 10))
"$HS" hds export "$DB" --stream s0001 --component 720p --out "$T/720p.csv" || fail "export --component"
assert_eq "rows of s0001/720p (primary and backup)" "$(($(wc -l < "$T/720p.csv") - 1))" $((300 * 2))

# ---- events ------------------------------------------------------------------------
assert_eq "events header" "$(head -n 1 "$T/events.csv")" "time,stream,component,kind,cause,error"
assert_eq "events (ticks 0, 20, ..., 280)" "$(($(wc -l < "$T/events.csv") - 1))" 15
assert_eq "first event" "$(sed -n 2p "$T/events.csv")" \
    "2023-11-14T22:13:20.000000Z,s0000,enc:720p,failure,synthetic event at tick 0,-5"

# ---- minutes -------------------------------------------------------------------------
"$HS" hds export "$DB" --minutes --out "$T/minutes.csv" || fail "export --minutes"
head -n 1 "$T/minutes.csv" | grep -q ',hotspare_encoder_fps_n,hotspare_encoder_fps_mean,hotspare_encoder_fps_min,hotspare_encoder_fps_max,' ||
    fail "minutes header: $(head -c 200 "$T/minutes.csv")"
# 22:13:20 to 22:18:19: minutes 13 to 17 are over (18 is not)
assert_eq "minute rows" "$(($(wc -l < "$T/minutes.csv") - 1))" $((5 * COMPS))

# ---- stats and baseline ------------------------------------------------------------------
"$HS" hds stats "$DB" > "$T/stats.out" || fail "stats failed"
grep -q '^ticks        300 raw, 2023-11-14T22:13:20.000000Z .. 2023-11-14T22:18:19.000000Z (4m 59s)$' "$T/stats.out" ||
    fail "stats ticks: $(grep ticks "$T/stats.out")"
grep -q "^components   $COMPS in 3 streams" "$T/stats.out" || fail "stats components: $(grep comp "$T/stats.out")"
grep -q '^events       failure 8, start 7$' "$T/stats.out" || fail "stats events: $(grep events "$T/stats.out")"
grep -q '^rows .* tick 300, raw 1200,' "$T/stats.out" || fail "stats rows: $(grep rows "$T/stats.out")"
"$HS" hds baseline "$DB" > "$T/baseline.out" || fail "baseline failed"
grep -q '^no baselines yet' "$T/baseline.out" || fail "baseline: $(head -2 "$T/baseline.out")"

# ---- what is not a store ---------------------------------------------------------------------
expect_2() {   # expect_2 WHAT PATTERN ARGS...
    _what=$1 _pat=$2
    shift 2
    "$HS" hds "$@" > "$T/err.out" 2>&1
    _rc=$?
    assert_eq "$_what: exit status" $_rc 2
    grep -q "$_pat" "$T/err.out" || fail "$_what: $(cat "$T/err.out")"
}
expect_2 "missing file" "no such file" stats "$T/nothing.hds"
echo "plain text, not a database at all; plain text, not a database at all" > "$T/text.hds"
expect_2 "text file" "not an HDS file" stats "$T/text.hds"
cp "$DB" "$T/newer.hds"
sqlite3 "$T/newer.hds" "PRAGMA user_version = $((1 + $(sqlite3 "$DB" 'PRAGMA user_version')))" ||
    fail "sqlite3 could not set user_version"
expect_2 "newer schema" "is newer than this hotspare reads" export "$T/newer.hds"
sqlite3 "$T/other.db" "CREATE TABLE t(x); INSERT INTO t VALUES(1)"
expect_2 "another application's database" "not an HDS file" baseline "$T/other.db"
expect_2 "unknown subcommand" "unknown subcommand" frobnicate "$DB"
expect_2 "export option on stats" "for export" stats "$DB" --from 0
expect_2 "bad time" "bad time" export "$DB" --from yesterday
"$HS" hds export "$DB" --out "$T/no/such/dir/x.csv" > "$T/err.out" 2>&1
assert_eq "unwritable output: exit status" $? 1
pass
