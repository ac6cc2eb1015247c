/*
 * reload.c: the run's job, graph and tick, and their replacement by a
 * reload; see reload.h.
 */
#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "cli/reload.h"
#include "core/log.h"

/* Graphs whose streams are still ending: more reloads than this while
 * streams take time to end are refused until some have. */
#define RELOAD_MAX_RETIRING 8
/* A replacement that has no keyframe at every output by then takes over
 * anyway, break before make: its input may be one that cannot be read
 * twice (a listener on the port its predecessor holds). */
#define RELOAD_READY_US    (10 * 1000000LL)

/* A changed stream between its two pipelines. */
typedef struct Handover {
    char name[64];
    Ecg *old;                     /* the retiring graph that runs its predecessor */
    int64_t deadline;             /* stop the predecessor by then, ready or not */
    int64_t stopped_at;           /* when it was told to stop, 0 not yet */
} Handover;

struct RunState {
    LogCtx log;
    Job *job;                     /* in use; owned */
    Job **old_jobs;               /* read before: moved pipelines may run
                                     their streams; owned, freed at the end */
    int nb_old_jobs;
    Ecg *g;                       /* owned */
    Ecg *retiring[RELOAD_MAX_RETIRING];   /* owned: streams a reload took away */
    int nb_retiring;
    Handover *handover;           /* owned: one per stream name at most */
    int nb_handover;
    Tick *tick;                   /* owned; NULL when it could not start again */
    Control *ctl;                 /* not owned */
    ControlHooks hooks;           /* the run's, without the tick's steering */
    EventLog *events;             /* not owned */
    const _Atomic int *stop;
    int fast;
};

static void hooks_with_tick(RunState *rs, ControlHooks *h)
{
    *h = rs->hooks;
    if (tick_steering(rs->tick))
        h->steer_opaque = tick_steering(rs->tick);
    else
        h->steer = NULL;
}

int runstate_alloc(RunState **prs, Job *job, EventLog *events, const _Atomic int *stop,
                   Control *ctl, const ControlHooks *hooks, int fast)
{
    RunState *rs = av_mallocz(sizeof(*rs));
    int ret;

    *prs = NULL;
    if (!rs)
        return AVERROR(ENOMEM);
    logctx_init(&rs->log, "reload");
    rs->events = events;
    rs->stop = stop;
    rs->ctl = ctl;
    rs->hooks = *hooks;
    rs->fast = fast;
    if ((ret = ecg_alloc(&rs->g, job, events, stop)) < 0) {
        fprintf(stderr, "hotspare run: cannot build the streams: %s\n", av_err2str(ret));
        av_free(rs);
        return ret;
    }
    if ((ret = tick_alloc(&rs->tick, job, rs->g, events)) < 0) {
        ecg_free(&rs->g);
        av_free(rs);
        return ret;
    }
    rs->job = job;
    *prs = rs;
    return 0;
}

int runstate_start(RunState *rs)
{
    ControlHooks h;
    int ret;

    hooks_with_tick(rs, &h);
    if (rs->ctl && (ret = control_start(rs->ctl, rs->g, &h)) < 0)
        return ret;
    return ecg_start(rs->g);
}

/* The problems of a job that cannot be used, in one event line. */
static void refuse(RunState *rs, uint32_t seq, const JobDiag *diag, int err)
{
    char text[900] = "";

    for (int m = 0; m < diag->nb_msgs; m++) {
        av_log(rs, AV_LOG_ERROR, "%s\n", diag->msgs[m]);
        if (strlen(text) + strlen(diag->msgs[m]) + 3 < sizeof(text))
            av_strlcatf(text, sizeof(text), "%s%s", m ? "; " : "", diag->msgs[m]);
    }
    if (!diag->nb_msgs)
        snprintf(text, sizeof(text), "%s: %s", rs->job->path, av_err2str(err));
    evlog_emit_seq(rs->events, "", "supervisor", EV_REFUSED, 0, seq,
                   "reload refused, the running job goes on: %d problem%s: %s",
                   diag->nb_msgs ? diag->nb_msgs : 1, diag->nb_msgs > 1 ? "s" : "", text);
}

static int keep_job(RunState *rs, Job *job)
{
    Job **a = av_realloc_array(rs->old_jobs, rs->nb_old_jobs + 1, sizeof(*a));

    if (!a)
        return AVERROR(ENOMEM);
    rs->old_jobs = a;
    a[rs->nb_old_jobs++] = job;
    return 0;
}

/* The tick again, on the graph in use. A tick that cannot start (its
 * store or endpoint refused) leaves the streams running unsupervised,
 * said: a reload must not take a channel off the air. */
