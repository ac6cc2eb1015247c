#!/bin/sh
# The soak's CI version: tests/soak/soak.sh (make soak runs it for an hour)
# for 120 s, with its baseline of RSS and open fds at 30 s instead of 5
# minutes: three streams, real nginx peers hung and killed, a fault
# proxy, hotspare ctl requests and random faults inside the data plane,
# the orchestrator on; no frame lost on any output, fds flat, RSS growth
# under 5 %, the data store intact.
#
# Under ASan+UBSan when build/asan/hotspare is up to date (make soak-asan,
# or SOAK_ASAN=1 here to build it); otherwise with the normal build, and
# the sanitizer lines of the table say n/a: building the sanitizer binary
# takes 77 s with make -j2 on the 2-core CI machine, which with the run
# would be about 4 minutes, over this test's share of the suite's 20.
. "$(dirname "$0")/../lib/common.sh"

ASAN=$TOP/build/asan/hotspare
if [ "${SOAK_ASAN:-0}" = 1 ]; then
    say "building $ASAN"
    make -C "$TOP" -j2 soak-asan > "$T/build.log" 2>&1 || fail "make soak-asan: $(tail -n 5 "$T/build.log")"
fi
if [ -x "$ASAN" ] && make -C "$TOP" -q soak-asan > /dev/null 2>&1; then
    BIN=$ASAN
else
    BIN=$HS
    say "no up-to-date $ASAN (make soak-asan): the normal build, without sanitizers"
fi
# its own ports and results, beside a make soak that may be running
SOAK_SECONDS=120 SOAK_WARMUP=30 SOAK_PORT=${SOAK_PORT:-27400} SOAK_OUT=$TOP/tests/out/soak-ci \
    HOTSPARE=$BIN sh "$TOP/tests/soak/soak.sh"
