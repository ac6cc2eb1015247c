/*
 * tq.c: bounded queue between stage threads; see tq.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <libavcodec/packet.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "plane/params.h"
#include "plane/tq.h"

typedef struct TqItem {
    int kind;
    int index;
    void *ptr;
} TqItem;

struct ThreadQueue {
    pthread_mutex_t lock;
    pthread_cond_t  cond_recv;   /* signalled when an item arrives or senders end */
    pthread_cond_t  cond_send;   /* signalled when room appears or receiver ends */
    /* All fields below are protected by lock. */
    TqItem *ring;
    int capacity;
    int head;                    /* next item to receive */
    int count;
    int senders_left;
    int recv_done;
};

void tq_item_free(int kind, void *ptr)
{
    switch (kind) {
    case TQ_FRAME: {
        AVFrame *f = ptr;
        av_frame_free(&f);
        break;
    }
    case TQ_PACKET: {
        AVPacket *p = ptr;
        av_packet_free(&p);
        break;
    }
    case TQ_PARAMS: {
        StreamParams *sp = ptr;
        params_free(&sp);
        break;
    }
    default:
        break;
    }
}

ThreadQueue *tq_alloc(int capacity, int nb_senders)
{
    ThreadQueue *q;
    pthread_condattr_t ca;

    if (capacity < 1 || nb_senders < 1)
        return NULL;
    q = av_mallocz(sizeof(*q));
    if (!q)
        return NULL;
    q->ring = av_calloc(capacity, sizeof(*q->ring));
    if (!q->ring) {
        av_free(q);
        return NULL;
    }
    q->capacity = capacity;
    q->senders_left = nb_senders;
    pthread_mutex_init(&q->lock, NULL);
    /* timed waits use the monotonic clock: wall-clock steps must not stretch
     * or cut a deadline */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond_recv, &ca);
    pthread_cond_init(&q->cond_send, &ca);
    pthread_condattr_destroy(&ca);
    return q;
}

static void drain_locked(ThreadQueue *q)
{
    while (q->count) {
        TqItem *it = &q->ring[q->head];
        tq_item_free(it->kind, it->ptr);
        q->head = (q->head + 1) % q->capacity;
        q->count--;
    }
}

void tq_free(ThreadQueue **pq)
{
    ThreadQueue *q = *pq;

    if (!q)
        return;
    drain_locked(q);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond_recv);
    pthread_cond_destroy(&q->cond_send);
    av_freep(&q->ring);
    av_freep(pq);
}

static struct timespec deadline_after(int64_t timeout_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec  += timeout_us / 1000000;
    ts.tv_nsec += (timeout_us % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

int tq_send_timeout(ThreadQueue *q, int kind, int index, void *ptr, int64_t timeout_us)
{
    struct timespec until;
    int ret = 0;

    if (timeout_us >= 0)
        until = deadline_after(timeout_us);
    pthread_mutex_lock(&q->lock);
    while (!q->recv_done && q->count == q->capacity) {
        if (timeout_us < 0) {
            pthread_cond_wait(&q->cond_send, &q->lock);
        } else if (pthread_cond_timedwait(&q->cond_send, &q->lock, &until) == ETIMEDOUT) {
            ret = AVERROR(ETIMEDOUT);
            goto out;
        }
    }
    if (q->recv_done) {
        ret = AVERROR_EOF;
        goto out;
    }
    q->ring[(q->head + q->count) % q->capacity] = (TqItem){ kind, index, ptr };
    q->count++;
    pthread_cond_signal(&q->cond_recv);
out:
    pthread_mutex_unlock(&q->lock);
    return ret;
}

int tq_send(ThreadQueue *q, int kind, int index, void *ptr)
{
    return tq_send_timeout(q, kind, index, ptr, -1);
}

void tq_send_done(ThreadQueue *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->senders_left > 0)
        q->senders_left--;
    pthread_cond_broadcast(&q->cond_recv);
    pthread_mutex_unlock(&q->lock);
}

int tq_recv(ThreadQueue *q, int *kind, int *index, void **ptr, int64_t timeout_us)
{
    struct timespec until;
    int ret = 0;

    if (timeout_us >= 0)
        until = deadline_after(timeout_us);
    pthread_mutex_lock(&q->lock);
    while (!q->count && q->senders_left > 0 && !q->recv_done) {
        if (timeout_us < 0) {
            pthread_cond_wait(&q->cond_recv, &q->lock);
        } else if (pthread_cond_timedwait(&q->cond_recv, &q->lock, &until) == ETIMEDOUT) {
            ret = AVERROR(EAGAIN);
            goto out;
        }
    }
    if (!q->count) {
        ret = AVERROR_EOF;
        goto out;
    }
    *kind  = q->ring[q->head].kind;
    *index = q->ring[q->head].index;
    *ptr   = q->ring[q->head].ptr;
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    pthread_cond_signal(&q->cond_send);
out:
    pthread_mutex_unlock(&q->lock);
    return ret;
}

void tq_recv_done(ThreadQueue *q)
{
    pthread_mutex_lock(&q->lock);
    q->recv_done = 1;
    drain_locked(q);
    pthread_cond_broadcast(&q->cond_send);
    pthread_mutex_unlock(&q->lock);
}

int tq_receiver_done(ThreadQueue *q)
{
    int r;
    pthread_mutex_lock(&q->lock);
    r = q->recv_done;
    pthread_mutex_unlock(&q->lock);
    return r;
}

int tq_depth(ThreadQueue *q)
{
    int r;
    pthread_mutex_lock(&q->lock);
    r = q->count;
    pthread_mutex_unlock(&q->lock);
    return r;
}
