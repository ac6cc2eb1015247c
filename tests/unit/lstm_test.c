/*
 * lstm_test.c: the LSTM (src/lstm.c, included so that statics are reachable).
 *
 *   - the vectorisable exp against libm;
 *   - gradient check: the double twin's analytic gradient against central
 *     finite differences for every parameter, reported per group (each
 *     gate's input and recurrent weights and biases, both heads);
 *   - the float training path's gradient against the double one;
 *   - reference vectors: tests/data/lstm/ref_step.txt, written once from a
 *     seeded model (HS_WRITE_REF=1 tests/unit/lstm_test rewrites it);
 *   - training on tests/data/lstm/trace.csv learns, bit for bit the same twice;
 *   - the SIMD paths (lstm.h): each against the baseline within
 *     LSTM_SIMD_BOUND, the batched step against the single one bit for bit
 *     on each path, and how a path is chosen (HOTSPARE_SIMD).
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

#include "pfm/lstm.c"

#define REF_PATH   "tests/data/lstm/ref_step.txt"
#define TRACE_PATH "tests/data/lstm/trace.csv"
#define REF_STEPS  24
#define REF_SEED   42

static void test_exp(void)
{
    double worst = 0;

    for (float x = -87.0f; x <= 87.0f; x += 0.0137f) {
        double e = exp((double)x), rel = fabs(exp_approx(x) - e) / e;
        if (rel > worst)
            worst = rel;
    }
    printf("\n  exp_approx: worst relative error %.3g on [-87, 87]", worst);
    CU_ASSERT(worst < 5e-7);
    /* saturation instead of inf or NaN */
    CU_ASSERT(isfinite(exp_approx(1e30f)) && exp_approx(1e30f) > 1e37f);
    CU_ASSERT(exp_approx(-1e30f) >= 0 && exp_approx(-1e30f) < 1e-37f);
    {
        float v[4] = { -1e30f, 0.0f, 1e30f, 3.0f };
        sigmoid_n_f(v, 4);
        CU_ASSERT(v[0] >= 0 && v[0] < 1e-30f);
        CU_ASSERT(v[1] == 0.5f);
        CU_ASSERT(v[2] == 1.0f);
        CU_ASSERT(fabsf(v[3] - (float)(1 / (1 + exp(-3.0)))) < 1e-7f);
    }
}

#ifdef LSTM_HAVE_AVX2
/* exp8 on the lanes of v (n a multiple of 8), sigmoid8 into sg, tanh8 into th */
AVX2_FN static void avx2_acts(const float *v, int n, float *ex, float *sg, float *th)
{
    for (int i = 0; i < n; i += 8) {
        __m256 x = _mm256_loadu_ps(v + i);
        _mm256_storeu_ps(ex + i, exp8(x));
        _mm256_storeu_ps(sg + i, sigmoid8(x));
        _mm256_storeu_ps(th + i, tanh8(x));
    }
}
#endif

/* The AVX2 path's activations against libm: exp8 within 6e-7 relative on
 * [-10, 10] (lstm.c), sigmoid and tanh within 5e-7 absolute everywhere (tanh
 * as 1 - 2/(e^2x + 1) loses a few ulp of 1 near 0),
 * saturated and finite far out and for NaN. */
