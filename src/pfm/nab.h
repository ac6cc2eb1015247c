/*
 * nab.h: the Numenta Anomaly Benchmark (NAB v1.1) in C: the corpus reader
 * and a scorer that follows NAB's rules (nab/sweeper.py) exactly.
 *
 * A corpus is an NAB root: ROOT/data/<category>/<file>.csv (timestamp,value)
 * and ROOT/labels/combined_windows.json, which maps "<category>/<file>.csv" to
 * a list of ["start", "end"] timestamps. The JSON file lists every data file
 * (those without anomalies map to []), so it is the corpus's table of contents.
 *
 * Scoring, as NAB does it (see also tests/data/nab/README.md):
 *   - probation: the first min(floor(0.15 N), 750) rows of a file are not scored;
 *   - a row i inside window [a,b] (w = b-a+1) is worth
 *       tp * s(-(b-i+1)/w) / s(-1), s(x) = 2/(1+e^(5x)) - 1 (-1 when x >= 3);
 *     a window scores the best (earliest) of its detected rows, -fn when none;
 *   - a detected row outside windows costs fp * s(|i-b'|/(w'-1)) after a
 *     window [a',b'] of width w', or -fp before the first window;
 *   - one threshold per profile for the whole corpus: the sweep lowers it
 *     through every distinct score (a row is detected iff score >= threshold)
 *     and keeps the best raw score (the highest threshold among equals);
 *   - normalised = 100 (raw - null) / (perfect - null), perfect = tp x windows,
 *     null = -fn x windows.
 */
#ifndef HS_NAB_H
#define HS_NAB_H

#include <stdint.h>

typedef struct NabWindow {
    int start, end;              /* row indices, inclusive */
} NabWindow;

typedef struct NabFile {
    char *name;                  /* "realKnownCause/nyc_taxi.csv" */
    int nb_rows;
    int64_t *ts;                 /* seconds since 1970-01-01 UTC */
    double *value;
    int nb_windows;
    NabWindow *windows;
    int probation;               /* rows [0, probation) are not scored */
} NabFile;

typedef struct NabCorpus {
    NabFile *files;              /* sorted by name */
    int nb_files;
    int nb_windows;              /* all files */
    long nb_rows;
} NabCorpus;

/* Loads ROOT (data/ and labels/combined_windows.json). logctx: where errors
 * are logged (may be NULL). Returns 0 or a negative AVERROR; every problem
 * names the file and line. */
int nab_corpus_load(const char *root, NabCorpus **pc, void *logctx);
void nab_corpus_free(NabCorpus **pc);

/* Parses the combined_windows.json text into per-file window timestamps.
 * Exposed for the tests. On success *names, *starts, *ends (per window) are
 * allocated arrays; counts[k] windows belong to names[k]; free with
 * nab_windows_json_free(). err gets a message "line L col C: what" on error. */
typedef struct NabJsonWindows {
    int nb_files;
    char **names;
    int *nb_windows;             /* per file */
    int64_t **start, **end;      /* per file: window limits, seconds UTC */
} NabJsonWindows;
int nab_windows_json_parse(const char *text, NabJsonWindows *out, char *err, int errlen);
void nab_windows_json_free(NabJsonWindows *w);

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" -> seconds UTC; <0 AVERROR when malformed.
 * A fraction must be zero: NAB data is sampled on whole seconds. */
int nab_parse_time(const char *s, int len, int64_t *t);
/* seconds UTC -> "YYYY-MM-DD HH:MM:SS" into buf[NAB_TIME_SIZE] */
#define NAB_TIME_SIZE 64
void nab_format_time(int64_t t, char *buf);

typedef struct NabProfile {
    const char *name;            /* "standard", "reward_low_FP_rate", ... */
    double tp, fp, fn;
} NabProfile;

#define NAB_NB_PROFILES 3
extern const NabProfile nab_profiles[NAB_NB_PROFILES];

/*
 * A score as a result CSV holds it: 12 significant digits ("%.12g"), which is
 * what NAB's Python 2 str(float) wrote in its published results. It matters:
 * the Windowed Gaussian's best threshold is 1.0, and the rows that reach it
 * are those whose score rounds to 1.0 at 12 digits (|z| > ~7.2), not at
 * double precision (|z| > ~8.3). The nab command writes and scores this.
 */
double nab_round_score(double s);

/* NAB's scaled sigmoid. */
double nab_scaled_sigmoid(double x);

/* The weighted score a detection at row i of f would earn under profile p
 * (NAB's S(t) column): positive inside windows, negative outside. */
void nab_row_scores(const NabFile *f, const NabProfile *p, double *out);

typedef struct NabResult {
    double threshold;            /* detected iff score >= threshold */
    double raw;                  /* corpus raw score at threshold */
    double score;                /* normalised: null 0, perfect 100 */
    int tp, fp, fn;              /* windows detected, FP rows, windows missed */
} NabResult;

/*
 * Sweeps the threshold over scores[f][i] (one array per file of c, each
 * c->files[f].nb_rows long, values in [0,1]) and scores the corpus under p.
 * Returns 0 or a negative AVERROR (ENOMEM, EINVAL for a score outside [0,1]).
 * Allocates only for the sort.
 */
int nab_score(const NabCorpus *c, const double *const *scores, const NabProfile *p,
              NabResult *res);

/* The raw score of one file at a fixed threshold (per-file breakdown). */
double nab_file_raw(const NabFile *f, const double *score, const NabProfile *p,
                    double threshold, int *tp, int *fp, int *fn);

/*
 * NAB's Windowed Gaussian baseline (nab/detectors/gaussian): score a row by
 * 1 - Q(|x - mean| / std) over a window of the previous values; the window
 * grows to 6400 values, recomputing mean and std (population) on every row,
 * then slides by 100 values at a time. The first row scores 0.
 */
typedef struct NabGauss NabGauss;
int nab_gauss_alloc(NabGauss **pg);
void nab_gauss_free(NabGauss **pg);
double nab_gauss_update(NabGauss *g, double x);

#endif
