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
 * Every field can be set with 'hotspare nab --param KEY=VALUE'. The
 * experiments of tests/data/nab/EXPERIMENTS.md that did not raise the NAB
 * score (seasonal profiles, squared or relative errors, naive forecasts, a
 * raw-error tail, peak records, a value z-score, a winsorised history)
 * were deleted; they are rerun from commit 9a6a1b9, the last that has
 * them.
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
