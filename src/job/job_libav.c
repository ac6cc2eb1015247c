/*
 * job_libav.c: what can be checked against libav without opening anything,
 * for job.c; see job_int.h.
 *
 * Encoders and their media type, muxers and demuxers, their options (names
 * against the AVClasses, values by setting them on a scratch context),
 * filter graphs (parsed in a scratch graph), the protocol of each URL.
 * Nothing is printed; libav itself may log what it disliked about a graph
 * or an option value, through the process's log callback like any other
 * libav line.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>

#include "job/job_int.h"
#include "core/log.h"
#include "job/preset.h"
#include "core/redact.h"

/* ------------------------------------------------------------------------ */
/* libav: components and their options                                      */

static void register_secret(void *opaque, const char *s, size_t len)
{
    char *dup = av_strndup(s, len);

    if (dup)
        log_add_secret(dup);
    else
        ((Loader *)opaque)->enomem = 1;
    av_free(dup);
}

/* The log masks these from now on, whatever prints them. */
void jl_register_secrets(Loader *ld, const char *url)
{
    redact_url_secrets(url, register_secret, ld);
}

/* The scheme of "scheme://...", lower case, or "" when url has none. */
void jl_url_scheme(const char *url, char *buf, size_t size)
{
    size_t n = 0;

    buf[0] = 0;
    while ((url[n] >= 'a' && url[n] <= 'z') || (url[n] >= 'A' && url[n] <= 'Z') ||
           (n && ((url[n] >= '0' && url[n] <= '9') || url[n] == '+' ||
                  url[n] == '-' || url[n] == '.')))
        n++;
    if (!n || strncmp(url + n, "://", 3) || n >= size)
        return;
    for (size_t i = 0; i < n; i++)
        buf[i] = url[i] >= 'A' && url[i] <= 'Z' ? url[i] - 'A' + 'a' : url[i];
    buf[n] = 0;
}

/* Live network sources pace themselves; reading them at native rate as well
 * would only add latency, so realtime defaults to false for them. */
int jl_is_network_scheme(const char *scheme)
{
    static const char *const net[] = {
        "srt", "udp", "rtp", "rtsp", "tcp", "http", "https",
        "rist", "srtp", "udplite", "tls", NULL,
    };

    if (!strncmp(scheme, "rtmp", 4))      /* rtmp, rtmps, rtmpt, rtmpts, ... */
        return 1;
    return jy_in_words(scheme, net);
}

/*
 * The libav protocol that will open url: its name and its AVClass (NULL
 * when it has no options). Returns -1 when none handles the URL (reported).
 */
int jl_url_protocol(Loader *ld, const yaml_node_t *n, const char *url,
                    const char **name, const AVClass **cls)
{
    char scheme[32], shown[URL_SHOW_MAX];

    *name = avio_find_protocol_name(url);
    *cls = NULL;
    if (!*name) {
        jl_url_scheme(url, scheme, sizeof(scheme));
        report(ld, n, "unknown protocol '%s' in '%s' (see ffmpeg -protocols)",
               *scheme ? scheme : url, redact_url(url, shown, sizeof(shown)));
        return -1;
    }
    *cls = avio_protocol_get_class(*name);
    return 0;
}

/* Where an option may be found. */
typedef struct OptScope {
    const AVClass *cls;            /* searched as a fake object; NULL: skip */
    int flags;                     /* AV_OPT_FLAG_* the option must carry */
    void *obj;                     /* an object of cls to try the value on,
                                      NULL when none can be made */
    const char *owner;             /* "muxer 'hls'", for messages */
} OptScope;

/* URLContext's own options, which no public AVClass lists. */
static const char *const url_context_options[] = {
    "protocol_whitelist", "protocol_blacklist", "rw_timeout", NULL,
};

static const OptScope *find_option(const OptScope *scopes, int nb, const char *name)
{
    for (int i = 0; i < nb; i++) {
        const AVClass *cls = scopes[i].cls;
        if (cls && av_opt_find(&cls, name, NULL, scopes[i].flags, AV_OPT_SEARCH_FAKE_OBJ))
            return &scopes[i];
    }
    return NULL;
}

/* "muxer 'hls' and protocol 'file' have": the owners of the scopes that
 * have options, each once. */
static void owners(const OptScope *scopes, int nb, AVBPrint *bp)
{
    int n = 0;

    for (int i = 0; i < nb; i++) {
        int dup = 0;
        if (!scopes[i].cls)
            continue;
        for (int j = 0; j < i; j++)
            dup |= scopes[j].cls && !strcmp(scopes[j].owner, scopes[i].owner);
        if (!dup)
            av_bprintf(bp, "%s%s", n++ ? " and " : "", scopes[i].owner);
    }
    av_bprintf(bp, " %s", n > 1 ? "have" : "has");
}

