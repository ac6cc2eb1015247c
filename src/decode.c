/*
 * decode.c: the decoder stage; see decode.h.
 */
#include <libavcodec/avcodec.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "decode.h"
#include "params.h"
#include "stage.h"

/* Decode errors are counted; at most one warning per this long. */
#define DEC_ERROR_LOG_INTERVAL_US 1000000

struct Decoder {
    Stage st;
    enum AVMediaType type;
    ThreadQueue *in, *out;           /* not owned */
    int64_t duration_us;

    /* Decoder thread only. */
    AVCodecContext *ctx;
    AVRational in_tb, out_tb, frame_rate;
    int params_sent;
    int64_t next_pts;                /* out_tb, for frames without a timestamp */
    int64_t last_error_log;
    int done;                        /* duration reached or downstream gone */

    _Atomic int64_t frames, errors;
};

static int open_decoder(Decoder *dec, const StreamParams *sp)
{
    const AVCodec *codec = avcodec_find_decoder(sp->par->codec_id);
    int ret;

    if (!codec)
        return stage_fail(&dec->st, AVERROR_DECODER_NOT_FOUND, "no decoder for %s",
                          avcodec_get_name(sp->par->codec_id));
    dec->ctx = avcodec_alloc_context3(codec);
    if (!dec->ctx)
        return AVERROR(ENOMEM);
    ret = avcodec_parameters_to_context(dec->ctx, sp->par);
    if (ret < 0)
        return ret;
    dec->ctx->pkt_timebase = sp->time_base;
    dec->ctx->thread_count = 0;      /* auto */
    ret = avcodec_open2(dec->ctx, codec, NULL);
    if (ret < 0)
        return stage_fail(&dec->st, ret, "cannot open the %s decoder", codec->name);
    dec->in_tb = sp->time_base;
    dec->frame_rate = sp->frame_rate;
    dec->next_pts = AV_NOPTS_VALUE;
    return 0;
}

/* PARAMS for what follows, from the first frame. */
static int send_params(Decoder *dec, const AVFrame *f)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    StreamParams *sp;
    int ret;

    if (!par)
        return AVERROR(ENOMEM);
    par->codec_type = dec->type;
    if (dec->type == AVMEDIA_TYPE_VIDEO) {
        par->width = f->width;
        par->height = f->height;
        par->format = f->format;
        par->sample_aspect_ratio = f->sample_aspect_ratio;
        par->field_order = f->interlaced_frame ?
            (f->top_field_first ? AV_FIELD_TT : AV_FIELD_BB) : AV_FIELD_PROGRESSIVE;
    } else {
        par->sample_rate = f->sample_rate;
        par->format = f->format;
        ret = av_channel_layout_copy(&par->ch_layout, &f->ch_layout);
        if (ret < 0) {
            avcodec_parameters_free(&par);
            return ret;
        }
    }
    sp = params_alloc(par, dec->out_tb, dec->frame_rate);
    avcodec_parameters_free(&par);
    if (!sp)
        return AVERROR(ENOMEM);
    ret = tq_send(dec->out, TQ_PARAMS, 0, sp);
    if (ret < 0)
        params_free(&sp);
    return ret;
}

/* Puts the frame on the stream timeline in out_tb and passes it on.
 * Consumes f. Returns < 0 when nothing more should be decoded. */
static int pass_frame(Decoder *dec, AVFrame *f)
{
    int64_t pts = f->best_effort_timestamp;
    int ret;

    if (!dec->params_sent) {
        dec->out_tb = dec->type == AVMEDIA_TYPE_VIDEO ? DEC_VIDEO_TB :
                      (AVRational){ 1, f->sample_rate };
        ret = send_params(dec, f);
        if (ret < 0) {
            av_frame_free(&f);
            return ret;
        }
        dec->params_sent = 1;
    }

    if (pts != AV_NOPTS_VALUE)
        pts = av_rescale_q(pts, dec->in_tb, dec->out_tb);
    else
        pts = dec->next_pts != AV_NOPTS_VALUE ? dec->next_pts : 0;
    f->pts = pts;
    f->time_base = dec->out_tb;
    f->pict_type = AV_PICTURE_TYPE_NONE;
    if (dec->type == AVMEDIA_TYPE_AUDIO) {
        dec->next_pts = pts + f->nb_samples;
    } else if (dec->frame_rate.num > 0) {
        dec->next_pts = pts + av_rescale_q(1, av_inv_q(dec->frame_rate), dec->out_tb);
    }

    if (dec->duration_us > 0) {
        int64_t end = av_rescale_q(dec->duration_us, AV_TIME_BASE_Q, dec->out_tb);
        if (pts >= end) {
            av_frame_free(&f);
            dec->done = 1;
            return AVERROR_EOF;
        }
        /* audio ends on the sample, not on the frame that crosses the end */
        if (dec->type == AVMEDIA_TYPE_AUDIO && pts + f->nb_samples > end)
            f->nb_samples = (int)(end - pts);
    }

    ret = tq_send(dec->out, TQ_FRAME, 0, f);
    if (ret < 0) {
        av_frame_free(&f);
        dec->done = 1;
        return ret;
    }
    atomic_fetch_add(&dec->frames, 1);
    return 0;
}

