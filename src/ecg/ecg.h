/*
 * ecg.h: the encoding chain graph: every stream's components, their
 * instances and who feeds whom; the one handle that the orchestrator, the
 * agents, the control socket and `hotspare graph` use.
 *
 *   news/input -> news/vdec -> news/ladder -> news/enc:720p -> news/out:main -> news/edge:main
 *              -> news/adec --------------> news/enc:audio -/
 *
 * It owns the job's pipelines and adds no thread: a request goes to the
 * component's own thread (stage_post); status is what the stage last
 * published, so no call here waits on the data plane. Only inputs,
 * encoders and outputs take requests; the decoders, the ladder and edges
 * appear in the graph (an edge is its output's peer).
 *
 * Built without a running job (ecg_alloc_static) it describes the chain of
 * a job file: `hotspare graph`.
 */
#ifndef HS_ECG_H
#define HS_ECG_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavutil/bprint.h>

#include "core/comp.h"
#include "core/event.h"
#include "job/job.h"
#include "plane/inst.h"
#include "plane/pipeline.h"

typedef struct Ecg Ecg;

/* Nodes of the graph that are not components with instances. */
typedef enum EcgRole {
    ECG_ROLE_COMPONENT,           /* input, encoder, output, edge */
    ECG_ROLE_DECODER,             /* "vdec", "adec" */
    ECG_ROLE_LADDER,
} EcgRole;

/* What the tick last saw of a component (ecg_note), for status and graphs. */
typedef struct EcgFigures {
    float risk;                   /* failure risk, < 0 unknown */
    double rate;                  /* fps (encoders), packets/s (inputs, outputs) */
    int queue;                    /* items waiting for it */
    int64_t at_us;                /* when (av_gettime_relative), 0 never */
} EcgFigures;

/* job, events, stop: not owned, outlive the graph. */
int  ecg_alloc(Ecg **pg, const Job *job, EventLog *events, const _Atomic int *stop);
/* The graph of a job file alone: no pipeline, every state idle. */
int  ecg_alloc_static(Ecg **pg, const Job *job);
void ecg_free(Ecg **pg);

int  ecg_start(Ecg *g);
int  ecg_finished(Ecg *g);
/* Joins every stream; returns how many failed. */
int  ecg_join(Ecg *g);

int ecg_nb_streams(const Ecg *g);
Pipeline *ecg_pipeline(Ecg *g, int stream);      /* NULL when static */

/* Nodes in a stable order: per stream, input, decoders, ladder, encoders
 * (renditions, then audio), outputs, edges. */
int ecg_nb_nodes(const Ecg *g);
const CompId *ecg_node(const Ecg *g, int i);      /* instance COMP_WHOLE */
EcgRole ecg_node_role(const Ecg *g, int i);
/* The node's index, or AVERROR(ENOENT). The instance of id is ignored. */
int ecg_find(const Ecg *g, const CompId *id);

/* Indices of the nodes node i feeds directly; returns how many (at most max). */
int ecg_downstream(const Ecg *g, int i, int *out, int max);

/*
 * Asks a component for req (req->seq 0: a new one is given, and written
 * back). Its own thread carries it out at its next wake-up and reports the
 * outcome as an event carrying the seq. Returns 0, AVERROR(ENOENT) (no such
 * component), AVERROR(EINVAL) (no such instance, or asking the primary to
 * be provisioned or released), AVERROR(ENOTSUP) (not for this kind: every
 * input source is read all the time, so an input is switched, never
 * provisioned; decoders and the ladder take no request), AVERROR(EAGAIN)
 * (mailbox full), AVERROR(ENODEV) (static graph, or the stage has ended).
 * Thread-safe.
 */
int ecg_request(Ecg *g, const CompId *id, CompRequest *req);

/* A copy of what node i last published (instances, states, heartbeat).
 * Thread-safe. Returns 0, or AVERROR(ENOENT). */
int ecg_status(Ecg *g, int i, CompStatus *st);

/* The tick's figures for node i (the sampler's, the predictor's risk). */
void ecg_note(Ecg *g, int i, const EcgFigures *f);
void ecg_figures(Ecg *g, int i, EcgFigures *f);

/* The graph as DOT (json 0) or JSON (json 1), with states, the instance in
 * use and colours; never a URL, a credential or a stream key. */
int ecg_describe(Ecg *g, int json, AVBPrint *bp);

#endif
