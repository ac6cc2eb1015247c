/*
 * deadline.c: interrupt callback with a deadline; see deadline.h.
 */
#include <stdint.h>

#include <libavutil/time.h>

#include "plane/deadline.h"

void dl_init(Deadline *d, const _Atomic int *abort)
{
    atomic_init(&d->at_us, INT64_MAX);
    atomic_init(&d->armed_us, 0);
    atomic_init(&d->expired, 0);
    atomic_init(&d->stalled, 0);
    d->abort = abort;
    d->watch = NULL;
    d->watch_opaque = NULL;
}

void dl_arm(Deadline *d, int64_t timeout_us)
{
    int64_t now = av_gettime_relative();

    atomic_store(&d->expired, 0);
    atomic_store(&d->stalled, 0);
    atomic_store(&d->armed_us, now);
    atomic_store(&d->at_us, now + timeout_us);
}

void dl_disarm(Deadline *d)
{
    atomic_store(&d->at_us, INT64_MAX);
}

int dl_expired(const Deadline *d)
{
    return atomic_load(&d->expired);
}

void dl_set_watch(Deadline *d, DeadlineWatch watch, void *opaque)
{
    d->watch = watch;
    d->watch_opaque = opaque;
}

int dl_stalled(const Deadline *d)
{
    return atomic_load(&d->stalled);
}

static int dl_check(void *opaque)
{
    Deadline *d = opaque;
    int64_t at = atomic_load(&d->at_us);
    int64_t now;

    if (d->abort && atomic_load(d->abort))
        return 1;
    if (at == INT64_MAX)
        return 0;
    now = av_gettime_relative();
    if (now > at) {
        atomic_store(&d->expired, 1);
        return 1;
    }
    if (d->watch && d->watch(d->watch_opaque, atomic_load(&d->armed_us), now)) {
        atomic_store(&d->stalled, 1);
        return 1;
    }
    return 0;
}

AVIOInterruptCB dl_callback(Deadline *d)
{
    return (AVIOInterruptCB){ .callback = dl_check, .opaque = d };
}
