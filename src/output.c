/*
 * output.c: the output stage (muxer); see output.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "deadline.h"
#include "output.h"
#include "params.h"
#include "redact.h"
#include "stage.h"

/* Packets held while waiting for every input's parameters; an input that
 * takes longer than this to start is given up. */
#define OUT_PREMUX_MAX 2048
/* How far apart the streams may drift in the interleaving queue before
 * lavf writes anyway: bounds the delay an input that died leaves behind. */
#define OUT_MAX_INTERLEAVE_US (2 * 1000000)

enum InState { IN_WAITING, IN_PRESENT, IN_ABSENT, IN_ENDED };

typedef struct OutInput {
    int is_audio;
    const char *name;            /* rendition name, or "audio" */
    enum InState state;
    StreamParams *sp;
    int streams[32];             /* AVStream indices fed by this input */
    int nb_streams;
} OutInput;

struct Output {
    Stage st;
    const JobStream *js;
    const JobOutput *jo;
    ThreadQueue *in;             /* not owned */
    Deadline dl;
    OutInput *inputs;
    int nb_inputs;

    /* Output thread only. */
    AVFormatContext *oc;
    int header_written;
    int multivariant;            /* HLS with several renditions */
    AVPacket **premux;
    int nb_premux;
    char shown[512];             /* redacted url */

    _Atomic int64_t packets, bytes, last_pts_us, write_us_last, write_us_max;
    _Atomic int opened;
};

int output_nb_inputs(const JobOutput *jo, int has_audio)
{
    return jo->nb_renditions + !!has_audio;
}

int output_wants_global_header(const JobOutput *jo)
{
    const AVOutputFormat *f = av_guess_format(jo->format, NULL, NULL);
    return f && (f->flags & AVFMT_GLOBALHEADER);
}

static int is_local(const char *url)
{
    const char *proto = avio_find_protocol_name(url);
    return !proto || !strcmp(proto, "file");
}

/* mkdir -p of the directory part of a local path. */
static int make_parent_dirs(const char *url)
{
    char path[4096];
    char *p;

    if (!strncmp(url, "file:", 5))
        url += 5;
    if (av_strlcpy(path, url, sizeof(path)) >= sizeof(path))
        return AVERROR(ENAMETOOLONG);
    p = strrchr(path, '/');
    if (!p || p == path)
        return 0;
    *p = 0;
    for (p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0777) < 0 && errno != EEXIST)
            return AVERROR(errno);
        *p = '/';
    }
    if (mkdir(path, 0777) < 0 && errno != EEXIST)
        return AVERROR(errno);
    return 0;
}

/* "dir/" of a url or path, "" when none. */
static void dir_of(const char *url, char *buf, size_t size)
{
    const char *slash = strrchr(url, '/');
    size_t n = slash ? (size_t)(slash - url + 1) : 0;
    if (n >= size)
        n = size - 1;
    memcpy(buf, url, n);
    buf[n] = 0;
}

static int premux_push(Output *out, AVPacket *pkt)
{
    if (out->nb_premux >= OUT_PREMUX_MAX)
        return AVERROR(ENOSPC);
    if (!out->premux) {
        out->premux = av_calloc(OUT_PREMUX_MAX, sizeof(*out->premux));
        if (!out->premux)
            return AVERROR(ENOMEM);
    }
    out->premux[out->nb_premux++] = pkt;
    return 0;
}

static void premux_clear(Output *out)
{
    for (int i = 0; i < out->nb_premux; i++)
        av_packet_free(&out->premux[i]);
    out->nb_premux = 0;
    av_freep(&out->premux);
}

static int add_stream(Output *out, OutInput *in)
{
    AVStream *st = avformat_new_stream(out->oc, NULL);
    int ret;

    if (!st)
        return AVERROR(ENOMEM);
    ret = avcodec_parameters_copy(st->codecpar, in->sp->par);
    if (ret < 0)
        return ret;
    st->codecpar->codec_tag = 0;
    st->time_base = in->sp->time_base;
    if (!in->is_audio && in->sp->frame_rate.num > 0) {
        st->avg_frame_rate = in->sp->frame_rate;
        st->r_frame_rate = in->sp->frame_rate;
    }
    in->streams[in->nb_streams++] = st->index;
    return 0;
}

/* Creates the streams: for a multivariant HLS output, each variant gets a
 * video stream and its own copy of the audio; else one stream per input.
 * An output exists to carry video: with none of its renditions started it
 * fails rather than go on with audio alone. */
