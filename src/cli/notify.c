/*
 * notify.c: the run under a service manager; see notify.h.
 */
#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "cli/notify.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "plane/output.h"
#include "plane/pipeline.h"

/* An encoder's call deadline without a latency budget (plane/encode.c). */
#define NOTIFY_ENC_DEADLINE_US 5000000
/* The tick runs once per period; this many periods without it is a stuck
 * loop or sampler. */
#define NOTIFY_TICK_PERIODS 3

struct Notify {
    LogCtx log;
    SdNotify *sd;
    Ecg *g;                       /* not owned: the graph of the last update
                                     (a reload replaces it) */
    const Job *job;               /* not owned: the one the bounds are of */
    int64_t watchdog_us;          /* 0: no watchdog */
    int64_t wedge_us;             /* a heartbeat older than this: wedged */
    int64_t tick_bound_us;
    int64_t last_ping_us;
    int ready, stopping;
    int withheld;                 /* the last decision was "wedged" */
    int send_failed;              /* said once */
    char status[256];             /* the last STATUS= sent */
    int64_t *ages;                /* per node of g */
    int nb_ages;
    SdnStreamState *streams;      /* per stream */
    int nb_streams;
};

/* The job's bounds, and room for the graph's nodes and streams: at the
 * first update, and after a reload. */
static int follow_graph(Notify *n, const Job *job, Ecg *g)
{
    if (job != n->job) {
        n->job = job;
        n->wedge_us = sdn_wedge_bound(notify_longest_deadline(job));
        n->tick_bound_us = FFMAX(NOTIFY_TICK_PERIODS * job->supervisor.tick_us, SDN_MIN_WEDGE_US);
    }
    n->g = g;
    if (ecg_nb_nodes(g) > n->nb_ages) {
        int64_t *a = av_realloc_array(n->ages, ecg_nb_nodes(g), sizeof(*a));
        if (!a)
            return AVERROR(ENOMEM);
        n->ages = a;
        n->nb_ages = ecg_nb_nodes(g);
    }
    if (ecg_nb_streams(g) > n->nb_streams) {
        SdnStreamState *st = av_realloc_array(n->streams, ecg_nb_streams(g), sizeof(*st));
        if (!st)
            return AVERROR(ENOMEM);
        n->streams = st;
        n->nb_streams = ecg_nb_streams(g);
    }
    return 0;
}

int64_t notify_longest_deadline(const Job *job)
{
    int64_t d = 0;

    for (int s = 0; s < job->nb_streams; s++) {
        const JobStream *js = &job->streams[s];
        d = FFMAX(d, js->input.rw_timeout_us);
        for (int b = 0; b < js->input.nb_backups; b++)
            d = FFMAX(d, js->input.backups[b].rw_timeout_us);
        for (int o = 0; o < js->nb_outputs; o++) {
            d = FFMAX(d, js->outputs[o].rw_timeout_us);
            for (int b = 0; b < js->outputs[o].nb_backups; b++)
                d = FFMAX(d, js->outputs[o].backups[b].rw_timeout_us);
        }
        d = FFMAX(d, js->latency_budget_us ? js->latency_budget_us / 2 : NOTIFY_ENC_DEADLINE_US);
    }
    return d;
}

static int thread_is(Ecg *g, int i, const char *state)
{
    return !strcmp(ecg_thread(g, i), state);
}

/* Where stream s stands: what the pipeline and its stages publish. */
static SdnStreamState stream_state(Notify *n, int s)
{
    Pipeline *p = ecg_pipeline(n->g, s);
    const JobStream *js = pipeline_stream(p);
    int outputs = 0, outputs_failed = 0, starting = 0, backup = 0, input_failed = 0;

    for (int i = 0; i < ecg_nb_nodes(n->g); i++) {
        const CompId *id = ecg_node(n->g, i);
        CompStatus st;

        if (strcmp(id->stream, js->name) || ecg_node_role(n->g, i) != ECG_ROLE_COMPONENT ||
            id->kind == COMP_EDGE)
            continue;
        if (id->kind == COMP_INGEST && thread_is(n->g, i, "failed"))
            input_failed = 1;
        if (id->kind == COMP_OUTPUT) {
            outputs++;
            outputs_failed += thread_is(n->g, i, "failed");
        }
        if (thread_is(n->g, i, "running") && ecg_status(n->g, i, &st) >= 0 && st.active > 0)
            backup = 1;
    }
    for (int o = 0; o < js->nb_outputs; o++) {
        OutputStats os;
        output_stats(pipeline_output(p, o), &os);
        if (!os.opened && !os.failed)
            starting = 1;
    }
    if (input_failed || (outputs && outputs_failed == outputs))
        return SDN_FAILED;
    if (pipeline_finished(p))
        return SDN_ENDED;
    if (starting)
        return SDN_STARTING;
    return backup ? SDN_ON_BACKUP : SDN_ON_AIR;
}

/* Every running stage's heartbeat age into n->ages; edges show their
 * output's, decoders and the ladder do not beat (SDN_NO_BEAT). */
static void heartbeats(Notify *n, int64_t now)
{
    for (int i = 0; i < ecg_nb_nodes(n->g); i++) {
        CompStatus st;

        n->ages[i] = SDN_NO_BEAT;
        if (ecg_node(n->g, i)->kind == COMP_EDGE || !thread_is(n->g, i, "running") ||
            ecg_status(n->g, i, &st) < 0 || !st.last_progress_us)
            continue;
        n->ages[i] = FFMAX(now - st.last_progress_us, 0);
    }
}

