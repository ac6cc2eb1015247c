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

typedef struct Deadline {
    _Atomic int64_t at_us;          /* av_gettime_relative() limit; INT64_MAX = none */
    _Atomic int expired;            /* set by the callback when it fired on time */
    const _Atomic int *abort;       /* optional: nonzero aborts at once */
} Deadline;

void dl_init(Deadline *d, const _Atomic int *abort);

/* The deadline is now + timeout_us. */
void dl_arm(Deadline *d, int64_t timeout_us);
void dl_disarm(Deadline *d);

/* Did the last armed call fail because the deadline passed? (It tells a
 * timeout from the peer's own error when libav returns AVERROR_EXIT.) */
int dl_expired(const Deadline *d);

/* For AVFormatContext.interrupt_callback and avio_open2(). */
AVIOInterruptCB dl_callback(Deadline *d);

#endif
