/*
 * evaluate.h: how good a failure predictor is, on scored series with the
 * failures that really happened: what `hotspare eval` prints and the
 * trainer uses to choose thresholds.
 *
 * The input is one EvalSeries per component: its ticks (time, score in
 * [0,1] where higher means "about to fail", label) and the times of its
 * failures. A detector (the model, a baseline) is evaluated on all series
 * at once.
 *
 * Two views, because operators and ML people ask different questions:
 *
 *   per tick: each tick with label 0 or 1 is one example (label 1: a
 *     failure of this component follows within the horizon; 0: none does;
 *     -1: unknown, e.g. the component is down, or the data ends before the
 *     horizon: left out). ROC-AUC (ties count half, Mann-Whitney), PR-AUC
 *     as average precision (the step-wise sum over distinct score
 *     thresholds, as scikit-learn's average_precision_score), and
 *     precision/recall at the threshold.
 *
 *   per event: an alarm is a run of ticks with score >= threshold,
 *     starting at its first tick (the onset; after an alarm ends, a new
 *     onset needs the score to drop below release first, a hysteresis;
 *     release <= threshold). A failure is caught when an alarm is on at
 *     some tick in [failure - horizon, failure) of its series; its lead
 *     time is failure time minus the earliest such tick with the alarm on
 *     (so at most horizon). An onset is a false alarm when no failure of
 *     its series follows within (onset, onset + horizon]. False alarms per
 *     stream-hour divide by the hours covered by the series of the
 *     evaluated streams (the time span of each stream's ticks, counted
 *     once per stream, not per component).
 */
#ifndef HS_EVALUATE_H
#define HS_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct EvalSeries {
    const char *stream;          /* for stream-hours */
    const char *name;            /* "news/enc:720p": for plots and reports */
    int n;                       /* ticks */
    const int64_t *time_us;      /* n, increasing */
    const float *score;          /* n, in [0,1]; NAN = not scored (skipped) */
    const signed char *label;    /* n: 1, 0, or -1 (unknown) */
    int nb_failures;
    const int64_t *failure_us;   /* increasing */
} EvalSeries;

#define EVAL_LEAD_BUCKETS 7      /* lead time histogram, see EvalResult */

typedef struct EvalResult {
    /* per tick */
    int64_t positives, negatives;      /* ticks with label 1, 0 */
    double roc_auc;                    /* NAN when either class is empty */
    double pr_auc;                     /* NAN when there is no positive */
    double precision, recall;          /* at the threshold; NAN when undefined */
    /* per event */
    int failures;                      /* failures in the series */
    int caught;                        /* with an alarm before them */
    int alarms;                        /* onsets */
    int false_alarms;
    double stream_hours;
    double false_alarms_per_hour;      /* NAN when stream_hours is 0 */
    double lead_median_s;              /* of caught failures; NAN when none */
    double lead_p10_s, lead_p90_s;     /* nearest-rank; NAN when none */
    /* caught failures by lead time, buckets [0,1) [1,5) [5,10) [10,20)
     * [20,30) [30,45) [45,inf) seconds */
    int lead_hist[EVAL_LEAD_BUCKETS];
} EvalResult;

extern const double eval_lead_bucket_s[EVAL_LEAD_BUCKETS];   /* lower bounds */

/*
 * Evaluates the scores of nb series at threshold/release (release <=
 * threshold) for a horizon. Returns 0, AVERROR(EINVAL) (bad arguments:
 * release > threshold, horizon <= 0, times not increasing) or
 * AVERROR(ENOMEM). Deterministic; O(N log N) in the ticks.
 */
int eval_run(const EvalSeries *s, int nb, double threshold, double release,
             int64_t horizon_us, EvalResult *r);

/* The per-tick areas alone (used for threshold searches and tests):
 * scores and labels of n examples (labels 0/1 only; others skipped). */
double eval_roc_auc(const float *score, const signed char *label, size_t n);
double eval_pr_auc(const float *score, const signed char *label, size_t n);

/*
 * The threshold a detector should ship with: among candidate thresholds
 * (the distinct score quantiles, at most 200), the one that catches the
 * most failures with at most max_fa_per_hour false alarms per stream-hour,
 * ties broken by fewer false alarms, then by the higher threshold. release
 * is threshold * release_ratio. Writes the chosen threshold and its result;
 * returns 0, AVERROR(ENOENT) when no candidate meets the budget (then the
 * highest score seen + epsilon is written: an alarm that never fires), or
 * another negative AVERROR.
 */
int eval_choose_threshold(const EvalSeries *s, int nb, int64_t horizon_us,
                          double max_fa_per_hour, double release_ratio,
                          double *threshold, EvalResult *r);

/* ---- reports ------------------------------------------------------------ */

/* One detector's result with its name and threshold, for the reports. */
typedef struct EvalReportRow {
    const char *detector;        /* "model", "static threshold", "ewma z-score" */
    double threshold, release;
    EvalResult r;
} EvalReportRow;

/* A fixed-width table, one detector per column, rows per figure (as
 * `hotspare eval` prints it). Writes into buf (NUL-terminated, truncated to
 * size); returns the length it needed. */
int eval_report_table(const EvalReportRow *rows, int nb, int64_t horizon_us, char *buf, size_t size);

/* The same as a JSON object: {"horizon_s":..,"detectors":[{"detector":..,
 * "threshold":..,"release":..,"roc_auc":..,...,"lead_hist":[..]}]};
 * NANs as null. Returns the length needed, like snprintf. */
int eval_report_json(const EvalReportRow *rows, int nb, int64_t horizon_us, char *buf, size_t size);

/*
 * An SVG plot of risk over time: one panel per series (at most max_panels,
 * the series with failures first, then those with the most alarms), the
 * score as a line (gaps where NAN), the threshold as a dashed line,
 * failures as red vertical lines, alarm spans shaded, time axis in minutes
 * from the first tick, the series name as the panel title. Series names
 * are escaped for XML. Writes to path (through path.tmp and rename).
 * Returns 0 or a negative AVERROR.
 */
int eval_plot_svg(const char *path, const EvalSeries *s, int nb, double threshold,
                  int max_panels, const char *title);

#endif
