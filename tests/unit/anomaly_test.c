/*
 * anomaly_test.c: the online detector (src/pfm/anomaly.c): configuration by
 * name and its limits, scores in [0,1], determinism, no look-ahead (a row's
 * score does not change when later rows do), that it finds a spike beyond
 * the range seen, and new transitions where a value is stuck for a day
 * inside the range or where the cycle's swing halves (its turns come on
 * levels it used to pass through), while staying quiet on a clean cycle,
 * and that absent (NaN) rows change nothing.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>

#include "pfm/anomaly.h"

#define N 4000
#define DAY 288            /* 5-minute rows */
#define SPIKE 1800
#define FLAT 2600          /* a day stuck inside the cycle's range */
#define SHAPE 3400         /* the cycle's swing halves */

/* a daily cycle with a little noise, from a fixed LCG; the anomalies of
 * the arguments switched on */
static void make_series(double *v, int spike, int flat, int shape)
{
    uint32_t s = 12345;

    for (int i = 0; i < N; i++) {
        double u, a = shape && i >= SHAPE ? 5.0 : 10.0;
        s = s * 1664525u + 1013904223u;
        u = (s >> 8) / 16777216.0 - 0.5;
        v[i] = 50 + a * sin(2 * M_PI * i / DAY) + 0.4 * u;
        if (spike && i == SPIKE)
            v[i] += 40;
        if (flat && i >= FLAT && i < FLAT + DAY)
            v[i] = 53;                 /* stuck */
    }
}

/* scores, and the rows' raw novelties when raw is not NULL */
static void run(const AnomalyConfig *c, const double *v, int n, double *score, double *raw)
{
    static AnomalyState st;
    AnomalyInfo info;

    anomaly_state_reset(&st);
    for (int i = 0; i < n; i++) {
        score[i] = anomaly_step(c, &st, v[i], &info);
        CU_ASSERT(info.score == score[i]);
        if (raw)
            raw[i] = info.raw;
    }
}

static int count_new(const double *raw, int from, int to)
{
    int n = 0;

    for (int i = from; i < to; i++)
        n += raw[i] > 0;
    return n;
}

static double peak(const double *s, int from, int to)
{
    double m = 0;

    for (int i = from; i < to; i++)
        m = fmax(m, s[i]);
    return m;
}

static void test_config(void)
{
    AnomalyConfig c, c2;
    char buf[1024];

    anomaly_config_default(&c);
    CU_ASSERT_EQUAL(anomaly_config_check(&c), 0);
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "levels", "24"), 0);
    CU_ASSERT_EQUAL(c.levels, 24);
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "spatial_tol", "0.02"), 0);
    CU_ASSERT(fabsf(c.spatial_tol - 0.02f) < 1e-9f);
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "nosuch", "1"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "levels", "x"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "levels", "-1"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "alarm", "nan"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "alarm", "1e-3x"), AVERROR(EINVAL));

    /* print, then set every printed field on a default config: the same */
    anomaly_config_print(&c, buf, sizeof(buf));
    CU_ASSERT(strstr(buf, "levels=24") != NULL);
    anomaly_config_default(&c2);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        CU_ASSERT_FATAL(eq != NULL);
        *eq = 0;
        CU_ASSERT(anomaly_config_set(&c2, tok, eq + 1) == 0);
    }
    CU_ASSERT(memcmp(&c, &c2, sizeof(c)) == 0);

    /* what the fixed-size state cannot hold is refused */
    c2 = c;
    c2.table_bits = ANOMALY_MAX_TABLE_BITS + 1;
    CU_ASSERT_EQUAL(anomaly_config_check(&c2), AVERROR(EINVAL));
    c2 = c;
    c2.order = ANOMALY_MAX_ORDER + 1;
    CU_ASSERT_EQUAL(anomaly_config_check(&c2), AVERROR(EINVAL));
    c2 = c;
    c2.err_short = ANOMALY_MAX_SHORT + 1;
    CU_ASSERT_EQUAL(anomaly_config_check(&c2), AVERROR(EINVAL));
    c2 = c;
    c2.min_order = c2.order + 1;
    CU_ASSERT_EQUAL(anomaly_config_check(&c2), AVERROR(EINVAL));
    /* the bound the run's per-component cost rests on (anomaly.h) */
    CU_ASSERT(sizeof(AnomalyState) <= 400);    /* 392 bytes on x86-64 */
}

