/*
 * deadline.h: the interrupt callback that every blocking libav call of a
 * stage carries, so that a dead peer is noticed within the job's rw_timeout
 * and never hangs a thread.
 *
 * A stage arms its Deadline before a blocking call (open, read, write,
 * trailer) and disarms it after. libav polls the callback while it waits;
 * the callback returns 1 (libav then fails the call with AVERROR_EXIT) when
 * the deadline has passed or when the stage is told to abort.
 */
#ifndef HS_DEADLINE_H
#define HS_DEADLINE_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavformat/avio.h>

/* A check of the peer while a call waits on it (conn.h): returns nonzero
 * when the peer has stalled. armed_us: when the call began. Runs on the
 * thread that made the call, inside libav. */
typedef int (*DeadlineWatch)(void *opaque, int64_t armed_us, int64_t now_us);

typedef struct Deadline {
    _Atomic int64_t at_us;          /* av_gettime_relative() limit; INT64_MAX = none */
    _Atomic int64_t armed_us;       /* when it was armed */
    _Atomic int expired;            /* set by the callback when it fired on time */
    _Atomic int stalled;            /* set by the callback when the watch fired */
    const _Atomic int *abort;       /* optional: nonzero aborts at once */
    DeadlineWatch watch;            /* optional; set before the first call */
    void *watch_opaque;
} Deadline;

void dl_init(Deadline *d, const _Atomic int *abort);

/* The deadline is now + timeout_us. */
void dl_arm(Deadline *d, int64_t timeout_us);
void dl_disarm(Deadline *d);

/* Did the last armed call fail because the deadline passed? (It tells a
 * timeout from the peer's own error when libav returns AVERROR_EXIT.) */
int dl_expired(const Deadline *d);

/* The watch is asked, while an armed call waits, whether the peer has
 * stalled: then the call fails at once. */
void dl_set_watch(Deadline *d, DeadlineWatch watch, void *opaque);

/* Did the last armed call fail because the watch said the peer stalled? */
int dl_stalled(const Deadline *d);

/* For AVFormatContext.interrupt_callback and avio_open2(). */
AVIOInterruptCB dl_callback(Deadline *d);

#endif
