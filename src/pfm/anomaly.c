/*
 * anomaly.c: the online sequence-novelty detector; see anomaly.h.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/error.h>

#include "pfm/anomaly.h"

/* The configuration's fields, by name, for anomaly_config_set/print. */
typedef struct ConfField {
    const char *name;
    size_t offset;
    char type;                   /* 'i' int, 'f' float */
} ConfField;

#define FIELD(n, t) { #n, offsetof(AnomalyConfig, n), t }
static const ConfField conf_fields[] = {
    FIELD(warmup, 'i'), FIELD(spatial_tol, 'f'), FIELD(spatial_score, 'f'),
    FIELD(qfreeze, 'i'), FIELD(levels, 'i'), FIELD(requant, 'f'),
    FIELD(order, 'i'), FIELD(min_order, 'i'), FIELD(dwell, 'i'), FIELD(table_bits, 'i'),
    FIELD(err_short, 'i'), FIELD(err_long, 'i'), FIELD(stat_skip, 'i'), FIELD(mean_floor, 'f'),
    FIELD(sd_floor, 'f'), FIELD(logp_max, 'f'), FIELD(row_gain, 'f'), FIELD(row_cap, 'i'),
    FIELD(alarm_gain, 'f'), FIELD(alarm_mem, 'i'), FIELD(alarm, 'f'), FIELD(suppress, 'i'),
    FIELD(damp, 'f'),
};
#define NB_FIELDS (int)(sizeof(conf_fields) / sizeof(conf_fields[0]))

void anomaly_config_default(AnomalyConfig *c)
{
    /* tests/data/nab/EXPERIMENTS.md: how each value was chosen */
    memset(c, 0, sizeof(*c));
    c->warmup = 300;
    c->spatial_tol = 0.05f;
    c->spatial_score = 1.0f;
    c->qfreeze = 150;
    c->levels = 16;
    c->requant = 0;
    c->order = 1;
    c->min_order = 1;
    c->dwell = 1;
    c->table_bits = 10;
    c->err_short = 11;
    c->err_long = 2000;
    c->stat_skip = 100;
    c->mean_floor = 0.03f;       /* Numenta's anomaly likelihood floors */
    c->sd_floor = 0.0173f;
    c->logp_max = 6;
    c->row_gain = 1;
    c->row_cap = 20000;
    c->alarm_gain = 0.1f;
    c->alarm_mem = 10000;
    c->alarm = 0.5f;
    c->suppress = 60;
    c->damp = 0.5f;
}

int anomaly_config_check(const AnomalyConfig *c)
{
    if (c->levels < 1 || c->levels > 1000 || c->order < 1 || c->order > ANOMALY_MAX_ORDER ||
        c->min_order < 0 || c->min_order > c->order || c->dwell < 0 || c->dwell > 1 ||
        c->table_bits < 4 || c->table_bits > ANOMALY_MAX_TABLE_BITS || c->err_short < 1 ||
        c->err_short > ANOMALY_MAX_SHORT || c->err_long < 2 || !(c->logp_max > 0) ||
        !(c->spatial_tol >= 0) || !(c->requant >= 0) || !(c->sd_floor > 0) ||
        !(c->mean_floor >= 0) || !(c->row_gain >= 0) || !(c->alarm_gain >= 0) ||
        c->alarm_mem < 1)
        return AVERROR(EINVAL);
    return 0;
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
        } else {
            long v = strtol(value, &end, 10);
            if (*end || end == value || errno || v < 0 || v > 1000000000)
                return AVERROR(EINVAL);
            *(int *)((char *)c + f->offset) = (int)v;
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
        else
            len += snprintf(buf + len, size - len, "%s%s=%d", sep, f->name,
                            *(const int *)((const char *)c + f->offset));
    }
}

void anomaly_state_reset(AnomalyState *s)
{
    memset(s, 0, sizeof(*s));
}

/* -log10 of the Gaussian upper tail Q(z); asymptotic where erfc underflows */
static double neg_log10_q(double z)
{
    if (z < 30)
        return -log10(0.5 * erfc(z / M_SQRT2));
    return (0.5 * z * z + log(z) + 0.5 * log(2 * M_PI)) / M_LN10;
}

/* the transition (k previous symbols, dwell -> sym) as a table index */
static unsigned transition_hash(const AnomalyState *s, int k, int sym, int dwell, int bits)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(k | dwell << 8);

    h = (h ^ (uint16_t)sym) * 1099511628211ull;
    for (int i = 0; i < k; i++)
        h = (h ^ (uint16_t)s->sym[i]) * 1099511628211ull;
    h ^= h >> 29;                /* FNV-1a, then a mixer for the low bits */
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (unsigned)(h & ((1u << bits) - 1));
}

