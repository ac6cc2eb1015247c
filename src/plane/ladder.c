/*
 * ladder.c: the filter ladder stage; see ladder.h.
 */
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/bprint.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>

#include "plane/ladder.h"
#include "plane/params.h"
#include "plane/stage.h"

typedef struct Rung {
    const JobRendition *jr;
    ThreadQueue *q;              /* not owned; NULL: no encoder */
    int open;                    /* the encoder still takes frames */
    int params_sent;
    AVFilterContext *sink;       /* owned by the graph */
    int width, height;           /* fixed at the first build (0 before) */
} Rung;

struct Ladder {
    Stage st;
    const JobStream *js;
    ThreadQueue *in;             /* not owned */
    Rung *rungs;
    int nb_rungs;

    Probe probe;
    char *probe_filters;         /* NULL: nothing probed */

    /* Ladder thread only. */
    AVFilterGraph *graph;
    AVFilterContext *src;
    AVFilterContext *probe_sink; /* owned by the graph */
    int cfg_w, cfg_h, cfg_fmt;   /* the input the graph was built for */
    AVRational in_tb, frame_rate;

    _Atomic int64_t frames_in, reconfigs;
};

/* "yuv420p|nv12|..." of the software formats the encoder takes; for a
 * hardware-only encoder (VAAPI) nv12, which it uploads. */
static void encoder_formats(const char *name, AVBPrint *bp)
{
    const AVCodec *c = avcodec_find_encoder_by_name(name);
    int n = 0;

    if (c && c->pix_fmts) {
        for (const enum AVPixelFormat *p = c->pix_fmts; *p != AV_PIX_FMT_NONE; p++) {
            const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(*p);
            if (!d || (d->flags & AV_PIX_FMT_FLAG_HWACCEL))
                continue;
            av_bprintf(bp, "%s%s", n++ ? "|" : "", d->name);
        }
    }
    if (!n)
        av_bprintf(bp, "%s", c ? "nv12" : "yuv420p");
}

static void describe(Ladder *l, AVBPrint *bp)
{
    const char *pre = l->js->input.filter;

    av_bprintf(bp, "[in]");
    if (pre)
        av_bprintf(bp, "%s,", pre);
    av_bprintf(bp, "split=%d", l->nb_rungs + !!l->probe_filters);
    for (int i = 0; i < l->nb_rungs; i++)
        av_bprintf(bp, "[s%d]", i);
    if (l->probe_filters)
        av_bprintf(bp, "[sp];[sp]%s[probe]", l->probe_filters);
    for (int i = 0; i < l->nb_rungs; i++) {
        Rung *r = &l->rungs[i];
        const JobRendition *jr = r->jr;
        int w = r->width ? r->width : jr->width;
        int h = r->height ? r->height : jr->height;

        av_bprintf(bp, ";[s%d]", i);
        if (w || h)
            av_bprintf(bp, "scale=w=%d:h=%d,", w ? w : -2, h ? h : -2);
        if (jr->fps.num)
            av_bprintf(bp, "fps=fps=%d/%d,", jr->fps.num, jr->fps.den);
        av_bprintf(bp, "format=pix_fmts=");
        encoder_formats(jr->encoder, bp);
        av_bprintf(bp, "[out%d]", i);
    }
}

