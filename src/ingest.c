/*
 * ingest.c: open, demux, rebase, pace, feed the decoders; see ingest.h.
 */
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "deadline.h"
#include "ingest.h"
#include "params.h"
#include "redact.h"
#include "stage.h"

/* A jump of the input's timestamps larger than this (either way) is a
 * discontinuity (publisher restart, clock step), absorbed by rebasing.
 * ffmpeg's dts_delta_threshold default, for the same reason. */
#define INGEST_DISCONT_US  (10 * 1000000LL)
/* Pacing sleeps in slices this long so that a stop is honoured at once. */
#define INGEST_PACE_SLICE_US 20000
/* find_stream_info may read this much longer than one rw_timeout on a live
 * input that starts slowly. */
#define INGEST_PROBE_EXTRA_US (5 * 1000000LL)

enum { BR_VIDEO, BR_AUDIO, NB_BRANCHES };

struct Ingest {
    Stage st;
    const JobStream *js;
    ThreadQueue *q[NB_BRANCHES];     /* not owned; NULL: branch unused */
    const _Atomic int *stop;
    StreamClock *clock;          /* not owned: started by the first packet */
    Deadline dl;

    /* Thread-local to the ingest thread. */
    int src_index[NB_BRANCHES];      /* input stream index per branch, -1 */
    int open[NB_BRANCHES];           /* still feeding this branch */
    int64_t offset_us;               /* added to every timestamp */
    int64_t last_dts_us;             /* rebased, AV_NOPTS_VALUE before the first */
    int64_t pace_origin_us;          /* media time of the first paced packet */
    int64_t pace_wall_us;            /* wall time when it was read */

    /* Stats, written by the ingest thread, read by anyone. */
    _Atomic int64_t packets, bytes, last_packet_us, discontinuities;
};

static int is_listener(const JobInput *ji)
{
    const AVDictionaryEntry *e = av_dict_get(ji->options, "listen", NULL, 0);
    const AVDictionaryEntry *m = av_dict_get(ji->options, "mode", NULL, 0);

    if (e && strcmp(e->value, "0"))
        return 1;
    if (m && !strcmp(m->value, "listener"))
        return 1;
    return strstr(ji->url, "listen=1") || strstr(ji->url, "mode=listener") ||
           av_stristr(ji->url, "?listen");
}

static int is_network(const char *url, const char *format)
{
    const char *proto;

    if (format && !strcmp(format, "lavfi"))
        return 0;
    proto = avio_find_protocol_name(url);
    return proto && strcmp(proto, "file") && strcmp(proto, "pipe") &&
           strcmp(proto, "fd") && strcmp(proto, "data");
}

/* Waits until the packet's media time is due (ffmpeg -re). Returns 1 when a
 * stop came while waiting. */
static int pace(Ingest *in, int64_t dts_us)
{
    int64_t due;

    if (in->pace_wall_us == AV_NOPTS_VALUE) {
        in->pace_wall_us = av_gettime_relative();
        in->pace_origin_us = dts_us;
        return 0;
    }
    due = in->pace_wall_us + (dts_us - in->pace_origin_us);
    for (;;) {
        int64_t now = av_gettime_relative();
        if (atomic_load(in->stop))
            return 1;
        if (now >= due)
            return 0;
        av_usleep(FFMIN(due - now, INGEST_PACE_SLICE_US));
    }
}

/* Moves the packet onto the stream's timeline: offset, and a jump of the
 * input's clock absorbed so that the timeline goes on from where it was. */
static void rebase(Ingest *in, AVPacket *pkt, const AVStream *st)
{
    int64_t off = av_rescale_q(in->offset_us, AV_TIME_BASE_Q, st->time_base);
    int64_t dts_us;

    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts += off;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts += off;
    if (pkt->dts == AV_NOPTS_VALUE)
        return;

    dts_us = av_rescale_q(pkt->dts, st->time_base, AV_TIME_BASE_Q);
    if (in->last_dts_us != AV_NOPTS_VALUE &&
        (dts_us < in->last_dts_us - INGEST_DISCONT_US ||
         dts_us > in->last_dts_us + INGEST_DISCONT_US)) {
        int64_t delta = in->last_dts_us - dts_us;
        int64_t d = av_rescale_q(delta, AV_TIME_BASE_Q, st->time_base);
        in->offset_us += delta;
        pkt->dts += d;
        if (pkt->pts != AV_NOPTS_VALUE)
            pkt->pts += d;
        dts_us += delta;
        atomic_fetch_add(&in->discontinuities, 1);
        av_log(in, AV_LOG_WARNING, "input timestamps jumped by %.3f s; "
               "the stream's timeline goes on without the jump\n", -delta / 1e6);
        /* pacing follows the new timeline */
        in->pace_wall_us = AV_NOPTS_VALUE;
    }
    if (in->last_dts_us == AV_NOPTS_VALUE || dts_us > in->last_dts_us)
        in->last_dts_us = dts_us;
}

