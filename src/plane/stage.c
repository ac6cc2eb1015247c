/*
 * stage.c: stage threads; see stage.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
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
    pthread_mutex_init(&s->lock, NULL);
    s->status.active = -1;
}

void stage_uninit(Stage *s)
{
    pthread_mutex_destroy(&s->lock);
}

int stage_post(Stage *s, const CompRequest *req)
{
    int ret = 0;

    pthread_mutex_lock(&s->lock);
    if (atomic_load(&s->state) != STAGE_RUNNING && atomic_load(&s->state) != STAGE_IDLE)
        ret = AVERROR(ENODEV);
    else if (s->nb_mail == STAGE_MAILBOX)
        ret = AVERROR(EAGAIN);
    else
        s->mail[(s->mail_head + s->nb_mail++) % STAGE_MAILBOX] = *req;
    s->status.pending = s->nb_mail;
    pthread_mutex_unlock(&s->lock);
    return ret;
}

int stage_take(Stage *s, CompRequest *req)
{
    int got = 0;

    pthread_mutex_lock(&s->lock);
    if (s->nb_mail) {
        *req = s->mail[s->mail_head];
        s->mail_head = (s->mail_head + 1) % STAGE_MAILBOX;
        s->nb_mail--;
        got = 1;
    }
    s->status.pending = s->nb_mail;
    pthread_mutex_unlock(&s->lock);
    return got;
}

void stage_publish(Stage *s, const CompStatus *st)
{
    pthread_mutex_lock(&s->lock);
    {
        int64_t beat = s->status.last_progress_us, busy = s->status.busy_since_us;
        s->status = *st;
        s->status.pending = s->nb_mail;
        s->status.last_progress_us = beat;
        s->status.busy_since_us = busy;
    }
    pthread_mutex_unlock(&s->lock);
}

void stage_beat(Stage *s, int busy)
{
    int64_t now = av_gettime_relative();

    pthread_mutex_lock(&s->lock);
    s->status.last_progress_us = now;
    s->status.busy_since_us = busy ? now : 0;
    pthread_mutex_unlock(&s->lock);
}

void stage_status(Stage *s, CompStatus *st)
{
    pthread_mutex_lock(&s->lock);
    *st = s->status;
    pthread_mutex_unlock(&s->lock);
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

int64_t clock_epoch_grid(int64_t unix_us, AVRational fr)
{
    int64_t n;

    if (fr.num <= 0 || fr.den <= 0)
        fr = (AVRational){ 25, 1 };
    n = av_rescale_rnd(unix_us, fr.num, (int64_t)fr.den * 1000000, AV_ROUND_DOWN);
    /* rounded up: the point's own frame count is n again, rounded down */
    return av_rescale_rnd(n, (int64_t)fr.den * 1000000, fr.num, AV_ROUND_UP);
}

int64_t clock_lag(const StreamClock *c, int64_t t_us)
{
    int64_t origin = atomic_load(&c->origin_us);

    if (!c->live || !origin)
        return 0;
    return av_gettime_relative() - origin - t_us;
}
