/*
 * tick.c: the supervisor's tick; see tick.h. Moved out of cli/cmd_run.c
 * as it was: a component of the run, not a command.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/log.h"
#include "dra/dra.h"
#include "fo/fo.h"
#include "fo/steering.h"
#include "fo/tick.h"
#include "hds/hds.h"
#include "hma/metrics.h"
#include "hma/sampler.h"
#include "pfm/host_risk.h"
#include "pfm/model.h"
#include "pfm/predictor.h"

/* The historical data store and the metrics endpoint, when the job asks
 * for them, and the failure model, unless the job turns it off; all are
 * fed by the sampler every tick, the model first so that the others carry
 * its risk. The tick's thread only, but for fo (its sink: fo.h). */
/* A deadline use without a newer figure stands this long (an origin
 * answers a check per segment, not per tick). */
#define TICK_USE_HOLD_US (3 * 1000000LL)

struct Tick {
    LogCtx log;
    const Job *job;
    Sampler *sampler;
    Predictor *pred;
    EventLog *events;
    Hds *hds;
    Metrics *metrics;
    int64_t next_tick;
    int64_t last_us;             /* when it last ran; read by the same thread */
    Ecg *g;                      /* not owned: gets each tick's figures */
    Fo *fo;                      /* acts on them */
    Dra *dra;                    /* runs the job's exec hooks for it */
    Steer *steer;                /* the steering manifests on the endpoint */
    FoSteer *steering;           /* ... and their order */
    HostRisk host;               /* the last tick's (host_risk.h) */
    struct NodePrev {            /* per node of g: a counter's last value */
        double count;
        int64_t at_us;
        int source;              /* inputs: the source it was counted on */
        double use;              /* the last deadline use known ... */
        int64_t use_at_us;       /* ... and when: a tick without an answer
                                    from the origin does not forget it */
    } *prev;
};

/* The job's model, or the default one. A model that cannot be used is not
 * a reason to stop a live job: the run goes on without prediction and
 * says so. */
static void prediction_start(Tick *sv, const JobSupervisor *js)
{
    char path[4096], why[256];
    Model *m = NULL;
    const char *p = js->model_path;

    if (js->prediction_off) {
        av_log(NULL, AV_LOG_INFO, "failure prediction is off (supervisor: model: none)\n");
        return;
    }
    if (!p) {
        if (predictor_default_model(path, sizeof(path)) < 0) {
            av_log(NULL, AV_LOG_INFO, "no failure model installed (models/default.hsm): "
                   "running without prediction\n");
            return;
        }
        p = path;
    }
    if (model_load(p, &m, NULL) < 0) {
        av_log(NULL, AV_LOG_WARNING, "the failure model %s cannot be used (see above): "
               "running without prediction\n", p);
        return;
    }
    if (predictor_model_fits(m, why, sizeof(why)) < 0) {
        av_log(NULL, AV_LOG_WARNING, "the failure model %s cannot be used: %s; running without "
               "prediction\n", p, why);
        model_free(&m);
        return;
    }
    if (predictor_alloc(&sv->pred, &m) < 0) {
        model_free(&m);
        av_log(NULL, AV_LOG_WARNING, "out of memory for the failure model: running without prediction\n");
        return;
    }
    av_log(NULL, AV_LOG_INFO, "failure prediction with %s (horizon %d s, provisioning above %.2f)\n",
           p, predictor_model(sv->pred)->horizon_s, predictor_model(sv->pred)->thr_high);
}

/* with_control: a control socket shows each tick's figures, so the tick
 * runs even without a store, an endpoint or a model. */
static int tick_start(Tick *sv, const Job *job, Ecg *g, EventLog *events)
{
    const JobSupervisor *js = &job->supervisor;
    int ret;

    prediction_start(sv, js);
    sv->events = events;
    sv->g = g;
    sv->prev = av_calloc(ecg_nb_nodes(g), sizeof(*sv->prev));
    if (!sv->prev)
        return AVERROR(ENOMEM);
    /* the orchestrator: without a model only the deadline's risk is known
     * (fo_rules.h), on the default thresholds */
    if ((ret = dra_alloc(&sv->dra, job, g, events)) < 0)
        return ret;
    ret = fo_alloc(&sv->fo, g, sv->dra, job,
                   sv->pred ? predictor_model(sv->pred)->thr_high : FO_DEFAULT_ABOVE,
                   sv->pred ? predictor_model(sv->pred)->thr_low : FO_DEFAULT_BELOW, events);
    if (ret < 0)
        return ret;
    evlog_add_sink(events, fo_event_sink, sv->fo);
    if (js->hds_path) {
        HdsConfig hc;
        hds_config_init(&hc);
        hc.path = js->hds_path;
        hc.retention_us = js->hds_retention_us;
        hc.raw_window_us = js->hds_raw_window_us;
        hc.tick_us = js->tick_us;
        if ((ret = hds_open(&sv->hds, &hc)) < 0) {
            fprintf(stderr, "hotspare run: cannot use the data store %s: %s\n", js->hds_path,
                    av_err2str(ret));
            return ret;
        }
        evlog_add_sink(events, hds_event_sink, sv->hds);
    }
    if (js->metrics_addr && (ret = metrics_start(&sv->metrics, js->metrics_addr,
                                                 js->metrics_allow_remote)) < 0) {
        fprintf(stderr, "hotspare run: cannot serve metrics on %s: %s\n", js->metrics_addr,
                av_err2str(ret));
        return ret;
    }
    if ((ret = steer_alloc(&sv->steer, job, sv->metrics)) < 0 ||
        (ret = fo_steer_alloc(&sv->steering, job, g, sv->steer, events,
                              sv->pred ? predictor_model(sv->pred)->thr_high : FO_DEFAULT_ABOVE,
                              sv->pred ? predictor_model(sv->pred)->thr_low : FO_DEFAULT_BELOW)) < 0)
        return ret;
    if ((ret = sampler_alloc(&sv->sampler, job, ecg_pipelines(g), ecg_nb_streams(g))) < 0)
        return ret;
    sampler_set_events(sv->sampler, events);
    return 0;
}

