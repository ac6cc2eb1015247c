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

struct EncWorker {
    pthread_t thread;
    char name[64];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* All fields below are protected by lock. */
    int quit;                    /* the owner frees the worker */
    int abandoned;               /* the owner gave up on the call: the worker
                                    frees itself (and ci) when it returns */
    int busy;                    /* a call is handed over, not yet done */
    CodecInst ci;                /* the encoder of the call in progress; the
                                    worker's own once abandoned */
    AVFrame *f;
    int hang;
    int ret;
    AVPacket **pkts;
    int nb_pkts;
};

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

static void *worker_thread(void *arg)
{
    EncWorker *w = arg;

    log_set_component(w->name);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        CodecInst ci;
        AVFrame *f;
        int hang;
        AVPacket **pkts = NULL;
        int nb = 0, ret;

        while (!w->busy && !w->quit)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->quit)
            break;
        ci = w->ci;
        f = w->f;
        w->f = NULL;
        hang = w->hang;
        pthread_mutex_unlock(&w->lock);

        if (hang) {
            /* the drill: a call that never returns, as a wedged driver's */
            av_log(NULL, AV_LOG_WARNING, "fault: the encoder hangs inside its encode call\n");
            for (;;)
                sleep(3600);
        }
        ret = encode(&ci, f, &pkts, &nb);

        pthread_mutex_lock(&w->lock);
        if (w->abandoned) {
            /* too late: the stage has moved on to its standby */
            pthread_mutex_unlock(&w->lock);
            enc_worker_free_packets(&pkts, nb);
            codec_close(&ci);
            pthread_mutex_destroy(&w->lock);
            pthread_cond_destroy(&w->cond);
            av_free(w);
            return NULL;
        }
        w->ret = ret;
        w->pkts = pkts;
        w->nb_pkts = nb;
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
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    av_freep(pw);
}

int enc_worker_call(EncWorker **pw, CodecInst *ci, AVFrame *f, int hang, int64_t deadline_us,
                    AVPacket ***pkts, int *nb)
{
    EncWorker *w = *pw;
    struct timespec until;
    int ret = 0;

    *pkts = NULL;
    *nb = 0;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += deadline_us / 1000000;
    until.tv_nsec += (deadline_us % 1000000) * 1000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }

    pthread_mutex_lock(&w->lock);
    w->ci = *ci;
    w->f = f;
    w->hang = hang;
    w->busy = 1;
    pthread_cond_broadcast(&w->cond);
    while (w->busy && ret != ETIMEDOUT)
        ret = pthread_cond_timedwait(&w->cond, &w->lock, &until);
    if (w->busy) {
        /* hung: the worker keeps the encoder and frees both itself, if
         * the call ever returns */
        w->abandoned = 1;
        pthread_mutex_unlock(&w->lock);
        pthread_detach(w->thread);
        memset(ci, 0, sizeof(*ci));
        *pw = NULL;
        return AVERROR(ETIMEDOUT);
    }
    *pkts = w->pkts;
    *nb = w->nb_pkts;
    w->pkts = NULL;
    w->nb_pkts = 0;
    ret = w->ret;
    pthread_mutex_unlock(&w->lock);
    return ret;
}
