/*
 * enc_worker.c: an encoder's libav calls on a thread of their own; see
 * enc_worker.h.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/hwcontext.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "core/log.h"
#include "plane/enc_worker.h"

/* A call waiting for the worker. */
typedef struct WorkerCall {
    AVFrame *f;                  /* NULL: flush */
    int hang;
} WorkerCall;

struct EncWorker {
    pthread_t thread;
    char name[64];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* All fields below are protected by lock. */
    int quit;                    /* the owner frees the worker */
    int abandoned;               /* the owner gave up on the call: the worker
                                    frees itself (and ci) when it returns */
    CodecInst ci;                /* the encoder of the calls; the worker's own
                                    once abandoned */
    WorkerCall q[ENC_WORKER_QUEUE];   /* posted, not started: a ring */
    int q_head, nb_q;
    int busy;                    /* a call has started and not returned */
    int64_t call_start_us;       /* ... when (mono_us) */
    int64_t busy_us;             /* time spent in calls since the last take */
    int err;                     /* the first error since the last take */
    AVPacket **pkts;             /* the calls' packets, not taken yet */
    int nb_pkts;
};

/* The monotonic clock, as the deadlines' condition variable reads it. */
static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void drop_queue(EncWorker *w)
{
    while (w->nb_q) {
        av_frame_free(&w->q[w->q_head].f);
        w->q_head = (w->q_head + 1) % ENC_WORKER_QUEUE;
        w->nb_q--;
    }
}

void enc_worker_free_packets(AVPacket ***pkts, int nb)
{
    for (int i = 0; *pkts && i < nb; i++)
        av_packet_free(&(*pkts)[i]);
    av_freep(pkts);
}

/* The call, on the worker's thread, outside the lock. */
static int encode(CodecInst *ci, AVFrame *f, AVPacket ***pkts, int *nb)
{
    int ret;

    if (f && ci->hw_upload) {
        AVFrame *hw = av_frame_alloc();
        if (!hw) {
            av_frame_free(&f);
            return AVERROR(ENOMEM);
        }
        ret = av_hwframe_get_buffer(ci->ctx->hw_frames_ctx, hw, 0);
        if (ret >= 0)
            ret = av_hwframe_transfer_data(hw, f, 0);
        if (ret >= 0)
            ret = av_frame_copy_props(hw, f);
        av_frame_free(&f);
        if (ret < 0) {
            av_frame_free(&hw);
            return ret;
        }
        f = hw;
    }
    ret = avcodec_send_frame(ci->ctx, f);
    av_frame_free(&f);
    if (ret < 0 && ret != AVERROR_EOF)
        return ret;
    for (;;) {
        AVPacket *pkt = av_packet_alloc();
        AVPacket **grown;
        if (!pkt)
            return AVERROR(ENOMEM);
        ret = avcodec_receive_packet(ci->ctx, pkt);
        if (ret < 0) {
            av_packet_free(&pkt);
            return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
        }
        grown = av_realloc_array(*pkts, *nb + 1, sizeof(**pkts));
        if (!grown) {
            av_packet_free(&pkt);
            return AVERROR(ENOMEM);
        }
        *pkts = grown;
        (*pkts)[(*nb)++] = pkt;
    }
}

/* Appends the call's packets (taken) to what waits for the owner. */
static int keep_packets(EncWorker *w, AVPacket ***pkts, int nb)
{
    AVPacket **grown;

    if (!nb)
        return 0;
    grown = av_realloc_array(w->pkts, w->nb_pkts + nb, sizeof(*grown));
    if (!grown) {
        enc_worker_free_packets(pkts, nb);
        return AVERROR(ENOMEM);
    }
    memcpy(grown + w->nb_pkts, *pkts, nb * sizeof(*grown));
    w->pkts = grown;
    w->nb_pkts += nb;
    av_freep(pkts);
    return 0;
}

