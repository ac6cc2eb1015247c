/*
 * ecg.c: the encoding chain graph; see ecg.h.
 *
 * The graph is built once from the job (nodes, then edges, in a fixed
 * order) and never changes: only the figures the tick notes change, under
 * the graph's lock, and the states, which live in the stages (each behind
 * its own lock, stage.h). So readers on other threads (the control socket)
 * need no lock for the shape of the graph. A reload moves pipelines out
 * of a graph into the next one (pl, held, taken): those arrays belong to
 * the run loop's thread alone; the control socket reads nodes and stages,
 * never pl, and the stages it sees live until the old graph is freed,
 * after it has moved to the new one (control_swap).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "core/log.h"
#include "ecg/ecg.h"
#include "plane/stage.h"

/* Display thresholds of the risk (colours only; the orchestrator's own
 * thresholds are the model's). */
#define ECG_RISK_WARN  0.5f
#define ECG_RISK_HIGH  0.8f

typedef struct EcgNode {
    CompId id;                   /* instance COMP_WHOLE */
    EcgRole role;
    int stream;                  /* index into job->streams */
    int nb_instances;            /* from the job; a stage may add more at run
                                    time (ecg_status: what it published) */
    Stage *stage;                /* not owned; NULL when static, and for edges */
    int of;                      /* an edge: its output's node; else -1 */
} EcgNode;

typedef struct EcgEdge {
    int from, to;
} EcgEdge;

struct Ecg {
    LogCtx log;
    const Job *job;              /* not owned */
    Pipeline **pl;               /* owned, one per stream; NULL when static;
                                    an entry is NULL once a reload's graph
                                    took its pipeline */
    int *held;                   /* per stream: a reload's replacement, its
                                    outputs held until its predecessor has
                                    ended (ecg_release) */
    int *taken;                  /* while a reload's graph is built: the
                                    index in old of each pipeline taken */
    int nb_streams;
    /* the shape: written by the alloc, read-only after it */
    EcgNode *nodes;
    int nb_nodes;
    EcgEdge *edges;
    int nb_edges;

    pthread_mutex_t lock;
    EcgFigures *fig;             /* per node; protected by lock */
    char (*decision)[ECG_DECISION_SIZE];   /* per node, the orchestrator's
                                              last; protected by lock */
};

static int add_node(Ecg *g, int stream, EcgRole role, CompKind kind, const char *name,
                    int nb_instances, Stage *stage)
{
    EcgNode *n = &g->nodes[g->nb_nodes];

    memset(n, 0, sizeof(*n));
    av_strlcpy(n->id.stream, g->job->streams[stream].name, sizeof(n->id.stream));
    n->id.kind = kind;
    av_strlcpy(n->id.name, name, sizeof(n->id.name));
    n->id.instance = COMP_WHOLE;
    n->role = role;
    n->stream = stream;
    n->nb_instances = nb_instances;
    n->stage = stage;
    n->of = -1;
    return g->nb_nodes++;
}

static void add_edge(Ecg *g, int from, int to)
{
    g->edges[g->nb_edges].from = from;
    g->edges[g->nb_edges].to = to;
    g->nb_edges++;
}

/* Upper bounds, so that the arrays are allocated once. */
static void count_stream(const JobStream *js, int *nodes, int *edges)
{
    int audio = js->audio.enabled != 0;

    /* input, vdec, ladder, renditions, outputs, edges; adec and enc:audio */
    *nodes += 3 + js->nb_renditions + 2 * js->nb_outputs + 2 * audio;
    /* a CDN pathway's edge each, fed by its output's edge */
    for (int o = 0; o < js->nb_outputs; o++) {
        *nodes += js->outputs[o].nb_pathways;
        *edges += js->outputs[o].nb_pathways;
    }
    /* input->vdec, vdec->ladder, ladder->each rendition, each output's
     * renditions, output->edge; input->adec, adec->enc:audio, audio->outputs */
    *edges += 2 + js->nb_renditions + js->nb_outputs + 3 * audio + audio * js->nb_outputs;
    for (int o = 0; o < js->nb_outputs; o++)
        *edges += js->outputs[o].nb_renditions;
}

/* The stage of a pipeline as its Stage: every stage struct begins with one
 * (stage.h). */
#define STAGE_OF(x) ((Stage *)(void *)(x))