static void test_exp_avx2(void)
{
#ifdef LSTM_HAVE_AVX2
    enum { N = 8 * 2048 };
    static float v[N], ex[N], sg[N], th[N];
    double wex = 0, wsg = 0, wth = 0;

    if (!lstm_simd_available(LSTM_SIMD_AVX2)) {
        printf("\n  avx2 not available on this CPU: not checked");
        return;
    }
    for (int i = 0; i < N - 8; i++)
        v[i] = -20.0f + 40.0f * i / (N - 8);
    v[N - 8] = -1e30f;
    v[N - 7] = 1e30f;
    v[N - 6] = NAN;
    v[N - 5] = 0.0f;
    v[N - 4] = -87.5f;
    v[N - 3] = 87.5f;
    v[N - 2] = -100.0f;
    v[N - 1] = 100.0f;
    avx2_acts(v, N, ex, sg, th);
    for (int i = 0; i < N - 8; i++) {
        double x = v[i];
        if (fabs(x) <= 10)
            wex = fmax(wex, fabs(ex[i] - exp(x)) / exp(x));
        wsg = fmax(wsg, fabs(sg[i] - 1 / (1 + exp(-x))));
        wth = fmax(wth, fabs(th[i] - tanh(x)));
    }
    printf("\n  avx2: exp8 worst relative error %.2e on [-10, 10]; sigmoid %.2e, tanh %.2e "
           "absolute on [-20, 20]", wex, wsg, wth);
    CU_ASSERT(wex < 6e-7);
    CU_ASSERT(wsg < 5e-7 && wth < 5e-7);
    for (int i = N - 8; i < N; i++) {
        CU_ASSERT(isfinite(ex[i]) && isfinite(sg[i]) && isfinite(th[i]));
        CU_ASSERT(sg[i] >= 0 && sg[i] <= 1 && th[i] >= -1 && th[i] <= 1);
    }
    /* saturated, to within the reciprocal's last bits (it is an estimate
     * refined once: 1/2 comes out 1 ulp off, so tanh(0) is 6e-8, not 0) */
    CU_ASSERT(sg[N - 8] < 1e-30f && sg[N - 7] >= 1.0f - 2e-7f);
    CU_ASSERT(th[N - 8] <= -1.0f + 2e-7f && th[N - 7] >= 1.0f - 2e-7f);
    CU_ASSERT(fabsf(sg[N - 5] - 0.5f) < 1e-7f && fabsf(th[N - 5]) < 1e-7f && ex[N - 5] == 1.0f);
#else
    printf("\n  no AVX2 path in this build");
#endif
}

/* deterministic test inputs */
static double test_value(int t, int k)
{
    return 0.8 * sin(0.7 * t + 1.3 * k) + 0.3 * cos(0.11 * t * k);
}

static void set_hyper(LstmHyper *hp)
{
    lstm_hyper_default(hp);
    hp->pos_weight = 3.0f;
    hp->w_fail = 0.7f;
    hp->w_fc = 1.3f;
    for (int k = 0; k < LSTM_F; k++)
        hp->fc_mask[k] = k % 5 == 4 ? 0.0f : 1.0f + 0.1f * k;
}

/* parameter groups for the report: each gate's slice of wx, wh, b; heads */
static const char *group_of(int i, char *buf, int size)
{
    static const char gates[] = "ifgo";
    const int nx = LSTM_F * LSTM_G, nh = LSTM_H * LSTM_G;

    if (i < nx) {
        snprintf(buf, size, "wx_%c", gates[(i % LSTM_G) / LSTM_H]);
    } else if ((i -= nx) < nh) {
        snprintf(buf, size, "wh_%c", gates[(i % LSTM_G) / LSTM_H]);
    } else if ((i -= nh) < LSTM_G) {
        snprintf(buf, size, "b_%c", gates[i / LSTM_H]);
    } else if ((i -= LSTM_G) < LSTM_H) {
        snprintf(buf, size, "wp");
    } else if ((i -= LSTM_H) < 1) {
        snprintf(buf, size, "bp");
    } else if ((i -= 1) < LSTM_H * LSTM_F) {
        snprintf(buf, size, "wf");
    } else {
        snprintf(buf, size, "bf");
    }
    return buf;
}

#define GC_T 7
#define NB_GROUPS 16