/* The novelty of symbol sym after the stored ones, learnt as it is judged. */
static double novelty(const AnomalyConfig *c, AnomalyState *s, int sym)
{
    int counted = 0, fresh = 0, dw = 0;

    if (s->nsym && sym == s->sym[0])
        s->run++;
    else
        s->run = 1;
    /* log2 of the rows on this symbol, this one included: a level held
     * longer than ever before is new once per doubling */
    if (c->dwell)
        for (int r = s->run; r > 1 && dw < 31; r >>= 1)
            dw++;
    for (int k = c->min_order; k <= c->order && k <= s->nsym; k++) {
        unsigned h = transition_hash(s, k, sym, dw, c->table_bits);
        counted++;
        if (!(s->seen[h >> 6] >> (h & 63) & 1))
            fresh++;
        s->seen[h >> 6] |= 1ull << (h & 63);
    }
    memmove(s->sym + 1, s->sym, sizeof(s->sym) - sizeof(s->sym[0]));
    s->sym[0] = (int16_t)sym;
    if (s->nsym < ANOMALY_MAX_ORDER)
        s->nsym++;
    return counted ? (double)fresh / counted : 0;
}

/* The symbol of value v; cuts (or re-cuts) the levels from the range seen. */
static int quantise(const AnomalyConfig *c, AnomalyState *s, double v)
{
    double range = s->vmax - s->vmin;

    if (!s->qset || (c->requant > 0 && range > s->qrange * c->requant)) {
        if (s->qset) {
            /* the old symbols meant other values: forget them */
            memset(s->seen, 0, sizeof(s->seen));
            s->nsym = 0;
        }
        s->qset = 1;
        s->qrange = range;
        s->qlo = s->vmin;
        /* a flat start: any departure is a symbol of its own */
        s->qstep = range > 0 ? range / c->levels : fabs(s->vmin) * 1e-3 + 1e-12;
    }
    /* far values share the outermost symbols (int16 storage) */
    return (int)av_clipd(floor((v - s->qlo) / s->qstep), -1000, 1000);
}

double anomaly_step(const AnomalyConfig *c, AnomalyState *s, double value, AnomalyInfo *info)
{
    double score = 0, raw = 0, avg = 0, lik = 0;
    int spatial = 0, sym = INT16_MIN;

    if (info)
        memset(info, 0, sizeof(*info));
    if (isnan(value))
        return 0;
    s->n++;
    /* the spatial check, against the range seen before this row */
    if (s->n > 1 && s->vmax > s->vmin) {
        double tol = (s->vmax - s->vmin) * c->spatial_tol;
        spatial = value > s->vmax + tol || value < s->vmin - tol;
    }
    if (s->n == 1 || value > s->vmax)
        s->vmax = value;
    if (s->n == 1 || value < s->vmin)
        s->vmin = value;

    if (s->n >= c->qfreeze) {
        sym = quantise(c, s, value);
        raw = novelty(c, s, sym);
        /* a series that never moved has no past to be new against (its
         * run only grows): a flat figure stays quiet until it moves */
        if (s->vmax == s->vmin)
            raw = 0;

        if (s->raw_fill == c->err_short)
            s->raw_sum -= s->raw[s->raw_pos];
        else
            s->raw_fill++;
        s->raw[s->raw_pos] = (float)raw;
        s->raw_sum += (float)raw;
        s->raw_pos = (s->raw_pos + 1) % c->err_short;
        avg = s->raw_sum / s->raw_fill;

        /* judged against the past before it joins it */
        if (s->lcount > 0) {
            double mean = fmax(s->lmean, c->mean_floor);
            double sd = fmax(sqrt(s->lvar), c->sd_floor);
            double lp = neg_log10_q((avg - mean) / sd);
            /* the bar: higher as the statistics firm up (their deviation
             * shrinks as the table fills, so a z means more later) and
             * after recent alarms (a noisy series must say more) */
            double bar = c->logp_max * (1 + c->row_gain * FFMIN(s->n, c->row_cap) / 10000.0) *
                         (1 + c->alarm_gain * s->alarms);
            lik = 1 - pow(10, -lp);
            score = av_clipd(lp / bar, 0, 1);
        }
        /* the first rows after the levels are cut are all new: they would
         * teach the statistics that novelty is common */
        if (s->n >= c->qfreeze + c->stat_skip) {
            double w, d;
            s->lcount++;
            w = s->lcount < c->err_long ? 1.0 / s->lcount : 1.0 / c->err_long;
            d = avg - s->lmean;
            s->lmean += w * d;
            s->lvar = (1 - w) * (s->lvar + w * d * d);
        }
    }
    if (spatial && score < c->spatial_score)
        score = c->spatial_score;
    if (s->n <= c->warmup)
        score = 0;
    if (c->suppress > 0) {
        if (s->last_alarm > 0 && s->n - s->last_alarm <= c->suppress)
            score = fmin(score, c->alarm) * c->damp;
        else if (score >= c->alarm)
            s->last_alarm = s->n;
    }
    s->alarms += (s->last_alarm == s->n) - s->alarms / c->alarm_mem;
    if (info) {
        info->symbol = sym;
        info->raw = raw;
        info->avg = avg;
        info->likelihood = lik;
        info->spatial = spatial;
        info->score = score;
    }
    return score;
}
