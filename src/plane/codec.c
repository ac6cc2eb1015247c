/*
 * codec.c: opening encoder instances; see codec.h.
 */
#include <stdlib.h>
#include <string.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/hwcontext.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "plane/codec.h"

/* Surfaces in a hardware frames pool: the encoder's reference and
 * lookahead frames plus a few in flight. */
#define CODEC_HW_POOL_SIZE 24
#define CODEC_DEFAULT_VAAPI_DEVICE "/dev/dri/renderD128"

/*
 * Defaults that make an encoder behave as a live ladder needs, applied
 * unless the job sets the same option:
 *   - fixed GOPs, aligned across renditions: no scene-cut keyframes (the
 *     encoder stage forces the keyframes at GOP boundaries itself);
 *   - NVENC: a forced keyframe is an IDR, not an intra frame that HLS
 *     cannot cut on (forced-idr defaults to 0).
 */
static const struct { const char *encoder, *key, *value; } codec_defaults[] = {
    { "libx264",    "sc_threshold", "0" },
    { "libx265",    "x265-params",  "scenecut=0" },
    { "h264_nvenc", "forced-idr",   "1" },
    { "hevc_nvenc", "forced-idr",   "1" },
    { "h264_nvenc", "no-scenecut",  "1" },
    { "hevc_nvenc", "no-scenecut",  "1" },
};

static void apply_defaults(const char *encoder, AVDictionary **opts)
{
    for (size_t i = 0; i < sizeof(codec_defaults) / sizeof(codec_defaults[0]); i++)
        if (!strcmp(codec_defaults[i].encoder, encoder) &&
            !av_dict_get(*opts, codec_defaults[i].key, NULL, 0))
            av_dict_set(opts, codec_defaults[i].key, codec_defaults[i].value, 0);
}

static void warn_unused(Stage *stage, AVDictionary *opts)
{
    const AVDictionaryEntry *e = NULL;
    while ((e = av_dict_get(opts, "", e, AV_DICT_IGNORE_SUFFIX)))
        av_log(stage, AV_LOG_WARNING, "encoder option '%s' was not used\n", e->key);
}

