/*
 * deadline.c: interrupt callback with a deadline; see deadline.h.
 */
#include <stdint.h>

#include <libavutil/time.h>

#include "plane/deadline.h"

void dl_init(Deadline *d, const _Atomic int *abort)
{
    atomic_init(&d->at_us, INT64_MAX);
    atomic_init(&d->expired, 0);
    d->abort = abort;
}

void dl_arm(Deadline *d, int64_t timeout_us)
{
    atomic_store(&d->expired, 0);
    atomic_store(&d->at_us, av_gettime_relative() + timeout_us);
}

void dl_disarm(Deadline *d)
{
    atomic_store(&d->at_us, INT64_MAX);
}

int dl_expired(const Deadline *d)
{
    return atomic_load(&d->expired);
}

static int dl_check(void *opaque)
{
    Deadline *d = opaque;
    int64_t at = atomic_load(&d->at_us);

    if (d->abort && atomic_load(d->abort))
        return 1;
    if (at != INT64_MAX && av_gettime_relative() > at) {
        atomic_store(&d->expired, 1);
        return 1;
    }
    return 0;
}

AVIOInterruptCB dl_callback(Deadline *d)
{
    return (AVIOInterruptCB){ .callback = dl_check, .opaque = d };
}
