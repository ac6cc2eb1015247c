/*
 * steering.c: the orchestrator's steering of viewers; see steering.h.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/mem.h>

#include "core/log.h"
#include "fo/fo_rules.h"
#include "fo/steer_rules.h"
#include "fo/steering.h"

/* A demoted pathway healthy this long is promoted, where the stream sets
 * no switch_back. */
#define STEER_DEFAULT_PROMOTE_US (30 * 1000000LL)
/* A player keeps about three segments: an edge this many segment
 * durations behind has let its viewers' buffers run dry. */
#define STEER_STALE_SEGMENTS 3.0

typedef struct SteerOutState {
    int k;                        /* the server's index */
    const JobStream *js;
    const JobOutput *jo;
    FoPolicy fp;                  /* thresholds for fo_effective_risk */
    SteerPolicy sp;
    SteerPathState st[JOB_MAX_PATHWAYS];
    int order[JOB_MAX_PATHWAYS];  /* as told to the server */
    int listed;                   /* ... the first this many in the manifest */
    int node[JOB_MAX_PATHWAYS];   /* the pathways' nodes in the graph, -1 none */
    int pin[JOB_MAX_PATHWAYS];    /* protected by FoSteer.lock */
    int npin;                     /* ... 0: the rules' order */
    int told_pinned;              /* the tick's own */
} SteerOutState;

struct FoSteer {
    LogCtx log;
    Ecg *g;
    Steer *server;
    EventLog *events;
    SteerOutState *out;
    int nb;
    pthread_mutex_t lock;
};

void fo_steer_free(FoSteer **pf)
{
    FoSteer *f = *pf;

    if (!f)
        return;
    pthread_mutex_destroy(&f->lock);
    av_freep(&f->out);
    av_freep(pf);
}

int fo_steer_alloc(FoSteer **pf, const Job *job, Ecg *g, Steer *server, EventLog *events,
                   float thr_high, float thr_low)
{
    FoSteer *f;

    *pf = NULL;
    if (!server || !steer_nb(server))
        return 0;
    if (!(f = av_mallocz(sizeof(*f))))
        return AVERROR(ENOMEM);
    logctx_init(&f->log, "steering");
    pthread_mutex_init(&f->lock, NULL);
    f->g = g;
    f->server = server;
    f->events = events;
    if (!(f->out = av_calloc(steer_nb(server), sizeof(*f->out)))) {
        fo_steer_free(&f);
        return AVERROR(ENOMEM);
    }
    for (int k = 0; k < steer_nb(server); k++) {
        SteerOutState *o = &f->out[f->nb++];
        const JobOrchestrator *jo;
        int s, out;
        steer_output(server, k, &s, &out);
        o->k = k;
        o->js = &job->streams[s];
        o->jo = &o->js->outputs[out];
        jo = &o->js->orchestrator;
        fo_policy_default(&o->fp, thr_high, thr_low);
        if (jo->provision_above >= 0)
            o->fp.provision_above = jo->provision_above;
        if (jo->release_below >= 0)
            o->fp.release_below = jo->release_below;
        o->sp = (SteerPolicy){
            .demote_above = o->fp.provision_above,
            .promote_below = o->fp.release_below,
            .confirm_ticks = jo->confirm > 0 ? jo->confirm : o->fp.confirm_ticks,
            .promote_after_us = o->js->switch_back_us > 0 ? o->js->switch_back_us
                                                          : STEER_DEFAULT_PROMOTE_US,
        };
        for (int p = 0; p < o->jo->nb_pathways; p++) {
            CompId id = { .kind = COMP_EDGE, .instance = COMP_WHOLE };
            av_strlcpy(id.stream, o->js->name, sizeof(id.stream));
            snprintf(id.name, sizeof(id.name), "%s:%s", o->jo->name, o->jo->pathways[p].id);
            o->node[p] = g ? ecg_find(g, &id) : -1;
            o->order[p] = p;
        }
        o->listed = o->jo->nb_pathways;
    }
    *pf = f;
    return 0;
}

