/*
 * lstm_bench.c: how fast one LSTM tick is (src/pfm/lstm.c), on one core, on
 * each SIMD path this CPU can run (lstm.h: baseline, avx2), or on the one
 * HOTSPARE_SIMD names.
 *
 *   lstm_bench [COMPONENTS [RUNS]]      (defaults 10000 and 31)
 *
 * Per path, three cases: one component stepped over and over (the latency
 * of a step, weights and state hot in L1); COMPONENTS components stepped
 * once each per tick with lstm_step, one by one; the same tick with
 * lstm_step_batch (what the predictor calls). Each case runs RUNS times,
 * timed in the thread's CPU time; the table gives the best and the median
 * run, since the machine may be shared and a busy neighbour only ever slows
 * a run down.
 *
 * Flops per step: the gate product 2*4H*(F+H) plus the heads 2*H*(1+F);
 * the nonlinearities (5H exponentials and divisions) are not counted.
 *
 * Peak of a path, per core: clock x lanes x flops per lane per cycle.
 *   baseline, SSE2 (4 lanes, no FMA): AMD Zen has two multiply and two add
 *     pipes, 4 flops per lane per cycle; Intel has two ports that do either,
 *     2 per lane per cycle;
 *   avx2 (8 lanes): two FMA units, 2 x 2 = 4 flops per lane per cycle (Zen's
 *     two extra add pipes are not counted: FMA code does not use them).
 * The clock is the larger of /proc/cpuinfo's "cpu MHz" (in a VM, often the
 * nominal one) and the one measured with a loop of independent FMAs (or
 * multiplies and adds without AVX2), best of several runs: a clock boosted
 * above the nominal one must not flatter the percentages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/mem.h>

#include "pfm/lstm.h"

#define FLOPS_PER_STEP (2.0 * LSTM_G * (LSTM_F + LSTM_H) + 2.0 * LSTM_H * (1 + LSTM_F))
#define MAX_RUNS 31

/* The thread's CPU time: on a machine shared with other work, the time this
 * thread spends descheduled does not count (what still slows it, a
 * neighbour on the same core or in its caches, the best of several runs
 * leaves out). */
static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* the value of "field : value" of the first CPU in /proc/cpuinfo into buf,
 * or "" */
static const char *cpuinfo(const char *field, char *buf, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    size_t n = strlen(field);

    buf[0] = 0;
    while (f && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!colon || strncmp(line, field, n) || (line[n] != ' ' && line[n] != '\t' && line[n] != ':'))
            continue;
        snprintf(buf, size, "%s", colon + 1 + (colon[1] == ' '));
        buf[strcspn(buf, "\n")] = 0;
        break;
    }
    if (f)
        fclose(f);
    return buf;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* best (smallest) and median of n values, v sorted in place */