static void test_gradient_check(void)
{
    static double params[LSTM_NUM_PARAMS], grad[LSTM_NUM_PARAMS], scratch[LSTM_NUM_PARAMS];
    static const char *names[NB_GROUPS] = {
        "wx_i", "wx_f", "wx_g", "wx_o", "wh_i", "wh_f", "wh_g", "wh_o",
        "b_i", "b_f", "b_g", "b_o", "wp", "bp", "wf", "bf",
    };
    double x[(GC_T + 1) * LSTM_F], label[GC_T] = { 0, 1, -1, 1, 0, 0, 1 };
    double worst[NB_GROUPS] = { 0 }, wa[NB_GROUPS] = { 0 }, wn[NB_GROUPS] = { 0 };
    int wi[NB_GROUPS], seen[NB_GROUPS] = { 0 };
    LstmHyper hp;
    Lstm *m = NULL;
    const double eps = 1e-5;

    CU_ASSERT_FATAL(lstm_alloc(&m, 7) == 0);
    /* larger weights than the initialisation, so that the gates are not all
     * near their linear range and every term of backward matters */
    for (int i = 0; i < LSTM_NUM_PARAMS; i++)
        params[i] = 2.5 * lstm_params(m)[i] + 0.05 * sin(i);
    lstm_free(&m);
    for (int t = 0; t <= GC_T; t++)
        for (int k = 0; k < LSTM_F; k++)
            x[t * LSTM_F + k] = 1.5 * test_value(t, k);
    set_hyper(&hp);

    lstm_loss_grad_double(params, &hp, x, label, GC_T, grad);
    for (int i = 0; i < LSTM_NUM_PARAMS; i++) {
        double save = params[i], lp, lm, num, rel;
        char g[16];
        int k;

        params[i] = save + eps;
        lp = lstm_loss_grad_double(params, &hp, x, label, GC_T, scratch);
        params[i] = save - eps;
        lm = lstm_loss_grad_double(params, &hp, x, label, GC_T, scratch);
        params[i] = save;
        num = (lp - lm) / (2 * eps);
        /* relative error, its denominator floored at 1e-6: a gradient that
         * small is compared with an absolute error of 1e-10 instead */
        rel = fabs(grad[i] - num) / fmax(fmax(fabs(grad[i]), fabs(num)), 1e-6);
        group_of(i, g, sizeof(g));
        for (k = 0; k < NB_GROUPS; k++)
            if (!strcmp(g, names[k]))
                break;
        CU_ASSERT_FATAL(k < NB_GROUPS);
        seen[k]++;
        if (rel >= worst[k]) {
            worst[k] = rel;
            wi[k] = i;
            wa[k] = grad[i];
            wn[k] = num;
        }
    }
    for (int k = 0; k < NB_GROUPS; k++) {
        printf("\n  %-5s %4d params, worst relative error %.2e (param %d: analytic %.9g, numeric %.9g)%s",
               names[k], seen[k], worst[k], wi[k], wa[k], wn[k],
               worst[k] < 1e-4 ? "" : "   <-- FAILS");
        CU_ASSERT(seen[k] > 0);
        CU_ASSERT(worst[k] < 1e-4);
    }
}

/* The float path (the one that trains) against the double one. */
static void test_float_grad(void)
{
    static double pd[LSTM_NUM_PARAMS], gd[LSTM_NUM_PARAMS];
    float x[(GC_T + 1) * LSTM_F], label[GC_T] = { 0, 1, -1, 1, 0, 0, 1 };
    double xd[(GC_T + 1) * LSTM_F], ld[GC_T], num = 0, den = 0, lossd;
    LstmHyper hp;
    LstmLoss loss;
    Lstm *m = NULL;

    CU_ASSERT_FATAL(lstm_alloc(&m, 11) == 0);
    set_hyper(&hp);
    for (int i = 0; i < (GC_T + 1) * LSTM_F; i++)
        xd[i] = x[i] = (float)test_value(i / LSTM_F, i % LSTM_F);
    for (int t = 0; t < GC_T; t++)
        ld[t] = label[t];
    for (int i = 0; i < LSTM_NUM_PARAMS; i++)
        pd[i] = lstm_params(m)[i];
    lossd = lstm_loss_grad_double(pd, &hp, xd, ld, GC_T, gd);
    CU_ASSERT_FATAL(run_batch(m, &hp, x, label, NULL, 1, GC_T, 1, &loss) == 0);
    for (int i = 0; i < LSTM_NUM_PARAMS; i++) {
        num += (m->g.wx[i] - gd[i]) * (m->g.wx[i] - gd[i]);
        den += gd[i] * gd[i];
    }
    printf("\n  float vs double: loss %.9g vs %.9g, gradient relative L2 error %.2e",
           loss.total, lossd, sqrt(num / den));
    CU_ASSERT(fabs(loss.total - lossd) < 1e-5 * fabs(lossd));
    CU_ASSERT(sqrt(num / den) < 1e-5);
    lstm_free(&m);
    CU_ASSERT_PTR_NULL(m);
    lstm_free(&m);
}

