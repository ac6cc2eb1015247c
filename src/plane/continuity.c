/*
 * continuity.c: frames lost from an output's timeline; see continuity.h.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "plane/continuity.h"

struct Continuity {
    pthread_mutex_t lock;
    int nb;
    ContTrack *t;                /* guarded by lock */
};

void cont_track_init(ContTrack *t)
{
    memset(t, 0, sizeof(*t));
    t->origin_us = INT64_MIN;
    t->last_us = INT64_MIN;
}

static int is_set(const ContTrack *t, int64_t k)
{
    return (t->bits[(k % CONT_WINDOW) / 64] >> (k % 64)) & 1;
}

/* Settles frames below upto: those not written are lost. Only frames in
 * [base, base + CONT_WINDOW) can have been written (cont_track_written
 * settles before it marks), so past the window nothing was. */
static int64_t settle(ContTrack *t, int64_t upto)
{
    int64_t lost = 0, end = FFMIN(upto, t->base + CONT_WINDOW);

    for (; t->base < end; t->base++) {
        if (!is_set(t, t->base))
            lost++;
        t->bits[(t->base % CONT_WINDOW) / 64] &= ~(UINT64_C(1) << (t->base % 64));
    }
    if (t->base < upto) {
        lost += upto - t->base;
        t->base = upto;
    }
    t->lost += lost;
    return lost;
}

/* The frame at dts_us, learning the step; -1 before the first. */
static int64_t frame_of(ContTrack *t, int64_t dts_us, int64_t frame_us)
{
    int64_t step;

    if (t->last_us != INT64_MIN && dts_us > t->last_us &&
        (!t->step_us || dts_us - t->last_us < t->step_us))
        t->step_us = dts_us - t->last_us;
    t->last_us = dts_us;
    if (t->origin_us == INT64_MIN)
        t->origin_us = dts_us;
    step = frame_us > 0 ? frame_us : t->step_us;
    if (!step)
        return dts_us == t->origin_us ? 0 : -1;
    /* rounded: time bases that cannot hold a frame exactly jitter by a tick */
    return dts_us >= t->origin_us ? (dts_us - t->origin_us + step / 2) / step
                                  : -((t->origin_us - dts_us + step / 2) / step);
}

int64_t cont_track_written(ContTrack *t, int64_t dts_us, int64_t frame_us)
{
    int64_t k = frame_of(t, dts_us, frame_us), lost = 0;

    if (k < t->base)
        return 0;                /* settled already (a replay of what was written) */
    if (k >= t->base + CONT_WINDOW)
        lost = settle(t, k - CONT_WINDOW + 1);
    if (!is_set(t, k)) {
        t->bits[(k % CONT_WINDOW) / 64] |= UINT64_C(1) << (k % 64);
        t->frames++;
    }
    t->top = FFMAX(t->top, k + 1);
    return lost;
}

void cont_track_received(ContTrack *t, int64_t dts_us, int64_t frame_us)
{
    int64_t step = frame_us > 0 ? frame_us : t->step_us;

    /* given before anything was written: frame 0 is the first given */
    if (t->origin_us == INT64_MIN) {
        t->origin_us = dts_us;
        t->top = 1;
        return;
    }
    if (step > 0 && dts_us >= t->origin_us)
        t->top = FFMAX(t->top, (dts_us - t->origin_us + step / 2) / step + 1);
}

int64_t cont_track_close(ContTrack *t, int64_t frame_us)
{
    return settle(t, t->top);
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

void continuity_received(Continuity *c, int index, int64_t dts_us, int64_t frame_us)
{
    if (!c || index < 0 || index >= c->nb)
        return;
    pthread_mutex_lock(&c->lock);
    cont_track_received(&c->t[index], dts_us, frame_us);
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