int codec_gop_frames(const JobRendition *jr, AVRational fr)
{
    if (jr->gop_frames > 0)
        return jr->gop_frames;
    if (fr.num > 0 && fr.den > 0)
        return (int)FFMAX(1, av_rescale(jr->gop_us, fr.num, (int64_t)fr.den * 1000000));
    return 0;
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
static int setup_hw_frames(CodecInst *ci, Stage *stage, const AVCodec *codec,
                           const char *device, const AVCodecParameters *par)
{
    const AVCodecHWConfig *cfg = NULL;
    AVBufferRef *dev = NULL, *frames = NULL;
    AVHWFramesContext *fc;
    int ret;

    for (int i = 0; (cfg = avcodec_get_hw_config(codec, i)); i++)
        if (cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_FRAMES_CTX)
            break;
    if (!cfg)
        return stage_fail(stage, AVERROR(ENOSYS), "encoder %s takes no software frames "
                          "and names no hardware frames type", codec->name);
    if (!device && cfg->device_type == AV_HWDEVICE_TYPE_VAAPI)
        device = CODEC_DEFAULT_VAAPI_DEVICE;

    ret = av_hwdevice_ctx_create(&dev, cfg->device_type, device, NULL, 0);
    if (ret < 0)
        return stage_fail(stage, ret, "cannot open the %s device %s for encoder %s",
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
    fc->initial_pool_size = CODEC_HW_POOL_SIZE;
    ret = av_hwframe_ctx_init(frames);
    if (ret < 0) {
        av_buffer_unref(&frames);
        return stage_fail(stage, ret, "cannot create %s frames of %dx%d %s for encoder %s",
                          av_hwdevice_get_type_name(cfg->device_type), par->width, par->height,
                          av_get_pix_fmt_name(par->format), codec->name);
    }
    ci->ctx->hw_frames_ctx = frames;
    ci->ctx->pix_fmt = cfg->pix_fmt;
    ci->hw_upload = 1;
    return 0;
}

/* --- audio ---------------------------------------------------------------- */

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

static int build_audio_graph(CodecInst *ci, const AVCodecParameters *in, const char *probes)
{
    AVCodecContext *ctx = ci->ctx;
    AVFilterInOut *outputs = NULL, *inputs = NULL;
    char args[512], in_layout[128], out_layout[128], desc[1024];
    int ret;

    ci->agraph = avfilter_graph_alloc();
    if (!ci->agraph)
        return AVERROR(ENOMEM);
    av_channel_layout_describe(&in->ch_layout, in_layout, sizeof(in_layout));
    av_channel_layout_describe(&ctx->ch_layout, out_layout, sizeof(out_layout));
    snprintf(args, sizeof(args), "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             ci->in_tb.num, ci->in_tb.den, in->sample_rate,
             av_get_sample_fmt_name(in->format), in_layout);
    ret = avfilter_graph_create_filter(&ci->asrc, avfilter_get_by_name("abuffer"), "in",
                                       args, NULL, ci->agraph);
    if (ret < 0)
        return ret;
    ret = avfilter_graph_create_filter(&ci->asink, avfilter_get_by_name("abuffersink"), "out",
                                       NULL, NULL, ci->agraph);
    if (ret < 0)
        return ret;
    snprintf(desc, sizeof(desc), "aresample=%d,%s%saformat=sample_fmts=%s:sample_rates=%d:channel_layouts=%s",
             ctx->sample_rate, probes ? probes : "", probes ? "," : "",
             av_get_sample_fmt_name(ctx->sample_fmt), ctx->sample_rate, out_layout);

    outputs = avfilter_inout_alloc();
    inputs = avfilter_inout_alloc();
    if (!outputs || !inputs) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    outputs->name = av_strdup("in");
    outputs->filter_ctx = ci->asrc;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = ci->asink;
    ret = avfilter_graph_parse_ptr(ci->agraph, desc, &inputs, &outputs, NULL);
    if (ret < 0)
        goto out;
    ret = avfilter_graph_config(ci->agraph, NULL);
    if (ret < 0)
        goto out;
    if (ctx->frame_size && !(ctx->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE))
        av_buffersink_set_frame_size(ci->asink, ctx->frame_size);
out:
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    return ret;
}

/* --- opening -------------------------------------------------------------- */

static int finish_open(CodecInst *ci, Stage *stage, const AVCodec *codec,
                       AVDictionary **opts, int global_header)
{
    int ret;

    if (global_header)
        ci->ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ret = avcodec_open2(ci->ctx, codec, opts);
    if (ret < 0)
        return stage_fail(stage, ret, "encoder %s failed to open", codec->name);
    warn_unused(stage, *opts);
    return 0;
}

int codec_open_video(CodecInst *ci, Stage *stage, const CodecVideoConfig *cfg,
                     const StreamParams *sp, int global_header)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(cfg->encoder);
    AVDictionary *opts = NULL;
    AVRational fr = sp->frame_rate;
    AVCodecContext *ctx;
    int ret;

    memset(ci, 0, sizeof(*ci));
    if (!codec)
        return stage_fail(stage, AVERROR_ENCODER_NOT_FOUND, "no encoder named %s", cfg->encoder);
    ctx = ci->ctx = avcodec_alloc_context3(codec);
    if (!ctx)
        return AVERROR(ENOMEM);
    ci->in_tb = sp->time_base;
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
    ctx->gop_size = codec_gop_frames(cfg->jr, fr);
    if (!ctx->gop_size) {
        ctx->gop_size = 250;
        av_log(stage, AV_LOG_WARNING, "variable frame rate: the GOP is %d frames\n", ctx->gop_size);
    }
    ctx->keyint_min = ctx->gop_size;
    if (cfg->bitrate > 0)
        ctx->bit_rate = cfg->bitrate;
    av_dict_copy(&opts, cfg->options, 0);
    apply_defaults(codec->name, &opts);
    if (cfg->device && codec->priv_class &&
        av_opt_find((void *)&codec->priv_class, "gpu", NULL, 0, AV_OPT_SEARCH_FAKE_OBJ) &&
        !av_dict_get(opts, "gpu", NULL, 0))
        av_dict_set(&opts, "gpu", cfg->device, 0);
    ret = has_sw_format(codec) ? 0 : setup_hw_frames(ci, stage, codec, cfg->device, sp->par);
    if (ret >= 0)
        ret = finish_open(ci, stage, codec, &opts, global_header);
    av_dict_free(&opts);
    if (ret < 0)
        codec_close(ci);
    return ret;
}

int codec_open_audio(CodecInst *ci, Stage *stage, const JobAudio *ja,
                     const StreamParams *sp, int global_header, const char *probes)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(ja->encoder);
    const AVCodecParameters *in = sp->par;
    AVDictionary *opts = NULL;
    AVCodecContext *ctx;
    int ret = 0;

    memset(ci, 0, sizeof(*ci));
    if (!codec)
        return stage_fail(stage, AVERROR_ENCODER_NOT_FOUND, "no encoder named %s", ja->encoder);
    ctx = ci->ctx = avcodec_alloc_context3(codec);
    if (!ctx)
        return AVERROR(ENOMEM);
    ci->in_tb = sp->time_base;
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
    av_dict_copy(&opts, ja->options, 0);
    if (ret >= 0)
        ret = finish_open(ci, stage, codec, &opts, global_header);
    av_dict_free(&opts);
    if (ret >= 0 && (ret = build_audio_graph(ci, in, probes)) < 0)
        stage_fail(stage, ret, "cannot convert the audio for encoder %s", codec->name);
    if (ret < 0)
        codec_close(ci);
    return ret;
}

void codec_describe(const CodecInst *ci, char *buf, size_t size)
{
    const AVCodecContext *c = ci->ctx;

    if (c->codec_type == AVMEDIA_TYPE_VIDEO) {
        char rate[48] = "the encoder's default rate control";
        if (c->bit_rate)
            snprintf(rate, sizeof(rate), "%lld bit/s", (long long)c->bit_rate);
        snprintf(buf, size, "encoder %s opened: %dx%d %s, %d/%d fps, gop %d, %s",
                 c->codec->name, c->width, c->height, av_get_pix_fmt_name(c->pix_fmt),
                 c->framerate.num, c->framerate.den, c->gop_size, rate);
    } else {
        snprintf(buf, size, "encoder %s opened: %d Hz, %d channels, %lld bit/s",
                 c->codec->name, c->sample_rate, c->ch_layout.nb_channels, (long long)c->bit_rate);
    }
}

void codec_close(CodecInst *ci)
{
    avfilter_graph_free(&ci->agraph);
    avcodec_free_context(&ci->ctx);
    ci->hw_upload = 0;
    ci->asrc = ci->asink = NULL;
}