/* Runs the seeded model's step over the test inputs. */
static void ref_outputs(float out[REF_STEPS][1 + LSTM_F])
{
    Lstm *m = NULL;
    LstmState s;

    CU_ASSERT_FATAL(lstm_alloc(&m, REF_SEED) == 0);
    lstm_state_reset(&s);
    for (int t = 0; t < REF_STEPS; t++) {
        float x[LSTM_F];
        for (int k = 0; k < LSTM_F; k++)
            x[k] = (float)(2.0 * test_value(t, k));
        lstm_step(m, &s, x, &out[t][0], &out[t][1]);
    }
    lstm_free(&m);
}

static void test_reference(void)
{
    float out[REF_STEPS][1 + LSTM_F];
    double worst = 0;
    FILE *f;
    int n = 0;

    /* the file is written by the baseline; every path is checked against it */
    CU_ASSERT_FATAL(lstm_simd_set(LSTM_SIMD_BASELINE) == 0);
    ref_outputs(out);
    if (getenv("HS_WRITE_REF")) {
        f = fopen(REF_PATH, "w");
        CU_ASSERT_FATAL(f != NULL);
        fprintf(f, "# lstm_step outputs of the model seeded %d (F=%d H=%d) on the inputs\n"
                "# 2*(0.8 sin(0.7t+1.3k) + 0.3 cos(0.11tk)); per step: p_fail forecast[F]\n",
                REF_SEED, LSTM_F, LSTM_H);
        for (int t = 0; t < REF_STEPS; t++)
            for (int k = 0; k <= LSTM_F; k++)
                fprintf(f, "%.9g%c", out[t][k], k == LSTM_F ? '\n' : ' ');
        fclose(f);
    }
    f = fopen(REF_PATH, "r");
    CU_ASSERT_FATAL(f != NULL);
    {
        char line[4096];
        int t = 0;
        while (fgets(line, sizeof(line), f)) {
            char *p = line, *end;
            if (line[0] == '#')
                continue;
            CU_ASSERT_FATAL(t < REF_STEPS);
            for (int k = 0; k <= LSTM_F; k++) {
                double v = strtod(p, &end);
                CU_ASSERT_FATAL(end != p);
                p = end;
                worst = fmax(worst, fabs(v - out[t][k]));
                n++;
            }
            t++;
        }
        CU_ASSERT(t == REF_STEPS);
    }
    fclose(f);
    printf("\n  %d reference values, worst difference %.2e (baseline)", n, worst);
    /* the stored values have 9 digits; a different compiler may contract
     * a * b + c into one FMA, which moves the last bits: 1e-5 covers it */
    CU_ASSERT(worst < 1e-5);

    /* the other paths against the file, within the stated bound */
    for (int p = 0; p < LSTM_SIMD_NB; p++) {
        double w = 0;
        float o2[REF_STEPS][1 + LSTM_F];
        if (p == LSTM_SIMD_BASELINE || lstm_simd_set(p) < 0)
            continue;
        ref_outputs(o2);
        for (int t = 0; t < REF_STEPS; t++)
            for (int k = 0; k <= LSTM_F; k++)
                w = fmax(w, fabs(o2[t][k] - out[t][k]));
        printf("\n  %s against the baseline: worst difference %.2e", lstm_simd_name(p), w);
        CU_ASSERT(w < LSTM_SIMD_BOUND);
    }
    lstm_simd_set(simd_best());
}

/* The step agrees with the training forward (the same cell). */
static void test_step_vs_forward(void)
{
    float x[(REF_STEPS + 1) * LSTM_F], out[REF_STEPS][1 + LSTM_F];
    double worst = 0;
    Lstm *m = NULL;
    LstmSimd path = lstm_simd();

    /* the training forward is the baseline's code: the same cell, so the
     * same bits but for the failure head's expf; other paths are compared
     * with the baseline by test_simd_bound */
    CU_ASSERT_FATAL(lstm_simd_set(LSTM_SIMD_BASELINE) == 0);
    ref_outputs(out);
    lstm_simd_set(path);
    CU_ASSERT_FATAL(lstm_alloc(&m, REF_SEED) == 0);
    for (int i = 0; i < (REF_STEPS + 1) * LSTM_F; i++)
        x[i] = (float)(2.0 * test_value(i / LSTM_F, i % LSTM_F));
    {
        LstmHyper hp;
        double lf, lc;
        lstm_hyper_default(&hp);
        seq_forward_f(&m->p, &hp, x, NULL, NULL, NULL, REF_STEPS, m->acts, &lf, &lc);
    }
    for (int t = 0; t < REF_STEPS; t++) {
        worst = fmax(worst, fabs(1 / (1 + exp(-m->acts->logit[t])) - out[t][0]));
        for (int k = 0; k < LSTM_F; k++)
            worst = fmax(worst, fabs(m->acts->yhat[t][k] - out[t][1 + k]));
    }
    CU_ASSERT(worst < 1e-6);
    lstm_free(&m);
}