static int receive_frames(Decoder *dec)
{
    for (;;) {
        AVFrame *f = av_frame_alloc();
        int ret;

        if (!f)
            return AVERROR(ENOMEM);
        ret = avcodec_receive_frame(dec->ctx, f);
        if (ret < 0) {
            av_frame_free(&f);
            return ret == AVERROR(EAGAIN) ? 0 : ret;
        }
        ret = pass_frame(dec, f);
        if (ret < 0)
            return ret;
    }
}

static void count_error(Decoder *dec, int err)
{
    int64_t now = av_gettime_relative();

    atomic_fetch_add(&dec->errors, 1);
    if (now - dec->last_error_log >= DEC_ERROR_LOG_INTERVAL_US) {
        av_log(dec, AV_LOG_WARNING, "decoding error: %s (%lld so far)\n",
               av_err2str(err), (long long)atomic_load(&dec->errors));
        dec->last_error_log = now;
    }
}

static int dec_run(void *arg)
{
    Decoder *dec = arg;
    int ret = 0, kind, index;
    void *ptr;

    /* the first item says what comes: PARAMS, or the end (stream absent) */
    ret = tq_recv(dec->in, &kind, &index, &ptr, -1);
    if (ret < 0)
        goto end;
    if (kind != TQ_PARAMS) {
        tq_item_free(kind, ptr);
        ret = stage_fail(&dec->st, AVERROR_BUG, "stream started without parameters");
        goto end;
    }
    ret = open_decoder(dec, ptr);
    tq_item_free(kind, ptr);
    if (ret < 0)
        goto end;

    while (!dec->done) {
        AVPacket *pkt;

        ret = tq_recv(dec->in, &kind, &index, &ptr, -1);
        if (ret == AVERROR_EOF)
            break;
        if (kind != TQ_PACKET) {
            tq_item_free(kind, ptr);     /* a new PARAMS: not expected here */
            continue;
        }
        pkt = ptr;
        ret = avcodec_send_packet(dec->ctx, pkt);
        av_packet_free(&pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            count_error(dec, ret);
            continue;
        }
        ret = receive_frames(dec);
        if (ret < 0 && !dec->done && ret != AVERROR_EOF)
            count_error(dec, ret);
    }
    ret = 0;
    if (!dec->done) {
        /* input ended: flush what the decoder holds */
        avcodec_send_packet(dec->ctx, NULL);
        receive_frames(dec);
    }

end:
    tq_recv_done(dec->in);
    tq_send_done(dec->out);
    avcodec_free_context(&dec->ctx);
    return ret == AVERROR_EOF ? 0 : ret;
}

int dec_alloc(Decoder **pdec, const char *stream, enum AVMediaType type,
              ThreadQueue *in, ThreadQueue *out, int64_t duration_us, EventLog *events)
{
    Decoder *dec = av_mallocz(sizeof(*dec));

    *pdec = NULL;
    if (!dec)
        return AVERROR(ENOMEM);
    stage_init(&dec->st, stream, type == AVMEDIA_TYPE_VIDEO ? "vdec" : "adec", events, dec_run);
    dec->type = type;
    dec->in = in;
    dec->out = out;
    dec->duration_us = duration_us;
    *pdec = dec;
    return 0;
}

void dec_free(Decoder **pdec)
{
    av_freep(pdec);
}

int dec_start(Decoder *dec)
{
    return stage_start(&dec->st);
}

int dec_join(Decoder *dec)
{
    return stage_join(&dec->st);
}

void dec_stats(Decoder *dec, DecoderStats *s)
{
    s->frames = atomic_load(&dec->frames);
    s->errors = atomic_load(&dec->errors);
}
