/*
 * steer.h: the Content Steering server. For every HLS/DASH output with
 * pathways, the supervisor's HTTP endpoint (hma/metrics.h) answers the
 * output's steering URI path with the manifest players poll every TTL:
 *
 *   {"VERSION":1,"TTL":10,"RELOAD-URI":"...","PATHWAY-PRIORITY":["cdn-b","cdn-a"]}
 *
 * (HLS Content Steering 1.2, DASH-IF/ETSI TS 103 998: one format for
 * both.) The order is the orchestrator's (fo/steer_rules.h), set each tick
 * with steer_set_order; an order pinned by hand (ctl steer) is the
 * orchestrator's business too: this server only says what it is told.
 *
 * Players say where they are: hls.js, Shaka and VHS send _HLS_pathway and
 * _HLS_throughput (bit/s) with each request, dash.js _DASH_pathway and
 * _DASH_throughput, possibly as comma lists (every pathway used since its
 * last request, the fastest first) and the pathway quoted. These are kept
 * per pathway as viewer figures: requests, players (requests over the
 * last two TTLs, each player asking once per TTL) and the mean throughput
 * they report. A query that cannot be read (a throughput that is not a
 * number, an id with characters no pathway has, a parameter twice, too
 * many parameters) gets 400 with the reason; an unknown but well-formed
 * pathway is answered and not counted. Never a 5xx for what a player sends.
 *
 * Threads: the HTTP server's thread answers (under the server's lock); the
 * tick's thread sets the order and reads the figures.
 */
#ifndef HS_DRA_STEER_H
#define HS_DRA_STEER_H

#include <stdint.h>

#include <libavutil/bprint.h>

#include "hma/metrics.h"
#include "job/job.h"

typedef struct Steer Steer;

/* What viewers said of one pathway. */
typedef struct SteerViewers {
    int64_t requests;             /* manifest requests naming it as in use */
    int players;                  /* requests over the last two TTLs / 2 */
    double throughput_bps;        /* mean reported by players (last 16); < 0 none */
} SteerViewers;

typedef struct SteerStats {
    int64_t answered;             /* 200s */
    int64_t malformed;            /* 400s */
    int64_t unknown_pathway;      /* well-formed, no such pathway */
} SteerStats;

/*
 * One manifest per output with steering in job, served by m at its path.
 * job, m: not owned, outlive the server (free it before stopping m).
 * *ps NULL and 0 when no output steers. Returns 0, AVERROR(EEXIST) (a path
 * the endpoint has already), AVERROR(ENOMEM).
 */
int steer_alloc(Steer **ps, const Job *job, Metrics *m);
/* Unroutes (no handler runs after) and frees. NULL-safe. */
void steer_free(Steer **ps);

/* Outputs with steering, in job order; the k-th one's stream and output
 * indices. */
int steer_nb(const Steer *s);
void steer_output(const Steer *s, int k, int *stream, int *output);
/* k of (stream, output), -1 when it does not steer. */
int steer_find(const Steer *s, int stream, int output);

/* The order players are told from now on: order[i] is the pathway (index
 * in the job's list) in place i; the first `listed` are in the manifest. */
void steer_set_order(Steer *s, int k, const int *order, int listed);
void steer_get_order(Steer *s, int k, int *order);

void steer_viewers(Steer *s, int k, int pathway, int64_t now_us, SteerViewers *v);
void steer_stats(Steer *s, SteerStats *st);

/* ---- the protocol, pure (tested on their own) ---------------------------- */

/* The manifest for ids in order (n), ttl in whole seconds; reload_uri NULL:
 * none. Returns 0 or AVERROR(ENOMEM). */
int steer_manifest(const char *const *ids, const int *order, int n, int ttl_s,
                   const char *reload_uri, AVBPrint *bp);

/* What a player's query says: the pathway it uses (index into ids, -1
 * none named or not one of ids) and the throughput it measured on it
 * (bit/s, -1 none). Returns 0, or AVERROR_INVALIDDATA with the reason in
 * why. */
typedef struct SteerQuery {
    int pathway;
    int unknown;                  /* a pathway was named, not one of ids */
    double throughput_bps;
} SteerQuery;
int steer_query_parse(const MetricsArg *args, int nb_args, const char *const *ids, int n,
                      SteerQuery *q, char *why, size_t why_size);

#endif