/* ---- SIMD paths ---------------------------------------------------------------- */

/* A model scaled by gain (2.5: gates far from their linear range) or not. */
static Lstm *simd_model(uint64_t seed, float gain)
{
    Lstm *m = NULL;

    CU_ASSERT_FATAL(lstm_alloc(&m, seed) == 0);
    for (int i = 0; i < LSTM_NUM_PARAMS; i++)
        lstm_params(m)[i] = gain * lstm_params(m)[i] + 0.05f * (gain - 1) * sinf((float)i);
    return m;
}

/* Steps of m on path over the test inputs (in [-2, 2]); outputs per step:
 * p_fail, forecast (F), h (H), c (H). */
#define SIMD_OUT (1 + LSTM_F + 2 * LSTM_H)
static void simd_run(const Lstm *m, LstmSimd path, int steps, float (*out)[SIMD_OUT])
{
    LstmState s;

    CU_ASSERT_FATAL(lstm_simd_set(path) == 0);
    lstm_state_reset(&s);
    for (int t = 0; t < steps; t++) {
        float x[LSTM_F];
        for (int k = 0; k < LSTM_F; k++)
            x[k] = (float)(2.0 * test_value(t, k));
        lstm_step(m, &s, x, &out[t][0], &out[t][1]);
        memcpy(&out[t][1 + LSTM_F], s.h, sizeof(s.h));
        memcpy(&out[t][1 + LSTM_F + LSTM_H], s.c, sizeof(s.c));
    }
}

/* Each path against the baseline over LSTM_SIMD_BOUND_STEPS steps: every
 * output and the state within LSTM_SIMD_BOUND x max(1, |value|) (lstm.h
 * argues why). */
static void test_simd_bound(void)
{
    static float base[LSTM_SIMD_BOUND_STEPS][SIMD_OUT], other[LSTM_SIMD_BOUND_STEPS][SIMD_OUT];
    static const float gains[] = { 1.0f, 2.5f };
    int compared = 0;

    for (int p = 0; p < LSTM_SIMD_NB; p++) {
        if (p == LSTM_SIMD_BASELINE)
            continue;
        if (!lstm_simd_available(p)) {
            printf("\n  %s: not available on this CPU or build, not compared", lstm_simd_name(p));
            continue;
        }
        for (size_t g = 0; g < sizeof(gains) / sizeof(gains[0]); g++) {
            Lstm *m = simd_model(REF_SEED + g, gains[g]);
            double worst[4] = { 0 }, w;
            int exact = 0, tw = 0;

            simd_run(m, LSTM_SIMD_BASELINE, LSTM_SIMD_BOUND_STEPS, base);
            simd_run(m, p, LSTM_SIMD_BOUND_STEPS, other);
            for (int t = 0; t < LSTM_SIMD_BOUND_STEPS; t++)
                for (int k = 0; k < SIMD_OUT; k++) {
                    int part = k == 0 ? 0 : k <= LSTM_F ? 1 : k <= LSTM_F + LSTM_H ? 2 : 3;
                    /* relative where |value| > 1: c is not bounded */
                    double d = fabs(other[t][k] - base[t][k]) / fmax(1.0, fabs(base[t][k]));
                    exact += other[t][k] == base[t][k];
                    if (d > worst[part])
                        tw = t;
                    worst[part] = fmax(worst[part], d);
                }
            w = fmax(fmax(worst[0], worst[1]), fmax(worst[2], worst[3]));
            printf("\n  %s vs baseline, weights x%.1f, %d steps: worst difference p_fail %.2e, "
                   "forecast %.2e, h %.2e, c %.2e (at step %d; %.0f%% of values equal)",
                   lstm_simd_name(p), gains[g], LSTM_SIMD_BOUND_STEPS, worst[0], worst[1],
                   worst[2], worst[3], tw, 100.0 * exact / (LSTM_SIMD_BOUND_STEPS * SIMD_OUT));
            CU_ASSERT(w < LSTM_SIMD_BOUND);
            /* they are different code: a path equal everywhere would mean
             * the dispatch ran the baseline twice */
            CU_ASSERT(w > 0);
            compared++;
            lstm_free(&m);
        }
    }
    printf("\n  %d comparisons", compared);
    lstm_simd_set(simd_best());
}