/* Does some demuxer have the option? */
static int any_demuxer_has(const char *name)
{
    const AVInputFormat *f;
    void *it = NULL;

    while ((f = av_demuxer_iterate(&it))) {
        const AVClass *cls = f->priv_class;
        if (cls && av_opt_find(&cls, name, NULL, AV_OPT_FLAG_DECODING_PARAM,
                               AV_OPT_SEARCH_FAKE_OBJ))
            return 1;
    }
    return 0;
}

/* Check flags. */
#define OPT_URL       (1u << 0)   /* a protocol opens the URL: URLContext's
                                     own options are valid too */
#define OPT_PROBED    (1u << 1)   /* the demuxer is probed, not named: an
                                     option some demuxer has is trusted */

/*
 * Checks each option of the mapping opts against scopes: the name must be in
 * one of them, and where that scope has an object, the value must set on
 * it. flags: OPT_*.
 */
static void check_options(Loader *ld, const yaml_node_t *opts, const OptScope *scopes,
                          int nb, unsigned flags)
{
    if (!opts)
        return;
    for (yaml_node_pair_t *p = opts->data.mapping.pairs.start;
         p < opts->data.mapping.pairs.top; p++) {
        yaml_node_t *k = jy_node_at(ld, p->key), *v = jy_node_at(ld, p->value);
        const OptScope *s;
        int ret;

        if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE ||
            jy_node_type(v) == T_NULL)
            continue;
        s = find_option(scopes, nb, TEXT(k));
        if (!s) {
            AVBPrint bp;
            if ((flags & OPT_URL) && jy_in_words(TEXT(k), url_context_options))
                continue;
            if (flags & OPT_PROBED) {
                if (!any_demuxer_has(TEXT(k)))
                    report(ld, k, "unknown input option '%s' (no demuxer%s%s has it)",
                           TEXT(k), scopes[nb - 1].cls ? " or " : "",
                           scopes[nb - 1].cls ? scopes[nb - 1].owner : "");
                continue;
            }
            av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
            owners(scopes, nb, &bp);
            report(ld, k, "%s no option '%s'", bp.str, TEXT(k));
            av_bprint_finalize(&bp, NULL);
            continue;
        }
        if (!s->obj)
            continue;
        ret = av_opt_set(s->obj, TEXT(k), jy_option_value(v), 0);
        if (ret < 0)
            report(ld, v, "invalid value '%s' for option '%s' of %s: %s",
                   jy_option_value(v), TEXT(k), s->owner, av_err2str(ret));
    }
}

const AVCodec *jl_find_encoder(Loader *ld, const yaml_node_t *n, const char *name,
                               enum AVMediaType type, const char *user)
{
    const AVCodec *c = avcodec_find_encoder_by_name(name);

    if (!c) {
        report(ld, n, "unknown encoder '%s' (see ffmpeg -encoders)", name);
        return NULL;
    }
    if (c->type != type) {
        const char *is = av_get_media_type_string(c->type);
        const char *want = av_get_media_type_string(type);
        report(ld, n, "'%s' is %s %s encoder, %s needs %s %s encoder", name,
               *is == 'a' ? "an" : "a", is, user, *want == 'a' ? "an" : "a", want);
        return NULL;
    }
    return c;
}

/* The encoder's options: its private class and the generic codec options
 * meant for encoding that media type; values are tried on a scratch
 * context (allocating one opens no device). */
void jl_check_encoder_options(Loader *ld, const yaml_node_t *opts,
                              const AVCodec *codec)
{
    int media = codec->type == AVMEDIA_TYPE_VIDEO ? AV_OPT_FLAG_VIDEO_PARAM
                                                  : AV_OPT_FLAG_AUDIO_PARAM;
    AVCodecContext *ctx;
    char owner[96];

    if (!opts)
        return;
    ctx = avcodec_alloc_context3(codec);
    if (!ctx) {
        ld->enomem = 1;
        return;
    }
    snprintf(owner, sizeof(owner), "encoder '%s'", codec->name);
    {
        const OptScope scopes[] = {
            { codec->priv_class, AV_OPT_FLAG_ENCODING_PARAM | media, ctx->priv_data, owner },
            { avcodec_get_class(), AV_OPT_FLAG_ENCODING_PARAM | media, ctx, owner },
        };
        check_options(ld, opts, scopes, 2, 0);
    }
    avcodec_free_context(&ctx);
}

/* ------------------------------------------------------------------------ */
/* Filter graphs                                                            */

/*
 * avfilter_graph_parse2() answers EINVAL for a filter that does not exist
 * and logs its name. To put the name in our message (and keep libav from
 * logging during a check), the graph text is walked first the way
 * libavfilter's parser does (labels, name, '=' arguments, ',' or ';'):
 * returns the first name that is not a filter (av_malloc'd), or NULL.
 */
