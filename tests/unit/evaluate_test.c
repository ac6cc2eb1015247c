/*
 * evaluate_test.c: the predictor's evaluation (src/pfm/evaluate.c, eval_plot.c).
 *
 * The per-tick areas against hand-computed values (scikit-learn's
 * documented example among them) and against a quadratic reference on
 * random data; the event view on hand-made series whose every alarm,
 * catch and lead time is worked out in the comments; the threshold search
 * against a budget; the reports parsed back (a small JSON and XML checker
 * here, no outside tool); and the size the trainer needs, a million ticks
 * over 5,000 series, timed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "pfm/evaluate.h"

#define S 1000000LL              /* microseconds */

/* ---- the areas ------------------------------------------------------------ */

static void test_areas_hand(void)
{
    /* scikit-learn's average_precision_score example: 0.8333; ROC-AUC:
     * positives 0.8 and 0.35 against negatives 0.1 and 0.4 win 3 of 4 */
    static const float sk[] = { 0.1f, 0.4f, 0.35f, 0.8f };
    static const signed char skl[] = { 0, 0, 1, 1 };
    /* perfect, reversed, all tied */
    static const float up[] = { 0.1f, 0.2f, 0.8f, 0.9f };
    static const signed char perfect[] = { 0, 0, 1, 1 }, reversed[] = { 1, 1, 0, 0 };
    static const float tie[] = { 0.5f, 0.5f, 0.5f, 0.5f };
    static const signed char tiel[] = { 0, 1, 0, 1 };
    /* ties across classes: descending groups 0.9 {1,0}, 0.7 {1}, 0.5 {1,0},
     * 0.2 {0}, 0.1 {1}: AP = 1/4 (1/2 + 2/3 + 3/5 + 4/7); ROC: the
     * positives win 2.5 + 2 + 1.5 + 0 of 12 pairs */
    static const float t2[] = { 0.9f, 0.9f, 0.7f, 0.5f, 0.5f, 0.2f, 0.1f };
    static const signed char t2l[] = { 1, 0, 1, 1, 0, 0, 1 };

    CU_ASSERT_DOUBLE_EQUAL(eval_roc_auc(sk, skl, 4), 0.75, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(eval_pr_auc(sk, skl, 4), 0.5 * 1 + 0.5 * 2 / 3.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(eval_pr_auc(sk, skl, 4), 0.833333, 1e-6);

    CU_ASSERT_DOUBLE_EQUAL(eval_roc_auc(up, perfect, 4), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(eval_pr_auc(up, perfect, 4), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(eval_roc_auc(up, reversed, 4), 0.0, 1e-12);
    /* reversed: precision 1/3 at 0.2, 2/4 at 0.1, each half the recall */
    CU_ASSERT_DOUBLE_EQUAL(eval_pr_auc(up, reversed, 4), 0.5 / 3 + 0.25, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(eval_roc_auc(tie, tiel, 4), 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(eval_pr_auc(tie, tiel, 4), 0.5, 1e-12);

    CU_ASSERT_DOUBLE_EQUAL(eval_roc_auc(t2, t2l, 7), 6.0 / 12, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(eval_pr_auc(t2, t2l, 7), (0.5 + 2 / 3.0 + 0.6 + 4 / 7.0) / 4, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(eval_pr_auc(t2, t2l, 7), 0.584524, 1e-6);
}

static void test_areas_skip(void)
{
    /* the hand example with unknown labels, an out-of-range label and an
     * unscored tick mixed in: they change nothing */
    static const float sc[] = { 0.99f, 0.1f, 0.0f, 0.4f, NAN, 0.35f, 0.5f, 0.8f, 0.2f };
    static const signed char lb[] = { -1, 0, -1, 0, 1, 1, 7, 1, -1 };
    static const float one[] = { 0.3f, 0.6f };
    static const signed char neg[] = { 0, 0 }, pos[] = { 1, 1 }, unk[] = { -1, -1 };

    CU_ASSERT_DOUBLE_EQUAL(eval_roc_auc(sc, lb, 9), 0.75, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(eval_pr_auc(sc, lb, 9), 0.5 + 1 / 3.0, 1e-12);
    /* an empty class: undefined */
    CU_ASSERT(isnan(eval_roc_auc(one, neg, 2)));
    CU_ASSERT(isnan(eval_pr_auc(one, neg, 2)));
    CU_ASSERT(isnan(eval_roc_auc(one, pos, 2)));
    CU_ASSERT_DOUBLE_EQUAL(eval_pr_auc(one, pos, 2), 1.0, 1e-12);
    CU_ASSERT(isnan(eval_roc_auc(one, unk, 2)));
    CU_ASSERT(isnan(eval_pr_auc(one, unk, 0)));
    CU_ASSERT(isnan(eval_roc_auc(NULL, NULL, 0)));
    CU_ASSERT(isnan(eval_roc_auc(NULL, pos, 2)));
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return (x < y) - (x > y);
}

/* Random scores with many ties, some negative and above 1 to exercise the
 * sort's key, against Mann-Whitney by all pairs and AP from its
 * definition. */
static void test_areas_reference(void)
{
    enum { N = 3000 };
    static float sc[N], s2[N];
    static signed char lb[N];
    uint32_t seed = 7;
    double u = 0, ap = 0;
    int64_t np = 0, nn = 0;

    for (int i = 0; i < N; i++) {
        sc[i] = (int)(lcg(&seed) % 301) / 100.0f - 1.0f;   /* [-1, 2] in steps of 0.01 */
        lb[i] = lcg(&seed) % 5 == 0 ? -1 : (lcg(&seed) % 100 < 30 + 20 * sc[i]);
        np += lb[i] == 1;
        nn += lb[i] == 0;
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (lb[i] == 1 && lb[j] == 0)
                u += sc[i] > sc[j] ? 1 : sc[i] == sc[j] ? 0.5 : 0;
    CU_ASSERT_DOUBLE_EQUAL(eval_roc_auc(sc, lb, N), u / ((double)np * nn), 1e-12);

    /* AP: at each distinct score, descending, precision times the recall gained */
    memcpy(s2, sc, sizeof(sc));
    qsort(s2, N, sizeof(*s2), cmp_desc);
    for (int k = 0; k < N; k++) {
        int64_t tp = 0, fp = 0, gained = 0;
        if (k && s2[k] == s2[k - 1])
            continue;
        for (int i = 0; i < N; i++) {
            tp += lb[i] == 1 && sc[i] >= s2[k];
            fp += lb[i] == 0 && sc[i] >= s2[k];
            gained += lb[i] == 1 && sc[i] == s2[k];
        }
        if (gained)
            ap += (double)gained / np * tp / (tp + fp);
    }
    CU_ASSERT_DOUBLE_EQUAL(eval_pr_auc(sc, lb, N), ap, 1e-12);
    printf("\n  reference: ROC-AUC %.6f, AP %.6f on %lld/%lld", u / ((double)np * nn), ap,
           (long long)np, (long long)nn);
}

/* ---- the events ----------------------------------------------------------- */

/* Labels as the contract defines them: 1 when a failure of the series
 * follows within (t, t + horizon], else -1 when the data ends before the
 * horizon, else 0. */
static void label_series(EvalSeries *e, signed char *lb, int64_t horizon)
{
    int64_t last = e->time_us[e->n - 1];

    for (int i = 0; i < e->n; i++) {
        int64_t t = e->time_us[i];
        lb[i] = t + horizon > last ? -1 : 0;
        for (int k = 0; k < e->nb_failures; k++)
            if (e->failure_us[k] > t && e->failure_us[k] - t <= horizon)
                lb[i] = 1;
    }
}

/*
 * Series A: ticks every second over 0..59 s, failures at 30 s and 55 s,
 * horizon 10 s, threshold 0.5, release 0.3. Scores 0.1 but:
 *   5, 6: 0.9   onset at 5; no failure in (5, 15]: false alarm
 *   7: 0.4      ends the alarm, not below release: not re-armed
 *   8: 0.6      alarmed again, but no onset (hysteresis)
 *   9: 0.2      below release: re-armed
 *   22..25: 0.7, 23 unscored (NAN: skipped, the alarm goes on)
 *               onset at 22, failure 30 in (22, 32]: caught, lead 8 s
 *   40..50: 0.8 onset at 40, failure 55 not in (40, 50]: false alarm;
 *               but on at 45, the first tick of [45, 55): caught, lead
 *               10 s (the horizon)
 * Labels: 1 for 20..29 and 45..54, -1 for 55..59, 0 elsewhere.
 */
#define A_N 60
static int64_t a_t[A_N], a_f[2] = { 30 * S, 55 * S };
static float a_s[A_N];
static signed char a_l[A_N];

static EvalSeries make_a(void)
{
    EvalSeries e = { "s1", "s1/enc:720p", A_N, a_t, a_s, a_l, 2, a_f, NULL };

    for (int i = 0; i < A_N; i++) {
        a_t[i] = i * S;
        a_s[i] = i == 5 || i == 6 ? 0.9f : i == 7 ? 0.4f : i == 8 ? 0.6f : i == 9 ? 0.2f :
                 i >= 22 && i <= 25 ? 0.7f : i >= 40 && i <= 50 ? 0.8f : 0.1f;
    }
    a_s[23] = NAN;
    label_series(&e, a_l, 10 * S);
    return e;
}

static void test_events_hand(void)
{
    EvalSeries a = make_a();
    EvalResult r;
    double ap;

    CU_ASSERT_EQUAL(a_l[19], 0);
    CU_ASSERT_EQUAL(a_l[20], 1);
    CU_ASSERT_EQUAL(a_l[54], 1);
    CU_ASSERT_EQUAL(a_l[55], -1);
    CU_ASSERT_FATAL(eval_run(&a, 1, 0.5, 0.3, 10 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.alarms, 3);
    CU_ASSERT_EQUAL(r.false_alarms, 2);
    CU_ASSERT_EQUAL(r.failures, 2);
    CU_ASSERT_EQUAL(r.caught, 2);
    CU_ASSERT_DOUBLE_EQUAL(r.lead_median_s, 9.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.lead_p10_s, 8.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.lead_p90_s, 10.0, 1e-12);
    CU_ASSERT_EQUAL(r.lead_hist[2], 1);          /* 8 s in [5, 10) */
    CU_ASSERT_EQUAL(r.lead_hist[3], 1);          /* 10 s in [10, 20) */
    CU_ASSERT_EQUAL(r.lead_hist[0] + r.lead_hist[1] + r.lead_hist[4] + r.lead_hist[5] +
                    r.lead_hist[6], 0);
    CU_ASSERT_DOUBLE_EQUAL(r.stream_hours, 59 / 3600.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.false_alarms_per_hour, 2 / (59 / 3600.0), 1e-9);

    /* per tick: positives 20..29 less the unscored 23, and 45..54: 19;
     * negatives 0..19 and 30..44: 35. At 0.5 the alarmed ticks 5, 6, 8,
     * 40..44 are negatives, 22, 24, 25, 45..50 positives: 9 of 17 */
    CU_ASSERT_EQUAL(r.positives, 19);
    CU_ASSERT_EQUAL(r.negatives, 35);
    CU_ASSERT_DOUBLE_EQUAL(r.precision, 9 / 17.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.recall, 9 / 19.0, 1e-12);
    /* positives at 0.1 (10), 0.7 (3), 0.8 (6); negatives at 0.1 (25), 0.2,
     * 0.4, 0.6, 0.8 (5), 0.9 (2): U = 10 x 12.5 + 3 x 28 + 6 x 30.5 */
    CU_ASSERT_DOUBLE_EQUAL(r.roc_auc, 392 / 665.0, 1e-12);
    /* AP over 0.8 (tp 6, fp 7), 0.7 (9, 7), 0.1 (19, 35) */
    ap = (6 * (6 / 13.0) + 3 * (9 / 16.0) + 10 * (19 / 54.0)) / 19;
    CU_ASSERT_DOUBLE_EQUAL(r.pr_auc, ap, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.roc_auc, eval_roc_auc(a_s, a_l, A_N), 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(r.pr_auc, eval_pr_auc(a_s, a_l, A_N), 1e-15);

    /* release = threshold: 0.4 at 7 re-arms, 8 is an onset, a false one;
     * the unscored 23 still does not split 22..25 */
    CU_ASSERT_FATAL(eval_run(&a, 1, 0.5, 0.5, 10 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.alarms, 4);
    CU_ASSERT_EQUAL(r.false_alarms, 3);
    CU_ASSERT_EQUAL(r.caught, 2);
    /* the horizon 5 s: the onset at 22 is false now (30 > 27), 40 too;
     * failure 30 caught by 25 (the first alarmed tick of [25, 30)), 55 by
     * 50: both 5 s ahead. 4 s: nothing alarmed in [26, 30) nor [51, 55) */
    CU_ASSERT_FATAL(eval_run(&a, 1, 0.5, 0.3, 5 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.alarms, 3);
    CU_ASSERT_EQUAL(r.false_alarms, 3);
    CU_ASSERT_EQUAL(r.caught, 2);
    CU_ASSERT_DOUBLE_EQUAL(r.lead_median_s, 5.0, 1e-12);
    CU_ASSERT_FATAL(eval_run(&a, 1, 0.5, 0.3, 4 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.caught, 0);
    CU_ASSERT_EQUAL(r.failures, 2);
    CU_ASSERT(isnan(r.lead_median_s));
    /* above every score: nothing */
    CU_ASSERT_FATAL(eval_run(&a, 1, 0.95, 0.3, 10 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.alarms, 0);
    CU_ASSERT_EQUAL(r.caught, 0);
    CU_ASSERT(isnan(r.lead_median_s) && isnan(r.lead_p10_s) && isnan(r.lead_p90_s));
    CU_ASSERT(isnan(r.precision));
    CU_ASSERT_DOUBLE_EQUAL(r.recall, 0.0, 1e-12);
}

/*
 * Four series, two streams: A as above; B (stream s1 too) over 30..89 s,
 * failures at 70 s and 100 s (after its data); C (s2) an hour of quiet
 * ticks named with XML's and JSON's special characters; D (s2) ticks every
 * 250 ms over 0..10 s, failure at 5.2 s; E (s3) no ticks.
 *   B: 69: 0.5 (= threshold: alarmed) onset, failure 70 in (69, 79]:
 *      caught, lead 1 s; 75: 0.9 onset (re-armed at 70), false alarm
 *   D: 5.0 s: 0.95 onset, caught, lead 0.2 s
 * Totals: failures 5, caught 4 (leads 0.2, 1, 8, 10), alarms 6, false 3;
 * stream-hours: s1 from 0 to 89 s (A and B overlap: counted once), s2
 * from 0 to 3599 s.
 */
#define B_N 60
#define C_N 3600
#define D_N 41
static int64_t b_t[B_N], b_f[2] = { 70 * S, 100 * S }, c_t[C_N], d_t[D_N], d_f[1] = { 5200000 };
static float b_s[B_N], c_s[C_N], d_s[D_N];
static signed char b_l[B_N], c_l[C_N], d_l[D_N];

static int make_all(EvalSeries *s)
{
    s[0] = make_a();
    s[1] = (EvalSeries){ "s1", "s1/out:hls", B_N, b_t, b_s, b_l, 2, b_f, NULL };
    s[2] = (EvalSeries){ "s2", "s2/enc<&\">", C_N, c_t, c_s, c_l, 0, NULL, NULL };
    s[3] = (EvalSeries){ "s2", "s2/dec", D_N, d_t, d_s, d_l, 1, d_f, NULL };
    s[4] = (EvalSeries){ "s3", "s3/empty", 0, NULL, NULL, NULL, 0, NULL, NULL };
    for (int i = 0; i < B_N; i++) {
        b_t[i] = (30 + i) * S;
        b_s[i] = 30 + i == 69 ? 0.5f : 30 + i == 75 ? 0.9f : 0.1f;
    }
    for (int i = 0; i < C_N; i++) {
        c_t[i] = i * S;
        c_s[i] = 0.1f + 0.1f * (i % 3);
    }
    for (int i = 0; i < D_N; i++) {
        d_t[i] = i * 250000LL;
        d_s[i] = i == 20 ? 0.95f : 0.1f;
    }
    for (int k = 1; k < 4; k++)
        label_series(&s[k], (signed char *)s[k].label, 10 * S);
    return 5;
}

static void test_events_series(void)
{
    EvalSeries s[5];
    EvalResult r;
    int nb = make_all(s);

    CU_ASSERT_FATAL(eval_run(s, nb, 0.5, 0.3, 10 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.failures, 5);
    CU_ASSERT_EQUAL(r.caught, 4);
    CU_ASSERT_EQUAL(r.alarms, 6);
    CU_ASSERT_EQUAL(r.false_alarms, 3);
    CU_ASSERT_DOUBLE_EQUAL(r.stream_hours, (89 + 3599) / 3600.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.false_alarms_per_hour, 3 / ((89 + 3599) / 3600.0), 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r.lead_median_s, (1 + 8) / 2.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.lead_p10_s, 0.2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.lead_p90_s, 10.0, 1e-12);
    CU_ASSERT_EQUAL(r.lead_hist[0], 1);
    CU_ASSERT_EQUAL(r.lead_hist[1], 1);
    CU_ASSERT_EQUAL(r.lead_hist[2], 1);
    CU_ASSERT_EQUAL(r.lead_hist[3], 1);
    CU_ASSERT_EQUAL(r.lead_hist[4] + r.lead_hist[5] + r.lead_hist[6], 0);

    /* a stream without a name is a stream of its own */
    s[1].stream = NULL;
    CU_ASSERT_FATAL(eval_run(s, nb, 0.5, 0.3, 10 * S, &r) == 0);
    CU_ASSERT_DOUBLE_EQUAL(r.stream_hours, (59 + 59 + 3599) / 3600.0, 1e-12);
    /* nothing at all: zero hours, no rate */
    CU_ASSERT_FATAL(eval_run(s, 0, 0.5, 0.3, 10 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.failures, 0);
    CU_ASSERT(r.stream_hours == 0 && isnan(r.false_alarms_per_hour));
    CU_ASSERT(isnan(r.roc_auc) && isnan(r.pr_auc) && isnan(r.precision) && isnan(r.recall));
}

/* One failure per lead bucket: a single alarmed tick (score 1) at failure
 * minus 0.5, 3, 7, 15, 25, 40, 50 s; ticks every 0.5 s, horizon 60 s. */
static void test_lead_buckets(void)
{
    enum { N = 1201 };
    static const double lead[EVAL_LEAD_BUCKETS] = { 0.5, 3, 7, 15, 25, 40, 50 };
    static int64_t t[N], f[EVAL_LEAD_BUCKETS];
    static float sc[N];
    static signed char lb[N];
    EvalSeries e = { "x", "x/enc", N, t, sc, lb, EVAL_LEAD_BUCKETS, f, NULL };
    EvalResult r;

    for (int i = 0; i < N; i++) {
        t[i] = i * S / 2;
        sc[i] = 0;
        lb[i] = -1;
    }
    for (int k = 0; k < EVAL_LEAD_BUCKETS; k++) {
        f[k] = (100 + 80 * k) * S;
        sc[(int)((f[k] - lead[k] * S) / (S / 2))] = 1;
        CU_ASSERT(lead[k] >= eval_lead_bucket_s[k]);
        CU_ASSERT(k == EVAL_LEAD_BUCKETS - 1 || lead[k] < eval_lead_bucket_s[k + 1]);
    }
    CU_ASSERT_FATAL(eval_run(&e, 1, 0.5, 0.5, 60 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.caught, EVAL_LEAD_BUCKETS);
    CU_ASSERT_EQUAL(r.alarms, EVAL_LEAD_BUCKETS);
    CU_ASSERT_EQUAL(r.false_alarms, 0);
    for (int k = 0; k < EVAL_LEAD_BUCKETS; k++)
        CU_ASSERT_EQUAL(r.lead_hist[k], 1);
    CU_ASSERT_DOUBLE_EQUAL(r.lead_median_s, 15, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.lead_p10_s, 0.5, 1e-12);    /* rank ceil(0.7) = 1 */
    CU_ASSERT_DOUBLE_EQUAL(r.lead_p90_s, 50, 1e-12);     /* rank ceil(6.3) = 7 */
    /* no labels at all: the areas are undefined, the events are not */
    CU_ASSERT_EQUAL(r.positives + r.negatives, 0);
    CU_ASSERT(isnan(r.roc_auc));
}

static void test_invalid(void)
{
    EvalSeries s[5], bad;
    EvalResult r;
    int64_t t[3] = { 0, S, S }, f[2] = { 5 * S, 4 * S };
    float sc[3] = { 0, 0, 0 };
    signed char lb[3] = { 0, 0, 0 };
    double thr;
    char buf[16];
    int nb = make_all(s);

    CU_ASSERT_EQUAL(eval_run(s, nb, 0.5, 0.6, 10 * S, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_run(s, nb, 0.5, 0.3, 0, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_run(s, nb, 0.5, 0.3, -S, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_run(s, nb, NAN, 0.3, S, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_run(s, nb, 0.5, 0.3, S, NULL), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_run(s, -1, 0.5, 0.3, S, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_run(NULL, 1, 0.5, 0.3, S, &r), AVERROR(EINVAL));
    bad = (EvalSeries){ "x", "x", 3, t, sc, lb, 0, NULL, NULL };
    CU_ASSERT_EQUAL(eval_run(&bad, 1, 0.5, 0.3, S, &r), AVERROR(EINVAL));   /* equal times */
    t[2] = 2 * S;
    CU_ASSERT_EQUAL(eval_run(&bad, 1, 0.5, 0.3, S, &r), 0);
    bad.nb_failures = 2;
    bad.failure_us = f;
    CU_ASSERT_EQUAL(eval_run(&bad, 1, 0.5, 0.3, S, &r), AVERROR(EINVAL));   /* failures out of order */
    bad.failure_us = NULL;
    CU_ASSERT_EQUAL(eval_run(&bad, 1, 0.5, 0.3, S, &r), AVERROR(EINVAL));
    bad.nb_failures = 0;
    bad.score = NULL;
    CU_ASSERT_EQUAL(eval_run(&bad, 1, 0.5, 0.3, S, &r), AVERROR(EINVAL));
    bad.score = sc;
    bad.n = -1;
    CU_ASSERT_EQUAL(eval_run(&bad, 1, 0.5, 0.3, S, &r), AVERROR(EINVAL));

    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, 0, 1, 0.5, &thr, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, S, -1, 0.5, &thr, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, S, NAN, 0.5, &thr, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, S, 1, 1.5, &thr, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, S, 1, -0.1, &thr, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, S, 1, 0.5, NULL, &r), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_report_table(NULL, 1, S, buf, sizeof(buf)), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_report_json(NULL, -1, S, buf, sizeof(buf)), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_plot_svg("/tmp/x.svg", s, nb, 0.5, 0, NULL), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_plot_svg(NULL, s, nb, 0.5, 1, NULL), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_plot_svg("/tmp/x.svg", s, -1, 0.5, 1, NULL), AVERROR(EINVAL));
}

/* ---- the threshold -------------------------------------------------------- */

/* Field by field (memcmp would compare the padding), NAN equal to NAN. */
static int same_double(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static int same_result(const EvalResult *a, const EvalResult *b)
{
    if (a->positives != b->positives || a->negatives != b->negatives ||
        a->failures != b->failures || a->caught != b->caught || a->alarms != b->alarms ||
        a->false_alarms != b->false_alarms ||
        memcmp(a->lead_hist, b->lead_hist, sizeof(a->lead_hist)))
        return 0;
    return same_double(a->roc_auc, b->roc_auc) && same_double(a->pr_auc, b->pr_auc) &&
           same_double(a->precision, b->precision) && same_double(a->recall, b->recall) &&
           same_double(a->stream_hours, b->stream_hours) &&
           same_double(a->false_alarms_per_hour, b->false_alarms_per_hour) &&
           same_double(a->lead_median_s, b->lead_median_s) &&
           same_double(a->lead_p10_s, b->lead_p10_s) && same_double(a->lead_p90_s, b->lead_p90_s);
}

/*
 * Ten one-hour series (ticks every 10 s over 0..3600 s), horizon 60 s,
 * release ratio 0.5. E has failures at 1800 s and 3000 s and scores 0.1
 * but 0.3 at 300 s, 0.9 at 600 and 1200 s, 0.7 at 1780 s, 0.6 at 1790 s,
 * 0.3 at 2990 s. Nine quiet series alternate 0 and 0.1. Candidates:
 *   0    always on: one onset a series, all false: caught 2, fa 10
 *   0.1  the quiet ones flicker: 180 onsets each; caught 2, fa 1621
 *   0.3  onsets 300, 600, 1200 (false), 1780, 2990: caught 2, fa 3
 *   0.6  onsets 600, 1200, 1780: caught 1, fa 2
 *   0.7  the same: caught 1, fa 2 (the higher threshold wins the tie)
 *   0.9  onsets 600, 1200: caught 0, fa 2
 */
#define Q_N 361
static int64_t q_t[Q_N], q_f[2] = { 1800 * S, 3000 * S };
static float q_e[Q_N], q_quiet[Q_N];
static signed char q_l[Q_N];

static int make_budget(EvalSeries *s)
{
    static const char *streams[10] = { "e", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9" };

    for (int i = 0; i < Q_N; i++) {
        int sec = i * 10;
        q_t[i] = sec * S;
        q_e[i] = sec == 300 || sec == 2990 ? 0.3f : sec == 600 || sec == 1200 ? 0.9f :
                 sec == 1780 ? 0.7f : sec == 1790 ? 0.6f : 0.1f;
        q_quiet[i] = i % 2 ? 0.1f : 0.0f;
        q_l[i] = 0;                 /* known futures: every onset is judged */
    }
    for (int k = 0; k < 10; k++)
        s[k] = (EvalSeries){ streams[k], streams[k], Q_N, q_t, k ? q_quiet : q_e, q_l,
                             k ? 0 : 2, k ? NULL : q_f, NULL };
    return 10;
}

static void test_choose_threshold(void)
{
    EvalSeries s[10];
    EvalResult r, r2;
    double thr;
    int nb = make_budget(s);

    /* 0.2/h over 10 h: 2 false alarms at most */
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, 60 * S, 0.2, 0.5, &thr, &r), 0);
    CU_ASSERT_EQUAL(thr, (double)0.7f);
    CU_ASSERT_EQUAL(r.caught, 1);
    CU_ASSERT_EQUAL(r.false_alarms, 2);
    CU_ASSERT_DOUBLE_EQUAL(r.lead_median_s, 20, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.stream_hours, 10, 1e-12);
    /* the result is eval_run's at that threshold */
    CU_ASSERT_FATAL(eval_run(s, nb, thr, thr * 0.5, 60 * S, &r2) == 0);
    CU_ASSERT(same_result(&r, &r2));
    /* 0.3/h: the second failure is worth a third false alarm */
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, 60 * S, 0.3, 0.5, &thr, &r), 0);
    CU_ASSERT_EQUAL(thr, (double)0.3f);
    CU_ASSERT_EQUAL(r.caught, 2);
    CU_ASSERT_EQUAL(r.false_alarms, 3);
    /* 1/h: always-on catches as many, with more false alarms */
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, 60 * S, 1.0, 0.5, &thr, &r), 0);
    CU_ASSERT_EQUAL(thr, (double)0.3f);
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, 60 * S, INFINITY, 0.5, &thr, &r), 0);
    CU_ASSERT_EQUAL(thr, (double)0.3f);
    /* 0.1/h: nothing fits; an alarm that never fires */
    thr = -1;
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, 60 * S, 0.1, 0.5, &thr, &r), AVERROR(ENOENT));
    CU_ASSERT(thr > 0.9f && thr < 0.9f + 1e-5);
    CU_ASSERT((float)thr > 0.9f);               /* still above as a float */
    CU_ASSERT_EQUAL(r.alarms, 0);
    CU_ASSERT_EQUAL(r.caught, 0);
    CU_ASSERT_EQUAL(r.failures, 2);
    /* release 0.9 x threshold: E's 0.1 still re-arms at 0.3, the same */
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, 60 * S, 0.3, 0.9, &thr, &r), 0);
    CU_ASSERT_EQUAL(thr, (double)0.3f);
    CU_ASSERT_EQUAL(r.false_alarms, 3);
    /* release 0: nothing ever re-arms, one onset a series at most. At 0.3
     * E's onset at 300 s is the only one (false), and the alarm is on
     * again at 1780 and 2990 s: both caught for one false alarm */
    CU_ASSERT_EQUAL(eval_choose_threshold(s, nb, 60 * S, 0.1, 0.0, &thr, &r), 0);
    CU_ASSERT_EQUAL(thr, (double)0.3f);
    CU_ASSERT_EQUAL(r.alarms, 1);
    CU_ASSERT_EQUAL(r.false_alarms, 1);
    CU_ASSERT_EQUAL(r.caught, 2);
    /* no scores at all: above the range */
    CU_ASSERT_EQUAL(eval_choose_threshold(s, 0, 60 * S, 1, 0.5, &thr, &r), AVERROR(ENOENT));
    CU_ASSERT(thr > 1);
}

/* More distinct scores than candidates: the choice is one of the scores,
 * within the budget, and eval_run agrees with it. */
static void test_choose_many(void)
{
    enum { N = 20000, NS = 20 };
    static int64_t t[N], f[NS][3];
    static float sc[N];
    static signed char lb[N];
    EvalSeries s[NS];
    EvalResult r, r2;
    uint32_t seed = 3;
    double thr;
    int found = 0;

    for (int i = 0; i < N; i++) {
        t[i] = (int64_t)(i % (N / NS)) * S;
        sc[i] = (lcg(&seed) % 1000000) / 1e6f * 0.7f;
        lb[i] = 0;
    }
    for (int k = 0; k < NS; k++) {
        for (int j = 0; j < 3; j++) {
            f[k][j] = (200 + 300 * j) * S;
            /* a ramp before each failure */
            for (int d = 1; d <= 20; d++)
                sc[k * (N / NS) + 200 + 300 * j - d] += 0.3f;
        }
        s[k] = (EvalSeries){ "one", "one/x", N / NS, t + k * (N / NS), sc + k * (N / NS),
                             lb + k * (N / NS), 3, f[k], NULL };
    }
    CU_ASSERT_EQUAL_FATAL(eval_choose_threshold(s, NS, 20 * S, 50, 0.8, &thr, &r), 0);
    for (int i = 0; i < N && !found; i++)
        found = sc[i] == thr;
    CU_ASSERT(found);
    CU_ASSERT(r.false_alarms_per_hour <= 50);
    CU_ASSERT(r.caught > 0);
    CU_ASSERT_FATAL(eval_run(s, NS, thr, thr * 0.8, 20 * S, &r2) == 0);
    CU_ASSERT(same_result(&r, &r2));
    printf("\n  %d distinct-ish scores: threshold %.4g, caught %d/%d, %d false alarms (%.3g/h)",
           N, thr, r.caught, r.failures, r.false_alarms, r.false_alarms_per_hour);
}

/* ---- the reports ---------------------------------------------------------- */

/* A JSON checker: exactly one value, and the whole text is it. */
typedef struct Js {
    const char *p;
} Js;

static void js_ws(Js *j)
{
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')
        j->p++;
}

static int js_value(Js *j, int depth);

static int js_string(Js *j)
{
    if (*j->p++ != '"')
        return -1;
    for (;;) {
        unsigned char c = *j->p++;
        if (!c || c < 0x20)
            return -1;
        if (c == '"')
            return 0;
        if (c == '\\') {
            c = *j->p++;
            if (c == 'u') {
                for (int k = 0; k < 4; k++)
                    if (!strchr("0123456789abcdefABCDEF", *j->p++) || !j->p[-1])
                        return -1;
            } else if (!c || !strchr("\"\\/bfnrt", c)) {
                return -1;
            }
        }
    }
}

static int js_number(Js *j)
{
    const char *q = j->p;

    if (*j->p == '-')
        j->p++;
    if (*j->p == '0')
        j->p++;
    else if (*j->p >= '1' && *j->p <= '9')
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    else
        return -1;
    if (*j->p == '.') {
        j->p++;
        if (!(*j->p >= '0' && *j->p <= '9'))
            return -1;
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-')
            j->p++;
        if (!(*j->p >= '0' && *j->p <= '9'))
            return -1;
        while (*j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return j->p > q ? 0 : -1;
}

static int js_value(Js *j, int depth)
{
    js_ws(j);
    if (depth > 32)
        return -1;
    if (*j->p == '{' || *j->p == '[') {
        char close = *j->p == '{' ? '}' : ']';
        int obj = close == '}';
        j->p++;
        js_ws(j);
        if (*j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (obj) {
                js_ws(j);
                if (js_string(j) < 0)
                    return -1;
                js_ws(j);
                if (*j->p++ != ':')
                    return -1;
            }
            if (js_value(j, depth + 1) < 0)
                return -1;
            js_ws(j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            return *j->p++ == close ? 0 : -1;
        }
    }
    if (*j->p == '"')
        return js_string(j);
    if (!strncmp(j->p, "null", 4) || !strncmp(j->p, "true", 4)) {
        j->p += 4;
        return 0;
    }
    if (!strncmp(j->p, "false", 5)) {
        j->p += 5;
        return 0;
    }
    return js_number(j);
}

static int json_valid(const char *text)
{
    Js j = { text };

    if (js_value(&j, 0) < 0)
        return 0;
    js_ws(&j);
    return *j.p == 0;
}

static void make_rows(EvalReportRow *rows)
{
    static EvalSeries s[5];
    int nb = make_all(s);

    memset(rows, 0, 2 * sizeof(*rows));
    rows[0].detector = "model";
    rows[0].threshold = 0.5;
    rows[0].release = 0.3;
    CU_ASSERT_FATAL(eval_run(s, 1, 0.5, 0.3, 10 * S, &rows[0].r) == 0);     /* A alone */
    rows[1].detector = "ewma \"z\"\\score";
    rows[1].threshold = 0.96;
    rows[1].release = 0.96;
    CU_ASSERT_FATAL(eval_run(s, nb, 0.96, 0.96, 10 * S, &rows[1].r) == 0);  /* catches nothing */
}

typedef int (*ReportFn)(const EvalReportRow *rows, int nb, int64_t horizon_us, char *buf, size_t size);

/* The two rows through a report: its whole length written, and shown. */
static int render(ReportFn fn, EvalReportRow *rows, char *buf, size_t size)
{
    int len;

    make_rows(rows);
    len = fn(rows, 2, 10 * S, buf, size);
    CU_ASSERT_FATAL(len > 0 && len < (int)size);
    CU_ASSERT_EQUAL(len, (int)strlen(buf));
    printf("\n%s", buf);
    return len;
}

/* The kinds of failure: a schedule's lines, the scenario a failure is put
 * down to, and the figures by kind. */
static void test_fault_classes(void)
{
    static const char *lines[] = {
        "100\t190\ts1\tout:hls\tled\torg_delay\n",
        "150 150 s1 enc:hi abrupt enc_error",
        "120 200 * * led cpu_ramp",
        "300 320 s2 input benign in_jitter",
    };
    EvalFault f[4], g;
    char err[128];
    signed char cls[2] = { EVAL_CLASS_LED, EVAL_CLASS_ABRUPT };
    EvalSeries a = make_a();
    EvalResult r;

    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL_FATAL(eval_fault_parse(lines[i], &f[i], err, sizeof(err)), 1);
    CU_ASSERT_STRING_EQUAL(f[0].component, "out:hls");
    CU_ASSERT_STRING_EQUAL(f[0].scenario, "org_delay");
    CU_ASSERT_EQUAL(f[0].start_us, 100 * S);
    CU_ASSERT_EQUAL(f[0].end_us, 190 * S);
    CU_ASSERT_EQUAL(f[0].cls, EVAL_CLASS_LED);
    CU_ASSERT_EQUAL(f[1].cls, EVAL_CLASS_ABRUPT);
    CU_ASSERT_EQUAL(f[3].cls, EVAL_CLASS_OTHER);
    CU_ASSERT_EQUAL(eval_fault_parse("# comment", &g, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(eval_fault_parse("  \n", &g, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(eval_fault_parse("1 2 s1 out:hls sudden x", &g, err, sizeof(err)), AVERROR(EINVAL));
    CU_ASSERT(strstr(err, "sudden") != NULL);
    CU_ASSERT_EQUAL(eval_fault_parse("5 2 s1 out:hls led x", &g, err, sizeof(err)), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(eval_fault_parse("5 9 s1 out:hls", &g, err, sizeof(err)), AVERROR(EINVAL));

    /* its own stream and component, within [start - 2 s, end + 20 s] */
    CU_ASSERT_EQUAL(eval_fault_class(f, 4, "s1", "out:hls", 98 * S), EVAL_CLASS_LED);
    CU_ASSERT_EQUAL(eval_fault_class(f, 4, "s1", "out:hls", 210 * S), EVAL_CLASS_LED);
    CU_ASSERT_EQUAL(eval_fault_class(f, 4, "s1", "out:hls", 221 * S), EVAL_CLASS_OTHER);  /* the "*" one ends at 220 */
    CU_ASSERT_EQUAL(eval_fault_class(f, 4, "s1", "out:hls", 97 * S), EVAL_CLASS_OTHER);
    /* a named scenario before a "*" one: the encoder's error during the CPU ramp */
    CU_ASSERT_EQUAL(eval_fault_class(f, 4, "s1", "enc:hi", 150 * S), EVAL_CLASS_ABRUPT);
    CU_ASSERT_EQUAL(eval_fault_class(f, 4, "s1", "enc:lo", 150 * S), EVAL_CLASS_LED);
    CU_ASSERT_EQUAL(eval_fault_class(f, 4, "s2", "input", 310 * S), EVAL_CLASS_OTHER);
    CU_ASSERT_EQUAL(eval_fault_class(f, 0, "s1", "out:hls", 150 * S), EVAL_CLASS_OTHER);

    /* the figures by kind: A's two failures, both caught (leads 8 and 10 s) */
    a.failure_class = cls;
    CU_ASSERT_FATAL(eval_run(&a, 1, 0.5, 0.3, 10 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.class_failures[EVAL_CLASS_LED], 1);
    CU_ASSERT_EQUAL(r.class_failures[EVAL_CLASS_ABRUPT], 1);
    CU_ASSERT_EQUAL(r.class_failures[EVAL_CLASS_OTHER], 0);
    CU_ASSERT_EQUAL(r.class_caught[EVAL_CLASS_LED], 1);
    CU_ASSERT_EQUAL(r.class_caught[EVAL_CLASS_ABRUPT], 1);
    CU_ASSERT(isnan(r.class_lead_median_s[EVAL_CLASS_OTHER]));
    CU_ASSERT_DOUBLE_EQUAL(r.class_lead_median_s[EVAL_CLASS_LED] +
                           r.class_lead_median_s[EVAL_CLASS_ABRUPT], 18.0, 1e-9);
    CU_ASSERT(r.class_lead_median_s[EVAL_CLASS_LED] == 8.0 ||
              r.class_lead_median_s[EVAL_CLASS_LED] == 10.0);
    CU_ASSERT_DOUBLE_EQUAL(r.false_alarms_per_day, 24 * r.false_alarms_per_hour, 1e-9);
    /* no classes: every failure is "other" */
    a.failure_class = NULL;
    CU_ASSERT_FATAL(eval_run(&a, 1, 0.5, 0.3, 10 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.class_failures[EVAL_CLASS_OTHER], 2);
    CU_ASSERT_EQUAL(r.class_caught[EVAL_CLASS_OTHER], 2);
    CU_ASSERT_DOUBLE_EQUAL(r.class_lead_median_s[EVAL_CLASS_OTHER], 9.0, 1e-12);
}

/* An onset whose future is unknown (label -1) and that no failure follows
 * is neither true nor false; the same onset at a labelled tick is false. */
static void test_unjudged(void)
{
    static int64_t t[6];
    static float sc[6] = { 0.1f, 0.9f, 0.1f, 0.1f, 0.9f, 0.1f };
    static signed char lb[6] = { 0, -1, 0, 0, 0, -1 };
    EvalSeries e = { "u", "u/out", 6, t, sc, lb, 0, NULL, NULL };
    EvalResult r;

    for (int i = 0; i < 6; i++)
        t[i] = i * S;
    CU_ASSERT_FATAL(eval_run(&e, 1, 0.5, 0.3, 10 * S, &r) == 0);
    CU_ASSERT_EQUAL(r.alarms, 2);
    CU_ASSERT_EQUAL(r.unjudged_alarms, 1);
    CU_ASSERT_EQUAL(r.false_alarms, 1);
}

/* confirm 3: a tick is above the threshold when it and the two scored
 * ticks before it are; NAN ticks are skipped; the first two give 0. */
static void test_confirm(void)
{
    float v[8] = { 0.9f, 0.8f, 0.7f, NAN, 0.95f, 0.2f, 0.9f, 0.9f };
    const float want[8] = { 0, 0, 0.7f, NAN, 0.7f, 0.2f, 0.2f, 0.2f };
    float one[3] = { 0.5f, 0.6f, 0.7f };

    eval_confirm(v, 8, 3);
    for (int i = 0; i < 8; i++)
        CU_ASSERT(isnan(want[i]) ? isnan(v[i]) : v[i] == want[i]);
    eval_confirm(one, 3, 1);                    /* 1: as it was */
    CU_ASSERT(one[0] == 0.5f && one[1] == 0.6f && one[2] == 0.7f);
}

static void test_report_table(void)
{
    EvalReportRow rows[2];
    char buf[8192], small[64];
    int len = render(eval_report_table, rows, buf, sizeof(buf));

    CU_ASSERT(strstr(buf, "horizon 10 s") != NULL);
    CU_ASSERT(strstr(buf, "model") != NULL);
    CU_ASSERT(strstr(buf, "ewma \"z\"\\score") != NULL);
    CU_ASSERT(strstr(buf, "0.5895") != NULL);        /* ROC-AUC 392/665 */
    CU_ASSERT(strstr(buf, "0.4197") != NULL);        /* PR-AUC 0.41974996 */
    CU_ASSERT(strstr(buf, "2/2") != NULL);           /* caught */
    CU_ASSERT(strstr(buf, "0/5") != NULL);
    CU_ASSERT(strstr(buf, "122") != NULL);           /* 2 false alarms in 59 s: 122 an hour */
    CU_ASSERT(strstr(buf, "2929") != NULL);          /* and 2929 a day */
    CU_ASSERT(strstr(buf, "led caught") != NULL);
    CU_ASSERT(strstr(buf, "abrupt caught") != NULL);
    {
        /* every row is as wide as the header: a fixed-width table */
        const char *p = buf, *nl;
        size_t width = strchr(buf, '\n') - buf;
        int lines = 0;
        for (; (nl = strchr(p, '\n')); p = nl + 1, lines++)
            CU_ASSERT_EQUAL((size_t)(nl - p), width);
        CU_ASSERT(lines >= 20);
        /* the undefined lead of the second detector: "-" at the line's end */
        p = strstr(buf, "lead median (s)");
        CU_ASSERT_FATAL(p != NULL);
        nl = strchr(p, '\n');
        CU_ASSERT(nl[-1] == '-' && nl[-2] == ' ');
    }
    /* truncated: the length needed all the same, a prefix, NUL-terminated */
    CU_ASSERT_EQUAL(eval_report_table(rows, 2, 10 * S, small, sizeof(small)), len);
    CU_ASSERT_EQUAL(strlen(small), sizeof(small) - 1);
    CU_ASSERT(!strncmp(small, buf, sizeof(small) - 1));
    CU_ASSERT_EQUAL(eval_report_table(rows, 2, 10 * S, NULL, 0), len);
}

static void test_report_json(void)
{
    EvalReportRow rows[2];
    char buf[8192], small[32];
    int len = render(eval_report_json, rows, buf, sizeof(buf));

    CU_ASSERT(json_valid(buf));
    CU_ASSERT(strstr(buf, "\"horizon_s\":10,") != NULL);
    CU_ASSERT(strstr(buf, "\"detector\":\"model\"") != NULL);
    CU_ASSERT(strstr(buf, "\"detector\":\"ewma \\\"z\\\"\\\\score\"") != NULL);
    CU_ASSERT(strstr(buf, "\"roc_auc\":0.589474") != NULL);
    CU_ASSERT(strstr(buf, "\"pr_auc\":0.41975,") != NULL);
    CU_ASSERT(strstr(buf, "\"caught\":2,") != NULL);
    CU_ASSERT(strstr(buf, "\"lead_median_s\":9,") != NULL);
    CU_ASSERT(strstr(buf, "\"lead_median_s\":null") != NULL);
    CU_ASSERT(strstr(buf, "\"precision\":null") != NULL);
    CU_ASSERT(strstr(buf, "\"lead_hist\":[0,0,1,1,0,0,0]") != NULL);
    CU_ASSERT(strstr(buf, "nan") == NULL && strstr(buf, "inf") == NULL);
    CU_ASSERT(!json_valid("{\"a\":1,}") && !json_valid("{\"a\":nan}") && !json_valid("{\"a\":1} x"));

    CU_ASSERT_EQUAL(eval_report_json(rows, 2, 10 * S, small, sizeof(small)), len);
    CU_ASSERT(!strncmp(small, buf, sizeof(small) - 1) && strlen(small) == sizeof(small) - 1);
    /* no detectors: still an object */
    len = eval_report_json(rows, 0, 10 * S, buf, sizeof(buf));
    CU_ASSERT(json_valid(buf));
    CU_ASSERT(strstr(buf, "\"detectors\":[]") != NULL);
}

/* ---- the plot ------------------------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = av_malloc(n + 1);
    if (buf && fread(buf, 1, n, f) != (size_t)n)
        av_freep(&buf);
    if (buf)
        buf[n] = 0;
    fclose(f);
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Well-formed XML, enough for what the plot writes: every element closed
 * in order, attributes quoted, '&' only in the five entities, no '<' in
 * text. */
static int xml_valid(const char *s)
{
    char stack[64][32];
    int depth = 0, root = 0;

    while (*s) {
        if (*s == '&') {
            if (strncmp(s, "&lt;", 4) && strncmp(s, "&gt;", 4) && strncmp(s, "&amp;", 5) &&
                strncmp(s, "&quot;", 6) && strncmp(s, "&apos;", 6))
                return 0;
            s++;
        } else if (*s != '<') {
            if (!depth && *s != '\n' && *s != ' ')
                return 0;        /* text outside the root */
            s++;
        } else if (s[1] == '?') {
            if (!(s = strstr(s, "?>")))
                return 0;
            s += 2;
        } else if (s[1] == '/') {
            size_t n = strcspn(s + 2, ">");
            if (!depth || n != strlen(stack[depth - 1]) || strncmp(s + 2, stack[depth - 1], n))
                return 0;
            depth--;
            s += 3 + n;
        } else {
            size_t n = strcspn(s + 1, " />\n");
            int quoted = 0;
            if (!n || n >= sizeof(stack[0]) || depth == 64 || (!depth && root++))
                return 0;
            memcpy(stack[depth], s + 1, n);
            stack[depth][n] = 0;
            for (s += 1 + n; *s && (quoted || *s != '>'); s++) {
                if (*s == '"')
                    quoted = !quoted;
                if (quoted && (*s == '<' || (*s == '&' && strncmp(s, "&amp;", 5) &&
                               strncmp(s, "&quot;", 6) && strncmp(s, "&lt;", 4))))
                    return 0;
            }
            if (!*s)
                return 0;
            if (s[-1] != '/')
                depth++;
            s++;
        }
    }
    return depth == 0 && root == 1;
}

static void test_plot(void)
{
    char dir[] = "/tmp/evaluate_test_XXXXXX", path[256], tmp[300];
    EvalSeries s[5];
    char *svg;
    const char *p;
    int nb = make_all(s);

    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/risk.svg", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);

    /* all: A, B, D have failures (first, in order), then C; E has no ticks */
    CU_ASSERT_FATAL(eval_plot_svg(path, s, nb, 0.5, 10, "eval <test> & \"more\"") == 0);
    CU_ASSERT(access(tmp, F_OK) != 0);
    svg = read_file(path);
    CU_ASSERT_FATAL(svg != NULL);
    CU_ASSERT(!strncmp(svg, "<?xml", 5) || !strncmp(svg, "<svg", 4));
    CU_ASSERT(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
    CU_ASSERT(strstr(svg, "viewBox=\"0 0 ") != NULL);
    CU_ASSERT(xml_valid(svg));
    CU_ASSERT(strlen(svg) > 7 && !strcmp(svg + strlen(svg) - 7, "</svg>\n"));
    /* four panels; A's unscored tick breaks its line: five polylines */
    CU_ASSERT_EQUAL(count(svg, "class=\"name\""), 4);
    CU_ASSERT_EQUAL(count(svg, "<polyline"), 5);
    CU_ASSERT(strstr(svg, "s2/enc&lt;&amp;&quot;&gt;") != NULL);
    CU_ASSERT(strstr(svg, "s2/enc<") == NULL);
    CU_ASSERT(strstr(svg, "eval &lt;test&gt; &amp; &quot;more&quot;") != NULL);
    CU_ASSERT(strstr(svg, "s3/empty") == NULL);
    /* failures in their panels' time: A's two, B's first, D's (B's second
     * is after its data); plus the legend's */
    CU_ASSERT_EQUAL(count(svg, "<line class=\"failure\""), 4 + 1);
    /* alarm spans: A's four runs, B's two, D's one, C none; plus the legend's */
    CU_ASSERT_EQUAL(count(svg, "<rect class=\"alarm\""), 4 + 2 + 1 + 1);
    CU_ASSERT(count(svg, "class=\"threshold\"") == 4 + 1);
    CU_ASSERT(strstr(svg, "stroke-dasharray") != NULL);
    /* series with failures first, as given, then the rest */
    p = strstr(svg, ">s1/enc:720p<");
    CU_ASSERT(p && strstr(svg, ">s1/out:hls<") > p);
    CU_ASSERT(strstr(svg, ">s1/out:hls<") < strstr(svg, ">s2/dec<"));
    CU_ASSERT(strstr(svg, ">s2/dec<") < strstr(svg, ">s2/enc&lt;"));
    /* minutes: C spans 59.98 min, in steps of 10; A 59 s, in steps of 0.2 */
    CU_ASSERT(strstr(svg, ">50</text>") != NULL);
    CU_ASSERT(strstr(svg, ">60</text>") == NULL);
    CU_ASSERT(strstr(svg, ">0.8</text>") != NULL);
    CU_ASSERT(strstr(svg, ">min</text>") != NULL);
    av_freep(&svg);

    /* two panels: the first two with failures; C's hour of ticks is not
     * drawn, and what is drawn stays small */
    CU_ASSERT_FATAL(eval_plot_svg(path, s, nb, 0.5, 2, NULL) == 0);
    svg = read_file(path);
    CU_ASSERT_FATAL(svg != NULL);
    CU_ASSERT(xml_valid(svg));
    CU_ASSERT_EQUAL(count(svg, "class=\"name\""), 2);
    CU_ASSERT(strstr(svg, ">s2/dec<") == NULL);
    av_freep(&svg);

    /* ten hours of 1 s ticks over 896 pixels: at most four points a pixel */
    {
        static int64_t lt[36000];
        static float ls[36000];
        static signed char ll[36000];
        EvalSeries big = { "big", "big/enc", 36000, lt, ls, ll, 0, NULL, NULL };
        uint32_t seed = 5;
        for (int i = 0; i < 36000; i++) {
            lt[i] = i * S;
            ls[i] = (lcg(&seed) % 1000) / 1000.0f;
            ll[i] = 0;
        }
        CU_ASSERT_FATAL(eval_plot_svg(path, &big, 1, 0.5, 1, "noise") == 0);
    }
    svg = read_file(path);
    CU_ASSERT_FATAL(svg != NULL);
    CU_ASSERT(xml_valid(svg));
    CU_ASSERT_EQUAL(count(svg, "<polyline"), 1);
    p = strstr(svg, "points=\"");
    CU_ASSERT_FATAL(p != NULL);
    {
        int pts = 0;
        for (; *p != '/'; p++)
            pts += *p == ',';
        CU_ASSERT(pts >= 896 && pts <= 4 * 897);
        printf("\n  36000 ticks drawn with %d points", pts);
    }
    av_freep(&svg);

    /* a folder that does not exist: an error, no file */
    snprintf(tmp, sizeof(tmp), "%s/no/such.svg", dir);
    CU_ASSERT(eval_plot_svg(tmp, s, nb, 0.5, 3, NULL) == AVERROR(ENOENT));
    CU_ASSERT(unlink(path) == 0);
    CU_ASSERT(rmdir(dir) == 0);
}

/* ---- the size the trainer needs ------------------------------------------ */

static void test_scale(void)
{
    /* a million ticks over 5,000 series; under valgrind a twentieth */
    int ns = RUNNING_ON_VALGRIND ? 250 : 5000, per = 200, n = ns * per;
    int64_t *t = av_malloc_array(n, sizeof(*t)), *f = av_malloc_array(ns, sizeof(*f));
    float *sc = av_malloc_array(n, sizeof(*sc));
    signed char *lb = av_malloc_array(n, sizeof(*lb));
    EvalSeries *s = av_calloc(ns, sizeof(*s));
    char (*names)[16] = av_malloc_array(ns, sizeof(*names));
    uint32_t seed = 11;
    EvalResult r, r2;
    int64_t t0, t1, t2;
    double thr;
    int ret;

    CU_ASSERT_FATAL(t && f && sc && lb && s && names);
    for (int k = 0; k < ns; k++) {
        /* 1 s ticks; every third series fails at 150 s, its score rising
         * over the 10 s before */
        snprintf(names[k], sizeof(names[k]), "st%d", k / 5);
        f[k] = 150 * S;
        for (int i = 0; i < per; i++) {
            int j = k * per + i;
            t[j] = i * S;
            sc[j] = (lcg(&seed) % 100000) / 1e5f * 0.6f;
            if (k % 3 == 0 && i >= 140 && i < 150)
                sc[j] += 0.4f;
            lb[j] = k % 3 == 0 && i >= 140 && i < 150 ? 1 : i >= 190 ? -1 : 0;
        }
        s[k] = (EvalSeries){ names[k], names[k], per, t + k * per, sc + k * per, lb + k * per,
                             k % 3 == 0, f + k, NULL };
    }
    t0 = av_gettime_relative();
    ret = eval_run(s, ns, 0.7, 0.5, 10 * S, &r);
    t1 = av_gettime_relative();
    CU_ASSERT_FATAL(ret == 0);
    CU_ASSERT_EQUAL(r.positives + r.negatives, (int64_t)ns * 190);
    CU_ASSERT_EQUAL(r.failures, (ns + 2) / 3);
    CU_ASSERT(r.roc_auc > 0.8 && r.roc_auc < 1);
    CU_ASSERT(r.caught > r.failures * 9 / 10);
    CU_ASSERT_DOUBLE_EQUAL(r.stream_hours, ns / 5 * 199 / 3600.0, 1e-9);
    ret = eval_choose_threshold(s, ns, 10 * S, 10, 0.7, &thr, &r2);
    t2 = av_gettime_relative();
    CU_ASSERT(ret == 0);
    CU_ASSERT(thr > 0.6 && r2.caught > r2.failures * 9 / 10);
    printf("\n  %d ticks, %d series: eval_run %.3f s, eval_choose_threshold %.3f s "
           "(threshold %.4g, caught %d/%d, %.3g false alarms/h)%s",
           n, ns, (t1 - t0) / 1e6, (t2 - t1) / 1e6, thr, r2.caught, r2.failures,
           r2.false_alarms_per_hour, RUNNING_ON_VALGRIND ? " under valgrind" : "");
    if (!RUNNING_ON_VALGRIND)
        CU_ASSERT(t1 - t0 < 1000000);
    av_free(t);
    av_free(f);
    av_free(sc);
    av_free(lb);
    av_free(s);
    av_free(names);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("evaluate", NULL, NULL);
    CU_add_test(s, "areas: hand-computed", test_areas_hand);
    CU_add_test(s, "areas: unknown labels and unscored ticks skipped", test_areas_skip);
    CU_add_test(s, "areas: against the quadratic definitions", test_areas_reference);
    CU_add_test(s, "events: one series by hand", test_events_hand);
    CU_add_test(s, "events: streams, components, totals", test_events_series);
    CU_add_test(s, "events: lead time buckets", test_lead_buckets);
    CU_add_test(s, "invalid arguments", test_invalid);
    CU_add_test(s, "threshold within a false-alarm budget", test_choose_threshold);
    CU_add_test(s, "threshold among many scores", test_choose_many);
    CU_add_test(s, "kinds of failure from a schedule", test_fault_classes);
    CU_add_test(s, "events: onsets whose future is unknown", test_unjudged);
    CU_add_test(s, "confirm: ticks in a row above the threshold", test_confirm);
    CU_add_test(s, "report: table", test_report_table);
    CU_add_test(s, "report: JSON", test_report_json);
    CU_add_test(s, "plot: SVG", test_plot);
    CU_add_test(s, "a million ticks over 5,000 series", test_scale);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    {
        int failures = CU_get_number_of_failures();
        CU_cleanup_registry();
        return failures;
    }
}
