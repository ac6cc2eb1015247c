/*
 * anomaly.c: the online forecast-error detector; see anomaly.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "pfm/anomaly.h"
#include "pfm/lstm.h"

/* The configuration's fields, by name, for anomaly_config_set/print. */
typedef struct ConfField {
    const char *name;
    size_t offset;
    char type;                   /* 'i' int, 'f' float, 'u' uint64 */
} ConfField;

#define FIELD(n, t) { #n, offsetof(AnomalyConfig, n), t }
static const ConfField conf_fields[] = {
    FIELD(seed, 'u'), FIELD(bptt, 'i'), FIELD(train_every, 'i'), FIELD(train_steps, 'i'),
    FIELD(lr, 'f'), FIELD(warmup, 'i'), FIELD(err_long, 'i'), FIELD(err_short, 'i'),
    FIELD(spatial_tol, 'f'), FIELD(spatial_score, 'f'), FIELD(alarm, 'f'), FIELD(suppress, 'i'),
    FIELD(logp_max, 'f'), FIELD(models, 'i'), FIELD(damp, 'f'), FIELD(fc_delta, 'i'),
};
#define NB_FIELDS (int)(sizeof(conf_fields) / sizeof(conf_fields[0]))

void anomaly_config_default(AnomalyConfig *c)
{
    memset(c, 0, sizeof(*c));
    c->seed = 1;
    c->models = 1;
    c->bptt = 16;
    c->train_every = 4;
    c->train_steps = 1;
    c->lr = 3e-4f;
    c->warmup = 300;
    c->err_long = 2000;
    c->err_short = 10;
    c->spatial_tol = 0.05f;
    c->spatial_score = 1.0f;
    c->alarm = 0.5f;
    c->suppress = 100;
    c->damp = 0.5f;
    c->fc_delta = 1;
    c->logp_max = 10;
}

int anomaly_config_set(AnomalyConfig *c, const char *key, const char *value)
{
    for (int i = 0; i < NB_FIELDS; i++) {
        const ConfField *f = &conf_fields[i];
        char *end;

        if (strcmp(f->name, key))
            continue;
        errno = 0;
        if (f->type == 'f') {
            double v = strtod(value, &end);
            if (*end || end == value || errno || !isfinite(v))
                return AVERROR(EINVAL);
            *(float *)((char *)c + f->offset) = (float)v;
        } else if (f->type == 'i') {
            long v = strtol(value, &end, 10);
            if (*end || end == value || errno || v < 0 || v > 1000000000)
                return AVERROR(EINVAL);
            *(int *)((char *)c + f->offset) = (int)v;
        } else {
            unsigned long long v = strtoull(value, &end, 10);
            if (*end || end == value || errno)
                return AVERROR(EINVAL);
            *(uint64_t *)((char *)c + f->offset) = v;
        }
        return 0;
    }
    return AVERROR(EINVAL);
}

void anomaly_config_print(const AnomalyConfig *c, char *buf, int size)
{
    int len = 0;

    buf[0] = 0;
    for (int i = 0; i < NB_FIELDS && len < size; i++) {
        const ConfField *f = &conf_fields[i];
        const char *sep = i ? " " : "";
        if (f->type == 'f')
            len += snprintf(buf + len, size - len, "%s%s=%g", sep, f->name,
                            *(const float *)((const char *)c + f->offset));
        else if (f->type == 'i')
            len += snprintf(buf + len, size - len, "%s%s=%d", sep, f->name,
                            *(const int *)((const char *)c + f->offset));
        else
            len += snprintf(buf + len, size - len, "%s%s=%llu", sep, f->name,
                            (unsigned long long)*(const uint64_t *)((const char *)c + f->offset));
    }
}

/* Mean and deviation of the last len values. */
typedef struct RollStat {
    double *v;
    int len, pos, fill;
    double sum, sum2;
} RollStat;

static void roll_push(RollStat *r, double x)
{
    if (r->fill == r->len) {
        double old = r->v[r->pos];
        r->sum -= old;
        r->sum2 -= old * old;
    } else {
        r->fill++;
    }
    r->v[r->pos] = x;
    r->sum += x;
    r->sum2 += x * x;
    r->pos = (r->pos + 1) % r->len;
    /* the running sums drift with every subtraction: recompute them once a
     * lap (it depends on the row count only, so reruns stay bit-exact) */
    if (r->pos == 0) {
        r->sum = r->sum2 = 0;
        for (int i = 0; i < r->fill; i++) {
            r->sum += r->v[i];
            r->sum2 += r->v[i] * r->v[i];
        }
    }
}

/* log10 of the Gaussian upper tail Q(z); asymptotic where erfc underflows */
static double log10_q(double z)
{
    if (z < 30)
        return log10(0.5 * erfc(z / sqrt(2.0)));
    return (-0.5 * z * z - log(z) - 0.5 * log(2 * M_PI)) / M_LN10;
}

