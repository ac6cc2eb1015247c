/*
 * anomaly.h: the unsupervised detector, "works on the first day": one per
 * series, online (a row's score depends on that row and earlier ones only),
 * deterministic, no labels.
 *
 * Per row (the shipped defaults, anomaly_config_default()):
 *   1. the value is normalised online (running mean and deviation) and
 *      expanded into the LSTM's F inputs: the value, its change, three lags,
 *      fast and slow averages, the distance to the slow one, the mean
 *      absolute change, and the time of day and of week;
 *   2. the LSTM (lstm.h) forecasts the next change of the value, so that
 *      the forecast is the last value plus the LSTM's correction (fc_delta;
 *      an untrained or unlucky model then falls back to "no change" instead
 *      of wandering); the error of this row is |x - forecast made before|;
 *   3. the LSTM keeps learning: every train_every rows, train_steps Adam
 *      steps on the last bptt rows, continuing from the stored state;
 *   4. the error becomes a tail probability against its own history, in the
 *      manner of Numenta's anomaly likelihood: the mean of the last
 *      err_short errors against the mean and deviation of those means over
 *      the last err_long rows, Gaussian tail, mapped to [0,1] on a log scale
 *      (score = -log10 p / logp_max: 0.5 is p = 1e-5, 1 is p <= 1e-10);
 *   5. a value beyond everything seen so far by more than spatial_tol of the
 *      range scores spatial_score (a spike no forecaster could know about;
 *      Numenta's NAB detector does the same);
 *   6. after a score of alarm or more, the next suppress rows are damped to
 *      min(score, alarm) x damp: an alarm is one event, not a run of rows;
 *   7. the first warmup rows score 0.
 *
 * The fields after fc_delta in AnomalyConfig are experiments that did not
 * raise the NAB score and are off by default; tests/data/nab/EXPERIMENTS.md
 * has what each one scored. They stay reachable through
 * 'hotspare nab --param KEY=VALUE' so that every row there can be rerun.
 *
 * Memory is allocated by anomaly_alloc only.
 */
#ifndef HS_ANOMALY_H
#define HS_ANOMALY_H

#include <stdint.h>

#define ANOMALY_MAX_MODELS 8

typedef struct AnomalyConfig {
    uint64_t seed;           /* LSTM initialisation (model k: seed + k) */
    int models;              /* LSTMs whose forecasts are averaged */
    int bptt;                /* rows per training window (<= LSTM_T_MAX) */
    int train_every;         /* rows between trainings */
    int train_steps;         /* Adam steps per training */
    float lr;                /* Adam step size */
    int warmup;              /* rows scored 0 while everything settles */
    int err_long;            /* rows of error history for mean/deviation */
    int err_short;           /* rows averaged into the current error */
    float spatial_tol;       /* fraction of the range a new extreme must pass */
    float spatial_score;     /* score given to such an extreme */
    float alarm;             /* score that counts as an alarm for suppression */
    int suppress;            /* rows damped after an alarm */
    float damp;              /* factor on min(score, alarm) while damped */
    float logp_max;          /* -log10 p that maps to score 1 */
    int fc_delta;            /* forecast the change (input 1), not the level */
    /* experiments, off by default */
    int seasonal;            /* daily and weekly profiles as inputs */
    int err_sq;              /* squared error instead of absolute */
    int err_rel;             /* error relative to its running mean */
    float raw_mix;           /* weight of the single error's tail, 0 = off */
    float record_hl;         /* half-life (rows) of the peak score, 0 = off */
    float record_ratio;      /* fraction of the peak a score must reach */
    float value_z;           /* |z| of the value needed for a full score, 0 = off */
    float hist_clip;         /* winsorise the error history at mu + k sigma, 0 = off */
    int naive;               /* baseline: 1 last value, 2 fast average as forecast */
} AnomalyConfig;

void anomaly_config_default(AnomalyConfig *c);

/* Sets one field by name ("bptt", "lr", ...) from text; for experiments on
 * the command line. Returns 0 or AVERROR(EINVAL). */
int anomaly_config_set(AnomalyConfig *c, const char *key, const char *value);

/* Writes "key=value key=value ..." of every field into buf. */
void anomaly_config_print(const AnomalyConfig *c, char *buf, int size);

typedef struct AnomalyDet AnomalyDet;

int anomaly_alloc(AnomalyDet **pd, const AnomalyConfig *cfg);
void anomaly_free(AnomalyDet **pd);

/* What a row's score was made of (for plots and debugging). */
typedef struct AnomalyInfo {
    double x;                /* the normalised value */
    double forecast;         /* the forecast of x made at the previous row */
    double error;            /* |x - forecast| */
    double likelihood;       /* tail probability complement, in [0,1] */
    double score;            /* the returned score */
} AnomalyInfo;

/* Scores one row: value at ts (seconds, UTC). Returns a score in [0,1]. */
double anomaly_update(AnomalyDet *d, double value, int64_t ts, AnomalyInfo *info);

#endif
