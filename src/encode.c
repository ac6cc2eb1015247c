/*
 * encode.c: the encoder stage; see encode.h.
 */
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/hwcontext.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "encode.h"
#include "params.h"
#include "stage.h"

#define ENC_MAX_OUTPUTS 32
/* Surfaces in a hardware frames pool: the encoder's reference and
 * lookahead frames plus a few in flight. */
#define ENC_HW_POOL_SIZE 24
#define ENC_DEFAULT_VAAPI_DEVICE "/dev/dri/renderD128"

typedef struct EncOutput {
    ThreadQueue *q;              /* not owned */
    int index;
    int open;
} EncOutput;

struct Encoder {
    Stage st;
    const JobRendition *jr;      /* video, or NULL */
    const JobAudio *ja;          /* audio, or NULL */
    ThreadQueue *in;             /* not owned */
    EncOutput outputs[ENC_MAX_OUTPUTS];
    int nb_outputs;
    int global_header;

    /* Encoder thread only. */
    AVCodecContext *ctx;
    AVRational in_tb;
    int64_t last_pts;            /* ctx->time_base; AV_NOPTS_VALUE at first */
    int hw_upload;               /* frames go through ctx->hw_frames_ctx */
    AVFilterGraph *agraph;       /* audio adaptation */
    AVFilterContext *asrc, *asink;

    _Atomic int64_t frames_in, packets_out, bytes_out, dropped, last_pts_us;
    _Atomic int quality;
};

/* --- options -------------------------------------------------------------- */

/*
 * Defaults that make an encoder behave as a live ladder needs, applied
 * unless the job sets the same option:
 *   - fixed GOPs, aligned across renditions: no scene-cut keyframes;
 *   - NVENC: a forced keyframe (a switch, later) is an IDR, not an intra
 *     frame that HLS cannot cut on (see notes: forced-idr defaults to 0).
 */
static const struct { const char *encoder, *key, *value; } enc_defaults[] = {
    { "libx264",    "sc_threshold", "0" },
    { "libx265",    "x265-params",  "scenecut=0" },
    { "h264_nvenc", "forced-idr",   "1" },
    { "hevc_nvenc", "forced-idr",   "1" },
    { "h264_nvenc", "no-scenecut",  "1" },
    { "hevc_nvenc", "no-scenecut",  "1" },
};

static void apply_defaults(const char *encoder, AVDictionary **opts)
{
    for (size_t i = 0; i < sizeof(enc_defaults) / sizeof(enc_defaults[0]); i++)
        if (!strcmp(enc_defaults[i].encoder, encoder) && !av_dict_get(*opts, enc_defaults[i].key, NULL, 0))
            av_dict_set(opts, enc_defaults[i].key, enc_defaults[i].value, 0);
}

static void warn_unused(Encoder *enc, AVDictionary *opts)
{
    const AVDictionaryEntry *e = NULL;
    while ((e = av_dict_get(opts, "", e, AV_DICT_IGNORE_SUFFIX)))
        av_log(enc, AV_LOG_WARNING, "encoder option '%s' was not used\n", e->key);
}

/* --- hardware ------------------------------------------------------------- */

static int has_sw_format(const AVCodec *c)
{
    if (!c->pix_fmts)
        return 1;
    for (const enum AVPixelFormat *p = c->pix_fmts; *p != AV_PIX_FMT_NONE; p++) {
        const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(*p);
        if (d && !(d->flags & AV_PIX_FMT_FLAG_HWACCEL))
            return 1;
    }
    return 0;
}

/* For an encoder that only takes hardware frames (VAAPI): creates the device
 * named by the job and a frames pool of the ladder's format and size. */
