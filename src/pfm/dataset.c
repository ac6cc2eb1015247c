/*
 * dataset.c: data stores read into labelled series; see dataset.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "pfm/dataset.h"
#include "core/comp.h"
#include "hds/hds.h"

/* An event kept until the whole file is read. */
typedef struct LoadedEvent {
    int64_t time_us;
    char stream[40];
    char component[64];          /* as the event names it: "out:main.backup" */
    int series, index;           /* averted: where it went */
} LoadedEvent;

typedef struct Loader {
    Dataset *ds;
    int file;
    int first;                   /* ds->s[first..] came from this file */
    /* the tick being gathered: its components, host first once known */
    HdsTick tick;
    int have_tick;
    SampleComp *comps;
    int nb_comps, nb_comps_alloc;
    /* per series of this file: the extractor's state; index by series - first */
    HealthState *feat;
    int nb_feat;
    /* identity -> series, open addressing over series indices + 1 */
    int *table;
    int table_size;
    /* every failure event of this file, by instance, for the later state
     * of the switches away (an averted event names the instance) */
    LoadedEvent *fails;
    int nb_fails, nb_fails_alloc;
    /* the averted events: their series, index there, and instance */
    LoadedEvent *averted;
    int nb_averted_ev, nb_averted_ev_alloc;
    /* input switches: the source that took over (in index) */
    LoadedEvent *inswitch;
    int nb_inswitch, nb_inswitch_alloc;
} Loader;

static uint64_t key_hash(int64_t run, CompKind kind, const char *stream, const char *name, int source)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *s = stream; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = name; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h = (h ^ (uint64_t)kind) * 1099511628211ull;
    h = (h ^ (uint64_t)source) * 1099511628211ull;
    h = (h ^ (uint64_t)run) * 1099511628211ull;
    return h;
}

static int same(const DsSeries *s, int64_t run, CompKind kind, const char *stream,
                const char *name, int source)
{
    return s->run == run && s->kind == kind && s->source == source &&
           !strcmp(s->stream, stream) && !strcmp(s->name, name);
}

static int table_grow(Loader *ld)
{
    Dataset *ds = ld->ds;
    int n = ld->table_size ? ld->table_size * 2 : 256;
    int *t = av_calloc(n, sizeof(*t));

    if (!t)
        return AVERROR(ENOMEM);
    for (int i = ld->first; i < ds->nb; i++) {
        DsSeries *s = &ds->s[i];
        uint64_t h = key_hash(s->run, s->kind, s->stream, s->name, s->source);
        int j;
        for (j = h % n; t[j]; j = (j + 1) % n)
            ;
        t[j] = i + 1;
    }
    av_free(ld->table);
    ld->table = t;
    ld->table_size = n;
    return 0;
}

/* "news/enc:720p", "news/input.backup": the series' component as events
 * and people name it */
static void series_label_name(DsSeries *s)
{
    CompId id;

    health_series_id(s->kind, s->stream, s->name, s->source, &id);
    if (comp_format(&id, 1, s->label_name, sizeof(s->label_name)) < 0)
        snprintf(s->label_name, sizeof(s->label_name), "%s/%s", s->stream, s->name);
}

