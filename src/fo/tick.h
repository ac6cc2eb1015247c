/*
 * tick.h: the supervisor's tick, once per `supervisor: tick` (1 s): the
 * agents sample every component (sampler.h), the failure model turns the
 * sample into risks (predictor.h), the chain graph gets each component's
 * figures (ecg_note), the orchestrator decides on them (fo.h), and the
 * sample goes to the data store and the metrics endpoint. In that order:
 * what is stored and exported carries the risk, and the orchestrator acts
 * on the figures of this tick.
 *
 * One thread calls tick_run (the run's loop); the orchestrator's event
 * sink runs on whichever thread emits (fo.h).
 */
#ifndef HS_TICK_H
#define HS_TICK_H

#include <stdint.h>

#include "core/event.h"
#include "ecg/ecg.h"
#include "fo/steering.h"
#include "job/job.h"
#include "pfm/host_risk.h"

typedef struct Tick Tick;

/*
 * Opens what the job asks for: the model (unless `model: none`; one that
 * cannot be used is said and the run goes on without prediction), the
 * data store, the metrics endpoint, the sampler and the orchestrator.
 * The tick runs in every run: the orchestrator switches back to recovered
 * primaries on it. job, g, events: not owned, outlive the tick.
 * Returns 0, or a negative AVERROR with the reason said on stderr (a store
 * or an endpoint that cannot be opened: the job asked for it); *pt is
 * then NULL.
 */
int tick_alloc(Tick **pt, const Job *job, Ecg *g, EventLog *events);

/* One tick when it is due (or now, with force). NULL-safe. */
void tick_run(Tick *t, int64_t now_us, int force);

/* Takes the tick's sinks off the event log, closes the store and the
 * endpoint: after the streams' last events, or at a reload (a new tick
 * takes over the same graph's streams), before the graph goes. NULL-safe;
 * twice is fine. */
void tick_stop(Tick *t);

/* When the tick last ran (av_gettime_relative), 0 before the first: the
 * service watchdog (cli/notify.h) pings only while the tick goes on. */
int64_t tick_last_us(const Tick *t);

/* The host's risk at the last tick (host_risk.h): 0, or AVERROR(EAGAIN)
 * (*r then 0) before the first tick (a reload's new tick) or without one. */
int tick_host_risk(const Tick *t, HostRisk *r);

/* The steering of viewers (ctl steer pins through it); NULL when no
 * output has pathways. Lives until tick_free. */
FoSteer *tick_steering(Tick *t);

/* After tick_stop (or it is called); the control socket's steering hook
 * must be gone. */
void tick_free(Tick **pt);

#endif
