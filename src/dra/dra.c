/*
 * dra.c: the allocator's exec hooks, run beside the tick; see dra.h.
 */
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/log.h"
#include "dra/dra.h"
#include "dra/hook.h"
#include "dra/place.h"

struct Dra {
    LogCtx log;
    const Job *job;
    EventLog *events;
    DraHook *running[DRA_MAX_RUNNING];   /* the tick's thread only */
    DraPlace *place;             /* where standby encoders open */
};

int dra_alloc(Dra **pd, const Job *job, EventLog *events)
{
    Dra *d = av_mallocz(sizeof(*d));

    *pd = NULL;
    if (!d)
        return AVERROR(ENOMEM);
    logctx_init(&d->log, "dra");
    d->job = job;
    d->events = events;
    if (dra_place_alloc(&d->place, job->supervisor.orchestrator.max_sessions_per_device) < 0) {
        dra_free(&d);
        return AVERROR(ENOMEM);
    }
    *pd = d;
    return 0;
}

void dra_free(Dra **pd)
{
    Dra *d = *pd;

    if (!d)
        return;
    for (int i = 0; i < DRA_MAX_RUNNING; i++)
        dra_hook_free(&d->running[i]);
    dra_place_free(&d->place);
    av_freep(pd);
}

static int run(Dra *d, const char *what, char **argv, const CompId *id, float risk,
               int64_t now_us)
{
    DraHookArgs a = {
        .what = what, .argv = argv, .id = *id, .risk = risk,
        .timeout_us = d->job->supervisor.hook_timeout_us, .events = d->events,
    };
    int slot = -1, ret;

    if (!argv)
        return 0;
    for (int i = 0; i < DRA_MAX_RUNNING && slot < 0; i++)
        if (!d->running[i])
            slot = i;
    if (slot < 0) {
        char name[128];
        comp_format(id, 0, name, sizeof(name));
        evlog_emit(d->events, id->stream, name, EV_WARNING, AVERROR(EAGAIN),
                   "%s hook not run: %d hooks run already", what, DRA_MAX_RUNNING);
        return AVERROR(EAGAIN);
    }
    ret = dra_hook_start(&d->running[slot], &a, now_us);
    return ret < 0 ? ret : 1;
}

int dra_provision(Dra *d, const CompId *id, float risk, int64_t now_us)
{
    return run(d, "provision", d->job->supervisor.hook_provision, id, risk, now_us);
}

int dra_release(Dra *d, const CompId *id, float risk, int64_t now_us)
{
    return run(d, "release", d->job->supervisor.hook_release, id, risk, now_us);
}

int dra_tick(Dra *d, int64_t now_us)
{
    int left = 0;

    for (int i = 0; i < DRA_MAX_RUNNING; i++) {
        if (!d->running[i])
            continue;
        if (dra_hook_poll(d->running[i], now_us))
            dra_hook_free(&d->running[i]);     /* done: its event is out */
        else
            left++;
    }
    return left;
}

void dra_observe(Dra *d, const Sample *s)
{
    dra_place_observe(d->place, s);
}

int dra_place_standby(Dra *d, const JobEncoderBackup *eb, int64_t now_us, char *dev,
                      size_t dev_size, char *why, size_t why_size)
{
    return dra_place(d->place, eb, now_us, dev, dev_size, why, why_size);
}