static void tell(Notify *n, const char *msg)
{
    int ret = sdn_send(n->sd, msg);

    if (ret < 0 && !n->send_failed) {
        av_log(n, AV_LOG_WARNING, "cannot notify the service manager: %s\n", av_err2str(ret));
        n->send_failed = 1;
    } else if (ret >= 0) {
        n->send_failed = 0;
    }
}

/* Every stream's state into n->streams, and the STATUS line without the
 * watchdog's part into line. Returns the number of streams. */
static int summarize(Notify *n, char *line, size_t size)
{
    int nb = ecg_nb_streams(n->g);

    for (int s = 0; s < nb; s++)
        n->streams[s] = stream_state(n, s);
    av_strlcpy(line, n->stopping ? "stopping: " : "", size);
    sdn_summary(n->streams, nb, line + strlen(line), size - strlen(line));
    return nb;
}

void notify_update(Notify *n, const Job *job, Ecg *g, const Tick *t, int64_t now)
{
    char line[sizeof(n->status)], msg[sizeof(n->status) + 32], who[96] = "";
    int nb, which = -1, alive;
    int64_t tick_last, tick_age;

    if (!n || follow_graph(n, job, g) < 0)
        return;
    nb = summarize(n, line, sizeof(line));
    heartbeats(n, now);
    tick_last = tick_last_us(t);
    tick_age = tick_last ? now - tick_last : -1;
    alive = sdn_alive(n->ages, ecg_nb_nodes(n->g), n->wedge_us, tick_age, n->tick_bound_us,
                      &which);

    if (!alive) {
        if (which >= 0)
            ecg_node_name(n->g, which, 1, who, sizeof(who));
        else
            av_strlcpy(who, "the tick", sizeof(who));
        if (!n->withheld)
            av_log(n, AV_LOG_ERROR, "%s has not moved for %.1f s (bound %.1f s): the "
                   "watchdog is no longer pinged: the service manager restarts the run if it "
                   "stays so\n",
                   who, (which >= 0 ? n->ages[which] : tick_age) / 1e6,
                   (which >= 0 ? n->wedge_us : n->tick_bound_us) / 1e6);
    } else if (n->withheld) {
        av_log(n, AV_LOG_WARNING, "every stage moves again: the watchdog is pinged again\n");
    }
    n->withheld = !alive;

    if (!alive)
        av_strlcatf(line, sizeof(line), "; watchdog withheld: %s stuck for %.0f s", who,
                    (which >= 0 ? n->ages[which] : tick_age) / 1e6);
    if (!n->ready && sdn_ready(n->streams, nb)) {
        n->ready = 1;
        snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", line);
        tell(n, msg);
        av_strlcpy(n->status, line, sizeof(n->status));
        av_log(n, AV_LOG_VERBOSE, "ready: %s\n", line);
    } else if (strcmp(line, n->status)) {
        snprintf(msg, sizeof(msg), "STATUS=%s", line);
        tell(n, msg);
        av_strlcpy(n->status, line, sizeof(n->status));
    }
    if (alive && n->watchdog_us && now - n->last_ping_us >= n->watchdog_us / 2) {
        tell(n, "WATCHDOG=1");
        n->last_ping_us = now;
    }
}

void notify_stopping(Notify *n, Ecg *g)
{
    char line[sizeof(n->status)], msg[sizeof(n->status) + 32];

    if (!n || n->stopping || follow_graph(n, n->job, g) < 0)
        return;
    n->stopping = 1;
    summarize(n, line, sizeof(line));
    snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=%s", line);
    tell(n, msg);
    av_strlcpy(n->status, line, sizeof(n->status));
}

void notify_free(Notify **pn)
{
    Notify *n = *pn;

    if (!n)
        return;
    sdn_free(&n->sd);
    av_freep(&n->ages);
    av_freep(&n->streams);
    av_freep(pn);
}

int notify_alloc(Notify **pn, const Job *job)
{
    char err[256] = "";
    Notify *n;
    SdNotify *sd = NULL;
    int ret;

    *pn = NULL;
    if ((ret = sdn_alloc(&sd, err, sizeof(err))) < 0) {
        av_log(NULL, AV_LOG_WARNING, "%s: running without telling the service manager\n", err);
        return 0;
    }
    if (!sd)
        return 0;
    if (!(n = av_mallocz(sizeof(*n)))) {
        sdn_free(&sd);
        return AVERROR(ENOMEM);
    }
    logctx_init(&n->log, "service");
    n->sd = sd;
    n->watchdog_us = sdn_watchdog_us(sd);
    n->job = job;
    n->wedge_us = sdn_wedge_bound(notify_longest_deadline(job));
    n->tick_bound_us = FFMAX(NOTIFY_TICK_PERIODS * job->supervisor.tick_us, SDN_MIN_WEDGE_US);
    if (n->watchdog_us)
        av_log(n, AV_LOG_VERBOSE, "watchdog every %.1f s; a stage is stuck after %.1f s "
               "without a heartbeat\n", n->watchdog_us / 2e6, n->wedge_us / 1e6);
    *pn = n;
    return 0;
}
