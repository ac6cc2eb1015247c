/*
 * steer.c: the Content Steering server; see steer.h.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "core/log.h"
#include "dra/steer.h"

/* Throughputs a player may report: more is not a measurement. */
#define STEER_MAX_BPS 1e12
/* The mean of the last reports, per pathway. */
#define STEER_TP_KEPT 16

typedef struct SteerPath {
    int64_t requests;
    int64_t window_start_us;     /* players: requests in this TTL ... */
    int64_t in_window;
    int64_t in_prev_window;      /* ... and the one before */
    double tp[STEER_TP_KEPT];
    int nb_tp, tp_pos;
} SteerPath;

typedef struct SteerOut {
    Steer *s;
    int stream, output;
    const JobOutput *jo;
    const char **ids;            /* the job's pathway ids */
    int order[JOB_MAX_PATHWAYS]; /* protected by Steer.lock */
    int listed;                  /* ... the first this many go to players */
    SteerPath path[JOB_MAX_PATHWAYS];   /* protected by Steer.lock */
} SteerOut;

struct Steer {
    LogCtx log;
    Metrics *m;
    SteerOut *out;
    int nb;
    pthread_mutex_t lock;
    SteerStats stats;            /* protected by lock */
};

/* ---- the protocol --------------------------------------------------------- */

int steer_manifest(const char *const *ids, const int *order, int n, int ttl_s,
                   const char *reload_uri, AVBPrint *bp)
{
    json_t *o = json_object(), *prio = json_array();
    char *text = NULL;
    int ret = AVERROR(ENOMEM);

    if (!o || !prio)
        goto end;
    for (int i = 0; i < n; i++)
        if (json_array_append_new(prio, json_string(ids[order[i]])) < 0)
            goto end;
    if (json_object_set_new(o, "VERSION", json_integer(1)) < 0 ||
        json_object_set_new(o, "TTL", json_integer(ttl_s)) < 0 ||
        (reload_uri && json_object_set_new(o, "RELOAD-URI", json_string(reload_uri)) < 0) ||
        json_object_set(o, "PATHWAY-PRIORITY", prio) < 0)
        goto end;
    if (!(text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)))
        goto end;
    av_bprintf(bp, "%s\n", text);
    ret = av_bprint_is_complete(bp) ? 0 : AVERROR(ENOMEM);
end:
    free(text);
    json_decref(prio);
    json_decref(o);
    return ret;
}

static int bad(char *why, size_t size, const char *fmt, const char *what)
{
    snprintf(why, size, fmt, what);
    return AVERROR_INVALIDDATA;
}

/* The first item of a comma list, one pair of quotes taken off: [b, e). */
static int first_item(const char *v, const char **b, const char **e)
{
    size_t n = strlen(v);

    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    *b = v;
    *e = memchr(v, ',', n) ? memchr(v, ',', n) : v + n;
    return 0;
}

/* Every item of a pathway list: what an id may hold (HLS PATHWAY-ID). */
static int ids_ok(const char *v)
{
    size_t n = strlen(v), len = 0;

    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == ',') {
            if (!len)
                return 0;
            len = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_') || ++len > 64)
            return 0;
    }
    return n == 0 || len > 0;
}

/* Every item of a throughput list a number of bit/s; the first in *bps. */
static int throughputs_ok(const char *v, double *bps)
{
    const char *p = v;

    *bps = -1;
    if (!*p)
        return 1;
    for (;;) {
        char *end;
        double x;
        if (!(*p >= '0' && *p <= '9'))
            return 0;                  /* no sign, no space, no hex, no "inf" */
        errno = 0;
        x = strtod(p, &end);
        if (errno || end == p || !isfinite(x) || x > STEER_MAX_BPS)
            return 0;
        if (*bps < 0)
            *bps = x;
        if (!*end)
            return 1;
        if (*end != ',')
            return 0;
        p = end + 1;
    }
}

