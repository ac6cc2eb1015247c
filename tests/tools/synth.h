/*
 * synth.h: synthetic Samples for the HDS and metrics tests, tools and
 * benchmarks: a realistic mix of components whose every value is a pure
 * function of (seed, component, tick), so that a reader can recompute what
 * a writer stored and compare exactly.
 *
 * A stream has 10 components: its input and a backup input, encoders
 * 1080p, 720p, 360p and audio plus a backup 720p encoder, outputs hls and
 * rtmp, and the origin edge. Beside the streams: the host and the GPUs.
 * Counters grow monotonically (integers, or CPU seconds as fractions);
 * gauges are measurements (fractions, integers, 0/1); rates are absent at
 * tick 0 and about 2 % of the gauges are absent at any tick.
 *
 * Header-only (static functions), included by the tools, benchmarks and
 * unit tests under tests/.
 */
#ifndef HS_TESTS_SYNTH_H
#define HS_TESTS_SYNTH_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hma/sample.h"

#define SYNTH_PER_STREAM 10
#define SYNTH_T0_US      (INT64_C(1700000000) * 1000000)   /* 2023-11-14T22:13:20Z */

typedef struct SynthComp {
    CompKind kind;
    const char *name;
    int backup;
} SynthComp;

static const SynthComp synth_stream_comps[SYNTH_PER_STREAM] = {
    { COMP_INGEST,  "input", 0 },
    { COMP_INGEST,  "input", 1 },
    { COMP_ENCODER, "1080p", 0 },
    { COMP_ENCODER, "720p",  0 },
    { COMP_ENCODER, "360p",  0 },
    { COMP_ENCODER, "audio", 0 },
    { COMP_ENCODER, "720p",  1 },
    { COMP_OUTPUT,  "hls",   0 },
    { COMP_OUTPUT,  "rtmp",  0 },
    { COMP_EDGE,    "origin-a", 0 },
};

typedef struct Synth {
    int nb_streams;
    int nb_gpus;
    uint64_t seed;
} Synth;

/* A mix of about nb_comps components: the host, up to 8 GPUs, streams. */
static inline void synth_init(Synth *sy, int nb_comps, uint64_t seed)
{
    sy->seed = seed;
    sy->nb_gpus = nb_comps >= 100 ? 8 : nb_comps >= 20 ? 1 : 0;
    sy->nb_streams = (nb_comps - 1 - sy->nb_gpus + SYNTH_PER_STREAM - 1) / SYNTH_PER_STREAM;
    if (sy->nb_streams < 1)
        sy->nb_streams = 1;
}

static inline int synth_nb_comps(const Synth *sy)
{
    return 1 + sy->nb_gpus + sy->nb_streams * SYNTH_PER_STREAM;
}

static inline uint64_t synth_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* uniform in [0, 1) */
static inline double synth_u(const Synth *sy, int comp, int64_t tick, int metric)
{
    uint64_t x = synth_mix(sy->seed ^ synth_mix((uint64_t)comp * 0x100000001b3ull ^
                                                synth_mix((uint64_t)tick * 131 + (uint64_t)metric)));
    return (x >> 11) * (1.0 / 9007199254740992.0);
}

/* a counter growing by rate per tick, with jitter, never decreasing */
static inline double synth_counter(const Synth *sy, int comp, int64_t tick, int metric,
                                   double rate, int integer)
{
    double v = rate * (double)tick + 0.5 * rate * synth_u(sy, comp, tick, metric);
    return integer ? floor(v) : v;
}

