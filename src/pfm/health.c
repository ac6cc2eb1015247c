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
    "latency_trend", "net_rtt_log", "net_unacked_log", "net_ack_wait_s", "net_window_log",
    "fs_free_ratio", "fs_full_log", "host_rss_growth",
};

/* the slow averages of rates: about a minute */
#define FEAT_AVG_S     60.0
#define FEAT_RATIO_MAX 4.0f
#define FEAT_STALE_MAX 10.0f
#define FEAT_LATE_MAX  4.0f            /* of the latency budget */
#define FEAT_LAT_FLOOR 1e-5
#define FEAT_ACK_MAX   10.0f
#define FEAT_FULL_MAX  5.0f            /* log10(1 + s): a day and more */

enum { HAVE_ERRORS = 1, HAVE_DROPS = 2, HAVE_CPU = 4, HAVE_BYTES = 8, HAVE_ITEMS = 16, HAVE_BUSY = 32 };

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
    static const int m[5] = { HM_PSI_CPU_SOME, HM_PSI_MEMORY_SOME, HM_PSI_IO_SOME, HM_CPU_RATIO,
                              HM_RSS_GROWTH };

    for (int i = 0; i < 5; i++)
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

static float lat_log(float v);
static float clampf(float v, float lo, float hi);

static float get(const SampleComp *c, int m)
{
    return c && m >= 0 && sample_has(c, m) ? (float)c->v[m] : NAN;
}

const SampleComp *health_peer(const SampleComp *comps, int nb, const SampleComp *c)
{
    if (c->kind != COMP_OUTPUT)
        return NULL;
    for (int i = 0; i < nb; i++)
        if (comps[i].kind == COMP_EDGE && comps[i].backup == c->backup &&
            !strcmp(comps[i].stream, c->stream) && !strcmp(comps[i].name, c->name))
            return &comps[i];
    return NULL;
}

/* The network figures (slots 17-20) from a connection's metrics: rtt,
 * unacked, notsent, window, ack_age (indices into its kind's catalogue). */
static void net_figures(const SampleComp *c, const int m[5], float *x)
{
    float rtt = get(c, m[0]), unacked = get(c, m[1]), notsent = get(c, m[2]);
    float window = get(c, m[3]), ack_age = get(c, m[4]);
    float waiting = (isnan(unacked) ? 0 : unacked) + (isnan(notsent) ? 0 : notsent);

    x[FEAT_NET_RTT] = lat_log(rtt);
    x[FEAT_NET_UNACKED] = isnan(unacked) && isnan(notsent) ? NAN : (float)log10(1 + fmax(waiting, 0));
    /* an idle connection waits for no ACK: its age says nothing */
    x[FEAT_NET_ACK_WAIT] = isnan(ack_age) ? NAN : unacked > 0 ? clampf(ack_age, 0, FEAT_ACK_MAX) : 0;
    x[FEAT_NET_WINDOW] = isnan(window) ? NAN : (float)log10(1 + fmax(window, 0));
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

void health_extract(HealthState *st, const SampleComp *c, const SampleComp *peer,
                    const HealthHost *h, int64_t time_us, float *x)
{
    /* per kind: the metric behind each slot (-1: none) */
    int up = -1, bytes = -1, bytes_is_rate = 0, items = -1, lat = -1, peak = -1, queue = -1;
    int errors = -1, drops = -1, cpu = -1, stale = -1, late = -1, busy = -1;
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
        late = EM_BUDGET_USED; busy = EM_BUSY_SECONDS;
        kind = 0.5f;
        break;
    default:  /* COMP_OUTPUT */
        up = OM_UP; bytes = OM_THROUGHPUT; bytes_is_rate = 1; items = OM_PACKETS;
        lat = OM_WRITE_LATENCY; peak = OM_WRITE_LATENCY_MAX; queue = OM_QUEUE_DEPTH;
        errors = OM_ERRORS; drops = OM_RECONNECTS; cpu = OM_CPU_SECONDS;
        late = OM_BUDGET_USED; busy = OM_BUSY_SECONDS;
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
    else if (late >= 0)          /* how late its data is: the budget's share */
        x[FEAT_STALE] = clampf(get(c, late), 0, FEAT_LATE_MAX);
    d = delta(st, HAVE_CPU, &st->prev_cpu, get(c, cpu));
    x[FEAT_CPU] = dt > 0 && !isnan(d) ? (float)(d / dt) : NAN;
    /* an encoder's or output's thread: the share of the tick it was busy
     * (CPU, and the waits on what it calls: a slow disk, a lock, a CPU it
     * does not get), where the data plane counts it; its CPU otherwise */
    if (busy >= 0 && sample_has(c, busy)) {
        d = delta(st, HAVE_BUSY, &st->prev_busy, get(c, busy));
        x[FEAT_CPU] = dt > 0 && !isnan(d) ? clampf((float)(d / dt), 0, FEAT_RATIO_MAX) : NAN;
    }

    for (int i = 0; i < 4; i++)
        x[FEAT_HOST_CPU_PSI + i] = h ? h->v[i] : NAN;
    x[FEAT_KIND] = kind;

    /* the trend of its latency: against a slow average it then joins */
    if (!isnan(x[FEAT_LATENCY])) {
        double a = fmax(1.0 / (st->n_lat + 1), dt > 0 ? 1 - exp(-dt / FEAT_AVG_S) : 0);
        x[FEAT_LATENCY_TREND] = st->n_lat ? (float)(x[FEAT_LATENCY] - st->avg_lat) : 0;
        st->avg_lat += a * (x[FEAT_LATENCY] - st->avg_lat);
        st->n_lat++;
    }
    if (c->kind == COMP_INGEST) {
        static const int m[5] = { IM_RTT, IM_UNACKED_BYTES, IM_NOTSENT_BYTES, IM_PEER_WINDOW,
                                  IM_LAST_ACK_AGE };
        net_figures(c, m, x);
    } else if (c->kind == COMP_OUTPUT) {
        static const int m[5] = { XM_RTT, XM_UNACKED_BYTES, XM_NOTSENT_BYTES, XM_PEER_WINDOW,
                                  XM_LAST_ACK_AGE };
        float free_b = get(c, OM_FS_FREE), size = get(c, OM_FS_SIZE), ttf = get(c, OM_FS_TIME_TO_FULL);
        if (peer)
            net_figures(peer, m, x);
        if (size > 0 && !isnan(free_b)) {
            x[FEAT_FS_FREE] = clampf(free_b / size, 0, 1);
            /* absent while it is not filling: as far from full as it gets */
            x[FEAT_FS_FULL] = isnan(ttf) ? FEAT_FULL_MAX :
                              clampf((float)log10(1 + fmax(ttf, 0)), 0, FEAT_FULL_MAX);
        }
    }
    x[FEAT_HOST_RSS_GROWTH] = h && !isnan(h->v[4]) ? (float)asinh(h->v[4] / 1e6) : NAN;
    st->prev_us = time_us;
}
