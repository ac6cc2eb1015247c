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
} PredEntry;

/* Used by the run's supervision thread only. */
struct Predictor {
    Model *model;
    PredEntry *e;                /* nb_alloc entries; hash 0 = empty */
    int nb, nb_alloc;
};

void predictor_state_reset(PredState *st)
{
    memset(st, 0, sizeof(*st));
    lstm_state_reset(&st->lstm);
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

/* -log10 of the upper Gaussian tail beyond z (erfc, and its asymptote far
 * out where erfc underflows). */
static double neg_log10_tail(double z)
{
    double p;

    if (z <= 0)
        return -log10(0.5 * erfc(z / M_SQRT2));
    p = 0.5 * erfc(z / M_SQRT2);
    if (p > 1e-300)
        return -log10(p);
    return (z * z / 2 + log(z * sqrt(2 * M_PI))) / M_LN10;
}

void predictor_step(const Model *m, PredState *st, const float *raw, PredOut *out)
{
    float xn[LSTM_F], fc[LSTM_F], p;
    double err = 0, a = 0;
    int n = 0;

    predictor_normalise(m, raw, xn);

    /* the error of the forecast made at the previous tick, on what this
     * tick has (an absent figure was not forecast wrong) */
    if (st->ticks > 0) {
        for (int k = 0; k < LSTM_F; k++)
            if (!isnan(raw[k])) {
                err += fabsf(xn[k] - st->forecast[k]);
                n++;
            }
        err = n ? err / n : 0;
        st->err_fast = st->ticks == 1 ? err : st->err_fast + PRED_ERR_FAST * (err - st->err_fast);
        if (st->ticks > PRED_WARMUP) {
            double sd = sqrt(st->err_var) + 1e-3;
            a = fmin(fmax(neg_log10_tail((st->err_fast - st->err_mean) / sd) / PRED_LOGP_MAX, 0), 1);
            /* the first ticks below 0.5 tail are no evidence either way */
            if (a < -log10(0.5) / PRED_LOGP_MAX + 1e-9)
                a = 0;
        }
        /* the running statistics learn after judging, so a sudden change
         * is judged against the past it breaks from */
        {
            double w = st->ticks < PRED_ERR_LONG ? 1.0 / st->ticks : 1.0 / PRED_ERR_LONG;
            double d = st->err_fast - st->err_mean;
            st->err_mean += w * d;
            st->err_var = (1 - w) * (st->err_var + w * d * d);
        }
    }

    lstm_step(m->lstm, &st->lstm, xn, &p, fc);
    memcpy(st->forecast, fc, sizeof(fc));
    st->ticks++;

    out->p_fail = p;
    out->anomaly = (float)a;
    out->risk = 1.0f - (1.0f - p) * (1.0f - m->anomaly_weight * (float)a);
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

static PredEntry *lookup(Predictor *p, const SampleComp *c)
{
    int source = health_series_source(c->kind, c->backup);
    uint64_t h = identity_hash(c, source);
    int i;

    if ((p->nb + 1) * 2 > p->nb_alloc && grow(p) < 0)
        return NULL;
    for (i = h % p->nb_alloc; p->e[i].hash; i = (i + 1) % p->nb_alloc) {
        PredEntry *e = &p->e[i];
        if (e->hash == h && e->kind == c->kind && e->source == source &&
            !strcmp(e->stream, c->stream) && !strcmp(e->name, c->name))
            return e;
    }
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

int predictor_tick(Predictor *p, Sample *s)
{
    const Model *m = p->model;
    HealthHost host;
    int stepped = 0;

    health_host(s, &host);
    for (int i = 0; i < s->nb_comps; i++) {
        SampleComp *c = &s->comps[i];
        PredEntry *e;
        PredOut o;
        float x[FEAT_NB];

        if (!health_kind_predicted(c->kind))
            continue;
        if (!(e = lookup(p, c)))
            return AVERROR(ENOMEM);
        health_extract(&e->st.feat, c, health_peer(s->comps, s->nb_comps, c), &host, s->time_us, x);
        predictor_step(m, &e->st, x, &o);
        sample_set(c, risk_metric(c->kind), o.risk);
        stepped++;

    }
    return stepped;
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