/* log10 of the probability of a value above x under the history's Gaussian;
 * 0 (certain) while the history is too short */
static double roll_log10_q(const RollStat *r, double x)
{
    double mu, var;

    if (r->fill < 2)
        return 0;
    mu = r->sum / r->fill;
    var = r->sum2 / r->fill - mu * mu;
    return log10_q((x - mu) / sqrt(var > 1e-8 ? var : 1e-8));
}

struct AnomalyDet {
    AnomalyConfig cfg;
    Lstm *lstm[ANOMALY_MAX_MODELS];
    LstmHyper hp;
    LstmState st[ANOMALY_MAX_MODELS];   /* after the latest row */
    long n;                      /* rows seen */

    /* normalisation (Welford) and the range seen */
    double mean, m2, vmin, vmax;
    /* feature state */
    double lag[3], ew_fast, ew_slow, ew_absd;

    /* the last bptt+1 inputs, and the state before each */
    float (*ring_x)[LSTM_F];
    LstmState *ring_s[ANOMALY_MAX_MODELS];
    float *win;                  /* chronological copy for lstm_train */
    int ring_len, ring_pos, ring_fill;

    float forecast;              /* of the next x */
    int have_forecast;

    /* errors: the last err_short raw ones; the history of their averages
     * over err_long rows */
    double *err_short;
    int short_pos, short_fill;
    double short_sum;
    RollStat hist_avg;

    long last_alarm;             /* row of the last alarm, -1 = none */
};

void anomaly_free(AnomalyDet **pd)
{
    AnomalyDet *d = *pd;

    if (!d)
        return;
    for (int k = 0; k < ANOMALY_MAX_MODELS; k++) {
        lstm_free(&d->lstm[k]);
        av_freep(&d->ring_s[k]);
    }
    av_freep(&d->ring_x);
    av_freep(&d->win);
    av_freep(&d->err_short);
    av_freep(&d->hist_avg.v);
    av_freep(pd);
}