static void build_stream(Ecg *g, int s)
{
    const JobStream *js = &g->job->streams[s];
    Pipeline *p = g->pl ? g->pl[s] : NULL;
    int audio = js->audio.enabled != 0;
    int in, vdec, adec = -1, ladder, aenc = -1, enc0, out0, pw0;

    in = add_node(g, s, ECG_ROLE_COMPONENT, COMP_INGEST, "input", 1 + js->input.nb_backups,
                  p ? STAGE_OF(pipeline_input(p)) : NULL);
    vdec = add_node(g, s, ECG_ROLE_DECODER, COMP_INGEST, "vdec", 1,
                    p ? STAGE_OF(pipeline_decoder(p, 0)) : NULL);
    if (audio)
        adec = add_node(g, s, ECG_ROLE_DECODER, COMP_INGEST, "adec", 1,
                        p ? STAGE_OF(pipeline_decoder(p, 1)) : NULL);
    ladder = add_node(g, s, ECG_ROLE_LADDER, COMP_INGEST, "ladder", 1,
                      p ? STAGE_OF(pipeline_ladder(p)) : NULL);
    enc0 = g->nb_nodes;
    for (int r = 0; r < js->nb_renditions; r++)
        add_node(g, s, ECG_ROLE_COMPONENT, COMP_ENCODER, js->renditions[r].name,
                 1 + !!js->renditions[r].backup, p ? STAGE_OF(pipeline_encoder(p, r)) : NULL);
    if (audio)
        aenc = add_node(g, s, ECG_ROLE_COMPONENT, COMP_ENCODER, "audio", 1,
                        p ? STAGE_OF(pipeline_encoder(p, js->nb_renditions)) : NULL);
    out0 = g->nb_nodes;
    for (int o = 0; o < js->nb_outputs; o++)
        add_node(g, s, ECG_ROLE_COMPONENT, COMP_OUTPUT, js->outputs[o].name,
                 1 + js->outputs[o].nb_backups, p ? STAGE_OF(pipeline_output(p, o)) : NULL);
    for (int o = 0; o < js->nb_outputs; o++) {
        /* an edge is its output's peer: one per destination, the output's state */
        int e = add_node(g, s, ECG_ROLE_COMPONENT, COMP_EDGE, js->outputs[o].name,
                         1 + js->outputs[o].nb_backups, NULL);
        g->nodes[e].of = out0 + o;
    }
    /* the CDN pathways viewers reach each output through, after the edges:
     * "edge:main:cdn-a", in the output's state, with the priority the
     * steering gives them (ecg_note) */
    pw0 = g->nb_nodes;
    for (int o = 0; o < js->nb_outputs; o++)
        for (int k = 0; k < js->outputs[o].nb_pathways; k++) {
            char name[COMP_NAME_SIZE];
            int e;
            snprintf(name, sizeof(name), "%s:%s", js->outputs[o].name,
                     js->outputs[o].pathways[k].id);
            e = add_node(g, s, ECG_ROLE_COMPONENT, COMP_EDGE, name, 1, NULL);
            g->nodes[e].of = out0 + o;
        }

    /* edges, grouped by the node they leave, in node order */
    add_edge(g, in, vdec);
    if (audio)
        add_edge(g, in, adec);
    add_edge(g, vdec, ladder);
    if (audio)
        add_edge(g, adec, aenc);
    for (int r = 0; r < js->nb_renditions; r++)
        add_edge(g, ladder, enc0 + r);
    for (int r = 0; r < js->nb_renditions; r++)
        for (int o = 0; o < js->nb_outputs; o++)
            for (int k = 0; k < js->outputs[o].nb_renditions; k++)
                if (js->outputs[o].renditions[k] == r)
                    add_edge(g, enc0 + r, out0 + o);
    if (audio)
        for (int o = 0; o < js->nb_outputs; o++)
            add_edge(g, aenc, out0 + o);
    for (int o = 0; o < js->nb_outputs; o++)
        add_edge(g, out0 + o, out0 + js->nb_outputs + o);
    for (int o = 0; o < js->nb_outputs; o++)
        for (int k = 0; k < js->outputs[o].nb_pathways; k++)
            add_edge(g, out0 + js->nb_outputs + o, pw0++);
}

static int build(Ecg *g)
{
    int nodes = 0, edges = 0;

    for (int s = 0; s < g->job->nb_streams; s++)
        count_stream(&g->job->streams[s], &nodes, &edges);
    g->nodes = av_calloc(nodes, sizeof(*g->nodes));
    g->edges = av_calloc(edges, sizeof(*g->edges));
    g->fig = av_calloc(nodes, sizeof(*g->fig));
    g->decision = av_calloc(nodes, sizeof(*g->decision));
    if (!g->nodes || !g->edges || !g->fig || !g->decision)
        return AVERROR(ENOMEM);
    for (int i = 0; i < nodes; i++) {
        g->fig[i].risk = -1;
        g->fig[i].rate = -1;
        g->fig[i].queue = -1;
    }
    for (int s = 0; s < g->job->nb_streams; s++)
        build_stream(g, s);
    return 0;
}

/* The running pipeline of old that stream s of job may take over: the same
 * name and digest. Returns its index in old, or -1. */
static int same_stream(const Ecg *old, const JobStream *js, int *renamed)
{
    *renamed = 0;
    for (int k = 0; old && old->pl && k < old->nb_streams; k++) {
        const JobStream *o;
        if (!old->pl[k])
            continue;
        o = pipeline_stream(old->pl[k]);
        if (strcmp(o->name, js->name))
            continue;
        if (o->digest == js->digest)
            return k;
        *renamed = 1;            /* the same name, another definition */
    }
    return -1;
}

