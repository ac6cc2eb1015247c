/*
 * health.c: a component's metrics as the model's health vector; see
 * health.h for the table.
 */
#include <math.h>
#include <string.h>

#include <libavutil/avstring.h>

#include "pfm/health.h"

const char *const health_feature_names[FEAT_NB] = {
    "up", "on_backup", "throughput_ratio", "rate_ratio", "latency_log",
    "latency_peak_log", "queue_log", "errors", "drops", "stale_s", "cpu_cores",
    "host_cpu_psi", "host_memory_psi", "host_io_psi", "host_cpu_cores", "kind",
};

/* the slow averages of rates: about a minute */
#define FEAT_AVG_S     60.0
#define FEAT_RATIO_MAX 4.0f
#define FEAT_STALE_MAX 10.0f
#define FEAT_LAT_FLOOR 1e-5

enum { HAVE_ERRORS = 1, HAVE_DROPS = 2, HAVE_CPU = 4, HAVE_BYTES = 8, HAVE_ITEMS = 16 };

void health_series_id(CompKind kind, const char *stream, const char *name, int source,
                      CompId *id)
{
    memset(id, 0, sizeof(*id));
    av_strlcpy(id->stream, stream, sizeof(id->stream));
    id->kind = kind;
    av_strlcpy(id->name, name, sizeof(id->name));
    id->instance = kind == COMP_INGEST ? source : COMP_WHOLE;
}

void health_host_comp(const SampleComp *c, HealthHost *h)
{
    static const int m[4] = { HM_PSI_CPU_SOME, HM_PSI_MEMORY_SOME, HM_PSI_IO_SOME, HM_CPU_RATIO };

    for (int i = 0; i < 4; i++)
        h->v[i] = c && c->kind == COMP_HOST && sample_has(c, m[i]) ? (float)c->v[m[i]] : NAN;
}

void health_host(const Sample *s, HealthHost *h)
{
    for (int i = 0; i < s->nb_comps; i++)
        if (s->comps[i].kind == COMP_HOST) {
            health_host_comp(&s->comps[i], h);
            return;
        }
    health_host_comp(NULL, h);
}

static float get(const SampleComp *c, int m)
{
    return m >= 0 && sample_has(c, m) ? (float)c->v[m] : NAN;
}

static float lat_log(float v)
{
    return isnan(v) ? NAN : (float)log10(fmax(v, FEAT_LAT_FLOOR));
}

static float clampf(float v, float lo, float hi)
{
    return isnan(v) ? v : v < lo ? lo : v > hi ? hi : v;
}

/* The increase of counter value v since the last tick (0 when it went
 * back: a new run, a reset), NAN when there is nothing to compare. */
static double delta(HealthState *st, uint32_t bit, double *prev, float v)
{
    double d = NAN;

    if (isnan(v)) {
        st->have &= ~bit;
        return NAN;
    }
    if (st->have & bit)
        d = v >= *prev ? v - *prev : 0;
    *prev = v;
    st->have |= bit;
    return d;
}

/* A rate over its own slow average, which the rate then joins. */
static float ratio_to_avg(double rate, double *avg, int *n, double dt)
{
    float r;
    double a;

    if (isnan(rate) || dt <= 0)
        return NAN;
    r = *n ? (*avg > 0 ? (float)(rate / *avg) : rate > 0 ? FEAT_RATIO_MAX : 1.0f) : 1.0f;
    a = fmax(1.0 / (*n + 1), 1 - exp(-dt / FEAT_AVG_S));
    *avg += a * (rate - *avg);
    (*n)++;
    return clampf(r, 0, FEAT_RATIO_MAX);
}

