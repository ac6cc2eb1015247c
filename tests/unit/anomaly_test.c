/*
 * anomaly_test.c: the online detector (src/anomaly.c): configuration by
 * name, scores in [0,1], determinism, no look-ahead (a row's score does not
 * change when later rows do), and that it finds a spike (beyond the range
 * seen) and a change of the noise inside the range (the forecaster's errors
 * grow) in a noisy seasonal series while staying quiet elsewhere.
 */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "pfm/anomaly.h"

#define N 4000
#define SPIKE 1800
#define SHIFT 3000
#define T0 1400000000      /* 2014-05-13, 5-minute rows */

/* a daily cycle (288 rows) with noise, from a fixed LCG */
static void make_series(double *v, int spike, int shift)
{
    uint32_t s = 12345;

    for (int i = 0; i < N; i++) {
        double u;
        s = s * 1664525u + 1013904223u;
        u = (s >> 8) / 16777216.0 - 0.5;
        v[i] = 50 + 10 * sin(2 * M_PI * i / 288.0) + 2.0 * u;
        if (spike && i == SPIKE)
            v[i] += 40;
        if (shift && i >= SHIFT)       /* the noise grows fivefold */
            v[i] += 8.0 * u;
    }
}

static void run(const AnomalyConfig *c, const double *v, int n, double *score, double *lik)
{
    AnomalyDet *d = NULL;
    AnomalyInfo info;

    CU_ASSERT_FATAL(anomaly_alloc(&d, c) == 0);
    for (int i = 0; i < n; i++) {
        score[i] = anomaly_update(d, v[i], T0 + 300LL * i, &info);
        if (lik)
            lik[i] = info.likelihood;
    }
    anomaly_free(&d);
    CU_ASSERT_PTR_NULL(d);
    anomaly_free(&d);
}

static void test_config(void)
{
    AnomalyConfig c, c2;
    AnomalyDet *d = NULL;
    char buf[1024];

    anomaly_config_default(&c);
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "bptt", "24"), 0);
    CU_ASSERT_EQUAL(c.bptt, 24);
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "lr", "0.02"), 0);
    CU_ASSERT(fabsf(c.lr - 0.02f) < 1e-9f);
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "seed", "18446744073709551615"), 0);
    CU_ASSERT_EQUAL(c.seed, UINT64_MAX);
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "nosuch", "1"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "bptt", "x"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "bptt", "-1"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "lr", "nan"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(anomaly_config_set(&c, "lr", "1e-3x"), AVERROR(EINVAL));

    /* print, then set every printed field on a default config: the same */
    anomaly_config_print(&c, buf, sizeof(buf));
    CU_ASSERT(strstr(buf, "bptt=24") != NULL);
    anomaly_config_default(&c2);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        CU_ASSERT_FATAL(eq != NULL);
        *eq = 0;
        CU_ASSERT(anomaly_config_set(&c2, tok, eq + 1) == 0);
    }
    CU_ASSERT(memcmp(&c, &c2, sizeof(c)) == 0);

    c.bptt = 0;
    CU_ASSERT_EQUAL(anomaly_alloc(&d, &c), AVERROR(EINVAL));
    CU_ASSERT_PTR_NULL(d);
    c.bptt = 65;
    CU_ASSERT_EQUAL(anomaly_alloc(&d, &c), AVERROR(EINVAL));
}