static int ecg_alloc_common(Ecg **pg, const Job *job, EventLog *events, const _Atomic int *stop,
                            int with_pipelines, Ecg *old)
{
    Ecg *g = av_mallocz(sizeof(*g));
    int ret;

    *pg = NULL;
    if (!g)
        return AVERROR(ENOMEM);
    logctx_init(&g->log, "ecg");
    pthread_mutex_init(&g->lock, NULL);
    g->job = job;
    g->nb_streams = job->nb_streams;
    if (with_pipelines) {
        g->pl = av_calloc(job->nb_streams, sizeof(*g->pl));
        g->held = av_calloc(job->nb_streams, sizeof(*g->held));
        if (!g->pl || !g->held) {
            ecg_free(&g);
            return AVERROR(ENOMEM);
        }
        for (int s = 0; s < job->nb_streams; s++) {
            int replaces, k = same_stream(old, &job->streams[s], &replaces);
            if (k >= 0)
                continue;        /* taken below, once nothing can fail */
            if ((ret = pipeline_alloc(&g->pl[s], &job->streams[s], events, stop)) < 0) {
                ecg_free(&g);
                return ret;
            }
            if (replaces) {
                pipeline_continue(g->pl[s]);
                g->held[s] = 1;
            }
        }
        if (!(g->taken = av_malloc_array(job->nb_streams, sizeof(*g->taken)))) {
            ecg_free(&g);
            return AVERROR(ENOMEM);
        }
        for (int s = 0; s < job->nb_streams; s++) {
            int replaces, k;
            g->taken[s] = -1;
            if (g->pl[s])
                continue;
            k = same_stream(old, &job->streams[s], &replaces);
            g->pl[s] = old->pl[k];
            g->held[s] = old->held[k];   /* a replacement still held stays so */
            g->taken[s] = k;
            old->pl[k] = NULL;
            old->held[k] = 0;
        }
    }
    if ((ret = build(g)) < 0) {
        /* old loses nothing: the pipelines taken go back where they were */
        for (int s = 0; g->taken && s < job->nb_streams; s++)
            if (g->taken[s] >= 0) {
                old->pl[g->taken[s]] = g->pl[s];
                old->held[g->taken[s]] = g->held[s];
                g->pl[s] = NULL;
            }
        ecg_free(&g);
        return ret;
    }
    av_freep(&g->taken);
    *pg = g;
    return 0;
}

int ecg_alloc(Ecg **pg, const Job *job, EventLog *events, const _Atomic int *stop)
{
    return ecg_alloc_common(pg, job, events, stop, 1, NULL);
}

int ecg_alloc_reload(Ecg **pg, const Job *job, EventLog *events, const _Atomic int *stop,
                     Ecg *old)
{
    return ecg_alloc_common(pg, job, events, stop, 1, old);
}

int ecg_alloc_static(Ecg **pg, const Job *job)
{
    return ecg_alloc_common(pg, job, NULL, NULL, 0, NULL);
}

int ecg_stop_streams(Ecg *old, const Job *job)
{
    int n = 0;

    for (int k = 0; old->pl && k < old->nb_streams; k++) {
        int replaced = 0;
        if (!old->pl[k])
            continue;
        for (int s = 0; s < job->nb_streams; s++)
            replaced |= !strcmp(job->streams[s].name, pipeline_stream(old->pl[k])->name);
        if (!replaced) {
            pipeline_stop(old->pl[k], 0);
            n++;
        }
    }
    return n;
}

void ecg_stop_stream(Ecg *g, const char *name, int replaced)
{
    for (int k = 0; g->pl && k < g->nb_streams; k++)
        if (g->pl[k] && !strcmp(pipeline_stream(g->pl[k])->name, name))
            pipeline_stop(g->pl[k], replaced);
}

int ecg_stream_ended(Ecg *g, int s)
{
    return g->pl && s >= 0 && s < g->nb_streams && g->pl[s] && pipeline_started(g->pl[s]) &&
           pipeline_finished(g->pl[s]);
}

int ecg_stream_ready(Ecg *g, int s)
{
    return g->pl && s >= 0 && s < g->nb_streams && g->pl[s] && pipeline_ready(g->pl[s]);
}

int ecg_runs_stream(Ecg *g, const char *name)
{
    for (int k = 0; g->pl && k < g->nb_streams; k++)
        if (g->pl[k] && pipeline_started(g->pl[k]) && !pipeline_finished(g->pl[k]) &&
            !strcmp(pipeline_stream(g->pl[k])->name, name))
            return 1;
    return 0;
}

int ecg_is_held(const Ecg *g, int s)
{
    return g->held && s >= 0 && s < g->nb_streams && g->held[s];
}

int ecg_nb_held(const Ecg *g)
{
    int n = 0;

    for (int s = 0; g->held && s < g->nb_streams; s++)
        n += g->held[s];
    return n;
}

void ecg_release(Ecg *g, int s, int64_t from_us)
{
    if (!g->held || s < 0 || s >= g->nb_streams || !g->held[s])
        return;
    g->held[s] = 0;
    pipeline_release(g->pl[s], from_us);
}

int ecg_fence_stream(Ecg *g, const char *name, int fenced, int64_t from_unix_us,
                     int64_t until_unix_us, int64_t keep_us)
{
    for (int k = 0; g->pl && k < g->nb_streams; k++)
        if (g->pl[k] && !strcmp(pipeline_stream(g->pl[k])->name, name)) {
            pipeline_fence(g->pl[k], fenced, from_unix_us, until_unix_us, keep_us);
            return pipeline_ready(g->pl[k]);
        }
    return 0;
}

void ecg_end_stream(Ecg *g, const char *name)
{
    for (int k = 0; g->pl && k < g->nb_streams; k++)
        if (g->pl[k] && !strcmp(pipeline_stream(g->pl[k])->name, name))
            pipeline_final(g->pl[k]);
}