static int configure(Ladder *l, const AVFrame *f)
{
    AVFilterInOut *outputs = NULL, *inputs = NULL, **tail = &inputs;
    AVBPrint desc;
    char args[256];
    int ret;

    avfilter_graph_free(&l->graph);
    l->graph = avfilter_graph_alloc();
    if (!l->graph)
        return AVERROR(ENOMEM);

    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             f->width, f->height, f->format, l->in_tb.num, l->in_tb.den,
             f->sample_aspect_ratio.num, FFMAX(f->sample_aspect_ratio.den, 1));
    if (l->frame_rate.num > 0)
        av_strlcatf(args, sizeof(args), ":frame_rate=%d/%d", l->frame_rate.num, l->frame_rate.den);
    ret = avfilter_graph_create_filter(&l->src, avfilter_get_by_name("buffer"), "in",
                                       args, NULL, l->graph);
    if (ret < 0)
        return ret;

    for (int i = 0; i < l->nb_rungs; i++) {
        char name[32];
        AVFilterInOut *io;
        snprintf(name, sizeof(name), "out%d", i);
        ret = avfilter_graph_create_filter(&l->rungs[i].sink, avfilter_get_by_name("buffersink"),
                                           name, NULL, NULL, l->graph);
        if (ret < 0)
            return ret;
        io = avfilter_inout_alloc();
        if (!io)
            return AVERROR(ENOMEM);
        io->name = av_strdup(name);
        io->filter_ctx = l->rungs[i].sink;
        io->pad_idx = 0;
        *tail = io;
        tail = &io->next;
    }
    if (l->probe_filters) {
        AVFilterInOut *io;
        ret = avfilter_graph_create_filter(&l->probe_sink, avfilter_get_by_name("buffersink"),
                                           "probe", NULL, NULL, l->graph);
        if (ret < 0 || !(io = avfilter_inout_alloc())) {
            avfilter_inout_free(&inputs);
            return ret < 0 ? ret : AVERROR(ENOMEM);
        }
        io->name = av_strdup("probe");
        io->filter_ctx = l->probe_sink;
        io->pad_idx = 0;
        *tail = io;
    }
    outputs = avfilter_inout_alloc();
    if (!outputs) {
        avfilter_inout_free(&inputs);
        return AVERROR(ENOMEM);
    }
    outputs->name = av_strdup("in");
    outputs->filter_ctx = l->src;
    outputs->pad_idx = 0;

    av_bprint_init(&desc, 0, AV_BPRINT_SIZE_UNLIMITED);
    describe(l, &desc);
    av_log(l, AV_LOG_VERBOSE, "graph for %dx%d %s: %s\n", f->width, f->height,
           av_get_pix_fmt_name(f->format), desc.str);
    ret = avfilter_graph_parse_ptr(l->graph, desc.str, &inputs, &outputs, NULL);
    av_bprint_finalize(&desc, NULL);
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    if (ret < 0)
        return ret;
    ret = avfilter_graph_config(l->graph, NULL);
    if (ret < 0)
        return ret;

    for (int i = 0; i < l->nb_rungs; i++) {
        Rung *r = &l->rungs[i];
        if (!r->width) {
            r->width = av_buffersink_get_w(r->sink);
            r->height = av_buffersink_get_h(r->sink);
        }
    }
    l->cfg_w = f->width;
    l->cfg_h = f->height;
    l->cfg_fmt = f->format;
    return 0;
}

static int send_rung_params(Ladder *l, Rung *r)
{
    AVCodecParameters *par = avcodec_parameters_alloc();
    StreamParams *sp;
    int ret;

    if (!par)
        return AVERROR(ENOMEM);
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->width = av_buffersink_get_w(r->sink);
    par->height = av_buffersink_get_h(r->sink);
    par->format = av_buffersink_get_format(r->sink);
    par->sample_aspect_ratio = av_buffersink_get_sample_aspect_ratio(r->sink);
    sp = params_alloc(par, av_buffersink_get_time_base(r->sink),
                      av_buffersink_get_frame_rate(r->sink));
    avcodec_parameters_free(&par);
    if (!sp)
        return AVERROR(ENOMEM);
    ret = tq_send(r->q, TQ_PARAMS, 0, sp);
    if (ret < 0)
        params_free(&sp);
    return ret;
}

static void close_rung(Rung *r)
{
    if (r->open) {
        r->open = 0;
        tq_send_done(r->q);
    }
}

static int any_rung_open(Ladder *l)
{
    for (int i = 0; i < l->nb_rungs; i++)
        if (l->rungs[i].open)
            return 1;
    return 0;
}

/* Takes every frame the sinks have and passes it to the open rungs; the
 * probe branch's frames are read and dropped. */
static int pull(Ladder *l)
{
    if (l->probe_sink) {
        AVFrame *f = av_frame_alloc();
        if (!f)
            return AVERROR(ENOMEM);
        while (av_buffersink_get_frame(l->probe_sink, f) >= 0) {
            probe_frame(&l->probe, f, av_buffersink_get_time_base(l->probe_sink));
            av_frame_unref(f);
        }
        av_frame_free(&f);
    }

    for (int i = 0; i < l->nb_rungs; i++) {
        Rung *r = &l->rungs[i];
        for (;;) {
            AVFrame *f = av_frame_alloc();
            int ret;

            if (!f)
                return AVERROR(ENOMEM);
            ret = av_buffersink_get_frame(r->sink, f);
            if (ret < 0) {
                av_frame_free(&f);
                if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
                    return ret;
                break;
            }
            if (!r->open) {
                av_frame_free(&f);
                continue;
            }
            f->time_base = av_buffersink_get_time_base(r->sink);
            if (!r->params_sent) {
                if (send_rung_params(l, r) < 0) {
                    av_frame_free(&f);
                    close_rung(r);
                    continue;
                }
                r->params_sent = 1;
            }
            if (tq_send(r->q, TQ_FRAME, 0, f) < 0) {
                av_frame_free(&f);
                close_rung(r);
            }
        }
    }
    return 0;
}

/* Flushes the graph: what it holds comes out before it is rebuilt or the
 * stream ends. */
