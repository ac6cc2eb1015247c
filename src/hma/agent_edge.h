/*
 * agent_edge.h: the CDN edges' agent: a synthetic viewer per pathway of
 * every HLS/DASH output that has pathways (job.h: JobPathway).
 *
 * Each viewer is a thread that, once a period, does through its pathway
 * what a player does: it GETs the media playlist (HLS: the first
 * rendition's, "<rendition>.m3u8" under the pathway's base; DASH: the MPD)
 * and then the first 64 KiB of the newest segment the playlist lists. It
 * measures each answer's time and status and the segment's bytes/s, and
 * which segment the edge serves as newest. A call the edge leaves
 * unanswered is given up after twice the segment duration (at least 1 s,
 * at most 10 s), and while it waits its age is the response time the tick
 * sees: an edge that hangs looks slower every tick, not silent.
 *
 * Freshness: how far the newest segment the edge serves is behind the
 * newest one hotspare uploaded (plane/output.h: OutputStats.newest_seq):
 * 0 when it has it, else the time since the first segment it lacks was
 * uploaded. A stale edge is a failing edge: its viewers wait.
 *
 * The tick (agent_edge_sample) turns each viewer's figures into an edge
 * component "STREAM/edge:OUTPUT:PATHWAY" of the sample (sample.h, XM_*).
 * Threads: the viewers write their figures under the agent's lock; the
 * tick reads them.
 */
#ifndef HS_AGENT_EDGE_H
#define HS_AGENT_EDGE_H

#include <stdint.h>

#include "hma/sample.h"
#include "job/job.h"
#include "plane/pipeline.h"

/* Bytes of the newest segment a viewer fetches: enough for a throughput,
 * little for the edge. */
#define AGENT_EDGE_SEGMENT_BYTES 65536

typedef struct AgentEdge AgentEdge;

/* What one viewer saw last. */
typedef struct EdgeView {
    int known;                    /* it has finished a probe */
    int up;                       /* the last probe got both answers in time */
    int64_t probes, failures;
    int64_t status[4];            /* answers by class 2xx..5xx */
    double playlist_s, segment_s; /* the last probe's answer times */
    double throughput;            /* the segment's bytes/s */
    int64_t seq;                  /* the newest segment it serves, -1 unknown */
    double target_s;              /* the playlist's segment duration */
    int64_t busy_us;              /* a probe under way for this long, 0 none */
    int64_t started_us;           /* when the last finished probe began */
    char why[200];                /* why the last probe failed */
} EdgeView;

/* Viewers for every pathway of job's outputs (pl: the pipelines, one per
 * stream, not owned). *pa NULL and 0 when no output has pathways. Starts
 * the threads, one probe per period_us. */
int agent_edge_alloc(AgentEdge **pa, const Job *job, Pipeline **pl, int64_t period_us);
/* Stops and joins the viewers (a probe under way is interrupted). */
void agent_edge_free(AgentEdge **pa);

/* Adds an edge component per pathway to s, with its figures, at now_us
 * (av_gettime_relative). */
void agent_edge_sample(AgentEdge *a, Sample *s, int64_t now_us);

/* The view of pathway p of output o of stream st (-1 when not watched). */
int agent_edge_view(AgentEdge *a, int st, int o, int p, EdgeView *v);

/*
 * Freshness, pure: seconds the edge's newest segment (edge_seq) is behind
 * the origin's, given when each of the origin's newest segments was first
 * seen (seqs[i] first seen at at_us[i], n of them, oldest first). 0 when
 * the edge is up to date; when the first segment it lacks is older than
 * the history, its age is estimated as segments behind x target_s.
 */
double agent_edge_stale_s(int64_t edge_seq, const int64_t *seqs, const int64_t *at_us, int n,
                          double target_s, int64_t now_us);

#endif