/* The share of its deadlines an edge's answers take (steering.h). */
static double edge_use(const SampleComp *c)
{
    double t, use = -1;

    if (!sample_has(c, XM_SEGMENT_DURATION) || (t = c->v[XM_SEGMENT_DURATION]) <= 0)
        return -1;
    if (sample_has(c, XM_REQUEST_LATENCY))
        use = fmax(use, c->v[XM_REQUEST_LATENCY] / t);
    if (sample_has(c, XM_SEGMENT_LATENCY))
        use = fmax(use, c->v[XM_SEGMENT_LATENCY] / t);
    if (sample_has(c, XM_FRESHNESS))
        use = fmax(use, c->v[XM_FRESHNESS] / (STEER_STALE_SEGMENTS * t));
    return use;
}

static SampleComp *find_edge(Sample *s, const char *stream, const char *name)
{
    for (int i = 0; i < s->nb_comps; i++)
        if (s->comps[i].kind == COMP_EDGE && !strcmp(s->comps[i].stream, stream) &&
            !strcmp(s->comps[i].name, name))
            return &s->comps[i];
    return NULL;
}

/* "cdn-b,cdn-c" and, when some are left out, " (cdn-a left out)". */
static void order_text(const SteerOutState *o, const int *order, int listed, char *buf,
                       size_t size)
{
    AVBPrint bp;

    av_bprint_init_for_buffer(&bp, buf, size);
    for (int i = 0; i < listed; i++)
        av_bprintf(&bp, "%s%s", i ? "," : "", o->jo->pathways[order[i]].id);
    for (int i = listed; i < o->jo->nb_pathways; i++)
        av_bprintf(&bp, "%s%s%s", i == listed ? " (" : ",", o->jo->pathways[order[i]].id,
                   i == o->jo->nb_pathways - 1 ? " left out)" : "");
}

static void steer_one(FoSteer *f, SteerOutState *o, Sample *s, int64_t now)
{
    const JobOutput *jo = o->jo;
    SampleComp *c[JOB_MAX_PATHWAYS];
    int rules[JOB_MAX_PATHWAYS], order[JOB_MAX_PATHWAYS], pin[JOB_MAX_PATHWAYS];
    int n = jo->nb_pathways, npin, listed;
    char why[512] = "", was[256], now_order[256];
    AVBPrint bp;

    av_bprint_init_for_buffer(&bp, why, sizeof(why));
    for (int p = 0; p < n; p++) {
        char name[COMP_NAME_SIZE];
        SteerView v = { .risk = -1 };
        SteerChange ch;
        int dl;
        snprintf(name, sizeof(name), "%s:%s", jo->name, jo->pathways[p].id);
        c[p] = find_edge(s, o->js->name, name);
        if (c[p] && sample_has(c[p], XM_UP)) {
            v.known = 1;
            v.up = c[p]->v[XM_UP] > 0;
            /* a viewer that failed: the edge has failed, whatever its
             * answers' times */
            v.risk = v.up ? fo_effective_risk(-1, edge_use(c[p]), &o->fp, &dl) : 1;
            if (v.risk >= 0)
                sample_set(c[p], XM_FAILURE_RISK, v.risk);
            if (jo->steering.on_failure_only)
                v.risk = v.up ? 0 : 1;   /* demote_on: failure: the risk is not acted on */
        }
        ch = steer_judge(&o->st[p], &v, &o->sp, now);
        if (ch == STEER_DEMOTED_RISK)
            av_bprintf(&bp, "%s%s demoted: risk %.2f above %.2f for %d ticks", why[0] ? "; " : "",
                       jo->pathways[p].id, v.risk, o->sp.demote_above, o->sp.confirm_ticks);
        else if (ch == STEER_DEMOTED_DOWN)
            av_bprintf(&bp, "%s%s demoted: its viewer failed", why[0] ? "; " : "",
                       jo->pathways[p].id);
        else if (ch == STEER_PROMOTED)
            av_bprintf(&bp, "%s%s promoted: healthy for %.0f s (risk %.2f)", why[0] ? "; " : "",
                       jo->pathways[p].id, o->sp.promote_after_us / 1e6, v.risk);
    }
    listed = steer_order(o->st, n, rules);
    pthread_mutex_lock(&f->lock);
    npin = o->npin;
    memcpy(pin, o->pin, sizeof(pin));
    pthread_mutex_unlock(&f->lock);
    if (npin) {                   /* by hand: every pathway, as pinned */
        steer_pin_merge(rules, n, pin, npin, order);
        listed = n;
    } else {
        memcpy(order, rules, n * sizeof(*order));
    }

    if (memcmp(order, o->order, n * sizeof(*order)) || listed != o->listed ||
        !!npin != o->told_pinned) {
        char comp[128];
        order_text(o, o->order, o->listed, was, sizeof(was));
        order_text(o, order, listed, now_order, sizeof(now_order));
        snprintf(comp, sizeof(comp), "out:%s", jo->name);
        evlog_emit(f->events, o->js->name, comp, EV_STEER, 0,
                   "steering: PATHWAY-PRIORITY %s (was %s)%s%s%s", now_order, was,
                   npin ? ", pinned by hand" : o->told_pinned ? ", given back to the rules" : "",
                   why[0] ? ": " : "", why);
        memcpy(o->order, order, n * sizeof(*order));
        o->listed = listed;
        o->told_pinned = !!npin;
        steer_set_order(f->server, o->k, order, listed);
    } else if (why[0]) {
        char comp[128];
        snprintf(comp, sizeof(comp), "out:%s", jo->name);
        evlog_emit(f->events, o->js->name, comp, EV_INFO, 0, "steering: %s (order %s kept%s)",
                   why, (order_text(o, order, listed, now_order, sizeof(now_order)), now_order),
                   npin ? ": pinned by hand" : "");
    }

    for (int i = 0; i < n; i++) {
        int p = order[i];
        SteerViewers vw;
        if (c[p]) {
            steer_viewers(f->server, o->k, p, now, &vw);
            sample_set(c[p], XM_STEER_PRIORITY, i + 1);
            sample_set(c[p], XM_STEER_REQUESTS, vw.requests);
            sample_set(c[p], XM_STEER_PLAYERS, vw.players);
            if (vw.throughput_bps >= 0)
                sample_set(c[p], XM_STEER_THROUGHPUT, vw.throughput_bps);
        }
        if (f->g && o->node[p] >= 0) {
            EcgFigures fig = { .risk = -1, .rate = -1, .queue = -1, .use = -1,
                               .priority = i + 1, .pinned = npin > 0, .at_us = now };
            if (c[p] && sample_has(c[p], XM_FAILURE_RISK))
                fig.risk = (float)c[p]->v[XM_FAILURE_RISK];
            if (c[p])
                fig.use = edge_use(c[p]);
            ecg_note(f->g, o->node[p], &fig);
        }
    }
}