static int drain(Ladder *l)
{
    int ret;

    if (!l->graph)
        return 0;
    ret = av_buffersrc_add_frame(l->src, NULL);
    if (ret < 0)
        return ret;
    return pull(l);
}

static int ladder_run(void *arg)
{
    Ladder *l = arg;
    int ret, kind, index;
    void *ptr;
    StreamParams *sp;

    ret = tq_recv(l->in, &kind, &index, &ptr, -1);
    if (ret < 0) {
        ret = 0;               /* no video: nothing to do */
        goto end;
    }
    if (kind != TQ_PARAMS) {
        tq_item_free(kind, ptr);
        ret = stage_fail(&l->st, AVERROR_BUG, "video started without parameters");
        goto end;
    }
    sp = ptr;
    l->in_tb = sp->time_base;
    l->frame_rate = sp->frame_rate;
    params_free(&sp);

    while (any_rung_open(l)) {
        AVFrame *f;

        ret = tq_recv(l->in, &kind, &index, &ptr, -1);
        if (ret == AVERROR_EOF) {
            ret = drain(l);
            break;
        }
        if (kind == TQ_PARAMS) {
            sp = ptr;
            l->in_tb = sp->time_base;
            l->frame_rate = sp->frame_rate;
            params_free(&sp);
            continue;
        }
        if (kind != TQ_FRAME) {
            tq_item_free(kind, ptr);
            continue;
        }
        f = ptr;
        if (!l->graph || f->width != l->cfg_w || f->height != l->cfg_h || f->format != l->cfg_fmt) {
            if (l->graph) {
                av_log(l, AV_LOG_INFO, "input changed from %dx%d %s to %dx%d %s: rebuilding the ladder\n",
                       l->cfg_w, l->cfg_h, av_get_pix_fmt_name(l->cfg_fmt),
                       f->width, f->height, av_get_pix_fmt_name(f->format));
                atomic_fetch_add(&l->reconfigs, 1);
                if ((ret = drain(l)) < 0) {
                    av_frame_free(&f);
                    stage_fail(&l->st, ret, "draining the ladder failed");
                    break;
                }
            }
            ret = configure(l, f);
            if (ret < 0) {
                av_frame_free(&f);
                stage_fail(&l->st, ret, "cannot build the ladder for %dx%d %s", f->width,
                           f->height, av_get_pix_fmt_name(f->format));
                break;
            }
        }
        atomic_fetch_add(&l->frames_in, 1);
        ret = av_buffersrc_add_frame_flags(l->src, f, 0);
        av_frame_free(&f);
        if (ret < 0) {
            stage_fail(&l->st, ret, "the ladder refused a frame");
            break;
        }
        ret = pull(l);
        if (ret < 0) {
            stage_fail(&l->st, ret, "filtering failed");
            break;
        }
    }

end:
    tq_recv_done(l->in);
    for (int i = 0; i < l->nb_rungs; i++)
        close_rung(&l->rungs[i]);
    avfilter_graph_free(&l->graph);
    return ret;
}

int ladder_alloc(Ladder **pl, const JobStream *js, ThreadQueue *in,
                 ThreadQueue **enc_q, ProbeFailure content_fail, void *opaque,
                 EventLog *events)
{
    Ladder *l = av_mallocz(sizeof(*l));

    *pl = NULL;
    if (!l)
        return AVERROR(ENOMEM);
    stage_init(&l->st, js->name, "ladder", events, ladder_run);
    l->js = js;
    l->in = in;
    l->nb_rungs = js->nb_renditions;
    probe_init(&l->probe, &js->input, content_fail, opaque);
    l->probe.silence_us = 0;     /* audio: the audio encoder stage's */
    l->probe_filters = probe_video_filters(&l->probe);
    l->rungs = av_calloc(l->nb_rungs, sizeof(*l->rungs));
    if (!l->rungs) {
        ladder_free(&l);
        return AVERROR(ENOMEM);
    }
    for (int i = 0; i < l->nb_rungs; i++) {
        l->rungs[i].jr = &js->renditions[i];
        l->rungs[i].q = enc_q[i];
        l->rungs[i].open = enc_q[i] != NULL;
    }
    *pl = l;
    return 0;
}

void ladder_free(Ladder **pl)
{
    Ladder *l = *pl;

    if (!l)
        return;
    av_freep(&l->rungs);
    av_freep(&l->probe_filters);
    stage_uninit(&(*pl)->st);
    av_freep(pl);
}

int ladder_start(Ladder *l)
{
    return stage_start(&l->st);
}

int ladder_join(Ladder *l)
{
    return stage_join(&l->st);
}

void ladder_stats(Ladder *l, LadderStats *s)
{
    s->frames_in = atomic_load(&l->frames_in);
    s->reconfigs = atomic_load(&l->reconfigs);
}
