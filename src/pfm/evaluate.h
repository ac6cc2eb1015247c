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
 *     precision/recall at the threshold (a tick counts as predicted when
 *     its score >= threshold; no hysteresis here). A tick whose score is
 *     NAN is no example, whatever its label.
 *
 *   per event: an alarm is a run of ticks with score >= threshold,
 *     starting at its first tick (the onset; after an alarm ends, a new
 *     onset needs the score to drop below release first, a hysteresis;
 *     release <= threshold). A failure is caught when an alarm is on at
 *     some tick in [failure - horizon, failure) of its series; its lead
 *     time is failure time minus the earliest such tick with the alarm on
 *     (so at most horizon). An onset is a false alarm when no failure of
 *     its series follows within (onset, onset + horizon] and its tick's
 *     label is 0 or 1; with label -1 (the component down, just failed and
 *     switched, switched away at high risk, or its data ending within the
 *     horizon: its future is unknown) such an onset is unjudged, counted
 *     apart (unjudged_alarms), neither true nor false. False alarms per
 *     stream-hour divide by the hours covered by the series of the
 *     evaluated streams (the time span of each stream's ticks, counted
 *     once per stream, not per component).
 *
 *     Read exactly: "the alarm is on" at a tick means its score >=
 *     threshold; release only decides which runs are onsets. A run that
 *     starts before the score went below release is no new onset (no new
 *     page) but still catches the failures it precedes. Ticks whose score
 *     is NAN are skipped as if absent: they neither end a run nor re-arm.
 *     Labels play no part in this view but to leave unjudged the onsets
 *     whose future is unknown. Every listed failure counts, also
 *     one outside its series' ticks (it cannot be caught). A series with a
 *     NULL stream is a stream of its own; a stream's span runs from its
 *     earliest tick to its latest, scored or not.
 */
#ifndef HS_EVALUATE_H
#define HS_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

/* What kind of failure a failure was, from the schedule of the faults
 * that made it (eval_fault_class): one whose fault came on gradually
 * (there were precursors to see), one that came without warning, or one
 * no schedule explains (or no schedule was given). */
enum { EVAL_CLASS_OTHER, EVAL_CLASS_LED, EVAL_CLASS_ABRUPT, EVAL_CLASSES };

typedef struct EvalSeries {
    const char *stream;          /* for stream-hours */
    const char *name;            /* "news/enc:720p": for plots and reports */
    int n;                       /* ticks */
    const int64_t *time_us;      /* n, increasing */
    const float *score;          /* n, in [0,1]; NAN = not scored (skipped) */
    const signed char *label;    /* n: 1, 0, or -1 (unknown) */
    int nb_failures;
    const int64_t *failure_us;   /* increasing */
    const signed char *failure_class;  /* nb_failures EVAL_CLASS_*; NULL: all other */
} EvalSeries;

#define EVAL_LEAD_BUCKETS 7      /* lead time histogram, see EvalResult */

typedef struct EvalResult {
    /* per tick */
    int64_t positives, negatives;      /* scored ticks with label 1, 0 */
    double roc_auc;                    /* NAN when either class is empty */
    double pr_auc;                     /* NAN when there is no positive */
    double precision, recall;          /* at the threshold; NAN when undefined */
    /* per event */
    int failures;                      /* failures in the series */
    int caught;                        /* with an alarm before them */
    int alarms;                        /* onsets */
    int false_alarms;
    int unjudged_alarms;               /* no failure follows, future unknown */
    double stream_hours;
    double false_alarms_per_hour;      /* NAN when stream_hours is 0 */
    double lead_median_s;              /* of caught failures (the mean of the
                                        * middle two for an even count); NAN
                                        * when none */
    double lead_p10_s, lead_p90_s;     /* nearest-rank; NAN when none */
    /* caught failures by lead time, buckets [0,1) [1,5) [5,10) [10,20)
     * [20,30) [30,45) [45,inf) seconds */
    int lead_hist[EVAL_LEAD_BUCKETS];
    /* the same by kind of failure (EVAL_CLASS_*): failures, caught, median
     * lead of the caught ones (NAN when none) */
    int class_failures[EVAL_CLASSES], class_caught[EVAL_CLASSES];
    double class_lead_median_s[EVAL_CLASSES];
    double false_alarms_per_day;       /* per stream-day: 24 x per hour */
} EvalResult;

