/*
 * dra.c: the allocator's exec hooks, run beside the tick; see dra.h.
 */
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/log.h"
#include "core/redact.h"
#include "dra/dra.h"
#include "dra/hook.h"
#include "dra/place.h"

/* A hook that runs, and what it runs for. */
typedef struct DraRun {
    DraHook *hook;
    CompId id;                   /* with the instance */
    int provision;               /* a provision hook: its URL is used */
} DraRun;

struct Dra {
    LogCtx log;
    const Job *job;
    Ecg *g;                      /* not owned; NULL: URLs are not used */
    EventLog *events;
    DraRun running[DRA_MAX_RUNNING];     /* the tick's thread only */
    DraPlace *place;             /* where standby encoders open */
};

int dra_alloc(Dra **pd, const Job *job, Ecg *g, EventLog *events)
{
    Dra *d = av_mallocz(sizeof(*d));

    *pd = NULL;
    if (!d)
        return AVERROR(ENOMEM);
    logctx_init(&d->log, "dra");
    d->job = job;
    d->g = g;
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
        dra_hook_free(&d->running[i].hook);
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
        if (!d->running[i].hook)
            slot = i;
    if (slot < 0) {
        char name[128];
        comp_format(id, 0, name, sizeof(name));
        evlog_emit(d->events, id->stream, name, EV_WARNING, AVERROR(EAGAIN),
                   "%s hook not run: %d hooks run already", what, DRA_MAX_RUNNING);
        return AVERROR(EAGAIN);
    }
    ret = dra_hook_start(&d->running[slot].hook, &a, now_us);
    if (ret < 0)
        return ret;
    d->running[slot].id = *id;
    d->running[slot].provision = argv == d->job->supervisor.hook_provision;
    return 1;
}

int dra_provision(Dra *d, const CompId *id, float risk, int64_t now_us)
{
    return run(d, "provision", d->job->supervisor.hook_provision, id, risk, now_us);
}

int dra_release(Dra *d, const CompId *id, float risk, int64_t now_us)
{
    return run(d, "release", d->job->supervisor.hook_release, id, risk, now_us);
}

/* A hook's URL, once it ended well: for an output, the backup it ran for
 * (COMP_OP_ADD); anywhere else, an event that says it is not used. */
static void use_url(Dra *d, const DraRun *r, const char *url)
{
    CompRequest req = { .op = COMP_OP_ADD, .instance = r->id.instance, .origin = "hook" };
    CompId whole = r->id;
    char name[128], shown[512], why[256] = "";
    int ret;

    comp_format(&r->id, 0, name, sizeof(name));
    redact_url(url, shown, sizeof(shown));
    if (!r->provision) {
        evlog_emit(d->events, r->id.stream, name, EV_WARNING, 0, "the release hook named a "
                   "URL (%s): not used, only a provision hook's is", shown);
        return;
    }
    if (!d->g) {
        evlog_emit(d->events, r->id.stream, name, EV_WARNING, 0, "the provision hook's URL "
                   "(%s) is not used: no running job to add it to", shown);
        return;
    }
    /* the parser bounds it to COMP_URL_SIZE - 1 */
    av_strlcpy(req.url, url, sizeof(req.url));
    whole.instance = COMP_WHOLE;
    ret = ecg_request(d->g, &whole, &req, why, sizeof(why));
    if (ret < 0)
        evlog_emit(d->events, r->id.stream, name, EV_WARNING, ret, "the provision hook's URL "
                   "(%s) is not used: %s", shown, why[0] ? why : av_err2str(ret));
    else
        evlog_emit_seq(d->events, r->id.stream, name, EV_INFO, 0, req.seq, "the provision "
                       "hook's URL (%s) is asked of the output as %s (request %u)", shown, name,
                       (unsigned)req.seq);
    /* the request's copy may hold a password: not left on the stack */
    memset(req.url, 0, sizeof(req.url));
}

int dra_tick(Dra *d, int64_t now_us)
{
    int left = 0;

    for (int i = 0; i < DRA_MAX_RUNNING; i++) {
        DraRun *r = &d->running[i];
        const DraHookResult *res;

        if (!r->hook)
            continue;
        if (!dra_hook_poll(r->hook, now_us)) {
            left++;
            continue;
        }
        /* done: its event is out */
        res = dra_hook_result(r->hook);
        if (res && res->ok && res->url)
            use_url(d, r, res->url);
        dra_hook_free(&r->hook);
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
