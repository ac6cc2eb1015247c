/*
 * predictor.c: the model stepped over components; see predictor.h.
 */
#include <limits.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "config.h"
#include "pfm/predictor.h"
#include "core/comp.h"

/* The states of a run's components, found by identity through an open
 * addressing table (the set is small and fixed once the streams run). */
typedef struct PredEntry {
    uint64_t hash;
    CompKind kind;
    int source;                  /* inputs: which source; others 0 */
    char stream[40], name[48];
    PredState st;
    unsigned stamp;              /* the last tick that put it in the batch */
} PredEntry;

/* A component of one tick's batch. */
typedef struct PredSlot {
    PredEntry *e;
    int comp;                    /* its index in the sample */
    int later;                   /* the same identity as an earlier one of the
                                  * tick (a primary and its backup share one
                                  * series): stepped after the batch, in order */
    float raw[FEAT_NB];
} PredSlot;

/* Used by the run's supervision thread only. */
struct Predictor {
    Model *model;
    PredEntry *e;                /* nb_alloc entries; hash 0 = empty */
    int nb, nb_alloc;
    /* one tick's batch (lstm_step_batch), sized for the largest sample */
    PredSlot *slot;
    LstmState **lst;             /* the slots' LSTM states */
    float *xn, *pf, *fc;         /* normalised inputs (n, F), p_fail (n), forecasts (n, F) */
    int batch_alloc;
    unsigned stamp;
};

void predictor_state_reset(PredState *st)
{
    memset(st, 0, sizeof(*st));
    lstm_state_reset(&st->lstm);
    for (int k = 0; k < FEAT_NB; k++)
        anomaly_state_reset(&st->anom[k]);
}

void predictor_normalise(const Model *m, const float *raw, float *xn)
{
    /* clamped: one absurd figure must not saturate the state for good */
    for (int k = 0; k < LSTM_F; k++)
        xn[k] = isnan(raw[k]) ? 0.0f : av_clipf((raw[k] - m->mean[k]) / m->std[k],
                                                -PRED_INPUT_MAX, PRED_INPUT_MAX);
}

int predictor_model_fits(const Model *m, char *why, size_t size)
{
    for (int k = 0; k < LSTM_F; k++)
        if (strcmp(m->feature[k], health_feature_names[k])) {
            snprintf(why, size, "input %d is '%s' in the model and '%s' in this build: it was "
                     "trained on other features; retrain it with 'hotspare train'", k,
                     m->feature[k], health_feature_names[k]);
            return AVERROR(EINVAL);
        }
    return 0;
}

/* A tick of one component once its LSTM has stepped (p): the anomaly of
 * each input against its own past, with the configuration `hotspare nab`
 * scores (a few stores per tick: no state shared between threads); the
 * component is as anomalous as its most anomalous figure. */
static void step_finish(const Model *m, PredState *st, const float *raw, float p, PredOut *out)
{
    AnomalyConfig cfg;
    double a = 0;

    anomaly_config_default(&cfg);
    for (int k = 0; k < FEAT_NB; k++)
        a = fmax(a, anomaly_step(&cfg, &st->anom[k], raw[k], NULL));
    st->ticks++;

    out->p_fail = p;
    out->anomaly = (float)a;
    out->risk = 1.0f - (1.0f - p) * (1.0f - m->anomaly_weight * (float)a);
}

void predictor_step(const Model *m, PredState *st, const float *raw, PredOut *out)
{
    float xn[LSTM_F], fc[LSTM_F], p;

    predictor_normalise(m, raw, xn);
    lstm_step(m->lstm, &st->lstm, xn, &p, fc);
    step_finish(m, st, raw, p, out);
}

int predictor_alloc(Predictor **pp, Model **pm)
{
    Predictor *p = av_mallocz(sizeof(*p));

    *pp = NULL;
    if (!p)
        return AVERROR(ENOMEM);
    p->model = *pm;
    *pm = NULL;
    *pp = p;
    return 0;
}

void predictor_free(Predictor **pp)
{
    Predictor *p = *pp;

    if (!p)
        return;
    model_free(&p->model);
    av_free(p->e);
    av_free(p->slot);
    av_free(p->lst);
    av_free(p->xn);
    av_freep(pp);
}

const Model *predictor_model(const Predictor *p)
{
    return p->model;
}

static uint64_t identity_hash(const SampleComp *c, int source)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */

    for (const char *s = c->stream; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = c->name; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ (uint64_t)c->kind) * 1099511628211ull;
    h = (h ^ (uint64_t)source) * 1099511628211ull;
    return h ? h : 1;
}

static int grow(Predictor *p)
{
    int n = p->nb_alloc ? p->nb_alloc * 2 : 64;
    PredEntry *e = av_calloc(n, sizeof(*e));

    if (!e)
        return AVERROR(ENOMEM);
    for (int i = 0; i < p->nb_alloc; i++) {
        PredEntry *o = &p->e[i];
        int j;
        if (!o->hash)
            continue;
        for (j = o->hash % n; e[j].hash; j = (j + 1) % n)
            ;
        e[j] = *o;
    }
    av_free(p->e);
    p->e = e;
    p->nb_alloc = n;
    return 0;
}

/* c's entry: a new one when it has none and insert is set (NULL when that
 * fails), else NULL when it has none */