/* The series of a component of this file, created when new; index or < 0. */
static int series_of(Loader *ld, int64_t run, const SampleComp *c)
{
    Dataset *ds = ld->ds;
    int source = health_series_source(c->kind, c->backup);
    uint64_t h = key_hash(run, c->kind, c->stream, c->name, source);
    DsSeries *s;
    int j, ret;

    if ((ds->nb - ld->first + 1) * 2 > ld->table_size && (ret = table_grow(ld)) < 0)
        return ret;
    for (j = h % ld->table_size; ld->table[j]; j = (j + 1) % ld->table_size)
        if (same(&ds->s[ld->table[j] - 1], run, c->kind, c->stream, c->name, source))
            return ld->table[j] - 1;

    if (ds->nb == ds->nb_alloc) {
        int n = ds->nb_alloc ? ds->nb_alloc * 2 : 64;
        DsSeries *a = av_realloc_array(ds->s, n, sizeof(*a));
        if (!a)
            return AVERROR(ENOMEM);
        ds->s = a;
        ds->nb_alloc = n;
    }
    if (ds->nb - ld->first == ld->nb_feat) {
        int n = ld->nb_feat ? ld->nb_feat * 2 : 64;
        HealthState *f = av_realloc_array(ld->feat, n, sizeof(*f));
        if (!f)
            return AVERROR(ENOMEM);
        ld->feat = f;
        ld->nb_feat = n;
    }
    memset(&ld->feat[ds->nb - ld->first], 0, sizeof(*ld->feat));
    s = &ds->s[ds->nb];
    memset(s, 0, sizeof(*s));
    s->file = ld->file;
    s->run = run;
    s->kind = c->kind;
    s->source = source;
    av_strlcpy(s->stream, c->stream, sizeof(s->stream));
    av_strlcpy(s->name, c->name, sizeof(s->name));
    series_label_name(s);
    ld->table[j] = ds->nb + 1;
    return ds->nb++;
}

static int series_append(DsSeries *s, int64_t t, const float *x)
{
    if (s->n == s->n_alloc) {
        int n = s->n_alloc ? s->n_alloc * 2 : 256;
        int64_t *tt = av_realloc_array(s->time_us, n, sizeof(*tt));
        float *xx;
        if (!tt)
            return AVERROR(ENOMEM);
        s->time_us = tt;
        xx = av_realloc_array(s->x, (size_t)n * FEAT_NB, sizeof(*xx));
        if (!xx)
            return AVERROR(ENOMEM);
        s->x = xx;
        s->n_alloc = n;
    }
    s->time_us[s->n] = t;
    memcpy(s->x + (size_t)s->n * FEAT_NB, x, FEAT_NB * sizeof(*x));
    s->n++;
    return 0;
}

/* The gathered tick: host figures first, then every predicted component. */
static int flush_tick(Loader *ld)
{
    Dataset *ds = ld->ds;
    HealthHost host;
    const SampleComp *hc = NULL;

    if (!ld->have_tick)
        return 0;
    for (int i = 0; i < ld->nb_comps; i++)
        if (ld->comps[i].kind == COMP_HOST)
            hc = &ld->comps[i];
    health_host_comp(hc, &host);
    for (int i = 0; i < ld->nb_comps; i++) {
        const SampleComp *c = &ld->comps[i];
        float x[FEAT_NB];
        int si, ret;
        if (!health_kind_predicted(c->kind))
            continue;
        if ((si = series_of(ld, ld->tick.run, c)) < 0)
            return si;
        health_extract(&ld->feat[si - ld->first], c, health_peer(ld->comps, ld->nb_comps, c), &host,
                       ld->tick.time_us, x);
        if ((ret = series_append(&ds->s[si], ld->tick.time_us, x)) < 0)
            return ret;
        ds->ticks++;
    }
    ld->nb_comps = 0;
    ld->have_tick = 0;
    return 0;
}

static int on_sample(void *opaque, const HdsTick *t, const SampleComp *c)
{
    Loader *ld = opaque;
    int ret;

    if (ld->have_tick && (t->run != ld->tick.run || t->tick != ld->tick.tick) &&
        (ret = flush_tick(ld)) < 0)
        return ret;
    if (ld->nb_comps == ld->nb_comps_alloc) {
        int n = ld->nb_comps_alloc ? ld->nb_comps_alloc * 2 : 64;
        SampleComp *a = av_realloc_array(ld->comps, n, sizeof(*a));
        if (!a)
            return AVERROR(ENOMEM);
        ld->comps = a;
        ld->nb_comps_alloc = n;
    }
    ld->comps[ld->nb_comps++] = *c;
    ld->tick = *t;
    ld->have_tick = 1;
    return 0;
}

/* Appends t to a growing array of times. */
static int add_time(int64_t **v, int *nb, int *nb_alloc, int64_t t)
{
    if (*nb == *nb_alloc) {
        int n = *nb_alloc ? *nb_alloc * 2 : 8;
        int64_t *a = av_realloc_array(*v, n, sizeof(*a));
        if (!a)
            return AVERROR(ENOMEM);
        *v = a;
        *nb_alloc = n;
    }
    (*v)[(*nb)++] = t;
    return 0;
}