static void tick_again(RunState *rs)
{
    ControlHooks h;
    int ret = tick_alloc(&rs->tick, rs->job, rs->g, rs->events);

    if (ret < 0)
        evlog_emit(rs->events, "", "supervisor", EV_WARNING, ret,
                   "the tick (store, metrics, orchestrator) could not start again: the streams "
                   "run unsupervised until the next reload");
    hooks_with_tick(rs, &h);
    control_swap(rs->ctl, rs->g, &h);
}

static Handover *find_handover(RunState *rs, const char *name)
{
    for (int i = 0; i < rs->nb_handover; i++)
        if (!strcmp(rs->handover[i].name, name))
            return &rs->handover[i];
    return NULL;
}

void runstate_reload(RunState *rs, uint32_t seq)
{
    JobDiag diag = { 0 };
    Job *nj = NULL;
    int ret;

    av_log(rs, AV_LOG_INFO, "reading %s again\n", rs->job->path);
    ret = job_load(rs->job->path, &nj, &diag);
    if (ret < 0) {
        refuse(rs, seq, &diag, ret);
        job_diag_free(&diag);
        return;
    }
    job_diag_free(&diag);
    if (rs->fast)
        job_unpace(nj);
    runstate_apply(rs, nj, seq);
}

void runstate_apply(RunState *rs, Job *nj, uint32_t seq)
{
    Ecg *ng = NULL, *old = rs->g;
    ControlHooks h;
    int ret, kept = 0, started = 0, replaced = 0, stopped;

    if (rs->nb_retiring == RELOAD_MAX_RETIRING) {
        evlog_emit_seq(rs->events, "", "supervisor", EV_REFUSED, 0, seq,
                       "reload refused: %d earlier reloads still have streams ending",
                       rs->nb_retiring);
        job_free(&nj);
        return;
    }
    if (!!rs->job->supervisor.control_path != !!nj->supervisor.control_path ||
        (nj->supervisor.control_path &&
         strcmp(rs->job->supervisor.control_path, nj->supervisor.control_path)))
        av_log(rs, AV_LOG_WARNING, "supervisor.control changed: the control socket stays "
               "where it is until a restart\n");

    /* the tick goes first: its sinks and agents read the old graph, whose
     * pipelines move */
    hooks_with_tick(rs, &h);
    h.steer = NULL;
    control_swap(rs->ctl, old, &h);
    tick_free(&rs->tick);

    ret = ecg_alloc_reload(&ng, nj, rs->events, rs->stop, old);
    if (ret < 0) {
        evlog_emit_seq(rs->events, "", "supervisor", EV_REFUSED, ret, seq,
                       "reload refused: the new streams could not be built");
        job_free(&nj);
        tick_again(rs);
        return;
    }
    for (int s = 0; s < nj->nb_streams; s++) {
        Pipeline *p = ecg_pipeline(ng, s);
        if (ecg_is_held(ng, s))
            replaced++;
        else if (pipeline_started(p))
            kept++;
        else
            started++;
    }
    stopped = ecg_stop_streams(old, nj);
    for (int s = 0; s < nj->nb_streams; s++) {
        const char *name = nj->streams[s].name;
        Handover *ho = find_handover(rs, name);
        if (!ecg_is_held(ng, s) || !ecg_has_stream(old, name))
            continue;
        if (ho) {
            /* changed again before the first change took over: the
             * replacement in old never wrote; the one on air hands over
             * to this one instead */
            ecg_stop_stream(old, name, 1);
            ho->deadline = av_gettime_relative() + RELOAD_READY_US;
            continue;
        }
        if (!(ho = av_dynarray2_add((void **)&rs->handover, &rs->nb_handover,
                                    sizeof(*ho), NULL))) {
            /* no memory to wait for it: break before make */
            ecg_stop_stream(old, name, 1);
            ecg_release(ng, s, av_gettime_relative());
            continue;
        }
        av_strlcpy(ho->name, name, sizeof(ho->name));
        ho->old = old;
        ho->deadline = av_gettime_relative() + RELOAD_READY_US;
        ho->stopped_at = 0;
    }
    rs->retiring[rs->nb_retiring++] = old;
    if (keep_job(rs, rs->job) < 0)
        av_log(rs, AV_LOG_WARNING, "out of memory: the old job is kept until the end\n");
    rs->job = nj;
    rs->g = ng;
    tick_again(rs);
    if ((ret = ecg_start(ng)) < 0)
        evlog_emit(rs->events, "", "supervisor", EV_WARNING, ret, "a new stream could not start");
    evlog_emit_seq(rs->events, "", "supervisor", EV_RELOAD, 0, seq,
                   "job reloaded: %d stream%s kept running, %d started, %d replaced, %d stopped",
                   kept, kept == 1 ? "" : "s", started, replaced, stopped);
}

