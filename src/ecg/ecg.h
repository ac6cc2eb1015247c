/*
 * ecg.h: the encoding chain graph: every stream's components, their
 * instances and who feeds whom; the one handle that the orchestrator, the
 * agents, the control socket and `hotspare graph` use.
 *
 *   news/input -> news/vdec -> news/ladder -> news/enc:720p -> news/out:main -> news/edge:main
 *     -> news/edge:main:cdn-a (a CDN pathway to viewers, one per pathway)
 *              -> news/adec --------------> news/enc:audio -/
 *
 * It owns the job's pipelines and adds no thread: a request goes to the
 * component's own thread (stage_post); status is what the stage last
 * published, so no call here waits on the data plane. Only inputs,
 * encoders and outputs take requests; the decoders, the ladder and edges
 * appear in the graph (an edge is its output's peer).
 *
 * The decoders and the ladder have no kind of their own in comp.h: they are
 * nodes of kind COMP_INGEST (the stream's shared front end, as the agents
 * count their CPU) named "vdec", "adec" and "ladder", names an input never
 * has. comp_format would write them as "input": name nodes with
 * ecg_node_name, read them with ecg_lookup.
 *
 * The number of instances of each node is at least the job's (an input's
 * sources, a rendition's standby, an output's destinations), so that a
 * stage that has not published yet still has its backups; more when the
 * stage published more: an output adds backups at run time
 * (COMP_OP_ADD, from a provision hook's URL).
 *
 * Built without a running job (ecg_alloc_static) it describes the chain of
 * a job file: `hotspare graph`.
 */
#ifndef HS_ECG_H
#define HS_ECG_H

#include <stdatomic.h>
#include <stddef.h>
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
    float risk;                   /* failure risk 0..1, < 0 unknown */
    double rate;                  /* fps (encoders), packets/s (inputs, outputs);
                                     < 0 unknown */
    int queue;                    /* items waiting for it, < 0 unknown */
    double use;                   /* share of its deadline a call of it has
                                     taken or is taking (fo/fo_rules.h), < 0
                                     unknown */
    int priority;                 /* a CDN pathway's place in its output's
                                     PATHWAY-PRIORITY, 1 first; 0 unknown */
    int pinned;                   /* ... an order set by hand (ctl steer) */
    int64_t at_us;                /* when (av_gettime_relative), 0 never */
} EcgFigures;

/* Pipelines for every stream of job. job, events, stop: not owned, outlive
 * the graph. */
int  ecg_alloc(Ecg **pg, const Job *job, EventLog *events, const _Atomic int *stop);
/*
 * A reload (README, "Reload"): the graph of job, taking from old the
 * pipelines of the streams whose name and digest are equal (JobStream.
 * digest): they run on untouched, and old keeps a NULL in their place.
 * The other streams get new pipelines; one whose name old runs with
 * another definition replaces it: ecg_start starts it, but its outputs
 * are held (pipeline_continue) until ecg_release. Returns 0 or a negative
 * AVERROR (then old has lost nothing). The pipelines taken hold old's
 * job's streams: that job must outlive them.
 */
int  ecg_alloc_reload(Ecg **pg, const Job *job, EventLog *events, const _Atomic int *stop,
                      Ecg *old);
/* Stops the streams old still holds after ecg_alloc_reload that job has
 * no stream of that name for (removed); returns how many. The ones it
 * replaces go on until their replacement is ready: ecg_stop_stream. */
int  ecg_stop_streams(Ecg *old, const Job *job);
/* Stops g's stream of that name; replaced: its HLS playlists stay open. */
void ecg_stop_stream(Ecg *g, const char *name, int replaced);
/* Has stream s's pipeline started and ended (all its threads)? */
int  ecg_stream_ended(Ecg *g, int s);
/* Has stream s's pipeline, held, a keyframe ready at every output? */
int  ecg_stream_ready(Ecg *g, int s);
/* Does g run a stream of this name (started, not finished)? */
int  ecg_runs_stream(Ecg *g, const char *name);
/* Replacements whose outputs are still held; releases stream s's, from the
 * newest keyframe before from_us (when its predecessor was stopped). */
int  ecg_nb_held(const Ecg *g);
int  ecg_is_held(const Ecg *g, int s);
void ecg_release(Ecg *g, int s, int64_t from_us);
/* Does g hold a pipeline of this stream (running or not)? */
int  ecg_has_stream(Ecg *g, const char *name);
/* The named stream ends for good (pipeline_final): a fleet stream no
 * longer placed, whose playlists no other node goes on in. */
void ecg_end_stream(Ecg *g, const char *name);
/* Fleet fencing and planned moves (dra/fleet.h): the named stream's
 * outputs write nothing while fenced (it runs on, warm), and only from
 * from_unix_us until until_unix_us (0: no bound), keeping keep_us of
 * their cache while fenced (pipeline_fence). Returns
 * whether its outputs are ready to write (output_ready); 0 for a stream
 * not run here. */
int ecg_fence_stream(Ecg *g, const char *name, int fenced, int64_t from_unix_us,
                     int64_t until_unix_us, int64_t keep_us);
/* The graph of a job file alone: no pipeline, every state idle. */
int  ecg_alloc_static(Ecg **pg, const Job *job);
/* Frees the pipelines (after ecg_join) and the graph; NULL-safe. */
void ecg_free(Ecg **pg);

