#!/bin/sh
# The soak's CI version: tests/soak/soak.sh (make soak runs it for an hour)
# for 120 s, with its baseline of RSS and open fds at 30 s instead of 5
# minutes: three streams, real nginx peers hung and killed, a fault
# proxy, hotspare ctl requests and random faults inside the data plane,
# the orchestrator on; no frame lost on any output, fds flat, RSS growth
# under 5 %, the data store intact.
#
# With the normal build: the sanitizers are make soak's (an hour, or
# make soak SOAK_SECONDS=120). Building the sanitizer binary takes 77 s
# with make -j2 on the 2-core CI machine, which with the run would be
# about 4 minutes, over this test's share of the suite's 20; and under
# ASan the RSS of the first minutes is mostly its quarantine filling
# (256 MB, and 1 MB a thread: the live heap stays at 73 MB while RSS
# grows from 570 to 630 MB), which a baseline at 30 s cannot tell from a
# leak. SOAK_ASAN=1 runs it under the sanitizers all the same (building
# build/asan/hotspare when it is not up to date).
. "$(dirname "$0")/../lib/common.sh"

BIN=$HS
if [ "${SOAK_ASAN:-0}" = 1 ]; then
    make -C "$TOP" -j2 soak-asan > "$T/build.log" 2>&1 || fail "make soak-asan: $(tail -n 5 "$T/build.log")"
    BIN=$TOP/build/asan/hotspare
fi
# its own ports and results, beside a make soak that may be running
# CI replays one seed (SOAK_SEED=random for another), so that a red run
# is the code's and can be replayed; `make soak` draws a new one each hour.
# Two minutes say little of heap growth (the first minutes still fill
# libav's pools, and a standby encoder opened or closed is a step of some
# MB): the bound is the hour's 5 % only from its 5-minute baseline, 15 %
# here; slow leaks are the hour's to catch
SEED=${SOAK_SEED:-4242}
[ "$SEED" = random ] && SEED=
SOAK_SEED=$SEED SOAK_HEAP_LIMIT=${SOAK_HEAP_LIMIT:-15} \
SOAK_SECONDS=120 SOAK_WARMUP=30 SOAK_PORT=${SOAK_PORT:-27400} SOAK_OUT=$TOP/tests/out/soak-ci \
    HOTSPARE=$BIN sh "$TOP/tests/soak/soak.sh"
