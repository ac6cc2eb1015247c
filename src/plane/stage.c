/*
 * stage.c: stage threads; see stage.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/time.h>

#include "plane/stage.h"

void stage_init(Stage *s, const char *stream, const char *component,
                EventLog *events, int (*run)(void *stage))
{
    av_strlcpy(s->stream, stream, sizeof(s->stream));
    av_strlcpy(s->component, component, sizeof(s->component));
    logctx_init(&s->log, "%s/%s", stream, component);
    s->events = events;
    s->run = run;
    atomic_init(&s->state, STAGE_IDLE);
}

static void *stage_thread(void *arg)
{
    Stage *s = arg;

    log_set_component(s->log.name);
    s->result = s->run(s);
    atomic_store(&s->state, s->result < 0 ? STAGE_FAILED : STAGE_DONE);
    return NULL;
}

int stage_start(Stage *s)
{
    int ret;

    atomic_store(&s->state, STAGE_RUNNING);
    ret = pthread_create(&s->thread, NULL, stage_thread, s);
    if (ret) {
        atomic_store(&s->state, STAGE_FAILED);
        return AVERROR(ret);
    }
    s->started = 1;
    return 0;
}

int stage_join(Stage *s)
{
    if (!s->started)
        return 0;
    pthread_join(s->thread, NULL);
    s->started = 0;
    return s->result;
}

StageState stage_state(const Stage *s)
{
    return atomic_load(&s->state);
}

int stage_fail(Stage *s, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    evlog_emit(s->events, s->stream, s->component, EV_FAILURE, err, "%s", msg);
    return err;
}

void stage_event(Stage *s, EventKind kind, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    evlog_emit(s->events, s->stream, s->component, kind, 0, "%s", msg);
}

int64_t clock_lag(const StreamClock *c, int64_t t_us)
{
    int64_t origin = atomic_load(&c->origin_us);

    if (!c->live || !origin)
        return 0;
    return av_gettime_relative() - origin - t_us;
}