static void test_detects(void)
{
    static double v[N], s[N], raw[N];
    AnomalyConfig c;
    double quiet, spike;
    int flat_new, flat_before, swing_new, swing_before;

    anomaly_config_default(&c);
    make_series(v, 0, 0, 0);
    run(&c, v, N, s, NULL);
    for (int i = 0; i < N; i++) {
        CU_ASSERT(s[i] >= 0 && s[i] <= 1);
        if (i < c.warmup)
            CU_ASSERT(s[i] == 0);
    }
    /* the clean cycle, once two days are learnt */
    quiet = peak(s, 2 * DAY, N);

    make_series(v, 1, 0, 0);
    run(&c, v, N, s, NULL);
    spike = peak(s, SPIKE, SPIKE + 2);

    /* inside the range, the novelty itself: new transitions in the
     * changed day against the day before it. A few new transitions
     * spread over a day are not an alarm once the learning days have made
     * novelty look common: NAB's corpus-wide threshold decides that */
    make_series(v, 0, 1, 0);
    run(&c, v, N, s, raw);
    flat_new = count_new(raw, FLAT, FLAT + DAY);
    flat_before = count_new(raw, FLAT - DAY, FLAT);

    make_series(v, 0, 0, 1);
    run(&c, v, N, s, raw);
    swing_new = count_new(raw, SHAPE, SHAPE + DAY);
    swing_before = count_new(raw, SHAPE - DAY, SHAPE);

    printf("\n  highest score: clean cycle %.3f, spike %.3f; rows with new transitions: "
           "stuck day %d (day before %d), smaller swing %d (day before %d)",
           quiet, spike, flat_new, flat_before, swing_new, swing_before);
    CU_ASSERT(quiet < 0.3);
    CU_ASSERT(spike >= 0.99);
    /* the held level is new at each doubling of its length */
    CU_ASSERT(flat_new >= 5);
    CU_ASSERT(flat_new >= flat_before + 4);
    CU_ASSERT(swing_new >= swing_before + 4);
}

static void test_deterministic_online(void)
{
    static double v[N], w[N], s1[N], s2[N], s3[N];
    AnomalyConfig c;

    anomaly_config_default(&c);
    make_series(v, 1, 1, 0);
    run(&c, v, N, s1, NULL);
    run(&c, v, N, s2, NULL);
    CU_ASSERT(memcmp(s1, s2, sizeof(s1)) == 0);

    /* the same first SPIKE rows, different ones after: the first SPIKE
     * scores are the same, bit for bit (no look-ahead) */
    memcpy(w, v, sizeof(w));
    for (int i = SPIKE; i < N; i++)
        w[i] = 100 - w[i];
    run(&c, w, N, s3, NULL);
    CU_ASSERT(memcmp(s1, s3, SPIKE * sizeof(double)) == 0);
    CU_ASSERT(memcmp(s1 + SPIKE, s3 + SPIKE, (N - SPIKE) * sizeof(double)) != 0);
}

static void test_flat_wild_absent(void)
{
    static double v[N], s[N];
    static AnomalyState st, copy;
    AnomalyConfig c;
    AnomalyInfo info;

    anomaly_config_default(&c);
    /* a flat line: nothing is surprising, nothing is NaN */
    for (int i = 0; i < N; i++)
        v[i] = 45;
    run(&c, v, N, s, NULL);
    for (int i = 0; i < N; i++)
        CU_ASSERT(isfinite(s[i]));
    CU_ASSERT(peak(s, 0, N) < 0.5);

    /* huge and tiny values: still finite and in range */
    anomaly_state_reset(&st);
    for (int i = 0; i < 3000; i++) {
        double x = (i % 7 == 0) ? 1e300 : (i % 5 == 0 ? -1e-300 : i);
        double sc = anomaly_step(&c, &st, x, &info);
        CU_ASSERT(sc >= 0 && sc <= 1);
        CU_ASSERT(isfinite(info.avg) && isfinite(info.likelihood) && info.score == sc);
    }

    /* an absent figure: score 0, the state untouched */
    copy = st;
    CU_ASSERT_EQUAL(anomaly_step(&c, &st, NAN, &info), 0);
    CU_ASSERT(memcmp(&copy, &st, sizeof(st)) == 0);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("anomaly", NULL, NULL);
    CU_add_test(s, "configuration by name, limits", test_config);
    CU_add_test(s, "finds a spike, a stuck day, a smaller swing; quiet elsewhere", test_detects);
    CU_add_test(s, "deterministic, online", test_deterministic_online);
    CU_add_test(s, "flat line, wild values, absent values", test_flat_wild_absent);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    {
        int failures = CU_get_number_of_failures();
        CU_cleanup_registry();
        return failures;
    }
}
