/*
 * steering.h: the orchestrator's hand on viewers. Every tick, for each
 * output with CDN pathways: each pathway's risk from what its synthetic
 * viewer saw (hma/agent_edge.h), the order of the pathways by the rules
 * (steer_rules.h), told to the steering server (dra/steer.h), noted in
 * the sample (XM_FAILURE_RISK, XM_STEER_*: metrics and the data store) and
 * in the chain graph (status, graphs); every change of order an EV_STEER
 * event with the reason.
 *
 * An edge's risk is its deadline's (fo_rules.h, fo_effective_risk): the
 * longest of its answers (the playlist, the newest segment, a call still
 * waiting) as a share of the segment duration, and its staleness as a
 * share of three segment durations (a player keeps about three segments
 * of buffer). An edge that slows down on its way to failing is above the
 * threshold while its viewers still play. The failure model gives no edge
 * risk of its own: it was trained on no edge (models/README.md).
 *
 * Threads: the tick's (fo_steer_tick) and the control socket's
 * (fo_steer_pin), which share the pinned orders under a lock.
 */
#ifndef HS_FO_STEERING_H
#define HS_FO_STEERING_H

#include <stdint.h>

#include "core/event.h"
#include "dra/steer.h"
#include "ecg/ecg.h"
#include "hma/sample.h"
#include "job/job.h"

typedef struct FoSteer FoSteer;

/* job, g, server, events: not owned, outlive it. thr_high, thr_low: the
 * model's thresholds (FO_DEFAULT_* without one), the defaults of the
 * streams' provision_above and release_below. *pf NULL when server is. */
int fo_steer_alloc(FoSteer **pf, const Job *job, Ecg *g, Steer *server, EventLog *events,
                   float thr_high, float thr_low);
void fo_steer_free(FoSteer **pf);

/* One round on this tick's sample s (which gets the edges' risks and
 * priorities). */
void fo_steer_tick(FoSteer *f, Sample *s, int64_t now_us);

/*
 * ctl steer: pins the order of STREAM/OUTPUT's pathways to ids (n of them:
 * every pathway once; the ones left out follow in the rules' order), or
 * with n 0 gives the order back to the rules. Applied at the next tick.
 * Returns 0, or a negative AVERROR with why (no such output, no pathways,
 * an unknown or repeated id).
 */
int fo_steer_pin(FoSteer *f, const char *stream, const char *output, const char *const *ids,
                 int n, char *why, size_t why_size);

#endif
