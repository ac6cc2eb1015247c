#!/bin/sh
#
# tests/fuzz/run.sh: a fuzz campaign (make fuzz-run). Each target named
# runs FUZZ_SECONDS (120) under nice, one after the other, starting from
# the committed corpus (tests/fuzz/corpus/NAME, read only) and keeping
# what it finds in build/fuzz/corpus/NAME (make fuzz-merge minimises it
# into the committed corpus). libFuzzer stops a target at its first crash
# and writes the input to build/fuzz/crashes/NAME-crash-... (or leak-,
# timeout-, oom-); its report is in build/fuzz/logs/NAME.log.
#
# Prints one row per target: the seconds it ran (less than FUZZ_SECONDS
# when it stopped at a crash), executions, executions per second,
# coverage as libFuzzer counts it at the end (cov: edges of our code
# reached, ft: features), the corpus it ended with and the crashes it
# wrote.
#
#   tests/fuzz/run.sh NAME...     (from the source tree, after make fuzz)

set -u
cd "$(dirname "$0")/../.." || exit 2
secs=${FUZZ_SECONDS:-120}
dir=build/fuzz
mkdir -p "$dir/logs" "$dir/crashes"

printf '%-12s %6s %12s %8s %7s %7s %7s %8s\n' target seconds executions exec/s cov ft corpus crashes
bad=0
for t in "$@"; do
    bin=$dir/fuzz_$t
    [ -x "$bin" ] || { echo "run.sh: $bin not built (make fuzz)" >&2; exit 2; }
    mkdir -p "$dir/corpus/$t"
    log=$dir/logs/$t.log
    before=$(ls "$dir/crashes" | grep -c "^$t-" )
    t0=$(date +%s)
    nice -n 10 "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/crashes/$t-" \
        "$dir/corpus/$t" "tests/fuzz/corpus/$t" > "$log" 2>&1
    ran=$(($(date +%s) - t0))
    after=$(ls "$dir/crashes" | grep -c "^$t-")
    crashes=$((after - before))
    [ $crashes -gt 0 ] && bad=1
    awk -v t="$t" -v s="$ran" -v c="$crashes" '
        / cov: / { for (i = 1; i < NF; i++) {
                       if ($i == "cov:") cov = $(i + 1)
                       if ($i == "ft:") ft = $(i + 1)
                       if ($i == "corp:") { corp = $(i + 1); sub(/\/.*/, "", corp) } } }
        /^stat::number_of_executed_units:/ { execs = $2 }
        /^stat::average_exec_per_sec:/ { rate = $2 }
        /^Done [0-9]+ runs/ { if (execs == "") execs = $2 }
        END { printf "%-12s %6s %12s %8s %7s %7s %7s %8s\n", t, s, execs == "" ? "?" : execs,
              rate == "" ? "?" : rate, cov, ft, corp, c }' "$log"
done
[ $bad = 0 ] || echo "crashes: build/fuzz/crashes/ (reports in build/fuzz/logs/)"
exit $bad
