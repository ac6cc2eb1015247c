/*
 * fo.h: the failover orchestrator: every tick, from each component's risk
 * (what the tick noted in the chain graph, ecg_note) and its published
 * state (ecg_status), it decides what to open ahead, let go and switch
 * (fo_rules.h), within a job-wide budget of backups open ahead, posts the
 * requests through the graph, and says why: every decision is an event
 * with the rule, the risk and the request's seq.
 *
 * The stages keep the reflex: a component that fails hands over on its own
 * thread within milliseconds. The orchestrator learns of it from the
 * events (fo_event_sink) and opens the next backup.
 *
 * One thread: the tick's (fo_tick). The event sink runs on whichever
 * thread emits; what it shares with the tick is guarded by a lock.
 */
#ifndef HS_FO_H
#define HS_FO_H

#include <stdint.h>

#include "core/event.h"
#include "dra/dra.h"
#include "ecg/ecg.h"
#include "fo/fo_rules.h"
#include "job/job.h"

typedef struct Fo Fo;

/* Backups held open ahead on risk, job-wide, unless the job says otherwise. */
#define FO_DEFAULT_MAX_PROVISIONED 16

/*
 * g, job, events: not owned, outlive the orchestrator. thr_high, thr_low:
 * the model's thresholds, the defaults of provision_above and
 * release_below where the job gives none (without a model no risk is
 * known, and nothing is done on risk). The policy of each stream and the
 * job-wide max_provisioned come from the job (JobOrchestrator). dra: runs
 * the job's exec hooks for what is opened or let go on risk (NULL: none);
 * not owned.
 */
int fo_alloc(Fo **pf, Ecg *g, Dra *dra, const Job *job, float thr_high, float thr_low,
             EventLog *events);
/* After the event log is freed (its sink may be called until then). */
void fo_free(Fo **pf);

/* An EventSinkFn: counts the failures of each component (the reflex has
 * acted), for the next tick. Quick, never blocks, emits nothing. */
void fo_event_sink(void *opaque, const Event *ev);

/* From now on the sink ignores every event (the graph is about to go);
 * the orchestrator is freed after the event log. NULL-safe. */
void fo_stop(Fo *f);

/* One round, after the tick noted its figures in the graph. Returns the
 * number of requests posted. */
int fo_tick(Fo *f, int64_t now_us);

/* Backups the orchestrator holds open ahead now (on risk). */
int fo_provisioned(const Fo *f);

#endif