int anomaly_alloc(AnomalyDet **pd, const AnomalyConfig *cfg)
{
    AnomalyDet *d;
    int ret;

    *pd = NULL;
    if (cfg->models < 1 || cfg->models > ANOMALY_MAX_MODELS || cfg->bptt < 1 || cfg->bptt > LSTM_T_MAX || cfg->train_every < 1 ||
        cfg->err_long < 2 || cfg->err_short < 1 || !(cfg->lr > 0))
        return AVERROR(EINVAL);
    if (!(d = av_mallocz(sizeof(*d))))
        return AVERROR(ENOMEM);
    d->cfg = *cfg;
    d->ring_len = cfg->bptt + 1;
    for (int k = 0; k < cfg->models; k++) {
        if ((ret = lstm_alloc(&d->lstm[k], cfg->seed + k)) < 0)
            goto fail;
        if (!(d->ring_s[k] = av_calloc(d->ring_len, sizeof(*d->ring_s[k])))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        lstm_state_reset(&d->st[k]);
    }
    if (!(d->ring_x = av_calloc(d->ring_len, sizeof(*d->ring_x))) ||
        !(d->win = av_calloc(d->ring_len * LSTM_F, sizeof(float))) ||
        !(d->err_short = av_calloc(cfg->err_short, sizeof(double))) ||
        !(d->hist_avg.v = av_calloc(cfg->err_long, sizeof(double)))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    d->hist_avg.len = cfg->err_long;
    lstm_hyper_default(&d->hp);
    d->hp.lr = cfg->lr;
    d->hp.w_fail = 0;            /* no labels here */
    for (int k = 0; k < LSTM_F; k++)
        d->hp.fc_mask[k] = k == (cfg->fc_delta ? 1 : 0);
    d->last_alarm = -1;
    *pd = d;
    return 0;
fail:
    anomaly_free(&d);
    return ret;
}

static double clipd(double v, double lim)
{
    return v > lim ? lim : v < -lim ? -lim : v;
}

/* The LSTM's inputs for normalised value x at ts. */
static void features(AnomalyDet *d, double x, int64_t ts, float *phi)
{
    const double two_pi = 6.283185307179586;
    double dx = d->n > 1 ? x - d->lag[0] : 0;
    double tod = (double)(((ts % 86400) + 86400) % 86400) / 86400;
    double dow = (double)((((ts / 86400) + 4) % 7 + 7) % 7) / 7;   /* 1970-01-01: Thursday */

    if (d->n <= 1) {
        d->lag[0] = d->lag[1] = d->lag[2] = x;
        d->ew_fast = d->ew_slow = x;
        d->ew_absd = 0;
    }
    d->ew_fast += 0.3 * (x - d->ew_fast);
    d->ew_slow += 0.02 * (x - d->ew_slow);
    d->ew_absd += 0.1 * (fabs(dx) - d->ew_absd);
    phi[0] = (float)x;
    phi[1] = (float)clipd(dx, 10);
    phi[2] = (float)d->lag[0];
    phi[3] = (float)d->lag[1];
    phi[4] = (float)d->lag[2];
    phi[5] = (float)d->ew_fast;
    phi[6] = (float)d->ew_slow;
    phi[7] = (float)clipd(x - d->ew_slow, 10);
    phi[8] = (float)clipd(d->ew_absd, 10);
    phi[9] = (float)sin(two_pi * tod);
    phi[10] = (float)cos(two_pi * tod);
    phi[11] = (float)sin(two_pi * dow);
    phi[12] = (float)cos(two_pi * dow);
    phi[13] = phi[14] = phi[15] = 0;   /* unused inputs */
    d->lag[2] = d->lag[1];
    d->lag[1] = d->lag[0];
    d->lag[0] = x;
}

static void train(AnomalyDet *d)
{
    int oldest = d->ring_pos;    /* the ring is full: ring_pos is the oldest */

    for (int i = 0; i < d->ring_len; i++)
        memcpy(d->win + i * LSTM_F, d->ring_x[(oldest + i) % d->ring_len], sizeof(float) * LSTM_F);
    for (int s = 0; s < d->cfg.train_steps; s++)
        for (int k = 0; k < d->cfg.models; k++)
            lstm_train(d->lstm[k], &d->hp, d->win, NULL, &d->ring_s[k][oldest], 1, d->cfg.bptt, NULL);
}

double anomaly_update(AnomalyDet *d, double value, int64_t ts, AnomalyInfo *info)
{
    const AnomalyConfig *c = &d->cfg;
    double x, sd, err = 0, avg, score = 0, lik = 0, delta, fc = d->forecast;
    float phi[LSTM_F];
    int spatial = 0;

    d->n++;
    /* spatial check against the range seen before this row */
    if (d->n > 1 && d->vmax > d->vmin) {
        double tol = (d->vmax - d->vmin) * c->spatial_tol;
        spatial = value > d->vmax + tol || value < d->vmin - tol;
    }
    if (d->n == 1 || value > d->vmax)
        d->vmax = value;
    if (d->n == 1 || value < d->vmin)
        d->vmin = value;

    delta = value - d->mean;
    d->mean += delta / d->n;
    d->m2 += delta * (value - d->mean);
    sd = d->n > 1 ? sqrt(d->m2 / (d->n - 1)) : 0;
    x = sd > 0 ? clipd((value - d->mean) / sd, 10) : 0;

    features(d, x, ts, phi);
    if (d->have_forecast)
        err = fabs(x - d->forecast);

    /* remember the input and the state before it, then step */
    memcpy(d->ring_x[d->ring_pos], phi, sizeof(phi));
    for (int k = 0; k < c->models; k++)
        d->ring_s[k][d->ring_pos] = d->st[k];
    d->ring_pos = (d->ring_pos + 1) % d->ring_len;
    if (d->ring_fill < d->ring_len)
        d->ring_fill++;
    {
        /* the models' forecasts averaged: their errors are partly
         * independent (different seeds), so the mean is steadier */
        double f = 0;
        float y[LSTM_F];
        for (int k = 0; k < c->models; k++) {
            lstm_step(d->lstm[k], &d->st[k], phi, NULL, y);
            f += c->fc_delta ? x + y[1] : y[0];
        }
        d->forecast = f / c->models;
    }
    d->have_forecast = 1;
    if (d->ring_fill == d->ring_len && d->n % c->train_every == 0)
        train(d);

    /* the error's short average against its long history */
    if (d->short_fill == c->err_short)
        d->short_sum -= d->err_short[d->short_pos];
    else
        d->short_fill++;
    d->err_short[d->short_pos] = err;
    d->short_sum += err;
    d->short_pos = (d->short_pos + 1) % c->err_short;
    avg = d->short_sum / d->short_fill;

    {
        /* the short average against its history */
        double lp = roll_log10_q(&d->hist_avg, avg);
        lik = 1 - pow(10, lp);
        /* log scale: p = 10^-logp_max/2 -> 0.5, p <= 10^-logp_max -> 1 */
        score = -lp / c->logp_max;
        score = score < 0 ? 0 : score > 1 ? 1 : score;
    }
    roll_push(&d->hist_avg, avg);
    if (spatial && score < c->spatial_score)
        score = c->spatial_score;
    if (d->n <= c->warmup)
        score = 0;
    if (c->suppress > 0) {
        if (d->last_alarm >= 0 && d->n - d->last_alarm <= c->suppress)
            score = fmin(score, c->alarm) * c->damp;
        else if (score >= c->alarm)
            d->last_alarm = d->n;
    }
    if (info) {
        info->x = x;
        info->forecast = fc;
        info->error = err;
        info->likelihood = lik;
        info->score = score;
    }
    return score;
}