/* On each path, lstm_step_batch gives lstm_step's bits, for batch sizes
 * around the tile's, with either output absent. */
static void test_simd_batch(void)
{
    enum { N = 29 };
    static const int sizes[] = { 1, 2, 5, 6, 7, 12, 13, N };

    for (int p = 0; p < LSTM_SIMD_NB; p++) {
        Lstm *m;
        int mismatches = 0;

        if (lstm_simd_set(p) < 0)
            continue;
        m = simd_model(9, 1.5f);
        for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
            int n = sizes[z];
            for (int outs = 0; outs < 4; outs++) {
                LstmState one[N], bat[N], *ptr[N];
                float x[N][LSTM_F], p1[N], pb[N], f1[N][LSTM_F], fb[N][LSTM_F];

                /* different states and inputs per component */
                for (int c = 0; c < n; c++) {
                    for (int j = 0; j < LSTM_H; j++) {
                        one[c].h[j] = (float)(0.9 * sin(c + 0.3 * j));
                        one[c].c[j] = (float)(2.0 * cos(0.7 * c - j));
                    }
                    for (int k = 0; k < LSTM_F; k++)
                        x[c][k] = (float)(2.0 * test_value(c + 3, k));
                    bat[c] = one[c];
                    ptr[c] = &bat[c];
                }
                memset(p1, 0, sizeof(p1));
                memset(pb, 0, sizeof(pb));
                memset(f1, 0, sizeof(f1));
                memset(fb, 0, sizeof(fb));
                for (int t = 0; t < 3; t++) {
                    for (int c = 0; c < n; c++)
                        lstm_step(m, &one[c], x[c], outs & 1 ? &p1[c] : NULL,
                                  outs & 2 ? f1[c] : NULL);
                    lstm_step_batch(m, ptr, x[0], n, outs & 1 ? pb : NULL, outs & 2 ? fb[0] : NULL);
                }
                mismatches += memcmp(one, bat, n * sizeof(one[0])) != 0;
                mismatches += memcmp(p1, pb, n * sizeof(p1[0])) != 0;
                mismatches += memcmp(f1, fb, n * sizeof(f1[0])) != 0;
                /* the states did move */
                CU_ASSERT(bat[n - 1].c[0] != (float)(2.0 * cos(0.7 * (n - 1))));
            }
        }
        printf("\n  %s: batched vs one by one, %d mismatches", lstm_simd_name(p), mismatches);
        CU_ASSERT_EQUAL(mismatches, 0);
        lstm_free(&m);
    }
    lstm_simd_set(simd_best());
}