static PredEntry *lookup(Predictor *p, const SampleComp *c, int insert)
{
    int source = health_series_source(c->kind, c->backup);
    uint64_t h = identity_hash(c, source);
    int i;

    if (!insert ? !p->nb_alloc : (p->nb + 1) * 2 > p->nb_alloc && grow(p) < 0)
        return NULL;
    for (i = h % p->nb_alloc; p->e[i].hash; i = (i + 1) % p->nb_alloc) {
        PredEntry *e = &p->e[i];
        if (e->hash == h && e->kind == c->kind && e->source == source &&
            !strcmp(e->stream, c->stream) && !strcmp(e->name, c->name))
            return e;
    }
    if (!insert)
        return NULL;
    {
        PredEntry *e = &p->e[i];
        e->hash = h;
        e->kind = c->kind;
        e->source = source;
        av_strlcpy(e->stream, c->stream, sizeof(e->stream));
        av_strlcpy(e->name, c->name, sizeof(e->name));
        predictor_state_reset(&e->st);
        p->nb++;
        return e;
    }
}

static int risk_metric(CompKind k)
{
    switch (k) {
    case COMP_INGEST:  return IM_FAILURE_RISK;
    case COMP_ENCODER: return EM_FAILURE_RISK;
    case COMP_OUTPUT:  return OM_FAILURE_RISK;
    default:           return -1;
    }
}

/* room for a batch of n and, first, for nnew more entries: the batch holds
 * pointers into the table, which a lookup must not move */
static int batch_reserve(Predictor *p, int n, int nnew)
{
    while ((p->nb + nnew + 1) * 2 > p->nb_alloc)
        if (grow(p) < 0)
            return AVERROR(ENOMEM);
    if (n > p->batch_alloc) {
        av_freep(&p->slot);
        av_freep(&p->lst);
        av_freep(&p->xn);
        p->batch_alloc = 0;
        if (!(p->slot = av_calloc(n, sizeof(*p->slot))) ||
            !(p->lst = av_calloc(n, sizeof(*p->lst))) ||
            !(p->xn = av_calloc((size_t)n * (2 * LSTM_F + 1), sizeof(float))))
            return AVERROR(ENOMEM);
        p->fc = p->xn + (size_t)n * LSTM_F;
        p->pf = p->fc + (size_t)n * LSTM_F;
        p->batch_alloc = n;
    }
    return 0;
}

int predictor_tick(Predictor *p, Sample *s)
{
    const Model *m = p->model;
    HealthHost host;
    int n = 0, nslot = 0, nnew = 0;

    health_host(s, &host);
    for (int i = 0; i < s->nb_comps; i++)
        nnew += health_kind_predicted(s->comps[i].kind) && !lookup(p, &s->comps[i], 0);
    if (batch_reserve(p, s->nb_comps, nnew) < 0)
        return AVERROR(ENOMEM);
    if (!++p->stamp)
        p->stamp = 1;
    for (int i = 0; i < s->nb_comps; i++) {
        SampleComp *c = &s->comps[i];
        PredSlot *sl = &p->slot[nslot];
        PredEntry *e;

        if (!health_kind_predicted(c->kind))
            continue;
        if (!(e = lookup(p, c, 1)))
            return AVERROR(ENOMEM);
        sl->e = e;
        sl->comp = i;
        sl->later = e->stamp == p->stamp;
        nslot++;
        if (sl->later)
            continue;
        e->stamp = p->stamp;
        health_extract(&e->st.feat, c, health_peer(s->comps, s->nb_comps, c), &host, s->time_us, sl->raw);
        predictor_normalise(m, sl->raw, p->xn + (size_t)n * LSTM_F);
        p->lst[n++] = &e->st.lstm;
    }
    /* every component at once: each weight is loaded once for several */
    lstm_step_batch(m->lstm, p->lst, p->xn, n, p->pf, p->fc);
    for (int i = 0, b = 0; i < nslot; i++) {
        PredSlot *sl = &p->slot[i];
        SampleComp *c = &s->comps[sl->comp];
        PredOut o;

        if (sl->later)
            continue;
        step_finish(m, &sl->e->st, sl->raw, p->pf[b], &o);
        sample_set(c, risk_metric(c->kind), o.risk);
        b++;
    }
    for (int i = 0; i < nslot; i++) {
        PredSlot *sl = &p->slot[i];
        SampleComp *c = &s->comps[sl->comp];
        PredOut o;

        if (!sl->later)
            continue;
        health_extract(&sl->e->st.feat, c, health_peer(s->comps, s->nb_comps, c), &host, s->time_us, sl->raw);
        predictor_step(m, &sl->e->st, sl->raw, &o);
        sample_set(c, risk_metric(c->kind), o.risk);
    }
    return nslot;
}

static int readable(const char *path)
{
    return access(path, R_OK) == 0;
}

int predictor_default_model(char *buf, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n > 0) {
        char *slash;
        exe[n] = 0;
        if ((slash = strrchr(exe, '/'))) {
            static const char *const rel[] = { "models", "../share/hotspare/models" };
            for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
                snprintf(buf, size, "%.*s/%s/default.hsm", (int)(slash - exe), exe, rel[i]);
                if (readable(buf))
                    return 0;
            }
        }
    }
    snprintf(buf, size, "%s/models/default.hsm", HS_DATADIR);
    return readable(buf) ? 0 : AVERROR(ENOENT);
}
