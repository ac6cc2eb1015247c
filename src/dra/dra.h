/*
 * dra.h: the dynamic resource allocator: where a backup runs. In the
 * process, a backup is opened by its stage on the orchestrator's request;
 * outside it, by the job's exec hooks (supervisor: hooks:, hook.h): when
 * the orchestrator opens a component's backup ahead on risk, the allocator
 * runs the provision hook for it (a Kubernetes or Nomad job, a cloud
 * instance, a remote encoder), and the release hook when it lets it go.
 *
 * A rendition's standby encoder that may run on several devices is
 * placed on the one with the most headroom, under the per-device budget
 * (place.h).
 *
 * Hooks run beside the tick, never in its way: started, then polled every
 * tick until they end or their deadline kills them. Every run is an event
 * (hook.h). One thread: the tick's.
 */
#ifndef HS_DRA_H
#define HS_DRA_H

#include <stdint.h>

#include <stddef.h>

#include "core/comp.h"
#include "core/event.h"
#include "hma/sample.h"
#include "job/job.h"

/* Hook runs at once, at most; one more is refused with a warning. */
#define DRA_MAX_RUNNING 32

typedef struct Dra Dra;

/* job, events: not owned, outlive the allocator. */
int dra_alloc(Dra **pd, const Job *job, EventLog *events);
/* Cancels the hooks still running (their events say so): before the event
 * log goes. NULL-safe. */
void dra_free(Dra **pd);

/* A backup (id, with its instance) was asked to open ahead at risk / to be
 * let go: runs the job's provision / release hook for it, if it has one.
 * Never waits. Returns 1 when a hook was started, 0 when the job has none,
 * or a negative AVERROR (EAGAIN: DRA_MAX_RUNNING hooks run already). */
int dra_provision(Dra *d, const CompId *id, float risk, int64_t now_us);
int dra_release(Dra *d, const CompId *id, float risk, int64_t now_us);

/* Polls the hooks that run: what they wrote, whether they ended, their
 * deadlines. Returns how many still run. */
int dra_tick(Dra *d, int64_t now_us);

/* What the tick's sample shows of the devices (GPUs), for placing standby
 * encoders (place.h). */
void dra_observe(Dra *d, const Sample *s);

/* The device the standby eb opens on now, in dev ("" when there is nothing
 * to choose), reserved there; AVERROR(EBUSY) with why when every device
 * it may run on is lost or at max_sessions_per_device (place.h). */
int dra_place_standby(Dra *d, const JobEncoderBackup *eb, int64_t now_us, char *dev,
                      size_t dev_size, char *why, size_t why_size);

#endif
