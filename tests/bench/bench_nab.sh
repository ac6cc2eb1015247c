#!/bin/sh
#
# bench_nab.sh: the unsupervised detector on the whole NAB corpus
# (tests/data/nab, 58 files), through the shipped command: prints the three
# profiles next to the published scoreboard. Result CSVs go to
# tests/out/nab/. Run from the repository root after 'make'.
set -u
if [ ! -x ./hotspare ]; then
    echo "bench_nab.sh: ./hotspare not built (make)" >&2
    exit 1
fi
exec ./hotspare -v warning nab tests/data/nab --out tests/out/nab