int steer_query_parse(const MetricsArg *args, int nb_args, const char *const *ids, int n,
                      SteerQuery *q, char *why, size_t why_size)
{
    const char *pathway = NULL, *tp = NULL;

    *q = (SteerQuery){ .pathway = -1, .throughput_bps = -1 };
    if (nb_args < 0)
        return bad(why, why_size, "%s", "too many query parameters");
    for (int i = 0; i < nb_args; i++) {
        const char *k = args[i].key, *v = args[i].value ? args[i].value : "";
        const char **slot = !strcmp(k, "_HLS_pathway") || !strcmp(k, "_DASH_pathway") ? &pathway :
                            !strcmp(k, "_HLS_throughput") || !strcmp(k, "_DASH_throughput") ? &tp :
                            NULL;
        if (!slot)
            continue;            /* the SERVER-URI's own parameters come back too */
        if (*slot)
            return bad(why, why_size, "%s is given twice", k);
        if (strlen(v) > 1024)
            return bad(why, why_size, "%s is too long", k);
        *slot = v;
    }
    if (pathway && !ids_ok(pathway))
        return bad(why, why_size, "%s", "the pathway is not a list of pathway ids "
                   "([A-Za-z0-9._-], comma-separated)");
    if (tp && !throughputs_ok(tp, &q->throughput_bps))
        return bad(why, why_size, "%s", "the throughput is not a list of bit/s "
                   "(non-negative numbers, comma-separated)");
    if (pathway) {
        const char *b, *e;
        first_item(pathway, &b, &e);
        for (int i = 0; i < n && q->pathway < 0; i++)
            if ((size_t)(e - b) == strlen(ids[i]) && !strncmp(b, ids[i], e - b))
                q->pathway = i;
        q->unknown = q->pathway < 0 && e > b;
    }
    return 0;
}

/* ---- the server ----------------------------------------------------------- */

/* Rolls the players' windows of p to now (each a TTL long). */
static void roll(SteerPath *p, int64_t ttl_us, int64_t now)
{
    if (!p->window_start_us) {
        p->window_start_us = now;
        return;
    }
    if (now - p->window_start_us >= 2 * ttl_us) {
        p->in_prev_window = 0;
        p->in_window = 0;
        p->window_start_us = now;
    } else if (now - p->window_start_us >= ttl_us) {
        p->in_prev_window = p->in_window;
        p->in_window = 0;
        p->window_start_us += ttl_us;
    }
}

static unsigned answer(void *opaque, const char *path, const MetricsArg *args, int nb_args,
                       const char **type, char **body)
{
    SteerOut *o = opaque;
    Steer *s = o->s;
    SteerQuery q;
    AVBPrint bp;
    char why[160];
    int order[JOB_MAX_PATHWAYS], n;
    int64_t now = av_gettime_relative();

    (void)path;
    if (steer_query_parse(args, nb_args, o->ids, o->jo->nb_pathways, &q, why, sizeof(why)) < 0) {
        pthread_mutex_lock(&s->lock);
        s->stats.malformed++;
        pthread_mutex_unlock(&s->lock);
        *body = av_asprintf("bad steering query: %s\n", why);
        return 400;
    }
    pthread_mutex_lock(&s->lock);
    memcpy(order, o->order, sizeof(order));
    n = o->listed;
    if (q.pathway >= 0) {
        SteerPath *p = &o->path[q.pathway];
        roll(p, o->jo->steering.ttl_us, now);
        p->requests++;
        p->in_window++;
        if (q.throughput_bps >= 0) {
            p->tp[p->tp_pos] = q.throughput_bps;
            p->tp_pos = (p->tp_pos + 1) % STEER_TP_KEPT;
            p->nb_tp = FFMIN(p->nb_tp + 1, STEER_TP_KEPT);
        }
    }
    s->stats.unknown_pathway += q.unknown;
    s->stats.answered++;
    pthread_mutex_unlock(&s->lock);

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (steer_manifest(o->ids, order, n, (int)(o->jo->steering.ttl_us / 1000000),
                       o->jo->steering.uri, &bp) < 0 || av_bprint_finalize(&bp, body) < 0) {
        av_bprint_finalize(&bp, NULL);
        *body = NULL;
        return 503;              /* out of memory: try again, not a player's fault */
    }
    *type = "application/json";
    return 200;
}