/* Starts every stream; returns 0 or the first failure (the streams already
 * started run on: the caller stops them). */
int  ecg_start(Ecg *g);
/* Have every stream's threads ended? (1 for a static graph) */
int  ecg_finished(Ecg *g);
/* Joins every stream; returns how many failed. */
int  ecg_join(Ecg *g);

int ecg_nb_streams(const Ecg *g);
Pipeline *ecg_pipeline(Ecg *g, int stream);      /* NULL when static */
/* The pipelines as an array of ecg_nb_streams (the sampler's and the
 * progress report's view); NULL when static. Owned by the graph. */
Pipeline **ecg_pipelines(Ecg *g);

/* Nodes in a stable order: per stream, input, decoders, ladder, encoders
 * (renditions, then audio), outputs, edges. */
int ecg_nb_nodes(const Ecg *g);
const CompId *ecg_node(const Ecg *g, int i);      /* instance COMP_WHOLE */
EcgRole ecg_node_role(const Ecg *g, int i);
/* Instances of node i, from the job (1 for decoders and the ladder). */
int ecg_node_instances(const Ecg *g, int i);
/* "news/enc:720p" (with_stream) or "enc:720p"; "news/vdec". Returns the
 * length or AVERROR(ENOSPC). */
int ecg_node_name(const Ecg *g, int i, int with_stream, char *buf, size_t size);
/* "ingest", "decoder", "ladder", "encoder", "output", "edge". */
const char *ecg_node_kind(const Ecg *g, int i);

/* The node's index, or AVERROR(ENOENT). The instance of id is ignored. An
 * empty stream matches when one stream alone has such a component;
 * AVERROR(EINVAL) when several have. */
int ecg_find(const Ecg *g, const CompId *id);

/* Reads a component as people write it (comp.h's grammar, plus "vdec",
 * "adec", "ladder"), the stream optional when it is not ambiguous. Writes
 * the node's id with the instance written (COMP_WHOLE when none) into id.
 * Returns the node's index, or AVERROR(EINVAL)/AVERROR(ENOENT) with the
 * reason in err. */
int ecg_lookup(const Ecg *g, const char *text, CompId *id, char *err, size_t err_size);

/* Indices of the nodes node i feeds directly; returns how many (at most max). */
int ecg_downstream(const Ecg *g, int i, int *out, int max);

/*
 * Asks a component for req. The instance is req->instance; when that is
 * COMP_ANY and id names an instance, id's. req->seq 0: a new one is given
 * (comp_next_seq), and written back. Its own thread carries it out at its
 * next wake-up and reports the outcome as an event carrying the seq.
 * Returns 0, AVERROR(ENOENT) (no such component), AVERROR(ENOTSUP) (not
 * for this kind: every input source is read all the time, so an input is
 * switched, never provisioned or released; decoders, the ladder and edges
 * take no request; ADD is for outputs alone), AVERROR(EINVAL) (no such instance, a component without
 * backups, or asking the primary to be provisioned or released; ADD: no
 * URL, or an instance that is the job's),
 * AVERROR(EAGAIN) (mailbox full), AVERROR(ENODEV) (static graph, or the
 * stage has ended). why (may be NULL): one line saying why, on failure.
 * Thread-safe.
 */
int ecg_request(Ecg *g, const CompId *id, CompRequest *req, char *why, size_t why_size);

/* A copy of what node i last published (instances, states, heartbeat);
 * nb_instances is the job's or what the stage published, the larger, and a stage that published nothing yet shows
 * its primary active while its thread runs. An edge shows its output's.
 * Thread-safe. Returns 0, or AVERROR(ENOENT). */
int ecg_status(Ecg *g, int i, CompStatus *st);

/* Node i's thread: "static" (no pipeline), "idle", "running", "done",
 * "failed"; an edge: its output's. */
const char *ecg_thread(Ecg *g, int i);

/* The tick's figures for node i (the sampler's, the predictor's risk).
 * Thread-safe. */
void ecg_note(Ecg *g, int i, const EcgFigures *f);
void ecg_figures(Ecg *g, int i, EcgFigures *f);

/* The orchestrator's last decision about node i, as one line ("provision
 * out:main.backup: rule risk_high, risk 0.91, request 12"), for status. */
#define ECG_DECISION_SIZE 160
void ecg_note_decision(Ecg *g, int i, const char *text);
void ecg_decision(Ecg *g, int i, char *buf, size_t size);

/* "primary", "backup", "backup2", ...; "any" for COMP_ANY. */
#define ECG_INSTANCE_NAME_SIZE 24
const char *ecg_instance_name(int k, char *buf, size_t size);
/* Reads "primary", "backup", "backupN" or a number; returns it, or
 * AVERROR(EINVAL). */
int ecg_parse_instance(const char *text);

/*
 * The graph as DOT (json 0) or JSON (json 1), appended to bp, with states,
 * the instance in use, the last figures and colours; never a URL, a
 * credential or a stream key: it names components only. The JSON is an
 * object {"nodes":[...],"edges":[{"from":ID,"to":ID}]}, each node as in the
 * control socket's status (README). Returns 0 or AVERROR(ENOMEM).
 */
int ecg_describe(Ecg *g, int json, AVBPrint *bp);

#endif