int ecg_has_stream(Ecg *g, const char *name)
{
    for (int k = 0; g->pl && k < g->nb_streams; k++)
        if (g->pl[k] && !strcmp(pipeline_stream(g->pl[k])->name, name))
            return 1;
    return 0;
}

void ecg_free(Ecg **pg)
{
    Ecg *g = *pg;

    if (!g)
        return;
    if (g->pl)
        for (int s = 0; s < g->nb_streams; s++)
            pipeline_free(&g->pl[s]);
    av_freep(&g->pl);
    av_freep(&g->held);
    av_freep(&g->taken);
    av_freep(&g->nodes);
    av_freep(&g->edges);
    av_freep(&g->fig);
    av_freep(&g->decision);
    pthread_mutex_destroy(&g->lock);
    av_freep(pg);
}

int ecg_start(Ecg *g)
{
    int ret;

    if (!g->pl)
        return AVERROR(ENODEV);
    /* a reload's graph: the streams it took over run already */
    for (int s = 0; s < g->nb_streams; s++)
        if (g->pl[s] && !pipeline_started(g->pl[s]) &&
            (ret = pipeline_start(g->pl[s])) < 0)
            return ret;
    return 0;
}

int ecg_finished(Ecg *g)
{
    if (g->pl)
        for (int s = 0; s < g->nb_streams; s++)
            if (g->pl[s] && !pipeline_finished(g->pl[s]))
                return 0;
    return 1;
}

int ecg_join(Ecg *g)
{
    int failed = 0;

    if (g->pl)
        for (int s = 0; s < g->nb_streams; s++)
            if (g->pl[s] && pipeline_started(g->pl[s]))
                failed += pipeline_join(g->pl[s]) < 0;
    return failed;
}

int ecg_nb_streams(const Ecg *g)
{
    return g->nb_streams;
}

Pipeline *ecg_pipeline(Ecg *g, int stream)
{
    return g->pl && stream >= 0 && stream < g->nb_streams ? g->pl[stream] : NULL;
}

Pipeline **ecg_pipelines(Ecg *g)
{
    return g->pl;
}

int ecg_nb_nodes(const Ecg *g)
{
    return g->nb_nodes;
}

static const EcgNode *node_at(const Ecg *g, int i)
{
    return i >= 0 && i < g->nb_nodes ? &g->nodes[i] : NULL;
}

const CompId *ecg_node(const Ecg *g, int i)
{
    const EcgNode *n = node_at(g, i);
    return n ? &n->id : NULL;
}

EcgRole ecg_node_role(const Ecg *g, int i)
{
    const EcgNode *n = node_at(g, i);
    return n ? n->role : ECG_ROLE_COMPONENT;
}

int ecg_node_instances(const Ecg *g, int i)
{
    const EcgNode *n = node_at(g, i);
    return n ? n->nb_instances : 0;
}

int ecg_node_name(const Ecg *g, int i, int with_stream, char *buf, size_t size)
{
    const EcgNode *n = node_at(g, i);
    int len;

    if (!n)
        return AVERROR(ENOENT);
    if (n->role == ECG_ROLE_COMPONENT)
        return comp_format(&n->id, with_stream, buf, size);
    len = snprintf(buf, size, "%s%s%s", with_stream ? n->id.stream : "", with_stream ? "/" : "",
                   n->id.name);
    return len < 0 || (size_t)len >= size ? AVERROR(ENOSPC) : len;
}

const char *ecg_node_kind(const Ecg *g, int i)
{
    const EcgNode *n = node_at(g, i);

    if (!n)
        return "unknown";
    return n->role == ECG_ROLE_DECODER ? "decoder" :
           n->role == ECG_ROLE_LADDER  ? "ladder"  : comp_kind_name(n->id.kind);
}

int ecg_find(const Ecg *g, const CompId *id)
{
    int found = AVERROR(ENOENT);

    for (int i = 0; i < g->nb_nodes; i++) {
        const EcgNode *n = &g->nodes[i];
        if (n->id.kind != id->kind || strcmp(n->id.name, id->name) ||
            (id->stream[0] && strcmp(n->id.stream, id->stream)))
            continue;
        if (id->stream[0])
            return i;
        if (found >= 0)
            return AVERROR(EINVAL);   /* in several streams */
        found = i;
    }
    return found;
}

int ecg_lookup(const Ecg *g, const char *text, CompId *id, char *err, size_t err_size)
{
    const char *slash = strchr(text, '/'), *base = slash ? slash + 1 : text;
    int i, ret;

    if (!strcmp(base, "vdec") || !strcmp(base, "adec") || !strcmp(base, "ladder")) {
        /* not in comp.h's grammar: nodes of the graph, not components */
        memset(id, 0, sizeof(*id));
        if (slash && (slash == text || (size_t)(slash - text) >= sizeof(id->stream))) {
            snprintf(err, err_size, "'%s': no such stream", text);
            return AVERROR(EINVAL);
        }
        if (slash)
            memcpy(id->stream, text, slash - text);
        id->kind = COMP_INGEST;
        av_strlcpy(id->name, base, sizeof(id->name));
        id->instance = COMP_WHOLE;
    } else if ((ret = comp_parse(text, 1, id, err, err_size)) < 0) {
        return ret;
    }
    i = ecg_find(g, id);
    if (i == AVERROR(EINVAL)) {
        AVBPrint bp;
        av_bprint_init_for_buffer(&bp, err, err_size);
        av_bprintf(&bp, "'%s' is in several streams: write STREAM/%s (streams:", text, text);
        for (int s = 0; s < g->nb_streams; s++)
            av_bprintf(&bp, "%s %s", s ? "," : "", g->job->streams[s].name);
        av_bprintf(&bp, ")");
        return i;
    }
    if (i < 0) {
        snprintf(err, err_size, "'%s': no such component in this job (hotspare ctl status "
                 "lists them)", text);
        return i;
    }
    {
        int inst = id->instance;
        *id = g->nodes[i].id;
        id->instance = inst;
    }
    return i;
}