extern const double eval_lead_bucket_s[EVAL_LEAD_BUCKETS];   /* lower bounds */

/*
 * Evaluates the scores of nb series at threshold/release (release <=
 * threshold) for a horizon. Returns 0, AVERROR(EINVAL) (bad arguments:
 * release > threshold, a NAN threshold, horizon <= 0, tick or failure
 * times not strictly increasing, NULL arrays, negative counts) or
 * AVERROR(ENOMEM); r is written only on success. Deterministic; O(N log
 * N) in the ticks (one sort for the areas, the events are O(N)).
 */
int eval_run(const EvalSeries *s, int nb, double threshold, double release,
             int64_t horizon_us, EvalResult *r);

/* The same, calling on_alarm for every alarm onset (series index, time,
 * and what it was: 0 true, 1 false, 2 unjudged) in series order, then
 * time. */
typedef void (*EvalAlarmFn)(void *opaque, int series, int64_t t_us, int judged);
int eval_run_alarms(const EvalSeries *s, int nb, double threshold, double release,
                    int64_t horizon_us, EvalResult *r, EvalAlarmFn on_alarm, void *opaque);

/* The per-tick areas alone (used for threshold searches and tests):
 * scores and labels of n examples (labels 0/1 only; others skipped, and
 * NAN scores). NAN when undefined, as in EvalResult, and also for NULL
 * arrays or when out of memory (there is no error code to return). */
double eval_roc_auc(const float *score, const signed char *label, size_t n);
double eval_pr_auc(const float *score, const signed char *label, size_t n);

/*
 * The threshold a detector should ship with: among candidate thresholds
 * (the distinct score quantiles, at most 200), the one that catches the
 * most failures with at most max_fa_per_hour false alarms per stream-hour
 * (failures of class EVAL_CLASS_ABRUPT do not count: catching one is chance),
 * ties broken by fewer false alarms, then by the higher threshold. release
 * is threshold * release_ratio. Writes the chosen threshold and its result;
 * returns 0, AVERROR(ENOENT) when no candidate meets the budget (then the
 * highest score seen + epsilon is written: an alarm that never fires), or
 * another negative AVERROR.
 *
 * Candidates: the scores of all scored ticks (whatever their labels); all
 * distinct ones when there are at most 200, else those at 200 ranks
 * spaced by the cube of their distance from the top (dense where alarms
 * are: the top percent). With no stream time at all only zero false alarms is
 * within a budget. epsilon is max(1e-6, 1e-6 x the score), so that the
 * threshold stays above it when stored as a float; with no score at all
 * 1 + 1e-6 is written. EINVAL also for release_ratio outside [0, 1] or a
 * negative or NAN max_fa_per_hour (INFINITY: no budget).
 */
int eval_choose_threshold(const EvalSeries *s, int nb, int64_t horizon_us,
                          double max_fa_per_hour, double release_ratio,
                          double *threshold, EvalResult *r);

/*
 * The score as an orchestrator that acts only after `confirm` ticks in a
 * row above its threshold reads it: each tick's score becomes the lowest of
 * its own and the confirm - 1 scored ticks before it (so "above the
 * threshold" means "above it for confirm ticks"; 0 for the first confirm -
 * 1 scored ticks), in place over one series' n ticks. NAN ticks stay NAN
 * and are skipped, as eval_run skips them. confirm <= 1 changes nothing;
 * at most 65.
 */
void eval_confirm(float *score, int n, int confirm);

/* ---- the kinds of failure -------------------------------------------------- */

