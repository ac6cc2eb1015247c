/*
 * fo.c: the failover orchestrator; see fo.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "core/comp.h"
#include "core/log.h"
#include "dra/dra.h"
#include "dra/hook.h"
#include "fo/fo.h"

/* Decisions for one component at one tick, at most (fo_decide makes three). */
#define FO_MAX_ACTIONS 4

/* A switch away at high risk, from the decision until its stage says it
 * was carried out (an EV_SWITCH with its seq): then it is an EV_AVERTED
 * event, which the model's labels need (dataset.h). */
typedef struct FoAway {
    uint32_t seq;                /* the request; 0 none */
    float risk;
    int from;                    /* the instance switched away from */
    int done;                    /* its switch event came */
} FoAway;

struct Fo {
    LogCtx log;
    Ecg *g;
    Dra *dra;                    /* runs the exec hooks; NULL: none */
    const Job *job;
    EventLog *events;
    int max_provisioned;
    FoPolicy *policy;            /* per stream */
    int nb_nodes;
    int *stream_of;              /* per node: its stream's index, -1 not ours */
    FoCompState *state;          /* per node; the tick's thread only */
    FoCandidate *cand;           /* the tick's scratch, FO_MAX_ACTIONS per node */
    pthread_mutex_t lock;
    int *failures;               /* per node, since the last tick; guarded by lock */
    FoAway *away;                /* per node; guarded by lock */
    int stopped;                 /* the graph may go: the sink ignores all; guarded by lock */
};

void fo_free(Fo **pf)
{
    Fo *f = *pf;

    if (!f)
        return;
    pthread_mutex_destroy(&f->lock);
    av_freep(&f->policy);
    av_freep(&f->stream_of);
    av_freep(&f->state);
    av_freep(&f->cand);
    av_freep(&f->failures);
    av_freep(&f->away);
    av_freep(pf);
}

int fo_alloc(Fo **pf, Ecg *g, Dra *dra, const Job *job, float thr_high, float thr_low,
             EventLog *events)
{
    Fo *f = av_mallocz(sizeof(*f));

    *pf = NULL;
    if (!f)
        return AVERROR(ENOMEM);
    logctx_init(&f->log, "fo");
    pthread_mutex_init(&f->lock, NULL);
    f->g = g;
    f->dra = dra;
    f->job = job;
    f->events = events;
    f->max_provisioned = job->supervisor.orchestrator.max_provisioned;
    if (!f->max_provisioned)
        f->max_provisioned = FO_DEFAULT_MAX_PROVISIONED;
    else if (f->max_provisioned < 0)
        f->max_provisioned = 0;   /* written 0: none ahead */
    f->nb_nodes = ecg_nb_nodes(g);
    f->policy = av_calloc(job->nb_streams, sizeof(*f->policy));
    f->stream_of = av_calloc(FFMAX(f->nb_nodes, 1), sizeof(*f->stream_of));
    f->state = av_calloc(FFMAX(f->nb_nodes, 1), sizeof(*f->state));
    f->cand = av_calloc(FFMAX(f->nb_nodes, 1) * FO_MAX_ACTIONS, sizeof(*f->cand));
    f->failures = av_calloc(FFMAX(f->nb_nodes, 1), sizeof(*f->failures));
    f->away = av_calloc(FFMAX(f->nb_nodes, 1), sizeof(*f->away));
    if (!f->policy || !f->stream_of || !f->state || !f->cand || !f->failures || !f->away) {
        fo_free(&f);
        return AVERROR(ENOMEM);
    }
    for (int s = 0; s < job->nb_streams; s++) {
        const JobStream *js = &job->streams[s];
        FoPolicy *p = &f->policy[s];
        const JobOrchestrator *o = &js->orchestrator;
        fo_policy_default(p, thr_high, thr_low);
        /* the job's values, where it gives them, over the model's */
        if (o->provision_above >= 0)
            p->provision_above = o->provision_above;
        if (o->release_below >= 0)
            p->release_below = o->release_below;
        if (o->switch_above >= 0)
            p->switch_above = o->switch_above;
        if (o->confirm > 0)
            p->confirm_ticks = o->confirm;
        if (o->keep_us > 0)
            p->keep_us = o->keep_us;
        /* standby: always is the stages' own (they reopen the standby
         * after each use); switching back is the orchestrator's, in every
         * mode: only to a primary whose risk was low when last seen */
        p->standby = js->standby == JOB_STANDBY_ON_RISK ? JOB_STANDBY_ON_RISK : JOB_STANDBY_NEVER;
        p->switch_back_us = js->switch_back_us;
        /* a backup asked of the provision hook is awaited as long as the
         * hook may run, its grace, and two ticks for its URL to be posted
         * and added */
        p->add_wait_us = job->supervisor.hook_timeout_us + DRA_HOOK_GRACE_US + 2000000;
        /* hot mode: the stage makes every open standby hot itself */
        if (o->hot_above >= 0 && js->standby_mode == JOB_STANDBY_WARM)
            p->hot_above = o->hot_above;
    }
    for (int i = 0; i < f->nb_nodes; i++) {
        const CompId *id = ecg_node(g, i);
        f->stream_of[i] = -1;
        if (ecg_node_role(g, i) != ECG_ROLE_COMPONENT ||
            (id->kind != COMP_INGEST && id->kind != COMP_ENCODER && id->kind != COMP_OUTPUT))
            continue;
        for (int s = 0; s < job->nb_streams; s++)
            if (!strcmp(job->streams[s].name, id->stream))
                f->stream_of[i] = s;
    }
    *pf = f;
    return 0;
}