static void *worker_thread(void *arg)
{
    EncWorker *w = arg;

    log_set_component(w->name);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        CodecInst ci;
        WorkerCall call;
        AVPacket **pkts = NULL;
        int nb = 0, ret;
        int64_t t0;

        while (!w->nb_q && !w->quit)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->quit)
            break;
        call = w->q[w->q_head];
        w->q[w->q_head].f = NULL;
        w->q_head = (w->q_head + 1) % ENC_WORKER_QUEUE;
        w->nb_q--;
        if (w->err) {
            /* behind a failed call: the owner learns of the failure first */
            av_frame_free(&call.f);
            pthread_cond_broadcast(&w->cond);
            continue;
        }
        ci = w->ci;
        w->busy = 1;
        w->call_start_us = t0 = mono_us();
        pthread_mutex_unlock(&w->lock);

        if (call.hang) {
            /* the drill: a call that never returns, as a wedged driver's */
            av_log(NULL, AV_LOG_WARNING, "fault: the encoder hangs inside its encode call\n");
            for (;;)
                sleep(3600);
        }
        ret = encode(&ci, call.f, &pkts, &nb);

        pthread_mutex_lock(&w->lock);
        if (w->abandoned) {
            /* too late: the stage has moved on to its standby; it never
             * touches the worker again */
            pthread_mutex_unlock(&w->lock);
            enc_worker_free_packets(&pkts, nb);
            enc_worker_free_packets(&w->pkts, w->nb_pkts);
            drop_queue(w);
            codec_close(&ci);
            pthread_mutex_destroy(&w->lock);
            pthread_cond_destroy(&w->cond);
            av_free(w);
            return NULL;
        }
        w->busy_us += mono_us() - t0;
        if (keep_packets(w, &pkts, nb) < 0 && ret >= 0)
            ret = AVERROR(ENOMEM);
        if (ret < 0 && !w->err) {
            w->err = ret;
            drop_queue(w);
        }
        w->busy = 0;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int enc_worker_alloc(EncWorker **pw, const char *name)
{
    EncWorker *w = av_mallocz(sizeof(*w));
    pthread_condattr_t ca;
    int ret;

    *pw = NULL;
    if (!w)
        return AVERROR(ENOMEM);
    av_strlcpy(w->name, name, sizeof(w->name));
    pthread_mutex_init(&w->lock, NULL);
    /* deadlines on the monotonic clock: a wall clock step is no hang */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    ret = pthread_create(&w->thread, NULL, worker_thread, w);
    if (ret) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        av_free(w);
        return AVERROR(ret);
    }
    *pw = w;
    return 0;
}

void enc_worker_free(EncWorker **pw)
{
    EncWorker *w = *pw;

    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->quit = 1;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    drop_queue(w);
    enc_worker_free_packets(&w->pkts, w->nb_pkts);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    av_freep(pw);
}

int enc_worker_post(EncWorker *w, const CodecInst *ci, AVFrame *f, int hang)
{
    pthread_mutex_lock(&w->lock);
    if (w->nb_q == ENC_WORKER_QUEUE) {
        pthread_mutex_unlock(&w->lock);
        return AVERROR(EAGAIN);
    }
    w->ci = *ci;
    w->q[(w->q_head + w->nb_q) % ENC_WORKER_QUEUE] = (WorkerCall){ f, hang };
    w->nb_q++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

int enc_worker_take(EncWorker **pw, CodecInst *ci, int max_left, int64_t deadline_us,
                    AVPacket ***pkts, int *nb, int64_t *busy_us)
{
    EncWorker *w = *pw;
    int ret;

    *pkts = NULL;
    *nb = 0;
    pthread_mutex_lock(&w->lock);
    while (w->nb_q + w->busy > max_left) {
        int64_t now = mono_us(), until;
        struct timespec ts;
        if (w->busy && now - w->call_start_us >= deadline_us) {
            /* hung: the worker keeps the encoder and frees both itself, if
             * the call ever returns */
            w->abandoned = 1;
            pthread_mutex_unlock(&w->lock);
            pthread_detach(w->thread);
            memset(ci, 0, sizeof(*ci));
            *pw = NULL;
            return AVERROR(ETIMEDOUT);
        }
        /* a call not started yet gets its whole deadline from now */
        until = (w->busy ? w->call_start_us : now) + deadline_us;
        ts.tv_sec = until / 1000000;
        ts.tv_nsec = (until % 1000000) * 1000;
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    *pkts = w->pkts;
    *nb = w->nb_pkts;
    w->pkts = NULL;
    w->nb_pkts = 0;
    ret = w->err;
    w->err = 0;
    if (busy_us)
        *busy_us = w->busy_us;
    w->busy_us = 0;
    pthread_mutex_unlock(&w->lock);
    return ret;
}

int enc_worker_call(EncWorker **pw, CodecInst *ci, AVFrame *f, int hang, int64_t deadline_us,
                    AVPacket ***pkts, int *nb)
{
    int ret = enc_worker_post(*pw, ci, f, hang);

    *pkts = NULL;
    *nb = 0;
    if (ret < 0) {
        /* the owner posts nothing else to the worker of the encoder in use */
        av_frame_free(&f);
        return AVERROR_BUG;
    }
    return enc_worker_take(pw, ci, 0, deadline_us, pkts, nb, NULL);
}
