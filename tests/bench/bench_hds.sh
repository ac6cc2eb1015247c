#!/bin/sh
# bench_hds: the historical data store and the /metrics endpoint at 10,000
# components (tests/bench/hds_bench.c; synthetic ticks, every metric
# changing every tick, 1 s of fake time apart, each flushed so that none is
# dropped): CPU per tick of the producer and of the writer thread, by kind
# of tick, bytes on disk per sample, and the render time of /metrics; then
# the storage layouts the schema was chosen from.
#
#   TICKS=3720 sh tests/bench/bench_hds.sh   # past an hour: hour close and baselines
#
# Target: <= 10 ms of CPU per tick on one core for sampling + HDS (mean over
# the run; the producer's "build" stands in for sampling).
set -u
cd "$(dirname "$0")/../.." || exit 2
B=tests/bench/hds_bench
[ -x "$B" ] || { echo "run make bench first"; exit 1; }
T=$(mktemp -d /tmp/hs-bench-hds-XXXXXX)
trap 'rm -rf "$T"' EXIT
"$B" --comps "${COMPS:-10000}" --ticks "${TICKS:-300}" --dir "$T" || exit 1
echo
"$B" --layouts --comps "${COMPS:-10000}" --ticks 60 --dir "$T"