/* Stream name's held pipeline in the graph in use, or -1. */
static int held_stream(RunState *rs, const char *name)
{
    for (int s = 0; s < ecg_nb_streams(rs->g); s++)
        if (ecg_is_held(rs->g, s) && !strcmp(pipeline_stream(ecg_pipeline(rs->g, s))->name, name))
            return s;
    return -1;
}

/* Make before break: the predecessor is stopped once its replacement has
 * a keyframe at every output (or at the deadline); once it has ended, the
 * replacement takes over from where it was stopped. */
static void handovers(RunState *rs, int64_t now)
{
    for (int i = 0; i < rs->nb_handover;) {
        Handover *h = &rs->handover[i];
        int s = held_stream(rs, h->name);

        if (!h->stopped_at && s >= 0 && ecg_stream_ended(rs->g, s)) {
            /* the new definition could not run: the old one stays on air */
            evlog_emit(rs->events, h->name, "stream", EV_WARNING, 0,
                       "the reloaded definition ended before it could take over: the one "
                       "before it goes on (until the run ends or another reload)");
            ecg_release(rs->g, s, now);
            *h = rs->handover[--rs->nb_handover];
            continue;
        }
        if (!h->stopped_at && (s < 0 || ecg_stream_ready(rs->g, s) || now >= h->deadline)) {
            if (s >= 0 && now >= h->deadline && !ecg_stream_ready(rs->g, s))
                evlog_emit(rs->events, h->name, "input", EV_WARNING, 0,
                           "the new definition has no keyframe after %.0f s: the old one "
                           "stops first (break before make)", RELOAD_READY_US / 1e6);
            /* removed meanwhile (s < 0): it ends for good, playlists closed */
            ecg_stop_stream(h->old, h->name, s >= 0);
            h->stopped_at = now;
        }
        if (h->stopped_at && !ecg_runs_stream(h->old, h->name)) {
            if (s >= 0)
                ecg_release(rs->g, s, h->stopped_at);
            *h = rs->handover[--rs->nb_handover];
            continue;
        }
        i++;
    }
}

void runstate_poll(RunState *rs, int stopping)
{
    if (!stopping)
        handovers(rs, av_gettime_relative());
    else
        /* the run ends: a predecessor told the stream goes on elsewhere
         * closes its playlists after all, no replacement will write */
        for (int i = 0; i < rs->nb_handover; i++)
            ecg_stop_stream(rs->handover[i].old, rs->handover[i].name, 0);
    for (int r = 0; r < rs->nb_retiring;) {
        Ecg *old = rs->retiring[r];
        int busy = !ecg_finished(old);
        for (int i = 0; i < rs->nb_handover; i++)
            busy |= rs->handover[i].old == old;
        if (busy && !(stopping && ecg_finished(old))) {
            r++;
            continue;
        }
        for (int i = 0; i < rs->nb_handover;)
            if (rs->handover[i].old == old)
                rs->handover[i] = rs->handover[--rs->nb_handover];
            else
                i++;
        ecg_join(old);           /* their ends and failures are events already */
        ecg_free(&old);
        memmove(&rs->retiring[r], &rs->retiring[r + 1],
                (rs->nb_retiring - r - 1) * sizeof(rs->retiring[0]));
        rs->nb_retiring--;
    }
}

int runstate_finished(RunState *rs, int stopping)
{
    return !rs->nb_retiring && ecg_finished(rs->g) && (stopping || !ecg_nb_held(rs->g));
}

int runstate_join(RunState *rs)
{
    for (int r = 0; r < rs->nb_retiring; r++)
        ecg_join(rs->retiring[r]);
    return ecg_join(rs->g);
}

Ecg *runstate_graph(RunState *rs)
{
    return rs->g;
}

const Job *runstate_job(RunState *rs)
{
    return rs->job;
}

Tick *runstate_tick(RunState *rs)
{
    return rs->tick;
}

void runstate_free(RunState **prs)
{
    RunState *rs = *prs;

    if (!rs)
        return;
    tick_free(&rs->tick);
    for (int r = 0; r < rs->nb_retiring; r++)
        ecg_free(&rs->retiring[r]);
    ecg_free(&rs->g);
    job_free(&rs->job);
    for (int j = 0; j < rs->nb_old_jobs; j++)
        job_free(&rs->old_jobs[j]);
    av_freep(&rs->old_jobs);
    av_freep(&rs->handover);
    av_freep(prs);
}
