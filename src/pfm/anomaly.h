/*
 * anomaly.h: the unsupervised detector, "works on the first day": one
 * state per series, online (a row's score depends on that row and earlier
 * ones only), deterministic, no labels, bounded state, no allocation.
 * `hotspare nab` scores it on NAB; the run steps one per health-vector
 * input of every predicted component (predictor.h) with the same code and
 * the same defaults.
 *
 * Per row (the shipped defaults, anomaly_config_default()):
 *   1. spatial check: a value beyond the range seen so far by more than
 *      spatial_tol of that range scores spatial_score (a spike no model of
 *      the past could expect; Numenta's NAB detector does the same);
 *   2. the value becomes a symbol: once qfreeze rows are seen, the range
 *      seen so far is cut into `levels` equal levels (later values outside
 *      it get levels outside [0, levels)); when the range seen grows past
 *      requant x the one the levels were cut from (0: never), they are cut
 *      again and the memory below is cleared. Nothing is known of a series
 *      before it is read: no min/max of the file, no length;
 *   3. sequence novelty: for every context length k = min_order..order,
 *      has the transition (the last k symbols, and with dwell the log2 of
 *      how many rows the symbol has lasted -> this symbol) been seen
 *      before? A fixed table of 2^table_bits bits, indexed by a hash of
 *      the transition, remembers them (a collision only makes a novelty
 *      look familiar). raw = the share of new transitions. This
 *      is what HTM's sequence memory and CAD OSE's contexts measure, in a
 *      bounded memory; the dwell term catches a level held longer than
 *      ever (a flat stretch inside the usual range);
 *   4. the raw novelty becomes a tail probability against its own past, in
 *      the manner of Numenta's anomaly likelihood: the mean of the last
 *      err_short raw values against the running mean and deviation (EWMA
 *      over about err_long rows, floored at mean_floor and sd_floor) of
 *      that mean, learnt from stat_skip rows after the levels are cut (the
 *      first rows are all new); score = -log10 p / bar, clamped to [0,1],
 *      bar = logp_max x (1 + row_gain x min(rows seen, row_cap) / 10,000)
 *      x (1 + alarm_gain x recent alarms). The bar rises as the statistics
 *      firm up (the novelty's deviation shrinks while the table fills, so
 *      the same burst gives a larger z later) and after alarms (each fades
 *      over alarm_mem rows: a noisy series must say more); both are
 *      bounded, so a long-lived component's bar stops at logp_max x 3 x
 *      (1 + alarm_gain x its alarm load);
 *   5. after a score of alarm or more, the next suppress rows are damped to
 *      min(score, alarm) x damp: an alarm is one event, not a run of rows;
 *   6. the first warmup rows score 0.
 *
 * Cost per row: `order - min_order + 1` hash probes (1 with the defaults),
 * about 60 flops, one erfc, one log10 and one pow; no allocation. The state
 * is the fixed-size AnomalyState (392 bytes on x86-64: the 1024-bit table
 * and a few dozen numbers) that the caller embeds.
 *
 * Every field can be set with 'hotspare nab --param KEY=VALUE'. The
 * experiments (tests/data/nab/EXPERIMENTS.md) that did not raise the NAB
 * score were deleted; the online-trained LSTM forecaster this replaces is
 * rerun from commit dd60702, the last that has it.
 */
#ifndef HS_ANOMALY_H
#define HS_ANOMALY_H

#include <stdint.h>

#define ANOMALY_MAX_ORDER      8     /* longest context */
#define ANOMALY_MAX_TABLE_BITS 10    /* transition memory: at most 2^10 bits */
#define ANOMALY_MAX_SHORT      32    /* longest short average */

typedef struct AnomalyConfig {
    int warmup;              /* rows scored 0 while everything settles */
    float spatial_tol;       /* fraction of the range a new extreme must pass */
    float spatial_score;     /* score given to such an extreme */
    int qfreeze;             /* rows seen before the levels are first cut */
    int levels;              /* levels across the range seen */
    float requant;           /* range growth that re-cuts the levels (0: never) */
    int order;               /* longest context (symbols) */
    int min_order;           /* shortest context counted (0: the symbol alone) */
    int dwell;               /* 1: how long the symbol has lasted (log2) is context */
    int table_bits;          /* transition memory: 2^table_bits bits */
    int err_short;           /* raw values averaged into the one judged */
    int err_long;            /* rows of the running mean and deviation */
    int stat_skip;           /* rows after qfreeze kept out of them */
    float mean_floor;        /* floor of that running mean */
    float sd_floor;          /* floor of that running deviation */
    float logp_max;          /* -log10 p that maps to score 1 on a fresh series */
    float row_gain;          /* ... x (1 + row_gain x rows seen / 10,000) */
    int row_cap;             /* ... counting at most row_cap rows */
    float alarm_gain;        /* ... x (1 + alarm_gain x recent alarms) */
    int alarm_mem;           /* rows over which an alarm fades (1/e) */
    float alarm;             /* score that counts as an alarm for suppression */
    int suppress;            /* rows damped after an alarm */
    float damp;              /* factor on min(score, alarm) while damped */
} AnomalyConfig;

void anomaly_config_default(AnomalyConfig *c);

/* Is every field within what AnomalyState can hold? 0 or AVERROR(EINVAL). */
int anomaly_config_check(const AnomalyConfig *c);

/* Sets one field by name ("levels", "order", ...) from text; for
 * experiments on the command line. Returns 0 or AVERROR(EINVAL). */
int anomaly_config_set(AnomalyConfig *c, const char *key, const char *value);

/* Writes "key=value key=value ..." of every field into buf. */
void anomaly_config_print(const AnomalyConfig *c, char *buf, int size);

/* One series' state: plain data, so that its owner (a component's
 * PredState, a NAB file's run) embeds it and copies it; reset with
 * anomaly_state_reset, never allocated, no pointer inside. */
typedef struct AnomalyState {
    long n;                      /* rows seen (NaN rows not counted) */
    double vmin, vmax;           /* range seen */
    double qlo, qstep, qrange;   /* the levels, and the range they were cut from */
    int qset;
    int16_t sym[ANOMALY_MAX_ORDER];   /* the last symbols, newest first */
    int nsym;
    int run;                     /* rows on the current symbol */
    float raw[ANOMALY_MAX_SHORT];     /* the last err_short raw novelties */
    int raw_pos, raw_fill;
    double raw_sum;
    double lmean, lvar;          /* running statistics of the short average */
    long lcount;
    long last_alarm;             /* row of the last alarm, 0 = none */
    double alarms;               /* alarms, each fading over alarm_mem rows */
    uint64_t seen[(1 << ANOMALY_MAX_TABLE_BITS) / 64];   /* one bit a transition */
} AnomalyState;

void anomaly_state_reset(AnomalyState *s);

/* What a row's score was made of (for plots, tests and debugging). */
typedef struct AnomalyInfo {
    int symbol;              /* the quantised value; INT16_MIN before qfreeze */
    double raw;              /* the row's novelty, [0,1] */
    double avg;              /* its short average */
    double likelihood;       /* 1 - tail probability of avg, [0,1] */
    int spatial;             /* beyond the range seen */
    double score;            /* the returned score */
} AnomalyInfo;

/* Scores one row of s. A NaN value (a figure absent this tick) scores 0
 * and changes nothing. c must pass anomaly_config_check. Returns a score
 * in [0,1]; info may be NULL. */
double anomaly_step(const AnomalyConfig *c, AnomalyState *s, double value, AnomalyInfo *info);

#endif