void fo_event_sink(void *opaque, const Event *ev)
{
    Fo *f = opaque;
    CompId id;
    int i;

    if (ev->kind == EV_SWITCH && ev->seq) {
        /* a switch away carried out (the sink must not emit: the event
         * log's lock is held; the tick reports it) */
        pthread_mutex_lock(&f->lock);
        for (i = 0; i < f->nb_nodes && !f->stopped; i++)
            if (f->away[i].seq == ev->seq)
                f->away[i].done = 1;
        pthread_mutex_unlock(&f->lock);
        return;
    }
    if (ev->kind != EV_FAILURE || !ev->stream || !ev->component ||
        comp_parse(ev->component, 1, &id, NULL, 0) < 0)
        return;
    av_strlcpy(id.stream, ev->stream, sizeof(id.stream));
    pthread_mutex_lock(&f->lock);
    if (!f->stopped && (i = ecg_find(f->g, &id)) >= 0)
        f->failures[i]++;
    pthread_mutex_unlock(&f->lock);
}

void fo_stop(Fo *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->stopped = 1;
    pthread_mutex_unlock(&f->lock);
}

int fo_provisioned(const Fo *f)
{
    int n = 0;

    for (int i = 0; i < f->nb_nodes; i++)
        n += f->state[i].provisioned_at != 0;
    return n;
}

/* The standby encoder of node i as the job has it; NULL: not an encoder
 * with one. */
static const JobEncoderBackup *standby_of(const Fo *f, int i)
{
    const CompId *id = ecg_node(f->g, i);
    const JobStream *js;

    if (id->kind != COMP_ENCODER || f->stream_of[i] < 0)
        return NULL;
    js = &f->job->streams[f->stream_of[i]];
    for (int r = 0; r < js->nb_renditions; r++)
        if (!strcmp(js->renditions[r].name, id->name))
            return js->renditions[r].backup;
    return NULL;
}

/* The instance a provision hook may add to node i now (FoView's
 * add_instance): outputs alone take a URL, and only with a hook to give
 * one; a vacant slot first, else the next, while there is room. */
static int add_instance(const Fo *f, int i, const CompStatus *st)
{
    if (!f->dra || !f->job->supervisor.hook_provision || ecg_node(f->g, i)->kind != COMP_OUTPUT)
        return 0;
    for (int k = 1; k < st->nb_instances; k++)
        if (st->inst[k].state == INST_VACANT)
            return k;
    return st->nb_instances < COMP_MAX_INSTANCES ? st->nb_instances : 0;
}

