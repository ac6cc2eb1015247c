/*
 * decode.c: the decoder stage: decoding, source changes, a whole timeline;
 * see decode.h.
 */
#include <libavcodec/avcodec.h>
#include <libavutil/mem.h>
#include <libavutil/samplefmt.h>
#include <libavutil/time.h>

#include "plane/decode.h"
#include "plane/params.h"

/* Decode errors are counted; at most one warning per this long. */
#define DEC_ERROR_LOG_INTERVAL_US 1000000
/* Silence is made in frames of this many samples. */
#define DEC_SILENCE_SAMPLES 1024
/* A gap is filled up to this much at once (a longer one was an outage,
 * filled on the wall clock already). */
#define DEC_MAX_FILL_US (30 * 1000000LL)

struct Decoder {
    Stage st;
    const JobStream *js;
    enum AVMediaType type;
    ThreadQueue *in, *out;           /* not owned */
    const StreamClock *clock;

    /* Decoder thread only. */
    AVCodecContext *ctx;
    AVRational in_tb, out_tb, frame_rate;
    int params_sent;
    int64_t next_pts;                /* out_tb, for frames without a timestamp */
    int64_t last_error_log;
    int done;                        /* duration reached or downstream gone */

    /* the timeline (live streams) */
    AVFrame *last;                   /* video: the last frame passed on */
    AVFrame *shape;                  /* audio: format of the last frame */
    int64_t last_out_pts;            /* out_tb, AV_NOPTS_VALUE before the first */
    int64_t next_out_pts;            /* out_tb: where the next frame belongs */
    int64_t frame_dur;               /* video, out_tb */
    int64_t last_in_wall;            /* wall time of the last packet */
    int64_t anchor_wall, anchor_pts; /* an outage goes on from here on the wall clock */

    _Atomic int64_t frames, errors, filled, dropped, reopens;
};

