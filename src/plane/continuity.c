/*
 * continuity.c: frames lost from an output's timeline; see continuity.h.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
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

/* The frame at dts_us: exact from the frame rate, or from the mean step
 * of one frame seen; -1 (not yet known) without either. Rounded to the
 * nearest: time bases that cannot hold a frame exactly jitter by a tick. */
static int64_t frame_of(ContTrack *t, int64_t dts_us, AVRational fr)
{
    if (t->last_us != INT64_MIN && dts_us > t->last_us) {
        int64_t d = dts_us - t->last_us;
        if (!t->step_min_us || d < t->step_min_us) {
            if (t->step_min_us && d * 3 < t->step_min_us * 2) {
                t->step_sum_us = t->step_n = 0;   /* what looked like one frame was not */
            }
            t->step_min_us = d;
        }
        if (d * 2 < t->step_min_us * 3) {
            t->step_sum_us += d;
            t->step_n++;
        }
    }
    t->last_us = dts_us;
    if (t->origin_us == INT64_MIN)
        t->origin_us = dts_us;
    if (fr.num > 0 && fr.den > 0)
        return av_rescale_q_rnd(dts_us - t->origin_us, AV_TIME_BASE_Q, av_inv_q(fr),
                                AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
    if (!t->step_n)
        return dts_us == t->origin_us ? 0 : -1;
    return llrint((double)(dts_us - t->origin_us) * t->step_n / t->step_sum_us);
}

int64_t cont_track_written(ContTrack *t, int64_t dts_us, AVRational fr)
{
    int64_t k = frame_of(t, dts_us, fr), lost = 0;

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

void cont_track_received(ContTrack *t, int64_t dts_us, AVRational fr)
{
    /* given before anything was written: frame 0 is the first given */
    if (t->origin_us == INT64_MIN) {
        t->origin_us = dts_us;
        t->top = 1;
        return;
    }
    if (dts_us < t->origin_us)
        return;
    if (fr.num > 0 && fr.den > 0)
        t->top = FFMAX(t->top, av_rescale_q_rnd(dts_us - t->origin_us, AV_TIME_BASE_Q,
                                                av_inv_q(fr), AV_ROUND_NEAR_INF) + 1);
    else if (t->step_n)
        t->top = FFMAX(t->top, llrint((double)(dts_us - t->origin_us) * t->step_n /
                                      t->step_sum_us) + 1);
}

int64_t cont_track_close(ContTrack *t)
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

void continuity_written(Continuity *c, int index, int64_t dts_us, AVRational fr)
{
    if (!c || index < 0 || index >= c->nb)
        return;
    pthread_mutex_lock(&c->lock);
    cont_track_written(&c->t[index], dts_us, fr);
    pthread_mutex_unlock(&c->lock);
}

void continuity_received(Continuity *c, int index, int64_t dts_us, AVRational fr)
{
    if (!c || index < 0 || index >= c->nb)
        return;
    pthread_mutex_lock(&c->lock);
    cont_track_received(&c->t[index], dts_us, fr);
    pthread_mutex_unlock(&c->lock);
}

void continuity_close(Continuity *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nb; i++)
        cont_track_close(&c->t[i]);
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