void fo_steer_tick(FoSteer *f, Sample *s, int64_t now_us)
{
    for (int k = 0; f && k < f->nb; k++)
        steer_one(f, &f->out[k], s, now_us);
}

int fo_steer_pin(FoSteer *f, const char *stream, const char *output, const char *const *ids,
                 int n, char *why, size_t why_size)
{
    SteerOutState *o = NULL;
    int pin[JOB_MAX_PATHWAYS];

    for (int k = 0; f && k < f->nb && !o; k++)
        if (!strcmp(f->out[k].js->name, stream) && !strcmp(f->out[k].jo->name, output))
            o = &f->out[k];
    if (!o) {
        snprintf(why, why_size, "%s/%s has no pathways to steer", stream, output);
        return AVERROR(ENOENT);
    }
    if (n > o->jo->nb_pathways) {
        snprintf(why, why_size, "%s/%s has %d pathways, %d given", stream, output,
                 o->jo->nb_pathways, n);
        return AVERROR(EINVAL);
    }
    for (int i = 0; i < n; i++) {
        pin[i] = -1;
        for (int p = 0; p < o->jo->nb_pathways; p++)
            if (!strcmp(ids[i], o->jo->pathways[p].id))
                pin[i] = p;
        for (int j = 0; j < i && pin[i] >= 0; j++)
            if (pin[j] == pin[i]) {
                snprintf(why, why_size, "pathway %.64s is given twice", ids[i]);
                return AVERROR(EINVAL);
            }
        if (pin[i] < 0) {
            AVBPrint bp;
            av_bprint_init_for_buffer(&bp, why, why_size);
            av_bprintf(&bp, "%s/%s has no pathway %.64s (it has", stream, output, ids[i]);
            for (int p = 0; p < o->jo->nb_pathways; p++)
                av_bprintf(&bp, " %s", o->jo->pathways[p].id);
            av_bprintf(&bp, ")");
            return AVERROR(EINVAL);
        }
    }
    pthread_mutex_lock(&f->lock);
    memcpy(o->pin, pin, n * sizeof(*pin));
    o->npin = n;
    pthread_mutex_unlock(&f->lock);
    return 0;
}