void steer_free(Steer **ps)
{
    Steer *s = *ps;

    if (!s)
        return;
    for (int k = 0; k < s->nb; k++) {
        metrics_unroute(s->m, &s->out[k]);
        av_freep(&s->out[k].ids);
    }
    av_freep(&s->out);
    pthread_mutex_destroy(&s->lock);
    av_freep(ps);
}

int steer_alloc(Steer **ps, const Job *job, Metrics *m)
{
    Steer *s;
    int nb = 0, ret;

    *ps = NULL;
    for (int i = 0; i < job->nb_streams; i++)
        for (int o = 0; o < job->streams[i].nb_outputs; o++)
            nb += job->streams[i].outputs[o].nb_pathways > 0;
    if (!nb || !m)
        return 0;
    if (!(s = av_mallocz(sizeof(*s))))
        return AVERROR(ENOMEM);
    logctx_init(&s->log, "steer");
    pthread_mutex_init(&s->lock, NULL);
    s->m = m;
    if (!(s->out = av_calloc(nb, sizeof(*s->out)))) {
        steer_free(&s);
        return AVERROR(ENOMEM);
    }
    for (int i = 0; i < job->nb_streams; i++)
        for (int o = 0; o < job->streams[i].nb_outputs; o++) {
            const JobOutput *jo = &job->streams[i].outputs[o];
            SteerOut *so = &s->out[s->nb];
            if (!jo->nb_pathways)
                continue;
            *so = (SteerOut){ .s = s, .stream = i, .output = o, .jo = jo };
            if (!(so->ids = av_calloc(jo->nb_pathways, sizeof(*so->ids)))) {
                steer_free(&s);
                return AVERROR(ENOMEM);
            }
            for (int k = 0; k < jo->nb_pathways; k++) {
                so->ids[k] = jo->pathways[k].id;
                so->order[k] = k;
            }
            so->listed = jo->nb_pathways;
            s->nb++;
            if ((ret = metrics_route(m, jo->steering.path, answer, so)) < 0) {
                av_log(s, AV_LOG_ERROR, "cannot serve the steering manifest of %s/%s at %s: %s\n",
                       job->streams[i].name, jo->name, jo->steering.path, av_err2str(ret));
                steer_free(&s);
                return ret;
            }
            av_log(s, AV_LOG_VERBOSE, "steering manifest of %s/%s at %s\n",
                   job->streams[i].name, jo->name, jo->steering.path);
        }
    *ps = s;
    return 0;
}

int steer_nb(const Steer *s)
{
    return s ? s->nb : 0;
}

void steer_output(const Steer *s, int k, int *stream, int *output)
{
    *stream = s->out[k].stream;
    *output = s->out[k].output;
}

int steer_find(const Steer *s, int stream, int output)
{
    for (int k = 0; s && k < s->nb; k++)
        if (s->out[k].stream == stream && s->out[k].output == output)
            return k;
    return -1;
}

void steer_set_order(Steer *s, int k, const int *order, int listed)
{
    pthread_mutex_lock(&s->lock);
    memcpy(s->out[k].order, order, s->out[k].jo->nb_pathways * sizeof(*order));
    s->out[k].listed = listed;
    pthread_mutex_unlock(&s->lock);
}

void steer_get_order(Steer *s, int k, int *order)
{
    pthread_mutex_lock(&s->lock);
    memcpy(order, s->out[k].order, s->out[k].jo->nb_pathways * sizeof(*order));
    pthread_mutex_unlock(&s->lock);
}

void steer_viewers(Steer *s, int k, int pathway, int64_t now_us, SteerViewers *v)
{
    SteerPath *p = &s->out[k].path[pathway];
    double sum = 0;

    pthread_mutex_lock(&s->lock);
    roll(p, s->out[k].jo->steering.ttl_us, now_us);
    v->requests = p->requests;
    v->players = (int)((p->in_window + p->in_prev_window + 1) / 2);
    for (int i = 0; i < p->nb_tp; i++)
        sum += p->tp[i];
    v->throughput_bps = p->nb_tp ? sum / p->nb_tp : -1;
    pthread_mutex_unlock(&s->lock);
}

void steer_stats(Steer *s, SteerStats *st)
{
    pthread_mutex_lock(&s->lock);
    *st = s->stats;
    pthread_mutex_unlock(&s->lock);
}
