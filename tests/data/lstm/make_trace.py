#!/usr/bin/env python3
"""make_trace.py: writes trace.csv, the small health trace that
tests/unit/lstm_test.c trains on. Run once; the CSV is committed.

One encoder-like component sampled once a tick: F (24, LSTM_F) features in [about -3, 3]
(already normalised, as the PFM sees them), 800 ticks, 6 failures. Before
each failure the queue depth (feature 1) and the latency (feature 2) climb
for 25 ticks and the output frame rate (feature 0) sags; the label is 1 for
the 12 ticks before a failure (the horizon). The other features are slow
periodic load plus noise, so the forecast head has something to learn too.
Deterministic: a fixed seed of Python's own Mersenne Twister.
"""
import math
import random

random.seed(20240326)
N, RAMP, HORIZON = 800, 25, 12
F = 24                                 # LSTM_F in src/pfm/lstm.h
fails = [120, 250, 370, 500, 610, 740]
rows = []
for t in range(N):
    # ticks until the next failure, large when none is coming
    until = min([f - t for f in fails if f >= t] or [10**6])
    ramp = max(0.0, 1.0 - until / RAMP) if until < RAMP else 0.0
    x = [0.0] * F
    x[0] = -2.0 * ramp + random.gauss(0, 0.15)               # fps ratio
    x[1] = 3.0 * ramp * ramp + random.gauss(0, 0.15)         # queue depth
    x[2] = 2.0 * ramp + random.gauss(0, 0.2)                 # latency
    for k in range(3, F):
        x[k] = math.sin(2 * math.pi * t / (20 + 7 * k) + k) + random.gauss(0, 0.1)
    label = 1 if 0 < until <= HORIZON else 0
    if until == 0:   # the failure tick itself: the component restarts
        x = [random.gauss(0, 0.15) for _ in range(F)]
        label = 0
    rows.append((label, x))
with open("trace.csv", "w") as f:
    f.write("label," + ",".join("x%d" % k for k in range(F)) + "\n")
    for label, x in rows:
        f.write("%d," % label + ",".join("%.4f" % v for v in x) + "\n")