/* A counter's rate since the last tick; < 0 for the first, or after the
 * counter went back (another source) or came from elsewhere. */
static double counter_rate(struct NodePrev *p, double count, int source, int64_t now)
{
    double rate = -1;

    if (p->at_us && p->source == source && count >= p->count && now > p->at_us)
        rate = (count - p->count) * 1e6 / (now - p->at_us);
    p->count = count;
    p->at_us = now;
    p->source = source;
    return rate;
}

/* The share of its deadline a component's calls take (fo_rules.h): an
 * output's longest write of the tick over the earlier of its rw_timeout
 * and the stream's latency budget (past either, the data plane fails it);
 * an encoder's encode call under way over its call deadline (half the
 * budget, else 5 s: encode.c). -1 when unknown, and for inputs, whose
 * deadline (loss_timeout) is a few frames long: their packets' gaps say
 * nothing ahead of it. */
static double deadline_use(const Tick *sv, const Sample *s, const SampleComp *c,
                           const CompStatus *st, int64_t now)
{
    const JobStream *js = NULL;
    int64_t deadline = 0;
    double use = -1;

    for (int k = 0; k < sv->job->nb_streams && !js; k++)
        if (!strcmp(sv->job->streams[k].name, c->stream))
            js = &sv->job->streams[k];
    if (!js)
        return -1;
    if (c->kind == COMP_OUTPUT) {
        int64_t answer = 0;      /* how long a peer may leave a call unanswered */
        for (int o = 0; o < js->nb_outputs && !deadline; o++)
            if (!strcmp(js->outputs[o].name, c->name)) {
                deadline = js->outputs[o].rw_timeout_us;
                answer = js->outputs[o].stall_timeout_us;
            }
        if (js->latency_budget_us && (!deadline || js->latency_budget_us < deadline))
            deadline = js->latency_budget_us;
        if (deadline <= 0)
            return -1;
        if (answer <= 0 || answer > deadline)
            answer = deadline;
        /* its writes and the checks of its uploads (the edge: HTTP HEADs,
         * made inside the writes): a call the peer leaves waiting for
         * stall_timeout fails (conn.h), so that is the deadline they come
         * close to, before rw_timeout and the budget */
        if (sample_has(c, OM_WRITE_LATENCY_MAX))
            use = c->v[OM_WRITE_LATENCY_MAX];
        for (int k = 0; k < s->nb_comps; k++) {
            const SampleComp *e = &s->comps[k];
            if (e->kind == COMP_EDGE && !strcmp(e->stream, c->stream) &&
                !strcmp(e->name, c->name) && sample_has(e, XM_REQUEST_LATENCY))
                use = fmax(use, e->v[XM_REQUEST_LATENCY]);
        }
        return use < 0 ? -1 : use * 1e6 / answer;
    }
    if (c->kind == COMP_ENCODER) {
        deadline = js->latency_budget_us ? js->latency_budget_us / 2 : 5000000;
        return st->busy_since_us ? (double)(now - st->busy_since_us) / deadline : 0;
    }
    return -1;
}

/* The tick's figures for the graph (status, graphs): risk, rate, queue of
 * every input, encoder and output. An input's are those of the source in
 * use; edges have no figures of their own yet. */