static int add_time(int64_t **v, int *nb, int *nb_alloc, int64_t t);

static int keep_event(LoadedEvent **v, int *nb, int *nb_alloc, const HdsEvent *e, int series,
                      int index)
{
    LoadedEvent *le;

    if (*nb == *nb_alloc) {
        int n = *nb_alloc ? *nb_alloc * 2 : 16;
        LoadedEvent *a = av_realloc_array(*v, n, sizeof(*a));
        if (!a)
            return AVERROR(ENOMEM);
        *v = a;
        *nb_alloc = n;
    }
    le = &(*v)[(*nb)++];
    le->time_us = e->time_us;
    av_strlcpy(le->stream, e->stream ? e->stream : "", sizeof(le->stream));
    av_strlcpy(le->component, e->component ? e->component : "", sizeof(le->component));
    le->series = series;
    le->index = index;
    return 0;
}

/* The risk an averted event's text gives ("... at risk 0.93 ..."), NAN
 * when it gives none. */
static float averted_risk(const char *cause)
{
    const char *p = cause ? strstr(cause, "at risk ") : NULL;
    char *end;
    double r;

    if (!p)
        return NAN;
    r = strtod(p + 8, &end);
    return end == p + 8 || !(r >= 0 && r <= 1) ? NAN : (float)r;
}

static int add_averted(DsSeries *s, int64_t t, float risk)
{
    int n = s->nb_averted_alloc, ret;

    if ((ret = add_time(&s->averted_us, &s->nb_averted, &s->nb_averted_alloc, t)) < 0)
        return ret;
    if (s->nb_averted_alloc != n || !s->averted_risk) {
        float *r = av_realloc_array(s->averted_risk, s->nb_averted_alloc, sizeof(*r));
        int64_t *f;
        if (!r)
            return AVERROR(ENOMEM);
        s->averted_risk = r;
        f = av_realloc_array(s->averted_fail_us, s->nb_averted_alloc, sizeof(*f));
        if (!f)
            return AVERROR(ENOMEM);
        s->averted_fail_us = f;
    }
    s->averted_risk[s->nb_averted - 1] = risk;
    s->averted_fail_us[s->nb_averted - 1] = INT64_MAX;
    return 0;
}

/* A failure (or a switch away at high risk) belongs to the series of its
 * component whose ticks cover its time (the run it happened in). */