void health_extract(HealthState *st, const SampleComp *c, const HealthHost *h,
                      int64_t time_us, float *x)
{
    /* per kind: the metric behind each slot (-1: none) */
    int up = -1, bytes = -1, bytes_is_rate = 0, items = -1, lat = -1, peak = -1, queue = -1;
    int errors = -1, drops = -1, cpu = -1, stale = -1;
    double dt = st->prev_us && time_us > st->prev_us ? (time_us - st->prev_us) / 1e6 : 0;
    double d, rate;
    float kind;

    for (int i = 0; i < FEAT_NB; i++)
        x[i] = NAN;
    if (!health_kind_predicted(c->kind))
        return;

    switch (c->kind) {
    case COMP_INGEST:
        up = IM_UP; bytes = IM_THROUGHPUT; bytes_is_rate = 1; items = IM_PACKETS;
        lat = IM_READ_LATENCY; peak = IM_JITTER; errors = IM_ERRORS;
        drops = IM_DISCONTINUITIES; cpu = IM_CPU_SECONDS; stale = IM_LAST_PACKET_AGE;
        kind = 0;
        break;
    case COMP_ENCODER:
        up = EM_UP; bytes = EM_BYTES_OUT; lat = EM_LATENCY_P50; peak = EM_LATENCY_P99;
        queue = EM_QUEUE_DEPTH; errors = EM_ERRORS; drops = EM_DROPPED; cpu = EM_CPU_SECONDS;
        kind = 0.5f;
        break;
    default:  /* COMP_OUTPUT */
        up = OM_UP; bytes = OM_THROUGHPUT; bytes_is_rate = 1; items = OM_PACKETS;
        lat = OM_WRITE_LATENCY; peak = OM_WRITE_LATENCY_MAX; queue = OM_QUEUE_DEPTH;
        errors = OM_ERRORS; drops = OM_RECONNECTS; cpu = OM_CPU_SECONDS;
        kind = 1;
        break;
    }

    x[FEAT_UP] = get(c, up);
    x[FEAT_ON_BACKUP] = c->backup > 0;

    if (bytes_is_rate) {
        rate = get(c, bytes);
    } else {
        d = delta(st, HAVE_BYTES, &st->prev_bytes, get(c, bytes));
        rate = dt > 0 ? d / dt : NAN;
    }
    x[FEAT_THROUGHPUT_RATIO] = ratio_to_avg(rate, &st->avg_bytes, &st->n_bytes, dt);

    if (c->kind == COMP_ENCODER) {
        float fps = get(c, EM_FPS), target = get(c, EM_TARGET_FPS);
        x[FEAT_RATE_RATIO] = target > 0 ? clampf(fps / target, 0, FEAT_RATIO_MAX) : NAN;
    } else {
        d = delta(st, HAVE_ITEMS, &st->prev_items, get(c, items));
        x[FEAT_RATE_RATIO] = ratio_to_avg(dt > 0 ? d / dt : NAN, &st->avg_items, &st->n_items, dt);
    }

    x[FEAT_LATENCY] = lat_log(get(c, lat));
    x[FEAT_LATENCY_PEAK] = lat_log(get(c, peak));
    if (queue >= 0 && sample_has(c, queue))
        x[FEAT_QUEUE] = (float)log1p(fmax(c->v[queue], 0));

    d = delta(st, HAVE_ERRORS, &st->prev_errors, get(c, errors));
    x[FEAT_ERRORS] = isnan(d) ? NAN : (float)log1p(d);
    d = delta(st, HAVE_DROPS, &st->prev_drops, get(c, drops));
    x[FEAT_DROPS] = isnan(d) ? NAN : (float)log1p(d);
    if (stale >= 0)
        x[FEAT_STALE] = clampf(get(c, stale), 0, FEAT_STALE_MAX);
    d = delta(st, HAVE_CPU, &st->prev_cpu, get(c, cpu));
    x[FEAT_CPU] = dt > 0 && !isnan(d) ? (float)(d / dt) : NAN;

    for (int i = 0; i < 4; i++)
        x[FEAT_HOST_CPU_PSI + i] = h ? h->v[i] : NAN;
    x[FEAT_KIND] = kind;
    st->prev_us = time_us;
}