static int open_decoder(Decoder *dec, const StreamParams *sp)
{
    const AVCodec *codec = avcodec_find_decoder(sp->par->codec_id);
    int ret;

    avcodec_free_context(&dec->ctx);
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
    if (sp->frame_rate.num > 0) {
        dec->frame_rate = sp->frame_rate;
        dec->frame_dur = av_rescale_q(1, av_inv_q(sp->frame_rate), DEC_VIDEO_TB);
    }
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

/* Duration of a frame in out_tb. */
static int64_t frame_span(Decoder *dec, const AVFrame *f)
{
    if (dec->type == AVMEDIA_TYPE_AUDIO)
        return av_rescale_q(f->nb_samples, (AVRational){ 1, f->sample_rate }, dec->out_tb);
    return dec->frame_dur ? dec->frame_dur : av_rescale_q(40000, AV_TIME_BASE_Q, dec->out_tb);
}

/* Passes f (consumed) on at pts; the duration cut applies. */
static int emit(Decoder *dec, AVFrame *f)
{
    int64_t span = frame_span(dec, f);
    int ret;

    f->time_base = dec->out_tb;
    f->pict_type = AV_PICTURE_TYPE_NONE;
    if (dec->js->duration_us > 0) {
        int64_t end = av_rescale_q(dec->js->duration_us, AV_TIME_BASE_Q, dec->out_tb);
        if (f->pts >= end) {
            av_frame_free(&f);
            dec->done = 1;
            return AVERROR_EOF;
        }
        /* audio ends on the sample, not on the frame that crosses the end */
        if (dec->type == AVMEDIA_TYPE_AUDIO && f->pts + span > end) {
            f->nb_samples = (int)av_rescale_q(end - f->pts, dec->out_tb, (AVRational){ 1, f->sample_rate });
            span = end - f->pts;
        }
    }
    dec->last_out_pts = f->pts;
    dec->next_out_pts = f->pts + span;
    if (dec->type == AVMEDIA_TYPE_VIDEO) {
        av_frame_unref(dec->last);
        av_frame_ref(dec->last, f);
    } else {
        av_frame_unref(dec->shape);
        av_frame_copy_props(dec->shape, f);
        dec->shape->format = f->format;
        dec->shape->sample_rate = f->sample_rate;
        av_channel_layout_copy(&dec->shape->ch_layout, &f->ch_layout);
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

/* A made-up frame at pts: the last picture again, or silence. */
static int emit_fill(Decoder *dec, int64_t pts)
{
    AVFrame *f;
    int ret;

    if (dec->type == AVMEDIA_TYPE_VIDEO) {
        if (!dec->last->buf[0])
            return 0;
        f = av_frame_clone(dec->last);
        if (!f)
            return AVERROR(ENOMEM);
    } else {
        if (!dec->shape->sample_rate)
            return 0;
        f = av_frame_alloc();
        if (!f)
            return AVERROR(ENOMEM);
        f->format = dec->shape->format;
        f->sample_rate = dec->shape->sample_rate;
        f->nb_samples = DEC_SILENCE_SAMPLES;
        if ((ret = av_channel_layout_copy(&f->ch_layout, &dec->shape->ch_layout)) < 0 ||
            (ret = av_frame_get_buffer(f, 0)) < 0) {
            av_frame_free(&f);
            return ret;
        }
        av_samples_set_silence(f->extended_data, 0, f->nb_samples, f->ch_layout.nb_channels, f->format);
    }
    f->pts = pts;
    atomic_fetch_add(&dec->filled, 1);
    return emit(dec, f);
}

/* Fills the timeline from where it is to pts (exclusive), leaving less
 * than half a frame. */
static int fill_to(Decoder *dec, int64_t pts)
{
    int64_t limit = dec->next_out_pts + av_rescale_q(DEC_MAX_FILL_US, AV_TIME_BASE_Q, dec->out_tb);
    int ret = 0;

    if (pts > limit)
        pts = limit;
    while (ret >= 0 && !dec->done) {
        int64_t span = dec->type == AVMEDIA_TYPE_VIDEO ? dec->frame_dur :
            av_rescale_q(DEC_SILENCE_SAMPLES, (AVRational){ 1, FFMAX(dec->shape->sample_rate, 1) }, dec->out_tb);
        if (!span || dec->next_out_pts + span / 2 > pts)
            break;
        if (dec->type == AVMEDIA_TYPE_VIDEO && !dec->last->buf[0])
            break;
        if (dec->type == AVMEDIA_TYPE_AUDIO && !dec->shape->sample_rate)
            break;
        ret = emit_fill(dec, dec->next_out_pts);
    }
    return ret;
}

/* Puts the frame on the stream timeline in out_tb and passes it on, keeping
 * a live timeline whole. Consumes f. Returns < 0 when nothing more should
 * be decoded. */
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
        pts = dec->next_pts != AV_NOPTS_VALUE ? dec->next_pts : FFMAX(dec->next_out_pts, 0);
    f->pts = pts;
    dec->next_pts = pts + frame_span(dec, f);

    if (dec->clock->live && dec->last_out_pts != AV_NOPTS_VALUE) {
        int64_t span = frame_span(dec, f);
        /* what the stream has already: a source that took over re-decodes
         * part of its GOP. Video: by the frame's time (a wrong frame rate
         * must not drop frames); audio: by the samples. */
        if (dec->type == AVMEDIA_TYPE_VIDEO ? pts <= dec->last_out_pts
                                            : pts + span / 2 < dec->next_out_pts) {
            atomic_fetch_add(&dec->dropped, 1);
            av_frame_free(&f);
            return 0;
        }
        if (pts > dec->next_out_pts + span / 2 && (ret = fill_to(dec, pts)) < 0) {
            av_frame_free(&f);
            return ret;
        }
        /* audio a part of a frame off goes where the timeline is, so the
         * samples stay continuous */
        if (dec->type == AVMEDIA_TYPE_AUDIO)
            f->pts = pts = dec->next_out_pts;
    }
    ret = emit(dec, f);
    dec->anchor_wall = av_gettime_relative();
    dec->anchor_pts = dec->next_out_pts;
    return ret;
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

/* No packet for the input's loss_timeout on a live stream: the timeline
 * goes on with the wall clock, from the last frame. */
static int fill_outage(Decoder *dec)
{
    int64_t now = av_gettime_relative();
    int64_t wait = dec->js->input.loss_timeout_us + 2 * av_rescale_q(FFMAX(dec->frame_dur, 1), dec->out_tb,
                                                                    AV_TIME_BASE_Q);

    if (!dec->clock->live || dec->last_out_pts == AV_NOPTS_VALUE || now - dec->last_in_wall < wait)
        return 0;
    return fill_to(dec, dec->anchor_pts + av_rescale_q(now - dec->anchor_wall, AV_TIME_BASE_Q, dec->out_tb));
}

static int dec_run(void *arg)
{
    Decoder *dec = arg;
    int ret = 0, kind, index;
    void *ptr;

    dec->last_out_pts = AV_NOPTS_VALUE;
    dec->next_out_pts = 0;
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
    dec->last_in_wall = av_gettime_relative();

    while (!dec->done) {
        AVPacket *pkt;

        ret = tq_recv(dec->in, &kind, &index, &ptr, dec->clock->live ? 10000 : -1);
        if (ret == AVERROR(EAGAIN)) {
            ret = fill_outage(dec);
            if (ret < 0 && ret != AVERROR_EOF)
                break;
            continue;
        }
        if (ret == AVERROR_EOF)
            break;
        if (kind == TQ_PARAMS) {
            /* another source: what the decoder holds is drained, then it
             * opens for the new one */
            avcodec_send_packet(dec->ctx, NULL);
            receive_frames(dec);
            atomic_fetch_add(&dec->reopens, 1);
            ret = open_decoder(dec, ptr);
            tq_item_free(kind, ptr);
            if (ret < 0)
                break;
            continue;
        }
        if (kind != TQ_PACKET) {
            tq_item_free(kind, ptr);
            continue;
        }
        dec->last_in_wall = av_gettime_relative();
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
    if (ret == AVERROR_EOF || ret == AVERROR(EAGAIN))
        ret = 0;
    if (!dec->done && dec->ctx) {
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

int dec_alloc(Decoder **pdec, const JobStream *js, enum AVMediaType type,
              ThreadQueue *in, ThreadQueue *out, const StreamClock *clock, EventLog *events)
{
    Decoder *dec = av_mallocz(sizeof(*dec));

    *pdec = NULL;
    if (!dec)
        return AVERROR(ENOMEM);
    stage_init(&dec->st, js->name, type == AVMEDIA_TYPE_VIDEO ? "vdec" : "adec", events, dec_run);
    dec->js = js;
    dec->type = type;
    dec->in = in;
    dec->out = out;
    dec->clock = clock;
    dec->last = av_frame_alloc();
    dec->shape = av_frame_alloc();
    if (!dec->last || !dec->shape) {
        dec_free(&dec);
        return AVERROR(ENOMEM);
    }
    *pdec = dec;
    return 0;
}

void dec_free(Decoder **pdec)
{
    Decoder *dec = *pdec;

    if (!dec)
        return;
    av_frame_free(&dec->last);
    av_frame_free(&dec->shape);
    stage_uninit(&(*pdec)->st);
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
    s->filled = atomic_load(&dec->filled);
    s->dropped = atomic_load(&dec->dropped);
    s->reopens = atomic_load(&dec->reopens);
}