static int on_event(void *opaque, const HdsEvent *e)
{
    Loader *ld = opaque;
    Dataset *ds = ld->ds;
    CompId id;
    int source, ret, averted = !strcmp(e->kind, "averted");

    if (!strcmp(e->kind, "switch") && e->component && !strncmp(e->component, "input", 5) && e->cause) {
        /* "input.backup takes over at ...": the source now in use */
        char first[64];
        if (sscanf(e->cause, "%63s", first) == 1 && comp_parse(first, 0, &id, NULL, 0) == 0 &&
            id.kind == COMP_INGEST)
            return keep_event(&ld->inswitch, &ld->nb_inswitch, &ld->nb_inswitch_alloc, e, -1,
                              health_series_source(id.kind, id.instance));
        return 0;
    }
    if (strcmp(e->kind, "failure") && !averted)
        return 0;
    if (averted) {
        ds->files[ld->file].averted_events++;
    } else {
        ds->files[ld->file].failure_events++;
        if ((ret = keep_event(&ld->fails, &ld->nb_fails, &ld->nb_fails_alloc, e, -1, -1)) < 0)
            return ret;
    }
    /* "enc:720p.backup" is the encoder's series, "input.backup" its own */
    if (!e->component || comp_parse(e->component, 0, &id, NULL, 0) < 0 ||
        !health_kind_predicted(id.kind))
        return 0;
    source = health_series_source(id.kind, id.instance);
    for (int i = ld->first; i < ds->nb; i++) {
        DsSeries *s = &ds->s[i];
        int match = !strcmp(s->stream, e->stream ? e->stream : "") && !strcmp(s->name, id.name) &&
                    s->source == source && s->kind == id.kind;
        if (!match || !s->n || e->time_us < s->time_us[0] ||
            e->time_us > s->time_us[s->n - 1] + 5000000)
            continue;
        if (averted) {
            if ((ret = add_averted(s, e->time_us, averted_risk(e->cause))) < 0 ||
                (ret = keep_event(&ld->averted, &ld->nb_averted_ev, &ld->nb_averted_ev_alloc, e, i,
                                  s->nb_averted - 1)) < 0)
                return ret;
        } else if ((ret = add_time(&s->failure_us, &s->nb_failures, &s->nb_failures_alloc,
                                   e->time_us)) < 0) {
            return ret;
        }
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Index of the last tick at or before t, -1 when none. */
static int tick_at(const DsSeries *s, int64_t t)
{
    int lo = 0, hi = s->n - 1, r = -1;

    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (s->time_us[mid] <= t) {
            r = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return r;
}

/* The later state of each switch away: the first failure event of the
 * instance it left, after it. Events come in time order, so each
 * averted event's is the first failure of its instance past its time. */
static void averted_outcomes(Loader *ld)
{
    for (int a = 0; a < ld->nb_averted_ev; a++) {
        const LoadedEvent *av = &ld->averted[a];
        DsSeries *s = &ld->ds->s[av->series];
        for (int f = 0; f < ld->nb_fails; f++) {
            const LoadedEvent *fe = &ld->fails[f];
            if (fe->time_us > av->time_us && !strcmp(fe->stream, av->stream) &&
                !strcmp(fe->component, av->component)) {
                s->averted_fail_us[av->index] = fe->time_us;
                break;
            }
        }
    }
}

/* Appends [from, to) to s's idle spans. */
static int add_idle(DsSeries *s, int64_t from, int64_t to)
{
    if (s->nb_idle == s->nb_idle_alloc) {
        int n = s->nb_idle_alloc ? s->nb_idle_alloc * 2 : 4;
        int64_t *a = av_realloc_array(s->idle_from_us, n, sizeof(*a)), *b;
        if (!a)
            return AVERROR(ENOMEM);
        s->idle_from_us = a;
        if (!(b = av_realloc_array(s->idle_to_us, n, sizeof(*b))))
            return AVERROR(ENOMEM);
        s->idle_to_us = b;
        s->nb_idle_alloc = n;
    }
    s->idle_from_us[s->nb_idle] = from;
    s->idle_to_us[s->nb_idle++] = to;
    return 0;
}

/* The spans each input source of this file was not the one in use: the
 * primary from the start until a switch, another from the start until it
 * took over, each after another took over. Switch events come in time
 * order. */
static int input_idle(Loader *ld)
{
    Dataset *ds = ld->ds;

    for (int i = ld->first; i < ds->nb; i++) {
        DsSeries *s = &ds->s[i];
        int64_t from = s->source == 0 ? INT64_MIN : s->n ? s->time_us[0] : 0;
        int in_use = s->source == 0;
        if (s->kind != COMP_INGEST || !s->n)
            continue;
        for (int k = 0; k < ld->nb_inswitch; k++) {
            const LoadedEvent *sw = &ld->inswitch[k];
            int now = sw->index == s->source;
            if (strcmp(sw->stream, s->stream) || sw->time_us < s->time_us[0] || now == in_use)
                continue;
            if (now) {          /* an idle span ends */
                int ret = add_idle(s, from, sw->time_us);
                if (ret < 0)
                    return ret;
            } else {
                from = sw->time_us;
            }
            in_use = now;
        }
        if (!in_use) {          /* idle until the end */
            int ret = add_idle(s, from, INT64_MAX);
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}

/* Sorts the switches away of s by time, their risks and outcomes with them. */
static void sort_averted(DsSeries *s)
{
    for (int i = 1; i < s->nb_averted; i++)
        for (int j = i; j > 0 && s->averted_us[j] < s->averted_us[j - 1]; j--) {
            FFSWAP(int64_t, s->averted_us[j], s->averted_us[j - 1]);
            FFSWAP(float, s->averted_risk[j], s->averted_risk[j - 1]);
            FFSWAP(int64_t, s->averted_fail_us[j], s->averted_fail_us[j - 1]);
        }
}

/* Keeps the failures that are new incidents of a component that was up. */
static void count_failures(DsSeries *s)
{
    int n = 0;

    qsort(s->failure_us, s->nb_failures, sizeof(*s->failure_us), cmp_i64);
    for (int i = 0; i < s->nb_failures; i++) {
        int64_t t = s->failure_us[i];
        int k = tick_at(s, t - 1);
        int was_up = k < 0 || isnan(s->x[(size_t)k * FEAT_NB + FEAT_UP]) ||
                     s->x[(size_t)k * FEAT_NB + FEAT_UP] > 0.5f;
        if (was_up && !(n && t - s->failure_us[n - 1] < DS_INCIDENT_US))
            s->failure_us[n++] = t;
    }
    s->nb_failures = n;
}

int dataset_load(Dataset *ds, const char *path, char *err, size_t err_size)
{
    HdsReader *r = NULL;
    HdsFilter f = { 0 };
    Loader ld = { .ds = ds, .file = ds->nb_files, .first = ds->nb };
    DsFile *files;
    int ret;

    ret = hds_reader_open(&r, path, err, err_size);
    if (ret < 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, err_size, "%s: %s", path, why);
        return ret;
    }
    files = av_realloc_array(ds->files, ds->nb_files + 1, sizeof(*files));
    if (!files) {
        hds_reader_close(&r);
        return AVERROR(ENOMEM);
    }
    ds->files = files;
    memset(&files[ds->nb_files], 0, sizeof(*files));
    if (!(files[ds->nb_files].path = av_strdup(path))) {
        hds_reader_close(&r);
        return AVERROR(ENOMEM);
    }
    ds->nb_files++;

    ret = hds_reader_samples(r, &f, on_sample, &ld);
    if (ret >= 0)
        ret = flush_tick(&ld);
    if (ret >= 0) {
        DsFile *df = &ds->files[ld.file];
        df->first_us = INT64_MAX;
        df->last_us = INT64_MIN;
        for (int i = ld.first; i < ds->nb; i++) {
            DsSeries *s = &ds->s[i];
            df->first_us = FFMIN(df->first_us, s->time_us[0]);
            df->last_us = FFMAX(df->last_us, s->time_us[s->n - 1]);
        }
        if (df->first_us > df->last_us)
            df->first_us = df->last_us = 0;
        ret = hds_reader_events(r, &f, on_event, &ld);
    }
    if (ret >= 0)
        ret = input_idle(&ld);
    if (ret >= 0) {
        averted_outcomes(&ld);
        for (int i = ld.first; i < ds->nb; i++) {
            DsSeries *s = &ds->s[i];
            count_failures(s);
            sort_averted(s);
        }
    }
    if (ret < 0)
        snprintf(err, err_size, "%s: cannot read the data store: %s", path, av_err2str(ret));
    hds_reader_close(&r);
    av_free(ld.comps);
    av_free(ld.feat);
    av_free(ld.table);
    av_free(ld.fails);
    av_free(ld.averted);
    av_free(ld.inswitch);
    return ret;
}

/* Did the instance switched away from at s's switch a fail on its own
 * within the horizon of the switch (and is that known by end_us)? */
static int averted_confirmed(const DsSeries *s, int a, int64_t horizon_us, int64_t end_us)
{
    int64_t f = s->averted_fail_us[a];

    return f != INT64_MAX && f <= end_us && f - s->averted_us[a] <= horizon_us;
}

void dataset_averted_count(const Dataset *ds, int64_t horizon_us, int *confirmed, int *censored)
{
    *confirmed = *censored = 0;
    for (int i = 0; i < ds->nb; i++) {
        const DsSeries *s = &ds->s[i];
        for (int a = 0; a < s->nb_averted; a++) {
            if (averted_confirmed(s, a, horizon_us, INT64_MAX))
                (*confirmed)++;
            else
                (*censored)++;
        }
    }
}

void dataset_label_series(const DsSeries *s, int64_t horizon_us, int64_t end_us, signed char *l)
{
    int f = 0;                   /* first failure after t */
    int nf = 0;                  /* failures seen up to end_us */
    int a = 0, na = 0;           /* the same for switches away */
    int d = 0;                   /* the first idle span not over at t */

    while (nf < s->nb_failures && s->failure_us[nf] <= end_us)
        nf++;
    while (na < s->nb_averted && s->averted_us[na] <= end_us)
        na++;
    for (int k = 0; k < s->n && s->time_us[k] <= end_us; k++) {
        int64_t t = s->time_us[k];
        float up = s->x[(size_t)k * FEAT_NB + FEAT_UP];
        while (f < nf && s->failure_us[f] <= t)
            f++;
        while (a < na && s->averted_us[a] <= t)
            a++;
        while (d < s->nb_idle && s->idle_to_us[d] <= t)
            d++;
        if (up == 0.0f || (d < s->nb_idle && s->idle_from_us[d] <= t) ||
            (f > 0 && t - s->failure_us[f - 1] <= DS_COOLDOWN_US))
            l[k] = -1;
        else if (f < nf && s->failure_us[f] <= t + horizon_us)
            l[k] = s->censor_abrupt && s->failure_class &&
                   s->failure_class[f] == EVAL_CLASS_ABRUPT ? -1 : 1;
        else if (a < na && s->averted_us[a] <= t + horizon_us)
            l[k] = averted_confirmed(s, a, horizon_us, end_us) ? 1 : -1;
        else if (t + horizon_us > end_us)
            l[k] = -1;
        else
            l[k] = 0;
    }
}

int dataset_classify(Dataset *ds, const EvalFault *f, int nb, int censor)
{
    for (int i = 0; i < ds->nb; i++) {
        DsSeries *s = &ds->s[i];
        const char *comp = strchr(s->label_name, '/');
        int64_t t0 = INT64_MAX;
        signed char *c = av_realloc(s->failure_class, s->nb_failures ? s->nb_failures : 1);

        if (!c)
            return AVERROR(ENOMEM);
        s->failure_class = c;
        s->censor_abrupt = censor;
        comp = comp ? comp + 1 : s->label_name;
        for (int j = 0; j < ds->nb; j++)
            if (ds->s[j].file == s->file && ds->s[j].n && !strcmp(ds->s[j].stream, s->stream))
                t0 = FFMIN(t0, ds->s[j].time_us[0]);
        for (int k = 0; k < s->nb_failures; k++)
            c[k] = eval_fault_class(f, nb, s->stream, comp, s->failure_us[k] - t0);
    }
    return 0;
}

int dataset_label(Dataset *ds, int64_t horizon_us)
{
    for (int i = 0; i < ds->nb; i++) {
        DsSeries *s = &ds->s[i];
        signed char *l = av_realloc(s->label, s->n ? s->n : 1);

        if (!l)
            return AVERROR(ENOMEM);
        s->label = l;
        if (s->n)
            dataset_label_series(s, horizon_us, s->time_us[s->n - 1], l);
    }
    return 0;
}

void dataset_free(Dataset *ds)
{
    for (int i = 0; i < ds->nb; i++) {
        av_free(ds->s[i].time_us);
        av_free(ds->s[i].x);
        av_free(ds->s[i].label);
        av_free(ds->s[i].failure_us);
        av_free(ds->s[i].averted_us);
        av_free(ds->s[i].averted_risk);
        av_free(ds->s[i].failure_class);
        av_free(ds->s[i].idle_from_us);
        av_free(ds->s[i].idle_to_us);
        av_free(ds->s[i].averted_fail_us);
    }
    av_free(ds->s);
    for (int i = 0; i < ds->nb_files; i++)
        av_free(ds->files[i].path);
    av_free(ds->files);
    memset(ds, 0, sizeof(*ds));
}