static char *unknown_filter_in(const char *graph)
{
    const char *p = graph;

    while (*p) {
        char *name, *args, *at;

        p += strspn(p, " \t\r\n,;");
        while (*p == '[') {                 /* input labels */
            const char *end = strchr(p, ']');
            if (!end)
                return NULL;
            p = end + 1;
            p += strspn(p, " \t\r\n");
        }
        if (!*p)
            break;
        name = av_get_token(&p, "=,;[");
        if (!name)
            return NULL;
        if (*p == '=') {
            p++;
            args = av_get_token(&p, "[],;");
            av_free(args);
        }
        at = strchr(name, '@');             /* "scale@main" names an instance */
        if (at)
            *at = 0;
        if (*name && strcmp(name, "sws_flags") && !avfilter_get_by_name(name))
            return name;
        av_free(name);
        while (*p == '[' || *p == ' ') {    /* output labels */
            const char *end = *p == '[' ? strchr(p, ']') : p;
            if (!end)
                return NULL;
            p = end + 1;
        }
    }
    return NULL;
}

static int count_inout(const AVFilterInOut *io)
{
    int n = 0;

    for (; io; io = io->next)
        n++;
    return n;
}

/*
 * The input's filter must be one video chain: parsed in a scratch graph,
 * exactly one unconnected input (the decoded frames) and one unconnected
 * output (to the ladder), both video. what is "filter preset 'x'" or
 * "filter graph '...'".
 */
static void check_graph(Loader *ld, const yaml_node_t *n, const char *graph,
                        const char *what)
{
    AVFilterGraph *g;
    AVFilterInOut *ins = NULL, *outs = NULL;
    char *bad = unknown_filter_in(graph);
    int ret, nb_in, nb_out;

    if (bad) {
        report(ld, n, "%s names an unknown filter '%s' (see ffmpeg -filters)", what, bad);
        av_free(bad);
        return;
    }
    g = avfilter_graph_alloc();
    if (!g) {
        ld->enomem = 1;
        return;
    }
    ret = avfilter_graph_parse2(g, graph, &ins, &outs);
    if (ret < 0) {
        report(ld, n, "%s does not parse: %s", what, av_err2str(ret));
        goto end;
    }
    nb_in = count_inout(ins);
    nb_out = count_inout(outs);
    if (nb_in != 1 || nb_out != 1) {
        report(ld, n, "%s must have exactly one unconnected input and one unconnected "
               "output, it has %d and %d", what, nb_in, nb_out);
        goto end;
    }
    if (avfilter_pad_get_type(ins->filter_ctx->input_pads, ins->pad_idx) != AVMEDIA_TYPE_VIDEO ||
        avfilter_pad_get_type(outs->filter_ctx->output_pads, outs->pad_idx) != AVMEDIA_TYPE_VIDEO)
        report(ld, n, "%s must take and give video", what);
end:
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    avfilter_graph_free(&g);
}

/*
 * "filter": a preset name ([a-z0-9_-]+, found by preset_load) or an inline
 * graph. A name-shaped word that is no preset may still be a graph of one
 * filter ("hflip"); if it is not a filter either, it was meant as a preset.
 */
void jl_load_filter(Loader *ld, const yaml_node_t *map, JobInput *in)
{
    yaml_node_t *n = jy_map_get(ld, map, "filter");
    char what[160];
    char *graph = NULL;
    const char *s;
    int ret;

    if (!n || jy_get_string(ld, map, "filter", &graph) <= 0)
        return;
    s = graph;
    if (preset_name_valid(s)) {
        char *text = NULL;
        ret = preset_load(s, &text);
        if (ret >= 0) {
            in->filter_name = graph;
            in->filter = jy_strdup(ld, text);
            av_free(text);
            snprintf(what, sizeof(what), "filter preset '%s'", s);
            if (in->filter)
                check_graph(ld, n, in->filter, what);
            return;
        }
        if (ret == AVERROR_INVALIDDATA) {
            report(ld, n, "filter preset '%s' is empty", s);
            goto fail;
        }
        if (ret != AVERROR(ENOENT)) {
            report(ld, n, "cannot read filter preset '%s': %s", s, av_err2str(ret));
            goto fail;
        }
        if (!avfilter_get_by_name(s)) {
            report(ld, n, "unknown filter preset '%s' (no %s.graph in the preset "
                   "directories, and no libavfilter filter of that name)", s, s);
            goto fail;
        }
    }
    in->filter = graph;
    snprintf(what, sizeof(what), "filter graph '%s'", s);
    check_graph(ld, n, s, what);
    return;
fail:
    av_free(graph);
}

/* ------------------------------------------------------------------------ */
/* Inputs, audio, outputs                                                   */