/* An ADD: no request yet, the provision hook is run for the new instance;
 * its URL, when it gives one, becomes the request (dra.c). Returns 1 when
 * the hook was started. */
static int act_add(Fo *f, int i, const FoAction *a, const CompId *id, const char *name,
                   int64_t now_us)
{
    const CompId *node = ecg_node(f->g, i);
    char d[ECG_DECISION_SIZE];
    int ret = dra_provision(f->dra, id, a->risk, now_us);

    if (ret <= 0) {
        evlog_emit(f->events, node->stream, name, EV_WARNING, ret,
                   "orchestrator: %s %s (rule %s, risk %.2f) not started: %s", comp_op_name(a->op),
                   name, fo_rule_name(a->rule), a->risk, ret ? av_err2str(ret) : "no provision hook");
        return 0;
    }
    evlog_emit(f->events, node->stream, name, EV_INFO, 0, "orchestrator: %s %s (rule %s, risk "
               "%.2f): the provision hook runs for it; its url= line becomes the backup",
               comp_op_name(a->op), name, fo_rule_name(a->rule), a->risk);
    d[0] = 0;                     /* cut, not refused, when a name is long */
    av_strlcatf(d, sizeof(d), "%s %s: rule %s, risk %.2f, by the provision hook",
                comp_op_name(a->op), name, fo_rule_name(a->rule), a->risk);
    ecg_note_decision(f->g, i, d);
    return 1;
}

/* Posts one decision and says why. Returns 1 when it was posted. */
static int act(Fo *f, int i, const FoAction *a, int64_t now_us)
{
    const CompId *node = ecg_node(f->g, i);
    CompId id = *node;
    CompRequest req = { .op = a->op, .instance = a->instance, .origin = "fo",
                        .hot = a->rule == FO_RULE_RISK_HOT };
    char why[256] = "", name[128], on[80] = "";
    const JobEncoderBackup *eb;
    int ret;

    if (a->op == COMP_OP_ADD) {
        id.instance = a->instance;
        comp_format(&id, 0, name, sizeof(name));
        return act_add(f, i, a, &id, name, now_us);
    }

    /* a standby encoder opens on the device with the most headroom, under
     * the per-device budget (dra/place.h) */
    if (f->dra && a->op == COMP_OP_PROVISION && (eb = standby_of(f, i))) {
        id.instance = a->instance;
        comp_format(&id, 0, name, sizeof(name));
        if (dra_place_standby(f->dra, eb, now_us, req.device, sizeof(req.device),
                              why, sizeof(why)) < 0) {
            evlog_emit(f->events, node->stream, name, EV_INFO, 0,
                       "orchestrator: no device for %s at risk %.2f: %s (max_sessions_per_device)",
                       name, a->risk, why);
            return 0;
        }
        if (req.device[0])
            snprintf(on, sizeof(on), " on device %s", req.device);
    }
    id.instance = COMP_WHOLE;
    ret = ecg_request(f->g, &id, &req, why, sizeof(why));
    id.instance = a->instance;
    comp_format(&id, 0, name, sizeof(name));
    if (ret < 0) {
        evlog_emit(f->events, node->stream, name, EV_WARNING, ret,
                   "orchestrator: %s %s (rule %s, risk %.2f) not posted: %s", comp_op_name(a->op),
                   name, fo_rule_name(a->rule), a->risk, why[0] ? why : av_err2str(ret));
        return 0;
    }
    {
        char d[ECG_DECISION_SIZE];
        snprintf(d, sizeof(d), "%s %s%s: rule %s, risk %.2f, request %u", comp_op_name(a->op),
                 name, on, fo_rule_name(a->rule), a->risk, (unsigned)req.seq);
        ecg_note_decision(f->g, i, d);
    }
    evlog_emit_seq(f->events, node->stream, name, EV_INFO, 0, req.seq,
                   "orchestrator: %s %s%s (rule %s, risk %.2f, request %u)", comp_op_name(a->op),
                   name, on, fo_rule_name(a->rule), a->risk, (unsigned)req.seq);
    if (a->op == COMP_OP_SWITCH && a->rule == FO_RULE_SWITCH_AWAY) {
        CompStatus st;
        pthread_mutex_lock(&f->lock);
        f->away[i] = (FoAway){ .seq = req.seq, .risk = a->risk,
                               .from = ecg_status(f->g, i, &st) >= 0 ? st.active : -1 };
        pthread_mutex_unlock(&f->lock);
    }
    /* outside the process too: the job's hooks, for what is opened or let
     * go on risk (standby: always is the stage's own) */
    if (f->dra && a->op == COMP_OP_PROVISION && a->rule != FO_RULE_STANDBY_ALWAYS &&
        a->rule != FO_RULE_RISK_HOT)
        dra_provision(f->dra, &id, a->risk, now_us);
    else if (f->dra && a->op == COMP_OP_RELEASE)
        dra_release(f->dra, &id, a->risk, now_us);
    return 1;
}