static int setup_hw_frames(Encoder *enc, const AVCodec *codec, const AVCodecParameters *par)
{
    const AVCodecHWConfig *cfg = NULL;
    AVBufferRef *dev = NULL, *frames = NULL;
    AVHWFramesContext *fc;
    const char *device = enc->jr->device;
    int ret;

    for (int i = 0; (cfg = avcodec_get_hw_config(codec, i)); i++)
        if (cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_FRAMES_CTX)
            break;
    if (!cfg)
        return stage_fail(&enc->st, AVERROR(ENOSYS), "encoder %s takes no software frames "
                          "and names no hardware frames type", codec->name);
    if (!device && cfg->device_type == AV_HWDEVICE_TYPE_VAAPI)
        device = ENC_DEFAULT_VAAPI_DEVICE;

    ret = av_hwdevice_ctx_create(&dev, cfg->device_type, device, NULL, 0);
    if (ret < 0)
        return stage_fail(&enc->st, ret, "cannot open the %s device %s for encoder %s",
                          av_hwdevice_get_type_name(cfg->device_type),
                          device ? device : "(default)", codec->name);
    frames = av_hwframe_ctx_alloc(dev);
    av_buffer_unref(&dev);
    if (!frames)
        return AVERROR(ENOMEM);
    fc = (AVHWFramesContext *)frames->data;
    fc->format = cfg->pix_fmt;
    fc->sw_format = par->format;
    fc->width = par->width;
    fc->height = par->height;
    fc->initial_pool_size = ENC_HW_POOL_SIZE;
    ret = av_hwframe_ctx_init(frames);
    if (ret < 0) {
        av_buffer_unref(&frames);
        return stage_fail(&enc->st, ret, "cannot create %s frames of %dx%d %s for encoder %s",
                          av_hwdevice_get_type_name(cfg->device_type), par->width, par->height,
                          av_get_pix_fmt_name(par->format), codec->name);
    }
    enc->ctx->hw_frames_ctx = frames;
    enc->ctx->pix_fmt = cfg->pix_fmt;
    enc->hw_upload = 1;
    return 0;
}

/* --- audio adaptation ----------------------------------------------------- */

static int pick_sample_rate(const AVCodec *c, int want)
{
    int best = 0;

    if (!c->supported_samplerates)
        return want;
    for (const int *p = c->supported_samplerates; *p; p++) {
        if (*p == want)
            return want;
        if (!best || abs(*p - want) < abs(best - want))
            best = *p;
    }
    return best;
}

static int layout_supported(const AVCodec *c, const AVChannelLayout *l)
{
    if (!c->ch_layouts)
        return 1;
    for (const AVChannelLayout *p = c->ch_layouts; p->nb_channels; p++)
        if (!av_channel_layout_compare(p, l))
            return 1;
    return 0;
}

static int build_audio_graph(Encoder *enc, const AVCodecParameters *in)
{
    AVCodecContext *ctx = enc->ctx;
    AVFilterInOut *outputs = NULL, *inputs = NULL;
    char args[512], in_layout[128], out_layout[128], desc[512];
    int ret;

    enc->agraph = avfilter_graph_alloc();
    if (!enc->agraph)
        return AVERROR(ENOMEM);
    av_channel_layout_describe(&in->ch_layout, in_layout, sizeof(in_layout));
    av_channel_layout_describe(&ctx->ch_layout, out_layout, sizeof(out_layout));
    snprintf(args, sizeof(args), "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             enc->in_tb.num, enc->in_tb.den, in->sample_rate,
             av_get_sample_fmt_name(in->format), in_layout);
    ret = avfilter_graph_create_filter(&enc->asrc, avfilter_get_by_name("abuffer"), "in",
                                       args, NULL, enc->agraph);
    if (ret < 0)
        return ret;
    ret = avfilter_graph_create_filter(&enc->asink, avfilter_get_by_name("abuffersink"), "out",
                                       NULL, NULL, enc->agraph);
    if (ret < 0)
        return ret;
    snprintf(desc, sizeof(desc), "aresample=%d,aformat=sample_fmts=%s:sample_rates=%d:channel_layouts=%s",
             ctx->sample_rate, av_get_sample_fmt_name(ctx->sample_fmt), ctx->sample_rate, out_layout);

    outputs = avfilter_inout_alloc();
    inputs = avfilter_inout_alloc();
    if (!outputs || !inputs) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    outputs->name = av_strdup("in");
    outputs->filter_ctx = enc->asrc;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = enc->asink;
    ret = avfilter_graph_parse_ptr(enc->agraph, desc, &inputs, &outputs, NULL);
    if (ret < 0)
        goto out;
    ret = avfilter_graph_config(enc->agraph, NULL);
    if (ret < 0)
        goto out;
    if (ctx->frame_size && !(ctx->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE))
        av_buffersink_set_frame_size(enc->asink, ctx->frame_size);
out:
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    return ret;
}

