#!/bin/sh
#
# bench_lstm.sh: the LSTM step on one core (tests/bench/lstm_bench.c), as
# built by 'make bench': latency of one component's step and the time of a
# tick over 10,000 components, with GFLOP/s next to this machine's peak.
# Run from the repository root.
set -u
bin=tests/bench/lstm_bench
if [ ! -x "$bin" ]; then
    echo "bench_lstm.sh: $bin not built (make bench)" >&2
    exit 1
fi
# one core: the figure is per core, and the other one keeps the noise away
if command -v taskset >/dev/null 2>&1; then
    exec taskset -c 0 "$bin" 10000
fi
exec "$bin" 10000