static void close_branch(Ingest *in, int b)
{
    if (in->q[b] && in->open[b]) {
        tq_send_done(in->q[b]);
        in->open[b] = 0;
    }
}

static int ingest_run(void *arg)
{
    Ingest *in = arg;
    const JobInput *ji = &in->js->input;
    const AVInputFormat *fmt = NULL;
    AVFormatContext *ic = NULL;
    AVDictionary *opts = NULL;
    const AVDictionaryEntry *e = NULL;
    char shown[512];
    int ret, listener = is_listener(ji);

    redact_url(ji->url, shown, sizeof(shown));
    for (int b = 0; b < NB_BRANCHES; b++) {
        in->src_index[b] = -1;
        in->open[b] = in->q[b] != NULL;
    }

    if (ji->format && !(fmt = av_find_input_format(ji->format))) {
        ret = stage_fail(&in->st, AVERROR_DEMUXER_NOT_FOUND, "unknown input format '%s'", ji->format);
        goto end;
    }
    ic = avformat_alloc_context();
    if (!ic) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    ic->interrupt_callback = dl_callback(&in->dl);
    av_dict_copy(&opts, ji->options, 0);
    if (is_network(ji->url, ji->format) && !av_dict_get(opts, "rw_timeout", NULL, 0) && !listener)
        av_dict_set_int(&opts, "rw_timeout", ji->rw_timeout_us, 0);

    /* A listener waits for its publisher as long as it takes; anything else
     * must answer within rw_timeout. */
    if (listener)
        dl_disarm(&in->dl);
    else
        dl_arm(&in->dl, ji->rw_timeout_us);
    ret = avformat_open_input(&ic, ji->url, fmt, &opts);
    dl_disarm(&in->dl);
    if (ret < 0) {
        if (atomic_load(in->stop)) {
            ret = 0;
            goto end;
        }
        stage_fail(&in->st, ret, "cannot open input %s%s", shown,
                   dl_expired(&in->dl) ? " (no answer within rw_timeout)" : "");
        goto end;
    }
    while ((e = av_dict_get(opts, "", e, AV_DICT_IGNORE_SUFFIX)))
        av_log(in, AV_LOG_WARNING, "input option '%s' was not used by the demuxer or protocol\n", e->key);

    dl_arm(&in->dl, ji->rw_timeout_us + INGEST_PROBE_EXTRA_US);
    ret = avformat_find_stream_info(ic, NULL);
    dl_disarm(&in->dl);
    if (ret < 0) {
        stage_fail(&in->st, ret, "cannot read the streams of input %s", shown);
        goto end;
    }

    in->src_index[BR_VIDEO] = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (in->q[BR_AUDIO])
        in->src_index[BR_AUDIO] = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1,
                                                      in->src_index[BR_VIDEO], NULL, 0);
    for (unsigned i = 0; i < ic->nb_streams; i++)
        ic->streams[i]->discard = AVDISCARD_ALL;

    for (int b = 0; b < NB_BRANCHES; b++) {
        AVStream *st;
        StreamParams *sp;
        if (!in->q[b])
            continue;
        if (in->src_index[b] < 0) {
            in->src_index[b] = -1;
            close_branch(in, b);     /* ended without params: absent */
            continue;
        }
        st = ic->streams[in->src_index[b]];
        st->discard = AVDISCARD_DEFAULT;
        sp = params_alloc(st->codecpar, st->time_base,
                          b == BR_VIDEO ? av_guess_frame_rate(ic, st, NULL) : (AVRational){ 0, 1 });
        if (!sp) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
        if (tq_send(in->q[b], TQ_PARAMS, 0, sp) < 0) {
            params_free(&sp);
            close_branch(in, b);
        }
    }
    if (in->src_index[BR_VIDEO] < 0 && in->src_index[BR_AUDIO] < 0) {
        ret = stage_fail(&in->st, AVERROR_STREAM_NOT_FOUND, "input %s has no video or audio stream", shown);
        goto end;
    }
    {
        const AVStream *v = in->src_index[BR_VIDEO] >= 0 ? ic->streams[in->src_index[BR_VIDEO]] : NULL;
        const AVStream *a = in->src_index[BR_AUDIO] >= 0 ? ic->streams[in->src_index[BR_AUDIO]] : NULL;
        char vdesc[96] = "no video", adesc[96] = "no audio";
        if (v)
            snprintf(vdesc, sizeof(vdesc), "video %s %dx%d", avcodec_get_name(v->codecpar->codec_id),
                     v->codecpar->width, v->codecpar->height);
        if (a)
            snprintf(adesc, sizeof(adesc), "audio %s %d Hz", avcodec_get_name(a->codecpar->codec_id),
                     a->codecpar->sample_rate);
        stage_event(&in->st, EV_START, "input %s opened (%s; %s, %s)", shown, ic->iformat->name, vdesc, adesc);
    }

    in->offset_us = ic->start_time != AV_NOPTS_VALUE ? -ic->start_time : 0;
    in->last_dts_us = AV_NOPTS_VALUE;
    in->pace_wall_us = AV_NOPTS_VALUE;

    for (;;) {
        AVPacket *pkt;
        const AVStream *st;
        int b;

        if (!in->open[BR_VIDEO] && !in->open[BR_AUDIO]) {
            ret = 0;                       /* nobody wants more */
            break;
        }
        if (atomic_load(in->stop)) {
            stage_event(&in->st, EV_END, "input stopped on request");
            ret = 0;
            break;
        }
        pkt = av_packet_alloc();
        if (!pkt) {
            ret = AVERROR(ENOMEM);
            break;
        }
        dl_arm(&in->dl, ji->rw_timeout_us);
        ret = av_read_frame(ic, pkt);
        dl_disarm(&in->dl);
        if (ret == AVERROR(EAGAIN)) {
            av_packet_free(&pkt);
            av_usleep(5000);
            continue;
        }
        if (ret < 0) {
            av_packet_free(&pkt);
            if (ret == AVERROR_EOF || avio_feof(ic->pb)) {
                stage_event(&in->st, EV_END, "input %s ended", shown);
                ret = 0;
            } else if (atomic_load(in->stop)) {
                stage_event(&in->st, EV_END, "input stopped on request");
                ret = 0;
            } else if (dl_expired(&in->dl)) {
                ret = stage_fail(&in->st, AVERROR(ETIMEDOUT), "no data from input %s for %.1f s",
                                 shown, ji->rw_timeout_us / 1e6);
            } else {
                stage_fail(&in->st, ret, "reading input %s failed", shown);
            }
            break;
        }
        b = pkt->stream_index == in->src_index[BR_VIDEO] ? BR_VIDEO :
            pkt->stream_index == in->src_index[BR_AUDIO] ? BR_AUDIO : -1;
        if (b < 0 || !in->open[b]) {
            av_packet_free(&pkt);
            continue;
        }
        st = ic->streams[pkt->stream_index];
        rebase(in, pkt, st);
        pkt->time_base = st->time_base;
        pkt->stream_index = 0;

        atomic_fetch_add(&in->packets, 1);
        atomic_fetch_add(&in->bytes, pkt->size);
        atomic_store(&in->last_packet_us, av_gettime_relative());

        if (ji->realtime) {
            int64_t t = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
            if (t != AV_NOPTS_VALUE && pace(in, av_rescale_q(t, st->time_base, AV_TIME_BASE_Q))) {
                av_packet_free(&pkt);
                continue;                  /* the stop is handled above */
            }
        }
        if (!atomic_load(&in->clock->origin_us)) {
            /* media time of this packet is now */
            int64_t t = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
            atomic_store(&in->clock->origin_us, av_gettime_relative() -
                         (t != AV_NOPTS_VALUE ? av_rescale_q(t, st->time_base, AV_TIME_BASE_Q) : 0));
        }
        if (tq_send(in->q[b], TQ_PACKET, 0, pkt) < 0) {
            av_packet_free(&pkt);
            close_branch(in, b);           /* its decoder wants no more */
        }
    }