/* Identity of component i (0: host, 1..nb_gpus: GPUs, then streams). */
static inline void synth_identity(const Synth *sy, int i, CompKind *kind, char *stream,
                                  size_t stream_size, char *name, size_t name_size, int *backup)
{
    if (i == 0) {
        *kind = COMP_HOST;
        snprintf(stream, stream_size, "%s", "");
        snprintf(name, name_size, "host");
        *backup = 0;
    } else if (i <= sy->nb_gpus) {
        *kind = COMP_GPU;
        snprintf(stream, stream_size, "%s", "");
        snprintf(name, name_size, "gpu%d", i - 1);
        *backup = 0;
    } else {
        int j = i - 1 - sy->nb_gpus;
        const SynthComp *sc = &synth_stream_comps[j % SYNTH_PER_STREAM];
        *kind = sc->kind;
        snprintf(stream, stream_size, "s%04d", j / SYNTH_PER_STREAM);
        snprintf(name, name_size, "%s", sc->name);
        *backup = sc->backup;
    }
}

/* The index of a component from its identity, -1 when it is none of ours. */
static inline int synth_index(const Synth *sy, CompKind kind, const char *stream,
                              const char *name, int backup)
{
    int s;

    if (!*stream) {
        if (kind == COMP_HOST && !strcmp(name, "host"))
            return 0;
        if (kind == COMP_GPU && sscanf(name, "gpu%d", &s) == 1 && s >= 0 && s < sy->nb_gpus)
            return 1 + s;
        return -1;
    }
    if (sscanf(stream, "s%d", &s) != 1 || s < 0 || s >= sy->nb_streams)
        return -1;
    for (int k = 0; k < SYNTH_PER_STREAM; k++) {
        const SynthComp *sc = &synth_stream_comps[k];
        if (sc->kind == kind && sc->backup == backup && !strcmp(sc->name, name))
            return 1 + sy->nb_gpus + s * SYNTH_PER_STREAM + k;
    }
    return -1;
}

#define SYNTH_GAUGE_ABSENT(m) (t == 0 || synth_u(sy, i, t, 100 + (m)) < 0.02)

