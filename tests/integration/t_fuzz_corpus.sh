#!/bin/sh
# The committed fuzz corpus (tests/fuzz/corpus/NAME/) replayed through
# every fuzz target, built with gcc against the normal library
# (tests/fuzz/replay_NAME, no clang needed): the inputs that once
# crashed a parser, and the ones a campaign kept for their coverage, must
# all go through without a crash, a sanitizer report (--enable-asan
# builds) or a hang. Seconds in all.
. "$(dirname "$0")/../lib/common.sh"

n=0
for src in "$TOP"/tests/fuzz/fuzz_*.c; do
    t=$(basename "$src" .c); t=${t#fuzz_}
    bin=$TOP/tests/fuzz/replay_$t
    [ -x "$bin" ] || fail "$bin not built (make testprogs)"
    [ -d "$TOP/tests/fuzz/corpus/$t" ] || fail "no corpus for $t (tests/fuzz/corpus/$t)"
    TMPDIR=$T timeout 120 "$bin" "$TOP/tests/fuzz/corpus/$t" > "$T/$t.out" 2>&1
    rc=$?
    cat "$T/$t.out" | tail -n 20
    assert_eq "replay of $t: exit status" $rc 0
    n=$((n + 1))
done
assert_ge "targets replayed" $n 7
pass