int fo_tick(Fo *f, int64_t now_us)
{
    int nb = 0, posted = 0, held = fo_provisioned(f), slots;

    for (int i = 0; i < f->nb_nodes; i++) {
        FoView v = { .risk = -1 };
        FoAway away;
        EcgFigures fig;
        FoAction a[FO_MAX_ACTIONS];
        int n;

        if (f->stream_of[i] < 0)
            continue;
        ecg_figures(f->g, i, &fig);
        if (ecg_status(f->g, i, &v.st) < 0)
            continue;
        v.risk = fig.at_us ? fig.risk : -1;
        v.use = fig.at_us ? fig.use : -1;
        v.add_instance = add_instance(f, i, &v.st);
        {
            const FoPolicy *p = &f->policy[f->stream_of[i]];
            int dl;
            float r = fo_effective_risk(v.risk, v.use, p, &dl);
            int x = fo_crossing(&f->state[i], r, p);
            if (x) {
                const CompId *node = ecg_node(f->g, i);
                char name[128];
                comp_format(node, 0, name, sizeof(name));
                evlog_emit(f->events, node->stream, name, EV_RISK, 0,
                           x > 0 ? "failure risk %.2f is above %.2f%s" :
                                   "failure risk %.2f is back below %.2f%s",
                           r, x > 0 ? p->provision_above : p->release_below,
                           dl ? " (its deadline's: the calls take too long)" : "");
            }
        }
        pthread_mutex_lock(&f->lock);
        v.failovers = f->failures[i];
        f->failures[i] = 0;
        away = f->away[i];
        if (away.done)
            f->away[i] = (FoAway){ 0 };
        pthread_mutex_unlock(&f->lock);
        if (away.done) {
            CompId from = *ecg_node(f->g, i);
            char name[128];
            from.instance = away.from;
            comp_format(&from, 0, name, sizeof(name));
            evlog_emit_seq(f->events, from.stream, name, EV_AVERTED, 0, away.seq,
                           "switched away from %s at risk %.2f (request %u)", name, away.risk,
                           (unsigned)away.seq);
        }
        n = fo_decide(&f->state[i], &v, &f->policy[f->stream_of[i]], now_us, a, FO_MAX_ACTIONS);
        for (int k = 0; k < n; k++)
            f->cand[nb++] = (FoCandidate){ .a = a[k], .comp = i };
    }
    slots = FFMAX(f->max_provisioned - held, 0);
    fo_order(f->cand, nb);
    fo_budget(f->cand, nb, slots);
    for (int k = 0; k < nb; k++) {
        FoCandidate *c = &f->cand[k];
        if (!c->granted) {
            const CompId *node = ecg_node(f->g, c->comp);
            char name[128];
            comp_format(node, 0, name, sizeof(name));
            evlog_emit(f->events, node->stream, name, EV_INFO, 0,
                       "orchestrator: no backup ahead for %s at risk %.2f: %d of %d open "
                       "(max_provisioned)", name, c->a.risk, held, f->max_provisioned);
            continue;
        }
        if (act(f, c->comp, &c->a, now_us)) {
            fo_applied(&f->state[c->comp], &c->a, now_us);
            posted++;
        }
    }
    return posted;
}
