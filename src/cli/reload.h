/*
 * reload.h: what a run holds that a reload replaces: the job, the chain
 * graph with its pipelines, and the tick (README, "Reload").
 *
 * A reload (SIGHUP, `hotspare ctl reload`) reads the job file again. A new
 * job with problems is refused with them (an event "refused") and the
 * running one goes on. Otherwise:
 *   - a stream whose definition did not change (JobStream.digest) keeps its
 *     pipeline, moved into the new graph untouched: no connection reopened,
 *     no frame missed;
 *   - a new stream starts; a removed one ends as a stop ends it (trailers,
 *     ENDLIST);
 *   - a changed one is replaced, make before break: the new pipeline runs
 *     with its outputs held while the old one ends without closing its HLS
 *     playlists; then the new outputs take over at the newest keyframe
 *     from before the old one stopped, in the same playlists, after a
 *     discontinuity;
 *   - the tick (store, metrics endpoint, orchestrator, model) starts again
 *     on the new graph.
 * Graphs whose streams are ending are kept until their threads have ended,
 * and the jobs whose streams run in moved pipelines until the run ends.
 *
 * One thread (the run's loop) calls everything here.
 */
#ifndef HS_RELOAD_H
#define HS_RELOAD_H

#include <stdatomic.h>
#include <stdint.h>

#include "cli/control.h"
#include "core/event.h"
#include "ecg/ecg.h"
#include "fo/tick.h"
#include "job/job.h"

typedef struct RunState RunState;

/*
 * The graph and the tick of job (consumed on success). stop: the run's
 * stop flag; ctl: its control socket or NULL; hooks: the run's hooks, to
 * which the tick's steering is added (control_swap at each reload); fast:
 * --fast, applied to every job read. On failure returns a negative AVERROR,
 * said on stderr, and job is left to the caller.
 */
int  runstate_alloc(RunState **prs, Job *job, EventLog *events, const _Atomic int *stop,
                    Control *ctl, const ControlHooks *hooks, int fast);
void runstate_free(RunState **prs);

/* Starts the control socket (when there is one) and the streams. */
int  runstate_start(RunState *rs);

/* Reads the job again and applies it; seq: the ctl request's (0 for
 * SIGHUP), carried by the outcome event. */
void runstate_reload(RunState *rs, uint32_t seq);

/* Applies nj (consumed), a job already checked, as a reload does (what
 * runstate_reload does after reading the file); seq as there. For a
 * program that decides which streams this process runs (a fleet). */
void runstate_apply(RunState *rs, Job *nj, uint32_t seq);

/* Once a loop: frees the graphs whose streams have ended and starts the
 * replacements whose predecessors have (not while stopping). */
void runstate_poll(RunState *rs, int stopping);

/* Has every stream ended, the ones a reload took away included? */
int  runstate_finished(RunState *rs, int stopping);

/* Joins every stream; returns how many of the job in use failed. */
int  runstate_join(RunState *rs);

Ecg *runstate_graph(RunState *rs);
const Job *runstate_job(RunState *rs);
Tick *runstate_tick(RunState *rs);

#endif
