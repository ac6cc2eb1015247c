/*
 * continuity.c: frames lost from an output's timeline; see continuity.h.
 */
#include <pthread.h>
#include <stdint.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "plane/continuity.h"

/* A step this much longer than a frame is a gap: timestamps rounded to the
 * time base jitter by less than half a frame. */
#define CONT_GAP_RATIO 1.5

struct Continuity {
    pthread_mutex_t lock;
    int nb;
    ContTrack *t;                /* guarded by lock */
};

void cont_track_init(ContTrack *t)
{
    t->front_us = INT64_MIN;
    t->step_us = 0;
    t->frames = 0;
    t->lost = 0;
    t->recv_us = INT64_MIN;
    t->recv_count = 0;
}

void cont_track_received(ContTrack *t, int64_t dts_us)
{
    if (t->recv_us == INT64_MIN || dts_us > t->recv_us)
        t->recv_us = dts_us;
    t->recv_count++;
}

int64_t cont_track_close(ContTrack *t, int64_t frame_us)
{
    int64_t step = frame_us > 0 ? frame_us : t->step_us, tail = 0;

    if (t->recv_us == INT64_MIN)
        return 0;
    if (t->front_us == INT64_MIN)
        tail = t->recv_count;             /* nothing of it was ever written */
    else if (t->recv_us > t->front_us && step > 0)
        tail = (t->recv_us - t->front_us + step / 2) / step;
    t->lost += tail;
    t->recv_us = t->front_us;            /* closing twice counts once */
    return tail;
}

int64_t cont_track_written(ContTrack *t, int64_t dts_us, int64_t frame_us)
{
    int64_t d, step, holes = 0;

    if (t->front_us == INT64_MIN) {
        t->front_us = dts_us;
        t->frames = 1;
        return 0;
    }
    if (dts_us <= t->front_us)
        return 0;                /* a replay: already on the timeline */
    d = dts_us - t->front_us;
    if (!t->step_us || d < t->step_us)
        t->step_us = d;
    step = frame_us > 0 ? frame_us : t->step_us;
    if (d > step * CONT_GAP_RATIO)
        holes = (d + step / 2) / step - 1;
    t->front_us = dts_us;
    t->frames++;
    t->lost += holes;
    return holes;
}

int continuity_alloc(Continuity **pc, int nb)
{
    Continuity *c = av_mallocz(sizeof(*c));

    *pc = NULL;
    if (!c || !(c->t = av_calloc(nb > 0 ? nb : 1, sizeof(*c->t)))) {
        av_free(c);
        return AVERROR(ENOMEM);
    }
    pthread_mutex_init(&c->lock, NULL);
    c->nb = nb;
    for (int i = 0; i < nb; i++)
        cont_track_init(&c->t[i]);
    *pc = c;
    return 0;
}

void continuity_free(Continuity **pc)
{
    Continuity *c = *pc;

    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    av_free(c->t);
    av_freep(pc);
}

void continuity_written(Continuity *c, int index, int64_t dts_us, int64_t frame_us)
{
    if (!c || index < 0 || index >= c->nb)
        return;
    pthread_mutex_lock(&c->lock);
    cont_track_written(&c->t[index], dts_us, frame_us);
    pthread_mutex_unlock(&c->lock);
}

void continuity_received(Continuity *c, int index, int64_t dts_us)
{
    if (!c || index < 0 || index >= c->nb)
        return;
    pthread_mutex_lock(&c->lock);
    cont_track_received(&c->t[index], dts_us);
    pthread_mutex_unlock(&c->lock);
}

void continuity_close(Continuity *c, const int64_t *frame_us)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nb; i++)
        cont_track_close(&c->t[i], frame_us ? frame_us[i] : 0);
    pthread_mutex_unlock(&c->lock);
}

void continuity_totals(Continuity *c, int64_t *frames, int64_t *lost)
{
    *frames = *lost = 0;
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nb; i++) {
        *frames += c->t[i].frames;
        *lost += c->t[i].lost;
    }
    pthread_mutex_unlock(&c->lock);
}