static void best_median(double *v, int n, double *best, double *median)
{
    qsort(v, n, sizeof(*v), cmp_double);
    *best = v[0];
    *median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- peak loops: independent chains, enough to cover the latency ------------ */

typedef float v4sf __attribute__((vector_size(16)));

/* 6 multiply and 6 add chains of 4 lanes, as the baseline compiles them
 * (with the two constants, 14 of SSE2's 16 registers: no spill) */
static double peak_baseline(long iters)
{
    v4sf a[6], s[6], m = { 0.9999999f, 0.9999999f, 0.9999999f, 0.9999999f },
         d = { 1e-7f, 1e-7f, 1e-7f, 1e-7f }, sum = { 0 };
    double t0, t1;

#pragma GCC unroll 6
    for (int i = 0; i < 6; i++)
        a[i] = s[i] = (v4sf){ 1.0f + i, 1, 1, 1 };
    t0 = now();
    for (long n = 0; n < iters; n++) {
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) {
            a[i] *= m;
            s[i] += d;
        }
        __asm__ volatile("" : "+x"(m), "+x"(d));   /* keeps m, d opaque */
    }
    t1 = now();
    for (int i = 0; i < 6; i++)
        sum += a[i] + s[i];
    if (sum[0] == 12345.0f)
        fprintf(stderr, " ");
    return 12.0 * 4 * iters / (t1 - t0) / 1e9;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* 12 FMA chains of 8 lanes (with the two constants, 14 of AVX2's 16
 * registers): more than the 2 units x 4 cycles of latency need */
__attribute__((target("avx2,fma"))) static double peak_avx2(long iters)
{
    __m256 a[12], m = _mm256_set1_ps(0.9999999f), d = _mm256_set1_ps(1e-7f), sum;
    double t0, t1;

#pragma GCC unroll 12
    for (int i = 0; i < 12; i++)
        a[i] = _mm256_set1_ps(1.0f + i);
    t0 = now();
    for (long n = 0; n < iters; n++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            a[i] = _mm256_fmadd_ps(a[i], m, d);
        __asm__ volatile("" : "+x"(m), "+x"(d));
    }
    t1 = now();
    sum = a[0];
    for (int i = 1; i < 12; i++)
        sum = _mm256_add_ps(sum, a[i]);
    if (_mm256_cvtss_f32(sum) == 12345.0f)
        fprintf(stderr, " ");
    return 12.0 * 16 * iters / (t1 - t0) / 1e9;
}
#endif

/* ---- the cases ---------------------------------------------------------------- */

typedef struct Bench {
    Lstm *m;
    int ncomp;
    LstmState *st, **sp;
    float *x, *p, *fc;
} Bench;

/* ns per step of one component stepped reps times */
static double run_one(Bench *b, int reps)
{
    LstmState one;
    float p, fc[LSTM_F], sink = 0;
    double t0;

    lstm_state_reset(&one);
    for (int i = 0; i < 2000; i++)
        lstm_step(b->m, &one, b->x + (i % b->ncomp) * LSTM_F, &p, fc);
    t0 = now();
    for (int i = 0; i < reps; i++) {
        lstm_step(b->m, &one, b->x + (size_t)((i & 1023) % b->ncomp) * LSTM_F, &p, fc);
        sink += p;
    }
    if (sink == 12345.0f)
        fprintf(stderr, " ");
    return (now() - t0) / reps * 1e9;
}

/* ms per tick of every component, one by one or batched */
static double run_tick(Bench *b, int ticks, int batched)
{
    double t0;

    for (int c = 0; c < b->ncomp; c++)
        lstm_state_reset(&b->st[c]);
    t0 = now();
    for (int t = 0; t < ticks; t++) {
        if (batched) {
            lstm_step_batch(b->m, b->sp, b->x, b->ncomp, b->p, b->fc);
        } else {
            for (int c = 0; c < b->ncomp; c++)
                lstm_step(b->m, &b->st[c], b->x + (size_t)c * LSTM_F, &b->p[c],
                          b->fc + (size_t)c * LSTM_F);
        }
    }
    return (now() - t0) / ticks * 1e3;
}

static void print_row(const char *name, double *ns, int runs, double peak, int ncomp)
{
    double best, med;

    best_median(ns, runs, &best, &med);
    printf("%-28s %9.1f %9.1f %8.2f %8.2f %7.0f%% %7.0f%%", name, best, med,
           FLOPS_PER_STEP / best, FLOPS_PER_STEP / med,
           100 * FLOPS_PER_STEP / best / peak, 100 * FLOPS_PER_STEP / med / peak);
    if (ncomp > 0)
        printf(" %9.3f %9.3f\n", best * ncomp / 1e6, med * ncomp / 1e6);
    else
        printf(" %9s %9s\n", "-", "-");
}

/* flops per lane per cycle of a path (see the top of the file) */
static int path_per_lane(LstmSimd path, int amd)
{
    return path == LSTM_SIMD_AVX2 || amd ? 4 : 2;
}

static int path_lanes(LstmSimd path)
{
    return path == LSTM_SIMD_AVX2 ? 8 : 4;
}

/* The fastest run of the best path's peak loop so far (GFLOP/s), and how
 * many runs: sampled before every timed case, so that a clock measured
 * while a neighbour held the core does not stand for the peak. */
static double loop_best;
static int loop_runs;

static void clock_sample(void)
{
    double g;

#if defined(__x86_64__) || defined(__i386__)
    g = lstm_simd_available(LSTM_SIMD_AVX2) ? peak_avx2(2000000) : peak_baseline(2000000);
#else
    g = peak_baseline(2000000);
#endif
    loop_best = g > loop_best ? g : loop_best;
    loop_runs++;
}

/* the clock in MHz that loop_best implies */
static double loop_mhz(int amd)
{
    LstmSimd path = lstm_simd_available(LSTM_SIMD_AVX2) ? LSTM_SIMD_AVX2 : LSTM_SIMD_BASELINE;

    return loop_best * 1e3 / (path_lanes(path) * path_per_lane(path, amd));
}

/* one path's timings: ns per step of each case, runs of each */
typedef struct PathRes {
    LstmSimd path;
    double one[MAX_RUNS], byone[MAX_RUNS], batch[MAX_RUNS];
} PathRes;

static int measure_path(Bench *b, LstmSimd path, int runs, PathRes *res)
{
    int ticks = b->ncomp >= 1000 ? 2 : 20, reps = 50000;

    if (lstm_simd_set(path) < 0)
        return -1;
    res->path = path;
    for (int r = 0; r < runs; r++) {
        clock_sample();
        res->one[r] = run_one(b, reps);
        clock_sample();
        res->byone[r] = run_tick(b, ticks, 0) * 1e6 / b->ncomp;
        clock_sample();
        res->batch[r] = run_tick(b, ticks, 1) * 1e6 / b->ncomp;
    }
    return 0;
}

static void print_path(PathRes *res, int runs, int ncomp, double mhz, int amd)
{
    LstmSimd path = res->path;
    int lanes = path_lanes(path), per_lane = path_per_lane(path, amd);
    double peak = mhz * 1e-3 * lanes * per_lane;
    char label[64];

    printf("\npath %s%s: peak %.1f GFLOP/s = %.0f MHz x %d lanes x %d flops/lane/cycle (%s)\n",
           lstm_simd_name(path), path == LSTM_SIMD_AVX2 ? " (AVX2+FMA)" : " (portable C, as compiled)",
           peak, mhz, lanes, per_lane,
           path == LSTM_SIMD_AVX2 ? "2 FMA units" : amd ? "2 mul + 2 add pipes" : "2 mul-or-add ports");
    printf("%-28s %9s %9s %8s %8s %8s %8s %9s %9s\n", "case", "ns/step", "", "GFLOP/s", "",
           "% peak", "", "ms/tick", "");
    printf("%-28s %9s %9s %8s %8s %8s %8s %9s %9s\n", "", "best", "median", "best", "median",
           "best", "median", "best", "median");
    print_row("one component, step", res->one, runs, peak, 0);
    snprintf(label, sizeof(label), "%d, one by one", ncomp);
    print_row(label, res->byone, runs, peak, ncomp);
    snprintf(label, sizeof(label), "%d, batched", ncomp);
    print_row(label, res->batch, runs, peak, ncomp);
}

int main(int argc, char **argv)
{
    Bench b = { 0 };
    int runs = argc > 2 ? atoi(argv[2]) : 31, amd;
    const char *env = getenv("HOTSPARE_SIMD");
    char buf[256];
    static PathRes res[LSTM_SIMD_NB];
    int nres = 0;
    LstmSimd first = lstm_simd();
    double mhz;

    b.ncomp = argc > 1 ? atoi(argv[1]) : 10000;
    if (b.ncomp < 1 || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: lstm_bench [COMPONENTS [RUNS (1..%d)]]\n", MAX_RUNS);
        return 1;
    }
    if (lstm_alloc(&b.m, 1) < 0)
        return 1;
    b.st = av_calloc(b.ncomp, sizeof(*b.st));
    b.sp = av_calloc(b.ncomp, sizeof(*b.sp));
    b.x = av_calloc((size_t)b.ncomp * LSTM_F, sizeof(float));
    b.fc = av_calloc((size_t)b.ncomp * LSTM_F, sizeof(float));
    b.p = av_calloc(b.ncomp, sizeof(float));
    if (!b.st || !b.sp || !b.x || !b.fc || !b.p)
        return 1;
    for (int c = 0; c < b.ncomp; c++)
        b.sp[c] = &b.st[c];
    for (size_t i = 0; i < (size_t)b.ncomp * LSTM_F; i++)
        b.x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;

    mhz = atof(cpuinfo("cpu MHz", buf, sizeof(buf)));
    amd = !strcmp(cpuinfo("vendor_id", buf, sizeof(buf)), "AuthenticAMD");
    for (int r = 0; r < runs; r++)
        clock_sample();
    for (int p = 0; p < LSTM_SIMD_NB; p++)
        if ((env && *env ? p == (int)first : lstm_simd_available(p)) &&
            measure_path(&b, p, runs, &res[nres]) == 0)
            nres++;
    printf("LSTM step, F=%d H=%d layers=%d, %.0f flops/step, one core; %s; %d runs of each case "
           "in thread CPU time (best and median: the machine may be shared)\n", LSTM_F, LSTM_H,
           LSTM_LAYERS, FLOPS_PER_STEP, cpuinfo("model name", buf, sizeof(buf)), runs);
    printf("path chosen at start-up: %s%s\n", lstm_simd_name(first), env && *env ? " (HOTSPARE_SIMD)" : "");
    printf("clock: %.0f MHz in /proc/cpuinfo; %.0f MHz measured (a loop of independent %s: "
           "%.1f GFLOP/s, the best of %d runs taken before every timed case, / %d flops per cycle); "
           "the peaks use the larger\n",
           mhz, loop_mhz(amd), lstm_simd_available(LSTM_SIMD_AVX2) ? "FMAs" : "multiplies and adds",
           loop_best, loop_runs, lstm_simd_available(LSTM_SIMD_AVX2) ? 32 : 4 * path_per_lane(0, amd));
    if (loop_mhz(amd) > mhz)
        mhz = loop_mhz(amd);
    for (int i = 0; i < nres; i++)
        print_path(&res[i], runs, b.ncomp, mhz, amd);
    lstm_free(&b.m);
    av_free(b.st);
    av_free(b.sp);
    av_free(b.x);
    av_free(b.fc);
    av_free(b.p);
    return 0;
}