static void test_detects(void)
{
    static double v[N], s[N], lik[N];
    AnomalyConfig c;
    double quiet = 0, spike = 0, spike_lik = 0;
    int noise = 0, before = 0;

    anomaly_config_default(&c);
    /* a spike beyond the range seen: the score and the forecaster's own
     * likelihood both see it */
    make_series(v, 1, 0);
    run(&c, v, N, s, lik);
    for (int i = 0; i < N; i++) {
        CU_ASSERT(s[i] >= 0 && s[i] <= 1);
        if (i < c.warmup)
            CU_ASSERT(s[i] == 0);
        if (i >= SPIKE && i < SPIKE + 3) {
            spike = fmax(spike, s[i]);
            spike_lik = fmax(spike_lik, lik[i]);
        }
        /* quiet: after two days of learning, away from the spike */
        if (i > 600 && (i < SPIKE - 5 || i > SPIKE + c.suppress))
            quiet = fmax(quiet, s[i]);
    }
    /* the noise grows fivefold, inside the range: only the forecaster's
     * errors tell, within a day */
    make_series(v, 0, 1);
    run(&c, v, N, s, lik);
    for (int i = 600; i < SHIFT + 288; i++) {
        if (lik[i] < 0.9999)
            continue;
        if (i >= SHIFT)
            noise++;
        else
            before++;
    }
    printf("\n  spike: score %.3f, likelihood %.7f; highest score elsewhere %.3f\n"
           "  likelihood >= 0.9999: %d rows in the noisier day, %d in the %d rows before",
           spike, spike_lik, quiet, noise, before, SHIFT - 600);
    CU_ASSERT(spike >= 0.99);
    CU_ASSERT(spike_lik >= 0.99999);
    CU_ASSERT(quiet < 0.6);
    /* sustained in the noisier stretch, rare before it */
    CU_ASSERT(noise >= 100);
    CU_ASSERT(before <= 20);
}

static void test_deterministic_online(void)
{
    static double v[N], w[N], s1[N], s2[N], s3[N];
    AnomalyConfig c;

    anomaly_config_default(&c);
    make_series(v, 1, 1);
    run(&c, v, N, s1, NULL);
    run(&c, v, N, s2, NULL);
    CU_ASSERT(memcmp(s1, s2, sizeof(s1)) == 0);

    /* the same first SPIKE rows, different ones after: the first SPIKE
     * scores are the same, bit for bit (no look-ahead) */
    make_series(w, 0, 0);
    for (int i = SPIKE; i < N; i++)
        w[i] = -w[i];
    run(&c, w, N, s3, NULL);
    CU_ASSERT(memcmp(s1, s3, SPIKE * sizeof(double)) == 0);
    CU_ASSERT(memcmp(s1 + SPIKE, s3 + SPIKE, (N - SPIKE) * sizeof(double)) != 0);

    /* another seed gives another model, hence other scores */
    c.seed = 2;
    run(&c, v, N, s3, NULL);
    CU_ASSERT(memcmp(s1, s3, sizeof(s1)) != 0);
}

static void test_flat_and_wild(void)
{
    static double v[N], s[N];
    AnomalyConfig c;
    AnomalyDet *d = NULL;
    AnomalyInfo info;
    double hi = 0;

    anomaly_config_default(&c);
    /* a flat line: nothing is surprising, nothing is NaN */
    for (int i = 0; i < N; i++)
        v[i] = 45;
    run(&c, v, N, s, NULL);
    for (int i = 0; i < N; i++) {
        CU_ASSERT(isfinite(s[i]));
        hi = fmax(hi, s[i]);
    }
    CU_ASSERT(hi < 0.5);
    /* huge and tiny values: still finite and in range */
    CU_ASSERT_FATAL(anomaly_alloc(&d, &c) == 0);
    for (int i = 0; i < 3000; i++) {
        double x = (i % 7 == 0) ? 1e300 : (i % 5 == 0 ? -1e-300 : i);
        double sc = anomaly_update(d, x, T0 + 60LL * i, &info);
        CU_ASSERT(sc >= 0 && sc <= 1);
        CU_ASSERT(isfinite(info.x) && isfinite(info.forecast) && info.score == sc);
    }
    anomaly_free(&d);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("anomaly", NULL, NULL);
    CU_add_test(s, "configuration by name", test_config);
    CU_add_test(s, "finds a spike and a noisier stretch, quiet elsewhere", test_detects);
    CU_add_test(s, "deterministic, online", test_deterministic_online);
    CU_add_test(s, "flat line, wild values", test_flat_and_wild);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    {
        int failures = CU_get_number_of_failures();
        CU_cleanup_registry();
        return failures;
    }
}