/* Names, availability and HOTSPARE_SIMD. */
static void test_simd_choice(void)
{
    LstmSimd s;
    int have_avx2 = lstm_simd_available(LSTM_SIMD_AVX2);

    CU_ASSERT(lstm_simd_available(LSTM_SIMD_BASELINE));
    CU_ASSERT_STRING_EQUAL(lstm_simd_name(LSTM_SIMD_BASELINE), "baseline");
    CU_ASSERT_STRING_EQUAL(lstm_simd_name(LSTM_SIMD_AVX2), "avx2");
    CU_ASSERT_PTR_NULL(lstm_simd_name(LSTM_SIMD_NB));
    CU_ASSERT(lstm_simd_parse("baseline", &s) == 0 && s == LSTM_SIMD_BASELINE);
    CU_ASSERT(lstm_simd_parse("avx2", &s) == 0 && s == LSTM_SIMD_AVX2);
    CU_ASSERT(lstm_simd_parse("auto", &s) == 0 && s == (have_avx2 ? LSTM_SIMD_AVX2 : LSTM_SIMD_BASELINE));
    CU_ASSERT(lstm_simd_parse("sse9", &s) == AVERROR(EINVAL));
    CU_ASSERT(lstm_simd_set(LSTM_SIMD_NB) == AVERROR(ENOSYS));
    CU_ASSERT(lstm_simd_set(LSTM_SIMD_AVX2) == (have_avx2 ? 0 : AVERROR(ENOSYS)));
    CU_ASSERT(lstm_simd_set(LSTM_SIMD_BASELINE) == 0 && lstm_simd() == LSTM_SIMD_BASELINE);

    /* what the first step reads from the environment */
    setenv("HOTSPARE_SIMD", "baseline", 1);
    CU_ASSERT(simd_from_env() == LSTM_SIMD_BASELINE);
    setenv("HOTSPARE_SIMD", "avx2", 1);
    CU_ASSERT(simd_from_env() == simd_best());
    setenv("HOTSPARE_SIMD", "no-such-path", 1);   /* a warning, then the best */
    CU_ASSERT(simd_from_env() == simd_best());
    unsetenv("HOTSPARE_SIMD");
    CU_ASSERT(simd_from_env() == simd_best());
    printf("\n  this CPU: %s; best path %s", have_avx2 ? "avx2+fma" : "no avx2+fma",
           lstm_simd_name(simd_best()));
    lstm_simd_set(simd_best());
}

/* ---- training on the committed trace ------------------------------------------ */

#define TRACE_MAX 1000
#define TR_T 32
#define TR_B 8
#define TR_STEPS 250

static float trace_x[TRACE_MAX][LSTM_F], trace_y[TRACE_MAX];
static int trace_n;

static int load_trace(void)
{
    FILE *f = fopen(TRACE_PATH, "r");
    char line[4096];

    if (!f)
        return -1;
    trace_n = 0;
    if (!fgets(line, sizeof(line), f)) {   /* header */
        fclose(f);
        return -1;
    }
    while (trace_n < TRACE_MAX && fgets(line, sizeof(line), f)) {
        char *p = line, *end;
        trace_y[trace_n] = strtof(p, &end);
        for (int k = 0; k < LSTM_F; k++) {
            p = end + 1;
            trace_x[trace_n][k] = strtof(p, &end);
            if (end == p) {
                fclose(f);
                return -1;
            }
        }
        trace_n++;
    }
    fclose(f);
    return trace_n > TR_T + 1 ? 0 : -1;
}

/* Trains a fresh model; windows start at positions drawn from the model's
 * own PRNG scheme (splitmix64, seeded), so two runs see the same batches. */
static void train_trace(uint64_t seed, Lstm **pm, double *first, double *last)
{
    static float x[TR_B][TR_T + 1][LSTM_F], y[TR_B][TR_T];
    LstmHyper hp;
    LstmLoss loss;
    uint64_t s = seed;
    double avg = 0;

    CU_ASSERT_FATAL(lstm_alloc(pm, seed) == 0);
    lstm_hyper_default(&hp);
    hp.lr = 1e-2f;
    hp.pos_weight = 4.0f;     /* 72 positive ticks of 800 */
    for (int step = 0; step < TR_STEPS; step++) {
        for (int b = 0; b < TR_B; b++) {
            int start = (int)(prng_next(&s) % (uint64_t)(trace_n - TR_T - 1));
            memcpy(x[b], trace_x[start], sizeof(x[b]));
            memcpy(y[b], trace_y + start, sizeof(y[b]));
        }
        CU_ASSERT_FATAL(lstm_train(*pm, &hp, &x[0][0][0], &y[0][0], NULL, TR_B, TR_T, &loss) == 0);
        if (step == 0)
            *first = loss.total;
        /* the mean of the last 20 steps: one batch is noisy */
        if (step >= TR_STEPS - 20)
            avg += loss.total / 20;
    }
    *last = avg;
}

