#!/bin/sh
# make bench: runs every tests/bench/bench_*.sh in order and prints their
# tables. Each benchmark compares hotspare with ffmpeg (or a published
# figure) on the same work in the same run: ratios, not absolute times,
# are what the targets are about.
set -u
cd "$(dirname "$0")/../.." || exit 2
rc=0
for b in tests/bench/bench_*.sh; do
    [ -f "$b" ] || continue
    echo "== $(basename "$b" .sh)"
    sh "$b" || { echo "$(basename "$b"): failed"; rc=1; }
    echo
done
exit $rc