static int create_streams(Output *out, AVBPrint *vsm)
{
    OutInput *audio = NULL;
    int nv = 0, ret;

    for (int i = 0; i < out->nb_inputs; i++)
        if (out->inputs[i].is_audio && out->inputs[i].state == IN_PRESENT)
            audio = &out->inputs[i];

    for (int i = 0; i < out->nb_inputs; i++) {
        OutInput *in = &out->inputs[i];
        if (in->is_audio || in->state != IN_PRESENT)
            continue;
        if ((ret = add_stream(out, in)) < 0)
            return ret;
        if (out->multivariant) {
            av_bprintf(vsm, "%sv:%d", nv ? " " : "", nv);
            if (audio) {
                if ((ret = add_stream(out, audio)) < 0)
                    return ret;
                av_bprintf(vsm, ",a:%d", audio->nb_streams - 1);
            }
            av_bprintf(vsm, ",name:%s", in->name);
        }
        nv++;
    }
    if (!nv)
        return AVERROR_STREAM_NOT_FOUND;
    if (audio && !out->multivariant)
        return add_stream(out, audio);
    return 0;
}

static int open_output(Output *out)
{
    const JobOutput *jo = out->jo;
    const AVOutputFormat *fmt = av_guess_format(jo->format, NULL, NULL);
    AVDictionary *opts = NULL;
    const AVDictionaryEntry *e = NULL;
    AVBPrint vsm;
    char filename[4096];
    int ret, nv = 0, na = 0;

    av_bprint_init(&vsm, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!fmt) {
        ret = stage_fail(&out->st, AVERROR_MUXER_NOT_FOUND, "unknown output format '%s'", jo->format);
        goto end;
    }
    out->multivariant = !strcmp(fmt->name, "hls") && jo->nb_renditions > 1;
    av_strlcpy(filename, jo->url, sizeof(filename));
    av_dict_copy(&opts, jo->options, 0);
    if (out->multivariant) {
        char dir[4096];
        const char *base = strrchr(jo->url, '/');
        dir_of(jo->url, dir, sizeof(dir));
        snprintf(filename, sizeof(filename), "%s%%v.m3u8", dir);
        if (!av_dict_get(opts, "master_pl_name", NULL, 0))
            av_dict_set(&opts, "master_pl_name", base ? base + 1 : jo->url, 0);
        if (!av_dict_get(opts, "hls_segment_filename", NULL, 0)) {
            char seg[4096];
            const AVDictionaryEntry *t = av_dict_get(opts, "hls_segment_type", NULL, 0);
            snprintf(seg, sizeof(seg), "%s%%v_%%05d.%s", dir, t && !strcmp(t->value, "fmp4") ? "m4s" : "ts");
            av_dict_set(&opts, "hls_segment_filename", seg, 0);
        }
    }

    ret = avformat_alloc_output_context2(&out->oc, fmt, NULL, filename);
    if (ret < 0) {
        stage_fail(&out->st, ret, "cannot create the %s muxer", fmt->name);
        goto end;
    }
    out->oc->interrupt_callback = dl_callback(&out->dl);
    out->oc->max_interleave_delta = OUT_MAX_INTERLEAVE_US;

    ret = create_streams(out, &vsm);
    if (ret < 0) {
        stage_fail(&out->st, ret, "nothing to write: none of the output's video renditions started");
        goto end;
    }
    for (unsigned i = 0; i < out->oc->nb_streams; i++) {
        if (out->oc->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
            nv++;
        else
            na++;
    }
    if (out->multivariant && !av_dict_get(opts, "var_stream_map", NULL, 0))
        av_dict_set(&opts, "var_stream_map", vsm.str, 0);
    if (!strcmp(fmt->name, "flv") && !av_dict_get(opts, "flvflags", NULL, 0))
        av_dict_set(&opts, "flvflags", "no_duration_filesize", 0);
    if (!is_local(jo->url) && !av_dict_get(opts, "rw_timeout", NULL, 0))
        av_dict_set_int(&opts, "rw_timeout", jo->rw_timeout_us, 0);

    if (is_local(jo->url) && (ret = make_parent_dirs(filename)) < 0) {
        stage_fail(&out->st, ret, "cannot create the directory of %s", out->shown);
        goto end;
    }
    if (!(fmt->flags & AVFMT_NOFILE)) {
        dl_arm(&out->dl, jo->rw_timeout_us);
        ret = avio_open2(&out->oc->pb, filename, AVIO_FLAG_WRITE, &out->oc->interrupt_callback, &opts);
        dl_disarm(&out->dl);
        if (ret < 0) {
            stage_fail(&out->st, ret, "cannot open %s%s", out->shown,
                       dl_expired(&out->dl) ? " (no answer within rw_timeout)" : "");
            goto end;
        }
    }
    dl_arm(&out->dl, jo->rw_timeout_us);
    ret = avformat_write_header(out->oc, &opts);
    dl_disarm(&out->dl);
    if (ret < 0) {
        stage_fail(&out->st, ret, "cannot start %s %s%s", fmt->name, out->shown,
                   dl_expired(&out->dl) ? " (no answer within rw_timeout)" : "");
        goto end;
    }
    out->header_written = 1;
    atomic_store(&out->opened, 1);
    while ((e = av_dict_get(opts, "", e, AV_DICT_IGNORE_SUFFIX)))
        av_log(out, AV_LOG_WARNING, "output option '%s' was not used\n", e->key);
    stage_event(&out->st, EV_START, "%s output %s opened (%d video, %d audio stream%s)",
                fmt->name, out->shown, nv, na, na == 1 ? "" : "s");
    ret = 0;
end:
    av_bprint_finalize(&vsm, NULL);
    av_dict_free(&opts);
    return ret;
}

/* Writes pkt (consumed) to every stream its input feeds. */
static int write_packet(Output *out, AVPacket *pkt)
{
    OutInput *in = &out->inputs[pkt->stream_index];
    int ret = 0;

    if (in->state != IN_PRESENT || !in->nb_streams) {
        av_packet_free(&pkt);
        return 0;
    }
    if (pkt->pts != AV_NOPTS_VALUE)
        atomic_store(&out->last_pts_us, av_rescale_q(pkt->pts, pkt->time_base, AV_TIME_BASE_Q));
    for (int i = 0; i < in->nb_streams && ret >= 0; i++) {
        AVStream *st = out->oc->streams[in->streams[i]];
        AVPacket *p = i == in->nb_streams - 1 ? pkt : av_packet_clone(pkt);
        int64_t t0, dt;

        if (!p) {
            ret = AVERROR(ENOMEM);
            break;
        }
        if (p == pkt)
            pkt = NULL;
        av_packet_rescale_ts(p, p->time_base, st->time_base);
        p->time_base = st->time_base;
        p->stream_index = st->index;
        atomic_fetch_add(&out->packets, 1);
        atomic_fetch_add(&out->bytes, p->size);

        t0 = av_gettime_relative();
        dl_arm(&out->dl, out->jo->rw_timeout_us);
        ret = av_interleaved_write_frame(out->oc, p);   /* takes p's reference */
        dl_disarm(&out->dl);
        dt = av_gettime_relative() - t0;
        av_packet_free(&p);
        atomic_store(&out->write_us_last, dt);
        if (dt > atomic_load(&out->write_us_max))
            atomic_store(&out->write_us_max, dt);
    }
    av_packet_free(&pkt);
    return ret;
}

static void close_output(Output *out)
{
    if (!out->oc)
        return;
    if (out->header_written) {
        int ret;
        dl_arm(&out->dl, out->jo->rw_timeout_us);
        ret = av_write_trailer(out->oc);
        dl_disarm(&out->dl);
        if (ret < 0)
            av_log(out, AV_LOG_ERROR, "writing the trailer failed: %s\n", av_err2str(ret));
    }
    if (!(out->oc->oformat->flags & AVFMT_NOFILE))
        avio_closep(&out->oc->pb);
    avformat_free_context(out->oc);
    out->oc = NULL;
}

static int all_resolved(Output *out)
{
    for (int i = 0; i < out->nb_inputs; i++)
        if (out->inputs[i].state == IN_WAITING)
            return 0;
    return 1;
}

static int output_run(void *arg)
{
    Output *out = arg;
    int ret = 0, kind, index;
    void *ptr;

    /* 1. wait until every input said what it is, or that it is absent */
    while (!all_resolved(out)) {
        OutInput *in;
        ret = tq_recv(out->in, &kind, &index, &ptr, -1);
        if (ret == AVERROR_EOF) {
            for (int i = 0; i < out->nb_inputs; i++)
                if (out->inputs[i].state == IN_WAITING)
                    out->inputs[i].state = IN_ABSENT;
            break;
        }
        if (index < 0 || index >= out->nb_inputs) {
            tq_item_free(kind, ptr);
            continue;
        }
        in = &out->inputs[index];
        if (kind == TQ_PARAMS && in->state == IN_WAITING) {
            in->sp = ptr;
            in->state = IN_PRESENT;
        } else if (kind == TQ_END) {
            in->state = in->state == IN_WAITING ? IN_ABSENT : IN_ENDED;
        } else if (kind == TQ_PACKET) {
            AVPacket *pkt = ptr;
            pkt->stream_index = index;
            if ((ret = premux_push(out, pkt)) < 0) {
                av_packet_free(&pkt);
                stage_fail(&out->st, ret, "an input did not start in time");
                goto end;
            }
        } else {
            tq_item_free(kind, ptr);
        }
    }

    ret = open_output(out);
    if (ret < 0)
        goto end;
    for (int i = 0; i < out->nb_premux && ret >= 0; i++) {
        ret = write_packet(out, out->premux[i]);
        out->premux[i] = NULL;
    }
    premux_clear(out);

    /* 2. the packets, until every input has ended */
    while (ret >= 0) {
        ret = tq_recv(out->in, &kind, &index, &ptr, -1);
        if (ret == AVERROR_EOF) {
            ret = 0;
            break;
        }
        if (index < 0 || index >= out->nb_inputs) {
            tq_item_free(kind, ptr);
            continue;
        }
        if (kind == TQ_PACKET) {
            AVPacket *pkt = ptr;
            pkt->stream_index = index;
            ret = write_packet(out, pkt);
        } else if (kind == TQ_END) {
            out->inputs[index].state = IN_ENDED;
        } else {
            tq_item_free(kind, ptr);     /* new parameters: the switch issue */
        }
    }
    if (ret < 0)
        stage_fail(&out->st, ret, "writing to %s failed%s", out->shown,
                   dl_expired(&out->dl) ? " (no answer within rw_timeout)" : "");

end:
    /* nothing more is wanted: the encoders stop feeding this output */
    tq_recv_done(out->in);
    premux_clear(out);
    close_output(out);
    if (ret >= 0)
        stage_event(&out->st, EV_END, "output %s closed: %lld packets, %lld bytes", out->shown,
                    (long long)atomic_load(&out->packets), (long long)atomic_load(&out->bytes));
    return ret;
}

int output_alloc(Output **pout, const JobStream *js, const JobOutput *jo, int has_audio,
                 ThreadQueue *in, EventLog *events)
{
    Output *out = av_mallocz(sizeof(*out));
    char comp[48];

    *pout = NULL;
    if (!out)
        return AVERROR(ENOMEM);
    snprintf(comp, sizeof(comp), "out:%s", jo->name);
    stage_init(&out->st, js->name, comp, events, output_run);
    out->js = js;
    out->jo = jo;
    out->in = in;
    dl_init(&out->dl, NULL);
    redact_url(jo->url, out->shown, sizeof(out->shown));
    out->nb_inputs = output_nb_inputs(jo, has_audio);
    out->inputs = av_calloc(out->nb_inputs, sizeof(*out->inputs));
    if (!out->inputs) {
        output_free(&out);
        return AVERROR(ENOMEM);
    }
    for (int i = 0; i < jo->nb_renditions; i++)
        out->inputs[i].name = js->renditions[jo->renditions[i]].name;
    if (has_audio) {
        out->inputs[jo->nb_renditions].is_audio = 1;
        out->inputs[jo->nb_renditions].name = "audio";
    }
    *pout = out;
    return 0;
}

void output_free(Output **pout)
{
    Output *out = *pout;

    if (!out)
        return;
    for (int i = 0; i < out->nb_inputs; i++)
        params_free(&out->inputs[i].sp);
    av_freep(&out->inputs);
    av_freep(pout);
}

int output_start(Output *out)
{
    return stage_start(&out->st);
}

int output_join(Output *out)
{
    return stage_join(&out->st);
}

void output_stats(Output *out, OutputStats *s)
{
    s->packets = atomic_load(&out->packets);
    s->bytes = atomic_load(&out->bytes);
    s->last_pts_us = atomic_load(&out->last_pts_us);
    s->write_us_last = atomic_load(&out->write_us_last);
    s->write_us_max = atomic_load(&out->write_us_max);
    s->opened = atomic_load(&out->opened);
}