/* One scenario of a fault schedule (models/corpus/gen.awk's faults.tsv):
 * a line "START END STREAM COMPONENT CLASS SCENARIO", times in seconds
 * from the stream's start, CLASS led, abrupt or benign, "*" for STREAM or
 * COMPONENT matching any. */
typedef struct EvalFault {
    char stream[48], component[48], scenario[24];
    int64_t start_us, end_us;
    int cls;                     /* EVAL_CLASS_LED, EVAL_CLASS_ABRUPT; OTHER for benign */
} EvalFault;

/* How late after its scenario's end a failure is still its (a stall's
 * failure comes when a timeout passes; a ramp's when the backlog passes
 * the budget, after the ramp if it was short), and how early before its
 * start (the stream's start is known to a tick). */
#define EVAL_FAULT_AFTER_US   (20 * 1000000LL)
#define EVAL_FAULT_BEFORE_US  (2 * 1000000LL)

/* Parses one line of a schedule into f. Returns 1 (a scenario), 0 (an
 * empty line or a comment), or AVERROR(EINVAL) with the field at fault in
 * err. */
int eval_fault_parse(const char *line, EvalFault *f, char *err, size_t err_size);

/* Appends the scenarios of the schedule file at path to *f (*nb of them;
 * av_free it). Returns 0, or a negative AVERROR with the reason in err
 * (the file and line named). */
int eval_faults_load(const char *path, EvalFault **f, int *nb, char *err, size_t err_size);

/*
 * The kind of a failure of component ("out:hls", "enc:hi", "input": the
 * series' name without its stream) of stream at t_us from the stream's
 * start: the class of the scenario that covers it, [start -
 * EVAL_FAULT_BEFORE_US, end + EVAL_FAULT_AFTER_US], one naming the stream
 * and component before one naming "*", then the one that started last.
 * EVAL_CLASS_OTHER when none does.
 */
int eval_fault_class(const EvalFault *f, int nb, const char *stream, const char *component,
                     int64_t t_us);

/* ---- reports ------------------------------------------------------------ */

/* One detector's result with its name and threshold, for the reports. */
typedef struct EvalReportRow {
    const char *detector;        /* "model", "static threshold", "ewma z-score" */
    double threshold, release;
    EvalResult r;
} EvalReportRow;

/* A fixed-width table, one detector per column, rows per figure (as
 * `hotspare eval` prints it); "-" where a figure is NAN. Writes into buf
 * (NUL-terminated, truncated to size; buf may be NULL when size is 0);
 * returns the length it needed, or AVERROR(EINVAL). */
int eval_report_table(const EvalReportRow *rows, int nb, int64_t horizon_us, char *buf, size_t size);

/* The same as a JSON object: {"horizon_s":..,"detectors":[{"detector":..,
 * "threshold":..,"release":..,"roc_auc":..,...,"lead_hist":[..]}]};
 * NANs as null. Every EvalResult field is there under its own name, and
 * "lead_buckets_s" at the top gives the histogram's lower bounds. Returns
 * the length needed, like snprintf, or AVERROR(EINVAL). */
int eval_report_json(const EvalReportRow *rows, int nb, int64_t horizon_us, char *buf, size_t size);

/*
 * An SVG plot of risk over time: one panel per series (at most max_panels,
 * the series with failures first, then those with the most alarms), the
 * score as a line (gaps where NAN), the threshold as a dashed line,
 * failures as red vertical lines, alarm spans shaded, time axis in minutes
 * from the first tick, the series name as the panel title. Series names
 * are escaped for XML. Writes to path (through path.tmp and rename).
 * Returns 0 or a negative AVERROR (EINVAL for max_panels < 1).
 *
 * Each panel's time axis starts at its own series' first tick (series need
 * not cover the same time). "Alarms" for the panel order and the shading
 * are the runs of score >= threshold (there is no release here). Series
 * without ticks get no panel.
 */
int eval_plot_svg(const char *path, const EvalSeries *s, int nb, double threshold,
                  int max_panels, const char *title);

#endif
