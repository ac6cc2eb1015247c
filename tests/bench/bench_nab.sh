#!/bin/sh
#
# bench_nab.sh: the unsupervised detector on the whole NAB corpus
# (tests/data/nab, 58 files), through the shipped command and its default
# configuration, the detector and configuration the run steps on every
# component (src/pfm/anomaly.h, predictor.h): prints the three profiles
# next to the published scoreboard. The table of README.md and
# tests/data/nab/EXPERIMENTS.md is this output. Result CSVs go to
# tests/out/nab/. Run from the repository root after 'make'. Single-threaded
# (-j1): the corpus takes about a second.
set -u
if [ ! -x ./hotspare ]; then
    echo "bench_nab.sh: ./hotspare not built (make)" >&2
    exit 1
fi
exec ./hotspare -v warning nab tests/data/nab --out tests/out/nab -j1
