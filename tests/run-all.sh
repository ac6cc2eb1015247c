#!/bin/sh
#
# tests/run-all.sh: runs the unit tests (tests/unit/*_test, CUnit programs
# whose exit status is their failure count) and the integration tests
# (tests/integration/t_*.sh: exit 0 pass, 77 skip, anything else fail),
# prints one line per test and a summary, keeps every log under tests/out/,
# and writes tests/out/junit.xml for CI systems.
#
#   tests/run-all.sh [--unit-only | --integration-only] [--only PATTERN]

set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2

mode=all
only=
while [ $# -gt 0 ]; do
    case "$1" in
        --unit-only) mode=unit ;;
        --integration-only) mode=integration ;;
        --only) shift; only=$1 ;;
        *) echo "run-all.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

out=$top/tests/out
mkdir -p "$out/unit" "$out/integration"
junit_cases=$out/.junit-cases
: > "$junit_cases"

pass=0; fail=0; skip=0
failed_names=
start_all=$(date +%s)

xml_escape() {
    sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' \
        -e 's/[^[:print:]\t]//g'
}

record() {   # record SUITE NAME STATUS SECONDS LOG
    suite=$1 name=$2 status=$3 secs=$4 log=$5
    case $status in
        pass) pass=$((pass + 1)); tag="ok  " ;;
        skip) skip=$((skip + 1)); tag="skip" ;;
        *)    fail=$((fail + 1)); tag="FAIL"; failed_names="$failed_names $suite/$name" ;;
    esac
    printf '%s %-11s %-44s %4ss\n' "$tag" "$suite" "$name" "$secs"
    {
        printf '  <testcase classname="hotspare.%s" name="%s" time="%s">\n' "$suite" "$name" "$secs"
        case $status in
            skip) printf '    <skipped message="%s"/>\n' \
                  "$(tail -n 1 "$log" 2>/dev/null | xml_escape)" ;;
            fail) printf '    <failure message="exit status %s" type="fail"><![CDATA[' "$6"
                  tail -n 60 "$log" 2>/dev/null | sed 's/]]>/]] >/g' | tr -cd '\11\12\15\40-\176'
                  printf ']]></failure>\n' ;;
        esac
        printf '  </testcase>\n'
    } >> "$junit_cases"
}

run_one() {  # run_one SUITE NAME LOG TIMEOUT CMD...
    suite=$1 name=$2 log=$3 tmo=$4
    shift 4
    t0=$(date +%s)
    timeout -k 10 "$tmo" "$@" > "$log" 2>&1
    rc=$?
    t1=$(date +%s)
    if [ $rc = 0 ]; then st=pass
    elif [ $rc = 77 ]; then st=skip
    else
        st=fail
        [ $rc = 124 ] && echo "run-all.sh: timed out after ${tmo}s" >> "$log"
    fi
    record "$suite" "$name" $st $((t1 - t0)) "$log" $rc
    if [ $st = fail ]; then
        echo "---- last lines of $log"
        tail -n 25 "$log" | sed 's/^/    /'
        echo "----"
    fi
}

if [ "$mode" != integration ]; then
    for t in tests/unit/*_test; do
        [ -x "$t" ] || continue
        n=$(basename "$t")
        [ -n "$only" ] && case "$n" in *$only*) ;; *) continue ;; esac
        run_one unit "$n" "$out/unit/$n.log" 300 "$t"
    done
fi

if [ "$mode" != unit ]; then
    for t in tests/integration/t_*.sh; do
        [ -f "$t" ] || continue
        n=$(basename "$t" .sh)
        [ -n "$only" ] && case "$n" in *$only*) ;; *) continue ;; esac
        run_one integration "$n" "$out/integration/$n.log" 300 sh "$t"
    done
fi

end_all=$(date +%s)
total=$((pass + fail + skip))
{
    printf '<?xml version="1.0" encoding="UTF-8"?>\n'
    printf '<testsuites tests="%d" failures="%d" errors="0" skipped="%d" time="%d">\n' \
        $total $fail $skip $((end_all - start_all))
    printf ' <testsuite name="hotspare" tests="%d" failures="%d" errors="0" skipped="%d" time="%d">\n' \
        $total $fail $skip $((end_all - start_all))
    cat "$junit_cases"
    printf ' </testsuite>\n</testsuites>\n'
} > "$out/junit.xml"
rm -f "$junit_cases"

echo
echo "$total tests: $pass passed, $fail failed, $skip skipped, $((end_all - start_all)) s (logs: tests/out/, JUnit: tests/out/junit.xml)"
if [ $fail -gt 0 ]; then
    echo "failed:$failed_names"
    exit 1
fi
exit 0