static void test_training(void)
{
    Lstm *a = NULL, *b = NULL;
    double first, last, first2, last2;

    CU_ASSERT_FATAL(load_trace() == 0);
    train_trace(1234, &a, &first, &last);
    printf("\n  trace: loss %.4f -> %.4f after %d Adam steps (bound 0.25)", first, last, TR_STEPS);
    /* it starts near 1.4 (weighted BCE plus the forecast error) */
    CU_ASSERT(first > 1.0);
    CU_ASSERT(last < 0.25);

    /* bit for bit the same with the same seed */
    train_trace(1234, &b, &first2, &last2);
    CU_ASSERT(memcmp(lstm_params(a), lstm_params(b), LSTM_NUM_PARAMS * sizeof(float)) == 0);
    CU_ASSERT(first == first2 && last == last2);
    lstm_free(&b);

    /* the failure head separates the ticks before a failure from the rest */
    {
        LstmState st;
        double pos = 0, neg = 0;
        int npos = 0, nneg = 0;
        lstm_state_reset(&st);
        for (int t = 0; t < trace_n; t++) {
            float p;
            lstm_step(a, &st, trace_x[t], &p, NULL);
            if (trace_y[t] > 0) {
                pos += p;
                npos++;
            } else {
                neg += p;
                nneg++;
            }
        }
        printf("\n  mean p_fail: %.3f before failures, %.3f elsewhere", pos / npos, neg / nneg);
        CU_ASSERT(pos / npos > 0.5 && neg / nneg < 0.2);
    }
    lstm_free(&a);

    /* bad sizes are refused */
    CU_ASSERT_FATAL(lstm_alloc(&a, 1) == 0);
    {
        LstmHyper hp;
        float x[2 * LSTM_F] = { 0 };
        lstm_hyper_default(&hp);
        CU_ASSERT(lstm_train(a, &hp, x, NULL, NULL, 1, 0, NULL) == AVERROR(EINVAL));
        CU_ASSERT(lstm_train(a, &hp, x, NULL, NULL, 0, 1, NULL) == AVERROR(EINVAL));
        CU_ASSERT(lstm_train(a, &hp, x, NULL, NULL, 1, LSTM_T_MAX + 1, NULL) == AVERROR(EINVAL));
        CU_ASSERT(lstm_train(a, &hp, x, NULL, NULL, 1, 1, NULL) == 0);
    }
    lstm_free(&a);
}

/* Different seeds give different models; the same seed the same one. */
static void test_init(void)
{
    Lstm *a = NULL, *b = NULL;

    CU_ASSERT_FATAL(lstm_alloc(&a, 5) == 0 && lstm_alloc(&b, 5) == 0);
    CU_ASSERT(memcmp(lstm_params(a), lstm_params(b), LSTM_NUM_PARAMS * sizeof(float)) == 0);
    lstm_init(b, 6);
    CU_ASSERT(memcmp(lstm_params(a), lstm_params(b), LSTM_NUM_PARAMS * sizeof(float)) != 0);
    /* forget gate biases start at 1, the rest at 0 */
    CU_ASSERT(a->p.b[LSTM_H] == 1.0f && a->p.b[0] == 0.0f && a->p.b[3 * LSTM_H] == 0.0f);
    {
        int n = 0;
        for (int i = 0; i < LSTM_F * LSTM_G; i++)
            n += fabsf(a->p.wx[i]) <= 1.0f / sqrtf(LSTM_H);
        CU_ASSERT(n == LSTM_F * LSTM_G);
    }
    lstm_free(&a);
    lstm_free(&b);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("lstm", NULL, NULL);
    CU_add_test(s, "vectorisable exp", test_exp);
    CU_add_test(s, "seeded initialisation", test_init);
    CU_add_test(s, "gradient check (double, every parameter)", test_gradient_check);
    CU_add_test(s, "float gradient vs double", test_float_grad);
    CU_add_test(s, "reference vectors", test_reference);
    CU_add_test(s, "step vs training forward", test_step_vs_forward);
    CU_add_test(s, "training on a trace learns, reproducibly", test_training);
    CU_add_test(s, "SIMD paths: choice", test_simd_choice);
    CU_add_test(s, "SIMD paths: the AVX2 activations", test_exp_avx2);
    CU_add_test(s, "SIMD paths: each within the bound of the baseline", test_simd_bound);
    CU_add_test(s, "SIMD paths: batched step = single step, bit for bit", test_simd_batch);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    {
        int failures = CU_get_number_of_failures();
        CU_cleanup_registry();
        return failures;
    }
}
