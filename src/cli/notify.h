/*
 * notify.h: `hotspare run` under a service manager (systemd Type=notify):
 * what the run tells it, through core/sdnotify.h.
 *
 *   READY=1     once every stream has started: each of its outputs has
 *               written a header to some destination (media is on air) or
 *               has failed for good; a stream that has already ended or
 *               failed counts as settled. Sent once.
 *   STATUS=     one line, "2 streams: 1 on air, 1 on backup, 0 failed"
 *               (", N starting", ", N ended" when there are any), sent
 *               when it changes; while the watchdog is withheld it says
 *               which component is stuck.
 *   WATCHDOG=1  every half of $WATCHDOG_USEC, from the run's loop right
 *               after the tick, and only while the process is alive: the
 *               tick ran within 3 of its periods and no running stage's
 *               heartbeat (stage.h) is older than twice the longest
 *               deadline of the job's blocking calls (sdn_wedge_bound).
 *               A stage past that is stuck where no deadline reaches it;
 *               withholding the ping lets the manager restart the process.
 *   STOPPING=1  when the run starts to stop (signal, ctl stop).
 *
 * One thread (the run's loop) calls everything here.
 */
#ifndef HS_NOTIFY_H
#define HS_NOTIFY_H

#include <stdint.h>

#include "ecg/ecg.h"
#include "fo/tick.h"
#include "job/job.h"

typedef struct Notify Notify;

/*
 * Reads the manager's environment (and clears it: see sdn_alloc); call
 * before any thread starts. Returns 0 with *pn NULL when no manager
 * listens, or when $NOTIFY_SOCKET cannot be used (said as a warning: the
 * job runs on); AVERROR(ENOMEM). job: not owned, as for notify_update.
 */
int notify_alloc(Notify **pn, const Job *job);

/* Each pass of the run's loop, after the tick t (not owned; NULL: not
 * judged), on the job and graph in use (a reload replaces them; not owned,
 * they must outlive the next call): READY, STATUS, WATCHDOG as due.
 * NULL-safe. */
void notify_update(Notify *n, const Job *job, Ecg *g, const Tick *t, int64_t now_us);

/* STOPPING=1, once, with the STATUS of g. NULL-safe. */
void notify_stopping(Notify *n, Ecg *g);

void notify_free(Notify **pn);

/* The longest deadline a stage of job gives one of its blocking calls: an
 * input's or output's rw_timeout (backups' too), an encoder's call
 * deadline (half the latency budget, else 5 s: plane/encode.c). */
int64_t notify_longest_deadline(const Job *job);

#endif