/* --- opening -------------------------------------------------------------- */

static int open_video(Encoder *enc, const StreamParams *sp, const AVCodec *codec, AVDictionary **opts)
{
    const JobRendition *jr = enc->jr;
    AVCodecContext *ctx = enc->ctx;
    AVRational fr = sp->frame_rate;
    int ret;

    ctx->width = sp->par->width;
    ctx->height = sp->par->height;
    ctx->pix_fmt = sp->par->format;
    ctx->sample_aspect_ratio = sp->par->sample_aspect_ratio;
    if (fr.num > 0 && fr.den > 0) {
        ctx->framerate = fr;
        ctx->time_base = av_inv_q(fr);
    } else {
        ctx->time_base = sp->time_base;
    }
    if (jr->gop_frames > 0) {
        ctx->gop_size = jr->gop_frames;
    } else if (fr.num > 0) {
        ctx->gop_size = (int)FFMAX(1, av_rescale(jr->gop_us, fr.num, (int64_t)fr.den * 1000000));
    } else {
        ctx->gop_size = 250;
        av_log(enc, AV_LOG_WARNING, "variable frame rate: the GOP is %d frames\n", ctx->gop_size);
    }
    ctx->keyint_min = ctx->gop_size;
    if (jr->bitrate > 0)
        ctx->bit_rate = jr->bitrate;
    apply_defaults(codec->name, opts);
    if (jr->device && codec->priv_class &&
        av_opt_find((void *)&codec->priv_class, "gpu", NULL, 0, AV_OPT_SEARCH_FAKE_OBJ) &&
        !av_dict_get(*opts, "gpu", NULL, 0))
        av_dict_set(opts, "gpu", jr->device, 0);
    if (!has_sw_format(codec)) {
        ret = setup_hw_frames(enc, codec, sp->par);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int open_audio(Encoder *enc, const StreamParams *sp, const AVCodec *codec)
{
    const JobAudio *ja = enc->ja;
    AVCodecContext *ctx = enc->ctx;
    const AVCodecParameters *in = sp->par;
    int ret = 0;

    ctx->sample_fmt = codec->sample_fmts ? codec->sample_fmts[0] : in->format;
    if (codec->sample_fmts)
        for (const enum AVSampleFormat *p = codec->sample_fmts; *p != AV_SAMPLE_FMT_NONE; p++)
            if (*p == in->format)
                ctx->sample_fmt = *p;
    ctx->sample_rate = pick_sample_rate(codec, ja->sample_rate ? ja->sample_rate : in->sample_rate);
    if (ja->channels)
        av_channel_layout_default(&ctx->ch_layout, ja->channels);
    else if (layout_supported(codec, &in->ch_layout) && in->ch_layout.nb_channels)
        ret = av_channel_layout_copy(&ctx->ch_layout, &in->ch_layout);
    else
        ctx->ch_layout = (AVChannelLayout)AV_CHANNEL_LAYOUT_STEREO;
    ctx->time_base = (AVRational){ 1, ctx->sample_rate };
    ctx->bit_rate = ja->bitrate;
    return ret;
}

static int send_params(Encoder *enc)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    int ret;

    if (!par)
        return AVERROR(ENOMEM);
    ret = avcodec_parameters_from_context(par, enc->ctx);
    if (ret < 0)
        goto out;
    for (int i = 0; i < enc->nb_outputs; i++) {
        EncOutput *o = &enc->outputs[i];
        StreamParams *sp = params_alloc(par, enc->ctx->time_base, enc->ctx->framerate);
        if (!sp) {
            ret = AVERROR(ENOMEM);
            goto out;
        }
        if (tq_send(o->q, TQ_PARAMS, o->index, sp) < 0) {
            params_free(&sp);
            o->open = 0;
        }
    }
out:
    avcodec_parameters_free(&par);
    return ret;
}

static int open_encoder(Encoder *enc, const StreamParams *sp)
{
    const char *name = enc->jr ? enc->jr->encoder : enc->ja->encoder;
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    AVDictionary *opts = NULL;
    int ret;

    if (!codec)
        return stage_fail(&enc->st, AVERROR_ENCODER_NOT_FOUND, "no encoder named %s", name);
    enc->ctx = avcodec_alloc_context3(codec);
    if (!enc->ctx)
        return AVERROR(ENOMEM);
    enc->in_tb = sp->time_base;
    av_dict_copy(&opts, enc->jr ? enc->jr->options : enc->ja->options, 0);
    ret = enc->jr ? open_video(enc, sp, codec, &opts) : open_audio(enc, sp, codec);
    if (ret < 0)
        goto out;
    if (enc->global_header)
        enc->ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

    ret = avcodec_open2(enc->ctx, codec, &opts);
    if (ret < 0) {
        stage_fail(&enc->st, ret, "encoder %s failed to open", codec->name);
        goto out;
    }
    warn_unused(enc, opts);
    if (enc->ja) {
        ret = build_audio_graph(enc, sp->par);
        if (ret < 0) {
            stage_fail(&enc->st, ret, "cannot convert the audio for encoder %s", codec->name);
            goto out;
        }
    }
    if (enc->jr) {
        char rate[48] = "the encoder's default rate control";
        if (enc->ctx->bit_rate)
            snprintf(rate, sizeof(rate), "%lld bit/s", (long long)enc->ctx->bit_rate);
        stage_event(&enc->st, EV_START, "encoder %s opened: %dx%d %s, %d/%d fps, gop %d, %s",
                    codec->name, enc->ctx->width, enc->ctx->height,
                    av_get_pix_fmt_name(enc->ctx->pix_fmt), enc->ctx->framerate.num,
                    enc->ctx->framerate.den, enc->ctx->gop_size, rate);
    } else {
        stage_event(&enc->st, EV_START, "encoder %s opened: %d Hz, %d channels, %lld bit/s",
                    codec->name, enc->ctx->sample_rate, enc->ctx->ch_layout.nb_channels,
                    (long long)enc->ctx->bit_rate);
    }
    ret = send_params(enc);
out:
    av_dict_free(&opts);
    return ret;
}

/* --- the flow ------------------------------------------------------------- */

static int any_output_open(Encoder *enc)
{
    for (int i = 0; i < enc->nb_outputs; i++)
        if (enc->outputs[i].open)
            return 1;
    return 0;
}

/* Gives pkt (consumed) to every open output. */
static void fan_out(Encoder *enc, AVPacket *pkt)
{
    int last = -1;

    for (int i = 0; i < enc->nb_outputs; i++)
        if (enc->outputs[i].open)
            last = i;
    for (int i = 0; i <= last; i++) {
        EncOutput *o = &enc->outputs[i];
        AVPacket *p;
        if (!o->open)
            continue;
        p = i == last ? pkt : av_packet_clone(pkt);
        if (!p)
            continue;
        if (i == last)
            pkt = NULL;
        if (tq_send(o->q, TQ_PACKET, o->index, p) < 0) {
            av_packet_free(&p);
            o->open = 0;
            av_log(enc, AV_LOG_VERBOSE, "output %d is gone\n", i);
        }
    }
    av_packet_free(&pkt);
}

static int receive_packets(Encoder *enc)
{
    for (;;) {
        AVPacket *pkt = av_packet_alloc();
        size_t sdsize;
        const uint8_t *sd;
        int ret;

        if (!pkt)
            return AVERROR(ENOMEM);
        ret = avcodec_receive_packet(enc->ctx, pkt);
        if (ret < 0) {
            av_packet_free(&pkt);
            return ret == AVERROR(EAGAIN) ? 0 : ret;
        }
        pkt->time_base = enc->ctx->time_base;
        sd = av_packet_get_side_data(pkt, AV_PKT_DATA_QUALITY_STATS, &sdsize);
        /* x264 reports -1 * FF_QP2LAMBDA for some flushed frames: keep the
         * last meaningful value */
        if (sd && sdsize >= 4 && (int)AV_RL32(sd) >= 0)
            atomic_store(&enc->quality, (int)AV_RL32(sd));
        atomic_fetch_add(&enc->packets_out, 1);
        atomic_fetch_add(&enc->bytes_out, pkt->size);
        if (pkt->pts != AV_NOPTS_VALUE)
            atomic_store(&enc->last_pts_us, av_rescale_q(pkt->pts, pkt->time_base, AV_TIME_BASE_Q));
        fan_out(enc, pkt);
    }
}

/* Encodes one frame (consumed); NULL flushes. */
static int encode_frame(Encoder *enc, AVFrame *f)
{
    int ret;

    if (f && enc->hw_upload) {
        AVFrame *hw = av_frame_alloc();
        if (!hw) {
            av_frame_free(&f);
            return AVERROR(ENOMEM);
        }
        ret = av_hwframe_get_buffer(enc->ctx->hw_frames_ctx, hw, 0);
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
    ret = avcodec_send_frame(enc->ctx, f);
    av_frame_free(&f);
    if (ret < 0 && ret != AVERROR_EOF)
        return ret;
    ret = receive_packets(enc);
    return ret == AVERROR_EOF ? 0 : ret;
}

/* A frame from the ladder (video) or the adaptation graph (audio): on the
 * encoder's time base, strictly increasing. */
static int submit(Encoder *enc, AVFrame *f, AVRational tb)
{
    f->pts = av_rescale_q(f->pts, tb, enc->ctx->time_base);
    if (enc->last_pts != AV_NOPTS_VALUE && f->pts <= enc->last_pts) {
        atomic_fetch_add(&enc->dropped, 1);
        av_log(enc, AV_LOG_DEBUG, "frame with pts %lld not after %lld: dropped\n",
               (long long)f->pts, (long long)enc->last_pts);
        av_frame_free(&f);
        return 0;
    }
    enc->last_pts = f->pts;
    f->time_base = enc->ctx->time_base;
    f->pict_type = AV_PICTURE_TYPE_NONE;
    atomic_fetch_add(&enc->frames_in, 1);
    return encode_frame(enc, f);
}

static int audio_pull(Encoder *enc)
{
    for (;;) {
        AVFrame *f = av_frame_alloc();
        int ret;
        if (!f)
            return AVERROR(ENOMEM);
        ret = av_buffersink_get_frame(enc->asink, f);
        if (ret < 0) {
            av_frame_free(&f);
            return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
        }
        ret = submit(enc, f, av_buffersink_get_time_base(enc->asink));
        if (ret < 0)
            return ret;
    }
}

static int process(Encoder *enc, AVFrame *f)
{
    int ret;

    if (enc->ja) {
        ret = av_buffersrc_add_frame_flags(enc->asrc, f, 0);
        av_frame_free(&f);
        return ret < 0 ? ret : audio_pull(enc);
    }
    return submit(enc, f, f->time_base.num ? f->time_base : enc->in_tb);
}

static int flush(Encoder *enc)
{
    int ret;

    if (enc->ja) {
        ret = av_buffersrc_add_frame(enc->asrc, NULL);
        if (ret >= 0)
            ret = audio_pull(enc);
        if (ret < 0)
            return ret;
    }
    return encode_frame(enc, NULL);
}

static int enc_run(void *arg)
{
    Encoder *enc = arg;
    int ret = 0, kind, index;
    void *ptr;

    enc->last_pts = AV_NOPTS_VALUE;
    if (!enc->nb_outputs) {
        av_log(enc, AV_LOG_VERBOSE, "no output carries this rendition: not encoded\n");
        goto end;
    }
    ret = tq_recv(enc->in, &kind, &index, &ptr, -1);
    if (ret < 0) {
        ret = 0;                 /* nothing came: this kind of media is absent */
        goto end;
    }
    if (kind != TQ_PARAMS) {
        tq_item_free(kind, ptr);
        ret = stage_fail(&enc->st, AVERROR_BUG, "frames came without parameters");
        goto end;
    }
    ret = open_encoder(enc, ptr);
    tq_item_free(kind, ptr);
    if (ret < 0)
        goto end;

    while (any_output_open(enc)) {
        ret = tq_recv(enc->in, &kind, &index, &ptr, -1);
        if (ret == AVERROR_EOF) {
            ret = flush(enc);
            if (ret < 0)
                stage_fail(&enc->st, ret, "flushing the encoder failed");
            break;
        }
        if (kind != TQ_FRAME) {
            tq_item_free(kind, ptr);
            continue;
        }
        ret = process(enc, ptr);
        if (ret < 0) {
            stage_fail(&enc->st, ret, "encoding failed");
            break;
        }
    }
    if (!any_output_open(enc) && ret >= 0)
        av_log(enc, AV_LOG_VERBOSE, "every output is gone: encoder stops\n");

end:
    tq_recv_done(enc->in);
    for (int i = 0; i < enc->nb_outputs; i++) {
        EncOutput *o = &enc->outputs[i];
        if (o->open)
            tq_send(o->q, TQ_END, o->index, NULL);
        tq_send_done(o->q);
    }
    avfilter_graph_free(&enc->agraph);
    avcodec_free_context(&enc->ctx);
    return ret;
}

int enc_alloc(Encoder **penc, const char *stream, const JobRendition *jr,
              const JobAudio *ja, ThreadQueue *in, EventLog *events)
{
    Encoder *enc = av_mallocz(sizeof(*enc));
    char comp[48];

    *penc = NULL;
    if (!enc)
        return AVERROR(ENOMEM);
    snprintf(comp, sizeof(comp), "enc:%s", jr ? jr->name : "audio");
    stage_init(&enc->st, stream, comp, events, enc_run);
    enc->jr = jr;
    enc->ja = ja;
    enc->in = in;
    atomic_init(&enc->quality, -1);
    *penc = enc;
    return 0;
}

void enc_free(Encoder **penc)
{
    av_freep(penc);
}

int enc_add_output(Encoder *enc, ThreadQueue *q, int index, int global_header)
{
    if (enc->nb_outputs >= ENC_MAX_OUTPUTS)
        return AVERROR(ENOSPC);
    enc->outputs[enc->nb_outputs++] = (EncOutput){ q, index, 1 };
    enc->global_header |= global_header;
    return 0;
}

int enc_start(Encoder *enc)
{
    return stage_start(&enc->st);
}

int enc_join(Encoder *enc)
{
    return stage_join(&enc->st);
}

void enc_stats(Encoder *enc, EncoderStats *s)
{
    s->frames_in = atomic_load(&enc->frames_in);
    s->packets_out = atomic_load(&enc->packets_out);
    s->bytes_out = atomic_load(&enc->bytes_out);
    s->dropped = atomic_load(&enc->dropped);
    s->last_pts_us = atomic_load(&enc->last_pts_us);
    s->quality = atomic_load(&enc->quality);
}
