/*
 * lstm_bench.c: how fast one LSTM tick is (src/lstm.c), on one core.
 *
 *   lstm_bench [COMPONENTS]      (default 10000)
 *
 * Prints a table: one component stepped over and over (latency of a step,
 * weights and state hot in L1), and COMPONENTS components stepped once each
 * per tick (the supervisor's case: one model, a state per component), with
 * GFLOP/s next to a peak estimate for this machine.
 *
 * Flops per step: the gate product 2*4H*(F+H) plus the heads 2*H*(1+F);
 * the nonlinearities (5H exponentials) are not counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/mem.h>

#include "pfm/lstm.h"

#define FLOPS_PER_STEP (2.0 * LSTM_G * (LSTM_F + LSTM_H) + 2.0 * LSTM_H * (1 + LSTM_F))

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* MHz of the first CPU, and whether a flag is listed */
static double cpu_mhz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    double mhz = 0;

    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "cpu MHz", 7) && strchr(line, ':')) {
            mhz = atof(strchr(line, ':') + 1);
            break;
        }
    if (f)
        fclose(f);
    return mhz;
}

static int cpu_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192], pat[64];
    int found = 0;

    snprintf(pat, sizeof(pat), " %s ", flag);
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "flags", 5)) {
            /* the last flag ends with a newline: make it a blank */
            for (char *p = line; *p; p++)
                if (*p == '\n')
                    *p = ' ';
            found = strstr(line, pat) != NULL;
            break;
        }
    if (f)
        fclose(f);
    return found;
}

/* whether "field : value" is in /proc/cpuinfo (first CPU) */
static int cpu_field_is(const char *field, const char *value)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    int found = 0;

    while (f && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        size_t n = strlen(field);
        if (!colon || strncmp(line, field, n) || (line[n] != ' ' && line[n] != '\t'))
            continue;
        found = !strncmp(colon + 2, value, strlen(value)) &&
                (colon[2 + strlen(value)] == '\n' || !colon[2 + strlen(value)]);
        break;
    }
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    int ncomp = argc > 1 ? atoi(argv[1]) : 10000;
    Lstm *m = NULL;
    LstmState *st, one;
    float *x, p, fc[LSTM_F], sink = 0;
    double t0, t1, step_ns, tick_ms, mhz, peak_isa, peak_machine;
    const char *isa;
    int lanes, fma, amd, zen4, per_lane, native_lanes, reps = 2000000, ticks = 50;

    if (ncomp < 1 || lstm_alloc(&m, 1) < 0)
        return 1;
    st = av_calloc(ncomp, sizeof(*st));
    x = av_calloc((size_t)ncomp * LSTM_F, sizeof(float));
    if (!st || !x)
        return 1;
    for (size_t i = 0; i < (size_t)ncomp * LSTM_F; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;

    /* one component, hot */
    lstm_state_reset(&one);
    for (int i = 0; i < 10000; i++)
        lstm_step(m, &one, x + (i % ncomp) * LSTM_F, &p, fc);
    t0 = now();
    for (int i = 0; i < reps; i++) {
        lstm_step(m, &one, x + (i & 1023) % ncomp * LSTM_F, &p, fc);
        sink += p;
    }
    t1 = now();
    step_ns = (t1 - t0) / reps * 1e9;

    /* every component once per tick */
    for (int c = 0; c < ncomp; c++)
        lstm_state_reset(&st[c]);
    t0 = now();
    for (int t = 0; t < ticks; t++)
        for (int c = 0; c < ncomp; c++) {
            lstm_step(m, &st[c], x + (size_t)c * LSTM_F, &p, fc);
            sink += p;
        }
    t1 = now();
    tick_ms = (t1 - t0) / ticks * 1e3;

    /* Peak estimate, per core: frequency x lanes x flops per lane per cycle.
     * AMD Zen has two multiply/FMA pipes and two add pipes, so code of
     * separate multiplies and adds retires 4 flops per lane per cycle, and
     * FMA code 2 x 2 = 4 as well; Intel cores since Haswell have two FMA
     * ports doing a multiply or an add each: 2 without FMA, 4 with. Zen 4
     * (family 25) runs 512-bit vectors as two 256-bit halves. The ISA this
     * binary was compiled for bounds what it can reach; the machine's flags
     * say what -march=native would allow. */
#if defined(__AVX512F__)
    isa = "avx512"; lanes = 16; fma = 1;
#elif defined(__AVX2__) && defined(__FMA__)
    isa = "avx2+fma"; lanes = 8; fma = 1;
#elif defined(__AVX__)
    isa = "avx"; lanes = 8; fma = 0;
#else
    isa = "sse2"; lanes = 4; fma = 0;
#endif
    mhz = cpu_mhz();
    amd = cpu_field_is("vendor_id", "AuthenticAMD");
    zen4 = amd && cpu_field_is("cpu family", "25");
    per_lane = amd || fma ? 4 : 2;
    peak_isa = mhz * 1e6 * (zen4 && lanes == 16 ? 8 : lanes) * per_lane / 1e9;
    native_lanes = cpu_flag("avx512f") ? (zen4 ? 8 : 16) : cpu_flag("avx2") ? 8 : 4;
    peak_machine = mhz * 1e6 * native_lanes * (amd || cpu_flag("fma") ? 4 : 2) / 1e9;

    printf("LSTM step, F=%d H=%d layers=%d, %.0f flops/step, one core\n",
           LSTM_F, LSTM_H, LSTM_LAYERS, FLOPS_PER_STEP);
    printf("%-34s %12s %10s %10s\n", "case", "time", "target", "GFLOP/s");
    printf("%-34s %9.1f ns %7s ns %10.2f\n", "one component, step", step_ns, "1000",
           FLOPS_PER_STEP / step_ns);
    printf("%-34s %9.3f ms %7s ms %10.2f\n", "all components, one tick",
           tick_ms, ncomp == 10000 ? "10" : "-", FLOPS_PER_STEP * ncomp / (tick_ms * 1e6));
    printf("peak estimate: %.0f MHz x %d lanes (%s, as compiled) x %d flops/lane/cycle (%s) = "
           "%.1f GFLOP/s, %.0f%% reached; this CPU with -march=native: %.1f GFLOP/s (%s)\n",
           mhz, zen4 && lanes == 16 ? 8 : lanes, isa, per_lane,
           amd ? "2 mul/FMA + 2 add pipes" : fma ? "2 FMA ports" : "2 ports",
           peak_isa, 100 * FLOPS_PER_STEP / step_ns / peak_isa, peak_machine,
           cpu_flag("avx512f") ? "avx512f" : cpu_flag("avx2") ? "avx2" : "sse2");
    if (ncomp != 10000)
        printf("(components per tick: %d)\n", ncomp);
    fprintf(stderr, "%s", sink == 12345.0f ? " " : "");
    lstm_free(&m);
    av_free(st);
    av_free(x);
    return 0;
}