/* Demuxer options: the demuxer's (when named), the generic ones, and the
 * protocol's. With no format named, an option that some demuxer has is
 * taken on trust: the probe decides which demuxer reads it. */
void jl_check_input_options(Loader *ld, const yaml_node_t *opts,
                            const AVInputFormat *ifmt, const AVClass *proto,
                            const char *proto_name)
{
    AVFormatContext *ctx;
    char owner[96], proto_owner[64];

    if (!opts)
        return;
    ctx = avformat_alloc_context();
    if (!ctx) {
        ld->enomem = 1;
        return;
    }
    snprintf(proto_owner, sizeof(proto_owner), "protocol '%s'", proto_name ? proto_name : "");
    if (ifmt) {
        /* the demuxer's private context only exists once opened: its
         * option values cannot be tried here */
        const OptScope scopes[] = {
            { ifmt->priv_class, AV_OPT_FLAG_DECODING_PARAM, NULL, owner },
            { avformat_get_class(), AV_OPT_FLAG_DECODING_PARAM, ctx, owner },
            { proto, 0, NULL, proto_owner },
        };
        snprintf(owner, sizeof(owner), "demuxer '%s'", ifmt->name);
        check_options(ld, opts, scopes, 3, proto_name ? OPT_URL : 0);
    } else {
        /* the protocol last: check_options names it */
        const OptScope scopes[] = {
            { avformat_get_class(), AV_OPT_FLAG_DECODING_PARAM, ctx, "the input" },
            { proto, 0, NULL, proto_owner },
        };
        check_options(ld, opts, scopes, 2, OPT_PROBED | (proto_name ? OPT_URL : 0));
    }
    avformat_free_context(ctx);
}

/* Sample rates and channel counts the encoder declares (when it does). */
void jl_check_audio_params(Loader *ld, const yaml_node_t *map, const AVCodec *c,
                           const JobAudio *a)
{
    AVBPrint bp;
    int ok;

    if (a->sample_rate && c->supported_samplerates) {
        ok = 0;
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
        for (const int *r = c->supported_samplerates; *r; r++) {
            ok |= *r == a->sample_rate;
            av_bprintf(&bp, "%s%d", r == c->supported_samplerates ? "" : ", ", *r);
        }
        if (!ok)
            report(ld, jy_map_get(ld, map, "sample_rate"),
                   "encoder '%s' cannot encode at %d Hz (it takes: %s)",
                   c->name, a->sample_rate, bp.str);
        av_bprint_finalize(&bp, NULL);
    }
    if (a->channels && c->ch_layouts) {
        int seen[CHANNELS_MAX + 1] = { 0 };
        ok = 0;
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_AUTOMATIC);
        for (const AVChannelLayout *l = c->ch_layouts; l->nb_channels; l++) {
            ok |= l->nb_channels == a->channels;
            if (l->nb_channels <= CHANNELS_MAX && !seen[l->nb_channels]++)
                av_bprintf(&bp, "%s%d", bp.len ? ", " : "", l->nb_channels);
        }
        if (!ok)
            report(ld, jy_map_get(ld, map, "channels"),
                   "encoder '%s' cannot encode %d channels (it takes: %s)",
                   c->name, a->channels, bp.str);
        av_bprint_finalize(&bp, NULL);
    }
}

/* Muxer options: the muxer's, the generic ones, and the protocol's. Values
 * are tried on a scratch output context. */
void jl_check_output_options(Loader *ld, const yaml_node_t *opts,
                             const AVOutputFormat *ofmt, const AVClass *proto,
                             const char *proto_name)
{
    AVFormatContext *ctx = NULL;
    char owner[96], proto_owner[64];

    if (!opts)
        return;
    if (avformat_alloc_output_context2(&ctx, ofmt, NULL, NULL) < 0) {
        ld->enomem = 1;
        return;
    }
    snprintf(owner, sizeof(owner), "muxer '%s'", ofmt->name);
    snprintf(proto_owner, sizeof(proto_owner), "protocol '%s'", proto_name ? proto_name : "");
    {
        const OptScope scopes[] = {
            { ofmt->priv_class, AV_OPT_FLAG_ENCODING_PARAM, ctx->priv_data, owner },
            { avformat_get_class(), AV_OPT_FLAG_ENCODING_PARAM, ctx, owner },
            { proto, 0, NULL, proto_owner },
        };
        check_options(ld, opts, scopes, 3, proto_name ? OPT_URL : 0);
    }
    avformat_free_context(ctx);
}

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */

static pthread_once_t register_once = PTHREAD_ONCE_INIT;

static void register_devices(void)
{
    /* lavfi (and v4l2, decklink, ...) are devices: unknown until registered */
    avdevice_register_all();
}

void jl_register_devices(void)
{
    pthread_once(&register_once, register_devices);
}