int ecg_downstream(const Ecg *g, int i, int *out, int max)
{
    int n = 0;

    for (int e = 0; e < g->nb_edges && n < max; e++)
        if (g->edges[e].from == i)
            out[n++] = g->edges[e].to;
    return n;
}

const char *ecg_instance_name(int k, char *buf, size_t size)
{
    if (k == COMP_ANY)
        snprintf(buf, size, "any");
    else if (k == 0)
        snprintf(buf, size, "primary");
    else if (k == 1)
        snprintf(buf, size, "backup");
    else
        snprintf(buf, size, "backup%d", k);
    return buf;
}

int ecg_parse_instance(const char *text)
{
    char *end;
    long k;

    if (!strcmp(text, "primary"))
        return 0;
    if (!strcmp(text, "backup"))
        return 1;
    if (!strncmp(text, "backup", 6))
        text += 6;
    if (*text < '0' || *text > '9')
        return AVERROR(EINVAL);
    k = strtol(text, &end, 10);
    if (*end || k < 0 || k >= COMP_MAX_INSTANCES)
        return AVERROR(EINVAL);
    return (int)k;
}

/* Writes why, when asked, and returns err. */
static int refuse(int err, char *why, size_t why_size, const char *fmt, ...) av_printf_format(4, 5);
static int refuse(int err, char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;

    if (why && why_size) {
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Into node n's mailbox, with a seq. */
static int post(const EcgNode *n, CompRequest *req, const char *name, char *why, size_t why_size)
{
    int ret;

    if (!n->stage)
        return refuse(AVERROR(ENODEV), why, why_size, "no running job: this graph is a job "
                      "file's");
    if (!req->seq)
        req->seq = comp_next_seq();
    ret = stage_post(n->stage, req);
    if (ret == AVERROR(EAGAIN))
        return refuse(ret, why, why_size, "%s has %d requests waiting already", name, STAGE_MAILBOX);
    if (ret == AVERROR(ENODEV))
        return refuse(ret, why, why_size, "%s has ended", name);
    if (ret < 0)
        return refuse(ret, why, why_size, "%s: %s", name, av_err2str(ret));
    return 0;
}

/* COMP_OP_ADD: a destination from outside (a provision hook's URL) as a
 * new backup of an output. The job's own instances are never replaced;
 * whether the slot is free now is the stage's to say (it may have added
 * one since the status was published). */
static int request_add(Ecg *g, int i, const CompId *id, CompRequest *req, const char *name,
                       char *why, size_t why_size)
{
    const EcgNode *n = &g->nodes[i];
    int inst = id->instance >= 0 ? id->instance : req->instance;

    if (n->id.kind == COMP_ENCODER)
        return refuse(AVERROR(ENOTSUP), why, why_size, "%s takes no URL: an encoder's backup "
                      "runs in this process", name);
    if (n->id.kind != COMP_OUTPUT)
        return refuse(AVERROR(ENOTSUP), why, why_size, "%s takes no URL at run time: only "
                      "outputs add a backup from one", name);
    if (!memchr(req->url, 0, sizeof(req->url)) || !req->url[0])
        return refuse(AVERROR(EINVAL), why, why_size, "add: no URL");
    if (id->instance >= 0 && req->instance != COMP_ANY && req->instance != id->instance)
        return refuse(AVERROR(EINVAL), why, why_size, "two instances asked for: %d and %d",
                      id->instance, req->instance);
    if (inst >= 0 && inst < n->nb_instances)
        return refuse(AVERROR(EINVAL), why, why_size, "instance %d of %s is one of the job's "
                      "own destinations: a URL only adds new ones", inst, name);
    if (inst < 0 || inst >= COMP_MAX_INSTANCES)
        return refuse(AVERROR(EINVAL), why, why_size, "add: no instance %d (%s may have %d at "
                      "most)", inst, name, COMP_MAX_INSTANCES);
    req->instance = inst;
    return post(n, req, name, why, why_size);
}

int ecg_request(Ecg *g, const CompId *id, CompRequest *req, char *why, size_t why_size)
{
    const EcgNode *n;
    char name[128], inst_name[ECG_INSTANCE_NAME_SIZE];
    int i = ecg_find(g, id), inst = req->instance;
    CompStatus st;

    if (i == AVERROR(EINVAL))
        return refuse(i, why, why_size, "%s:%s is in several streams: name the stream",
                      comp_kind_name(id->kind), id->name);
    if (i < 0)
        return refuse(i, why, why_size, "no such component in this job");
    n = &g->nodes[i];
    ecg_node_name(g, i, 1, name, sizeof(name));
    if (n->role != ECG_ROLE_COMPONENT || n->id.kind == COMP_EDGE)
        return refuse(AVERROR(ENOTSUP), why, why_size, "%s takes no request: only inputs, "
                      "encoders and outputs do (an edge follows its output)", name);
    if (req->op < COMP_OP_PROVISION || req->op > COMP_OP_ADD)
        return refuse(AVERROR(EINVAL), why, why_size, "unknown operation %d", (int)req->op);
    if (req->op == COMP_OP_ADD)
        return request_add(g, i, id, req, name, why, why_size);
    if (n->id.kind == COMP_INGEST && req->op != COMP_OP_SWITCH &&
        g->job->streams[n->stream].input.prefetch == JOB_PREFETCH_ALWAYS)
        return refuse(AVERROR(ENOTSUP), why, why_size, "%s is only switched, never %s: every "
                      "source of the input is read all the time (prefetch: always)", name,
                      req->op == COMP_OP_PROVISION ? "provisioned" : "released");
    if (id->instance >= 0) {
        if (inst != COMP_ANY && inst != id->instance)
            return refuse(AVERROR(EINVAL), why, why_size, "two instances asked for: %d and %d",
                          id->instance, inst);
        inst = id->instance;
    }
    ecg_status(g, i, &st);        /* the job's backups, and those added since */
    if (st.nb_instances < 2)
        return refuse(AVERROR(EINVAL), why, why_size, "%s has no backup", name);
    if (inst != COMP_ANY && (inst < 0 || inst >= st.nb_instances))
        return refuse(AVERROR(EINVAL), why, why_size, "%s has no instance %d (it has %d: "
                      "primary to %s)", name, inst, st.nb_instances,
                      ecg_instance_name(st.nb_instances - 1, inst_name, sizeof(inst_name)));
    if (inst == 0 && req->op != COMP_OP_SWITCH)
        return refuse(AVERROR(EINVAL), why, why_size, "the primary of %s is never %s: only "
                      "backups are", name, req->op == COMP_OP_PROVISION ? "provisioned" : "released");
    req->instance = inst;
    return post(n, req, name, why, why_size);
}

int ecg_status(Ecg *g, int i, CompStatus *st)
{
    const EcgNode *n = node_at(g, i);
    StageState ss;
    int published;

    memset(st, 0, sizeof(*st));
    st->active = -1;
    if (!n)
        return AVERROR(ENOENT);
    if (n->of >= 0) {
        ecg_status(g, n->of, st);
        return 0;
    }
    if (n->stage)
        stage_status(n->stage, st);
    published = st->nb_instances;
    if (st->nb_instances <= 0) {
        /* nothing published (yet): the primary is in use while the thread
         * runs; what the stage never said stays idle */
        for (int k = 0; k < COMP_MAX_INSTANCES; k++)
            st->inst[k].state = INST_IDLE;
        st->active = -1;
        ss = n->stage ? stage_state(n->stage) : STAGE_IDLE;
        if (ss == STAGE_RUNNING) {
            st->inst[0].state = INST_ACTIVE;
            st->active = 0;
        }
        if (ss == STAGE_FAILED)
            st->inst[0].fails = 1;
    }
    /* the job's, or more: an output adds backups at run time (a provision
     * hook's URL), and those are listed as the stage published them */
    st->nb_instances = FFMIN(FFMAX(n->nb_instances, published), COMP_MAX_INSTANCES);
    if (st->active >= st->nb_instances)
        st->active = -1;
    return 0;
}

const char *ecg_thread(Ecg *g, int i)
{
    const EcgNode *n = node_at(g, i);

    if (n && n->of >= 0)
        n = node_at(g, n->of);
    if (!n || !n->stage)
        return "static";
    switch (stage_state(n->stage)) {
    case STAGE_IDLE:    return "idle";
    case STAGE_RUNNING: return "running";
    case STAGE_DONE:    return "done";
    default:            return "failed";
    }
}

void ecg_note(Ecg *g, int i, const EcgFigures *f)
{
    if (i < 0 || i >= g->nb_nodes)
        return;
    pthread_mutex_lock(&g->lock);
    g->fig[i] = *f;
    pthread_mutex_unlock(&g->lock);
}

void ecg_note_decision(Ecg *g, int i, const char *text)
{
    if (i < 0 || i >= g->nb_nodes || !g->decision)
        return;
    pthread_mutex_lock(&g->lock);
    av_strlcpy(g->decision[i], text, sizeof(g->decision[i]));
    pthread_mutex_unlock(&g->lock);
}

void ecg_decision(Ecg *g, int i, char *buf, size_t size)
{
    *buf = 0;
    if (i < 0 || i >= g->nb_nodes || !g->decision)
        return;
    pthread_mutex_lock(&g->lock);
    av_strlcpy(buf, g->decision[i], size);
    pthread_mutex_unlock(&g->lock);
}

void ecg_figures(Ecg *g, int i, EcgFigures *f)
{
    if (i < 0 || i >= g->nb_nodes) {
        *f = (EcgFigures){ .risk = -1, .rate = -1, .queue = -1, .use = -1 };
        return;
    }
    pthread_mutex_lock(&g->lock);
    *f = g->fig[i];
    pthread_mutex_unlock(&g->lock);
}

/* ---- describing the graph ------------------------------------------------ */

/* One node as the describers and the control socket's status see it. */
typedef struct NodeView {
    char id[128];                /* "news/enc:720p" */
    char comp[80];               /* "enc:720p" */
    const char *kind, *thread, *colour;
    CompStatus st;
    EcgFigures fig;
    int64_t now_us;
} NodeView;

static const char *colour_of(const NodeView *v)
{
    int backoff = 0;

    if (!strcmp(v->thread, "static"))
        return "#f5f5f5";
    for (int k = 0; k < v->st.nb_instances; k++)
        backoff |= v->st.inst[k].state == INST_BACKOFF;
    if (!strcmp(v->thread, "failed") || backoff || v->fig.risk >= ECG_RISK_HIGH)
        return "#ffcdd2";                         /* red: failed, or about to */
    if (v->fig.risk >= ECG_RISK_WARN || (!strcmp(v->thread, "running") && v->st.active < 0))
        return "#ffe0b2";                         /* orange: at risk, or nothing in use */
    if (v->st.active >= 0)
        return "#c8e6c9";                         /* green: in use */
    return "#e0e0e0";                             /* grey: not started, or ended */
}

static void view(Ecg *g, int i, int64_t now, NodeView *v)
{
    ecg_node_name(g, i, 1, v->id, sizeof(v->id));
    ecg_node_name(g, i, 0, v->comp, sizeof(v->comp));
    v->kind = ecg_node_kind(g, i);
    v->thread = ecg_thread(g, i);
    ecg_status(g, i, &v->st);
    ecg_figures(g, i, &v->fig);
    v->now_us = now;
    v->colour = colour_of(v);
}

static const char *rate_unit(const Ecg *g, int i)
{
    return g->nodes[i].id.kind == COMP_ENCODER && g->nodes[i].role == ECG_ROLE_COMPONENT ?
           "fps" : "packets/s";
}

/* DOT strings: quotes and backslashes escaped (names hold neither, but a
 * graph must stay valid whatever a job calls things), line breaks as \n. */
static void dot_string(AVBPrint *bp, const char *s)
{
    av_bprint_chars(bp, '"', 1);
    for (; *s; s++) {
        if (*s == '\n') {
            av_bprintf(bp, "\\n");
            continue;
        }
        if (*s == '"' || *s == '\\')
            av_bprint_chars(bp, '\\', 1);
        av_bprint_chars(bp, *s, 1);
    }
    av_bprint_chars(bp, '"', 1);
}

static void describe_dot(Ecg *g, AVBPrint *bp, int64_t now)
{
    int stream = -1;

    av_bprintf(bp, "digraph \"hotspare\" {\n"
               "  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11];\n"
               "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
               "  edge [color=\"#607d8b\"];\n");
    for (int i = 0; i < g->nb_nodes; i++) {
        NodeView v;
        char label[512], name[ECG_INSTANCE_NAME_SIZE];
        AVBPrint lb;

        if (g->nodes[i].stream != stream) {
            if (stream >= 0)
                av_bprintf(bp, "  }\n");
            stream = g->nodes[i].stream;
            av_bprintf(bp, "  subgraph \"cluster_%d\" {\n    label=", stream);
            dot_string(bp, g->job->streams[stream].name);
            av_bprintf(bp, ";\n");
        }
        view(g, i, now, &v);
        av_bprint_init_for_buffer(&lb, label, sizeof(label));
        av_bprintf(&lb, "%s\n", v.comp);
        for (int k = 0; k < v.st.nb_instances; k++) {
            ecg_instance_name(k, name, sizeof(name));
            if (!strcmp(v.thread, "static"))
                av_bprintf(&lb, "%s%s", k ? ", " : "", name);
            else
                av_bprintf(&lb, "%s%s%s: %s%s", k ? ", " : "", name,
                           v.st.inst[k].dynamic ? " (added)" : "", inst_state_name(v.st.inst[k].state),
                           v.st.hot_capable && v.st.inst[k].hot ? " (hot)" : "");
        }
        if (v.fig.risk >= 0)
            av_bprintf(&lb, "\nrisk %.2f", v.fig.risk);
        if (v.fig.rate >= 0)
            av_bprintf(&lb, "%s%.1f %s", v.fig.risk >= 0 ? ", " : "\n", v.fig.rate, rate_unit(g, i));
        if (v.fig.priority > 0)
            av_bprintf(&lb, "\npriority %d%s", v.fig.priority, v.fig.pinned ? " (pinned)" : "");
        av_bprintf(bp, "    ");
        dot_string(bp, v.id);
        av_bprintf(bp, " [label=");
        dot_string(bp, label);
        av_bprintf(bp, ", fillcolor=\"%s\"%s];\n", v.colour,
                   g->nodes[i].role == ECG_ROLE_COMPONENT ? "" : ", shape=ellipse");
    }
    if (stream >= 0)
        av_bprintf(bp, "  }\n");
    for (int e = 0; e < g->nb_edges; e++) {
        char from[128], to[128];
        ecg_node_name(g, g->edges[e].from, 1, from, sizeof(from));
        ecg_node_name(g, g->edges[e].to, 1, to, sizeof(to));
        av_bprintf(bp, "  ");
        dot_string(bp, from);
        av_bprintf(bp, " -> ");
        dot_string(bp, to);
        av_bprintf(bp, ";\n");
    }
    av_bprintf(bp, "}\n");
}

/* json_object_set_new that ignores the value's allocation failing: a
 * missing field is then caught by json_dumps's caller as ENOMEM at worst. */
static void put(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v ? v : json_null());
}

static json_t *node_json(Ecg *g, int i, int64_t now)
{
    NodeView v;
    json_t *o = json_object(), *insts = json_array();
    char name[ECG_INSTANCE_NAME_SIZE];

    if (!o || !insts) {
        json_decref(o);
        json_decref(insts);
        return NULL;
    }
    view(g, i, now, &v);
    put(o, "id", json_string(v.id));
    put(o, "stream", json_string(g->nodes[i].id.stream));
    put(o, "component", json_string(v.comp));
    put(o, "kind", json_string(v.kind));
    put(o, "thread", json_string(v.thread));
    for (int k = 0; k < v.st.nb_instances; k++) {
        json_t *in = json_object();
        if (!in)
            continue;
        put(in, "instance", json_integer(k));
        put(in, "name", json_string(ecg_instance_name(k, name, sizeof(name))));
        put(in, "state", json_string(inst_state_name(v.st.inst[k].state)));
        put(in, "fails", json_integer(v.st.inst[k].fails));
        /* added at run time from a provision hook's URL (never shown) */
        put(in, "dynamic", json_boolean(v.st.inst[k].dynamic));
        if (v.st.hot_capable)     /* a standby encoder: fed every frame or not */
            put(in, "hot", json_boolean(v.st.inst[k].hot));
        json_array_append_new(insts, in);
    }
    put(o, "instances", insts);
    put(o, "active", v.st.active >= 0 ? json_integer(v.st.active) : json_null());
    put(o, "in_use", v.st.active >= 0 ?
        json_string(ecg_instance_name(v.st.active, name, sizeof(name))) : json_null());
    put(o, "pending", json_integer(v.st.pending));
    put(o, "risk", v.fig.risk >= 0 ? json_real(v.fig.risk) : json_null());
    put(o, "rate", v.fig.rate >= 0 ? json_real(v.fig.rate) : json_null());
    put(o, "rate_unit", json_string(rate_unit(g, i)));
    put(o, "queue", v.fig.queue >= 0 ? json_integer(v.fig.queue) : json_null());
    if (g->nodes[i].id.kind == COMP_EDGE && strchr(g->nodes[i].id.name, ':')) {
        /* a CDN pathway: its place in PATHWAY-PRIORITY (1 first) */
        put(o, "priority", v.fig.priority > 0 ? json_integer(v.fig.priority) : json_null());
        put(o, "pinned", json_boolean(v.fig.pinned));
    }
    if (g->nodes[i].id.kind == COMP_OUTPUT && g->nodes[i].stage) {
        /* the output's own continuity (plane/continuity.h): what a drill checks */
        OutputStats os;
        output_stats((Output *)g->nodes[i].stage, &os);
        put(o, "frames", json_integer(os.frames));
        put(o, "frames_lost", json_integer(os.frames_lost));
    }
    put(o, "heartbeat_age_ms", v.st.last_progress_us ?
        json_integer((now - v.st.last_progress_us) / 1000) : json_null());
    put(o, "busy_ms", v.st.busy_since_us ?
        json_integer((now - v.st.busy_since_us) / 1000) : json_null());
    {
        char d[ECG_DECISION_SIZE];
        ecg_decision(g, i, d, sizeof(d));
        put(o, "decision", d[0] ? json_string(d) : json_null());
    }
    put(o, "colour", json_string(v.colour));
    return o;
}

static int describe_json(Ecg *g, AVBPrint *bp, int64_t now)
{
    json_t *root = json_object(), *nodes = json_array(), *edges = json_array();
    char *text;
    int ret = AVERROR(ENOMEM);

    if (!root || !nodes || !edges)
        goto end;
    for (int i = 0; i < g->nb_nodes; i++)
        if (json_array_append_new(nodes, node_json(g, i, now)) < 0)
            goto end;
    for (int e = 0; e < g->nb_edges; e++) {
        char from[128], to[128];
        json_t *o;
        ecg_node_name(g, g->edges[e].from, 1, from, sizeof(from));
        ecg_node_name(g, g->edges[e].to, 1, to, sizeof(to));
        o = json_pack("{s:s, s:s}", "from", from, "to", to);
        if (json_array_append_new(edges, o) < 0)
            goto end;
    }
    json_object_set(root, "nodes", nodes);
    json_object_set(root, "edges", edges);
    text = json_dumps(root, JSON_COMPACT);
    if (!text)
        goto end;
    av_bprintf(bp, "%s\n", text);
    free(text);
    ret = 0;
end:
    json_decref(root);
    json_decref(nodes);
    json_decref(edges);
    return ret;
}

int ecg_describe(Ecg *g, int json, AVBPrint *bp)
{
    int64_t now = av_gettime_relative();
    int ret = 0;

    if (json)
        ret = describe_json(g, bp, now);
    else
        describe_dot(g, bp, now);
    if (ret >= 0 && !av_bprint_is_complete(bp))
        ret = AVERROR(ENOMEM);
    return ret;
}