end:
    for (int b = 0; b < NB_BRANCHES; b++)
        close_branch(in, b);
    av_dict_free(&opts);
    avformat_close_input(&ic);
    return ret;
}

int ingest_alloc(Ingest **pin, const JobStream *js, ThreadQueue *video_q,
                 ThreadQueue *audio_q, StreamClock *clock, EventLog *events,
                 const _Atomic int *stop)
{
    Ingest *in = av_mallocz(sizeof(*in));

    *pin = NULL;
    if (!in)
        return AVERROR(ENOMEM);
    stage_init(&in->st, js->name, "ingest", events, ingest_run);
    in->js = js;
    in->q[BR_VIDEO] = video_q;
    in->q[BR_AUDIO] = audio_q;
    in->stop = stop;
    in->clock = clock;
    dl_init(&in->dl, stop);
    *pin = in;
    return 0;
}

void ingest_free(Ingest **pin)
{
    av_freep(pin);
}

int ingest_start(Ingest *in)
{
    return stage_start(&in->st);
}

int ingest_join(Ingest *in)
{
    return stage_join(&in->st);
}

void ingest_stats(Ingest *in, IngestStats *s)
{
    s->packets = atomic_load(&in->packets);
    s->bytes = atomic_load(&in->bytes);
    s->last_packet_us = atomic_load(&in->last_packet_us);
    s->discontinuities = atomic_load(&in->discontinuities);
}