static void tick_note(Tick *sv, const Sample *s, int64_t now)
{
    static const int risk_of[COMP_NB_KINDS] = {
        [COMP_INGEST] = IM_FAILURE_RISK, [COMP_ENCODER] = EM_FAILURE_RISK,
        [COMP_OUTPUT] = OM_FAILURE_RISK,
    };

    for (int k = 0; k < s->nb_comps; k++) {
        const SampleComp *c = &s->comps[k];
        EcgFigures f = { .risk = -1, .rate = -1, .queue = -1, .use = -1, .at_us = now };
        CompStatus st;
        CompId id = { .kind = c->kind, .instance = COMP_WHOLE };
        int i;

        if (c->kind != COMP_INGEST && c->kind != COMP_ENCODER && c->kind != COMP_OUTPUT)
            continue;
        av_strlcpy(id.stream, c->stream, sizeof(id.stream));
        av_strlcpy(id.name, c->name, sizeof(id.name));
        if ((i = ecg_find(sv->g, &id)) < 0)
            continue;
        ecg_status(sv->g, i, &st);
        if (c->kind == COMP_INGEST && c->backup != FFMAX(st.active, 0))
            continue;             /* a source not in use */
        f.use = deadline_use(sv, s, c, &st, now);
        if (f.use >= 0) {
            sv->prev[i].use = f.use;
            sv->prev[i].use_at_us = now;
        } else if (sv->prev[i].use_at_us && now - sv->prev[i].use_at_us <= TICK_USE_HOLD_US) {
            f.use = sv->prev[i].use;
        }
        if (sample_has(c, risk_of[c->kind]))
            f.risk = c->v[risk_of[c->kind]];
        switch (c->kind) {
        case COMP_INGEST:
            if (sample_has(c, IM_PACKETS))
                f.rate = counter_rate(&sv->prev[i], c->v[IM_PACKETS], c->backup, now);
            break;
        case COMP_ENCODER:
            if (sample_has(c, EM_FPS))
                f.rate = c->v[EM_FPS];
            if (sample_has(c, EM_QUEUE_DEPTH))
                f.queue = (int)c->v[EM_QUEUE_DEPTH];
            break;
        default:
            if (sample_has(c, OM_PACKETS))
                f.rate = counter_rate(&sv->prev[i], c->v[OM_PACKETS], 0, now);
            if (sample_has(c, OM_QUEUE_DEPTH))
                f.queue = (int)c->v[OM_QUEUE_DEPTH];
            break;
        }
        ecg_note(sv->g, i, &f);
    }
}

/* One tick when it is due (or now, with force). */
void tick_run(Tick *sv, int64_t now, int force)
{
    Sample *s;

    if (!sv || !sv->sampler || (!force && now < sv->next_tick))
        return;
    sv->next_tick = (sv->next_tick ? sv->next_tick : now) + sv->job->supervisor.tick_us;
    if (sv->next_tick < now)
        sv->next_tick = now + sv->job->supervisor.tick_us;   /* late: no burst of ticks */
    s = sampler_tick(sv->sampler);
    /* the host's risk, stored and exported with its figures */
    host_risk_sample(s, &sv->host);
    for (int i = 0; i < s->nb_comps; i++)
        if (s->comps[i].kind == COMP_HOST)
            sample_set(&s->comps[i], HM_HOST_RISK, sv->host.risk);
    if (sv->pred)
        predictor_tick(sv->pred, s);
    tick_note(sv, s, now);
    if (sv->steer)
        fo_steer_tick(sv->steering, s, now);
    if (sv->dra)
        dra_observe(sv->dra, s);
    if (sv->fo)
        fo_tick(sv->fo, now);
    if (sv->dra)
        dra_tick(sv->dra, now);
    if (sv->hds)
        hds_put_sample(sv->hds, s);
    if (sv->metrics)
        metrics_publish(sv->metrics, s);
    sv->last_us = now;
}

void tick_stop(Tick *sv)
{
    if (!sv)
        return;
    /* off the event log first: the run goes on after a reload's tick_stop,
     * and its streams emit */
    if (sv->hds)
        evlog_remove_sink(sv->events, hds_event_sink, sv->hds);
    if (sv->fo)
        evlog_remove_sink(sv->events, fo_event_sink, sv->fo);
    steer_free(&sv->steer);      /* off the endpoint before it stops */
    metrics_stop(&sv->metrics);
    hds_close(&sv->hds);
    predictor_free(&sv->pred);
    sampler_free(&sv->sampler);
    av_freep(&sv->prev);
    fo_stop(sv->fo);
    dra_free(&sv->dra);          /* hooks still running are cancelled, and said */
}


void tick_free(Tick **pt)
{
    Tick *t = *pt;

    if (!t)
        return;
    tick_stop(t);
    fo_free(&t->fo);
    fo_steer_free(&t->steering); /* the control socket may pin until it ends */
    av_freep(pt);
}

int tick_alloc(Tick **pt, const Job *job, Ecg *g, EventLog *events)
{
    Tick *t = av_mallocz(sizeof(*t));
    int ret;

    *pt = NULL;
    if (!t)
        return AVERROR(ENOMEM);
    logctx_init(&t->log, "tick");
    t->job = job;
    if ((ret = tick_start(t, job, g, events)) < 0) {
        tick_free(&t);
        return ret;
    }
    *pt = t;
    return 0;
}

int64_t tick_last_us(const Tick *t)
{
    return t ? t->last_us : 0;
}

int tick_host_risk(const Tick *t, HostRisk *r)
{
    if (t && t->last_us) {
        *r = t->host;
        return 0;
    }
    host_risk(NULL, r);
    return AVERROR(EAGAIN);
}

FoSteer *tick_steering(Tick *t)
{
    return t ? t->steering : NULL;
}