/* Fills c (identity already set) with component i's values at tick t. */
static inline void synth_values(const Synth *sy, int i, int64_t t, SampleComp *c)
{
    double u[SAMPLE_MAX_METRICS];

    c->present = 0;
    for (int m = 0; m < sample_kinds[c->kind].nb_metrics; m++)
        u[m] = synth_u(sy, i, t, m);
    switch (c->kind) {
    case COMP_HOST:
        sample_set(c, HM_CPU_SECONDS, synth_counter(sy, i, t, HM_CPU_SECONDS, 3.2, 0));
        if (!SYNTH_GAUGE_ABSENT(HM_CPU_RATIO))
            sample_set(c, HM_CPU_RATIO, 3.0 + u[HM_CPU_RATIO]);
        sample_set(c, HM_RSS_BYTES, floor(400e6 + 50e6 * u[HM_RSS_BYTES]));
        sample_set(c, HM_PSI_CPU_SOME, u[HM_PSI_CPU_SOME] * 0.1);
        sample_set(c, HM_PSI_MEMORY_SOME, 0);
        sample_set(c, HM_PSI_MEMORY_FULL, 0);
        sample_set(c, HM_PSI_IO_SOME, u[HM_PSI_IO_SOME] * 0.02);
        sample_set(c, HM_PSI_IO_FULL, u[HM_PSI_IO_FULL] * 0.01);
        sample_set(c, HM_DISK_READ_BYTES, synth_counter(sy, i, t, HM_DISK_READ_BYTES, 4096, 1));
        sample_set(c, HM_DISK_WRITE_BYTES, synth_counter(sy, i, t, HM_DISK_WRITE_BYTES, 2.5e6, 1));
        if (!SYNTH_GAUGE_ABSENT(HM_DISK_BUSY_RATIO))
            sample_set(c, HM_DISK_BUSY_RATIO, u[HM_DISK_BUSY_RATIO] * 0.3);
        sample_set(c, HM_NET_RX_BYTES, synth_counter(sy, i, t, HM_NET_RX_BYTES, 8e6, 1));
        sample_set(c, HM_NET_TX_BYTES, synth_counter(sy, i, t, HM_NET_TX_BYTES, 30e6, 1));
        break;
    case COMP_GPU:
        sample_set(c, GM_UP, 1);
        sample_set(c, GM_ENCODER_UTIL, 0.4 + 0.3 * u[GM_ENCODER_UTIL]);
        sample_set(c, GM_DECODER_UTIL, 0.1 * u[GM_DECODER_UTIL]);
        sample_set(c, GM_ENCODER_CAPACITY, 0.5 * u[GM_ENCODER_CAPACITY]);
        sample_set(c, GM_ENCODER_SESSIONS, 6 + floor(3 * u[GM_ENCODER_SESSIONS]));
        sample_set(c, GM_OWN_SESSIONS, 6);
        sample_set(c, GM_OWN_SESSION_FPS, 29 + u[GM_OWN_SESSION_FPS]);
        sample_set(c, GM_OWN_SESSION_LATENCY, 0.004 + 0.004 * u[GM_OWN_SESSION_LATENCY]);
        sample_set(c, GM_GPU_UTIL, 0.3 + 0.2 * u[GM_GPU_UTIL]);
        sample_set(c, GM_MEMORY_USED_BYTES, floor(3e9 + 1e8 * u[GM_MEMORY_USED_BYTES]));
        sample_set(c, GM_MEMORY_TOTAL_BYTES, 16e9);
        sample_set(c, GM_TEMPERATURE, 55 + floor(10 * u[GM_TEMPERATURE]));
        sample_set(c, GM_POWER_WATTS, 70 + 20 * u[GM_POWER_WATTS]);
        sample_set(c, GM_CLOCK_REASONS, 0);
        sample_set(c, GM_XID_ERRORS, 0);
        /* NVML and DRM fdinfo are not both there: the DRM ratio is absent */
        break;
    case COMP_INGEST:
        sample_set(c, IM_UP, 1);
        sample_set(c, IM_PACKETS, synth_counter(sy, i, t, IM_PACKETS, 80, 1));
        sample_set(c, IM_BYTES, synth_counter(sy, i, t, IM_BYTES, 750e3, 1));
        if (!SYNTH_GAUGE_ABSENT(IM_THROUGHPUT))
            sample_set(c, IM_THROUGHPUT, 700e3 + 100e3 * u[IM_THROUGHPUT]);
        if (!SYNTH_GAUGE_ABSENT(IM_READ_LATENCY))
            sample_set(c, IM_READ_LATENCY, 0.001 + 0.01 * u[IM_READ_LATENCY]);
        if (!SYNTH_GAUGE_ABSENT(IM_JITTER))
            sample_set(c, IM_JITTER, 0.002 * u[IM_JITTER]);
        sample_set(c, IM_LAST_PACKET_AGE, 0.03 * u[IM_LAST_PACKET_AGE]);
        sample_set(c, IM_DISCONTINUITIES, 0);
        sample_set(c, IM_ERRORS, floor((double)t / 5000));
        sample_set(c, IM_CPU_SECONDS, synth_counter(sy, i, t, IM_CPU_SECONDS, 0.35, 0));
        break;
    case COMP_ENCODER:
        sample_set(c, EM_UP, 1);
        sample_set(c, EM_FRAMES_IN, synth_counter(sy, i, t, EM_FRAMES_IN, 30, 1));
        sample_set(c, EM_FRAMES_OUT, synth_counter(sy, i, t, EM_FRAMES_OUT, 30, 1));
        sample_set(c, EM_BYTES_OUT, synth_counter(sy, i, t, EM_BYTES_OUT, 375e3, 1));
        if (!SYNTH_GAUGE_ABSENT(EM_FPS))
            sample_set(c, EM_FPS, 29.5 + u[EM_FPS]);
        sample_set(c, EM_TARGET_FPS, 30);
        if (!SYNTH_GAUGE_ABSENT(EM_LATENCY_P50))
            sample_set(c, EM_LATENCY_P50, 0.01 + 0.02 * u[EM_LATENCY_P50]);
        if (!SYNTH_GAUGE_ABSENT(EM_LATENCY_P99))
            sample_set(c, EM_LATENCY_P99, 0.03 + 0.05 * u[EM_LATENCY_P99]);
        sample_set(c, EM_QUEUE_DEPTH, floor(4 * u[EM_QUEUE_DEPTH]));
        sample_set(c, EM_ERRORS, 0);
        sample_set(c, EM_DROPPED, floor((double)t / 1000));
        if (!SYNTH_GAUGE_ABSENT(EM_QP))
            sample_set(c, EM_QP, 22 + 8 * u[EM_QP]);
        sample_set(c, EM_CPU_SECONDS, synth_counter(sy, i, t, EM_CPU_SECONDS, 0.8, 0));
        break;
    case COMP_OUTPUT:
        sample_set(c, OM_UP, 1);
        sample_set(c, OM_PACKETS, synth_counter(sy, i, t, OM_PACKETS, 120, 1));
        sample_set(c, OM_BYTES, synth_counter(sy, i, t, OM_BYTES, 1.1e6, 1));
        if (!SYNTH_GAUGE_ABSENT(OM_THROUGHPUT))
            sample_set(c, OM_THROUGHPUT, 1e6 + 2e5 * u[OM_THROUGHPUT]);
        if (!SYNTH_GAUGE_ABSENT(OM_WRITE_LATENCY))
            sample_set(c, OM_WRITE_LATENCY, 0.0005 + 0.002 * u[OM_WRITE_LATENCY]);
        if (!SYNTH_GAUGE_ABSENT(OM_WRITE_LATENCY_MAX))
            sample_set(c, OM_WRITE_LATENCY_MAX, 0.003 + 0.02 * u[OM_WRITE_LATENCY_MAX]);
        sample_set(c, OM_QUEUE_DEPTH, floor(3 * u[OM_QUEUE_DEPTH]));
        sample_set(c, OM_ERRORS, 0);
        sample_set(c, OM_RECONNECTS, 0);
        sample_set(c, OM_CPU_SECONDS, synth_counter(sy, i, t, OM_CPU_SECONDS, 0.05, 0));
        break;
    case COMP_EDGE:
        sample_set(c, XM_UP, 1);
        if (!SYNTH_GAUGE_ABSENT(XM_REQUEST_LATENCY))
            sample_set(c, XM_REQUEST_LATENCY, 0.02 + 0.05 * u[XM_REQUEST_LATENCY]);
        sample_set(c, XM_REQUESTS, synth_counter(sy, i, t, XM_REQUESTS, 1.5, 1));
        sample_set(c, XM_STATUS_2XX, synth_counter(sy, i, t, XM_STATUS_2XX, 1.5, 1));
        sample_set(c, XM_STATUS_3XX, 0);
        sample_set(c, XM_STATUS_4XX, 0);
        sample_set(c, XM_STATUS_5XX, floor((double)t / 20000));
        if (!SYNTH_GAUGE_ABSENT(XM_THROUGHPUT))
            sample_set(c, XM_THROUGHPUT, 1e6 + 2e5 * u[XM_THROUGHPUT]);
        break;
    default:
        break;
    }
}

/* The whole tick, as a sampler would build it. Returns 0 or -1 (ENOMEM). */
static inline int synth_build(const Synth *sy, Sample *s, int64_t tick, int64_t time_us)
{
    int n = synth_nb_comps(sy);

    sample_reset(s, time_us, tick);
    for (int i = 0; i < n; i++) {
        char stream[40], name[48];
        CompKind kind;
        int backup;
        SampleComp *c;

        synth_identity(sy, i, &kind, stream, sizeof(stream), name, sizeof(name), &backup);
        if (!(c = sample_add_comp(s, kind, stream, name, backup)))
            return -1;
        synth_values(sy, i, tick, c);
    }
    return 0;
}

#endif
