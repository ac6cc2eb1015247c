/*
 * ingest.c: one source of a stream, read on its own thread; see ingest.h.
 */
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "plane/deadline.h"
#include "plane/fault.h"
#include "plane/ingest.h"
#include "plane/params.h"
#include "core/redact.h"

/* A jump of the source's timestamps larger than this (either way) is a
 * discontinuity (publisher restart, clock step), absorbed by rebasing.
 * ffmpeg's dts_delta_threshold default, for the same reason. */
#define INGEST_DISCONT_US  (10 * 1000000LL)
/* Pacing and back-off sleep in slices this long so that a stop is
 * honoured at once. */
#define INGEST_SLICE_US 20000
/* find_stream_info may read this much longer than one rw_timeout on a live
 * input that starts slowly. */
#define INGEST_PROBE_EXTRA_US (5 * 1000000LL)
#define INGEST_RETRY_MIN_US 500000
#define INGEST_RETRY_MAX_US (10 * 1000000LL)
/* read_source's answer for a source held while it was read */
#define INGEST_HELD 1

enum { BR_VIDEO, BR_AUDIO, NB_BRANCHES };

struct Ingest {
    Stage st;
    IngestConfig cfg;
    char shown[512];             /* redacted url */
    Deadline dl;
    FaultPoint faults;

    /* Ingest thread only. */
    AVFormatContext *ic;
    int src_index[NB_BRANCHES];  /* source stream per branch, -1 */
    int64_t offset_us;           /* added to every timestamp */
    int64_t last_dts_us;         /* rebased, AV_NOPTS_VALUE before the first */
    int64_t pace_origin_us;      /* media time of the first paced packet */
    int64_t pace_wall_us;        /* wall time when it was read */
    int64_t prev_packet_us;
    int fails;

    _Atomic int64_t packets, bytes, last_packet_us, read_us_sum, reads, gap_sum_us,
                    gap_sq_sum_us2, discontinuities, errors, reconnects;
    _Atomic int up;
    /* Written by the input stage's thread only (ingest_abort, ingest_hold),
     * so that cut, the deadline's interrupt, is always abort || held. */
    _Atomic int abort;           /* the input stage is done with it */
    _Atomic int held;            /* not to be read now (prefetch: on_risk) */
    _Atomic int cut;             /* a blocking call returns at once */
};

static int stopping(Ingest *in)
{
    return atomic_load(in->cfg.stop) || atomic_load(&in->abort);
}

static int is_held(Ingest *in)
{
    return atomic_load(&in->held);
}

static int is_listener(const IngestConfig *c)
{
    const AVDictionaryEntry *e = av_dict_get(c->options, "listen", NULL, 0);
    const AVDictionaryEntry *m = av_dict_get(c->options, "mode", NULL, 0);

    if (e && strcmp(e->value, "0"))
        return 1;
    if (m && !strcmp(m->value, "listener"))
        return 1;
    return strstr(c->url, "listen=1") || strstr(c->url, "mode=listener") ||
           av_stristr(c->url, "?listen");
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

/* Sleeps up to us, in slices; returns 1 when a stop came meanwhile. */
static int nap(Ingest *in, int64_t us)
{
    int64_t until = av_gettime_relative() + us;

    for (;;) {
        int64_t now = av_gettime_relative();
        if (stopping(in))
            return 1;
        if (now >= until)
            return 0;
        av_usleep(FFMIN(until - now, INGEST_SLICE_US));
    }
}

/* Waits until the packet's media time is due (ffmpeg -re). Returns 1 when a
 * stop came while waiting. */
static int pace(Ingest *in, int64_t dts_us)
{
    if (in->pace_wall_us == AV_NOPTS_VALUE) {
        in->pace_wall_us = av_gettime_relative();
        in->pace_origin_us = dts_us;
        return 0;
    }
    return nap(in, in->pace_wall_us + (dts_us - in->pace_origin_us) - av_gettime_relative());
}

/* Moves the packet onto the instance's timeline: offset, and a jump of the
 * source's clock absorbed so that the timeline goes on from where it was. */
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
               "the timeline goes on without the jump\n", -delta / 1e6);
        in->pace_wall_us = AV_NOPTS_VALUE;  /* pacing follows the new timeline */
    }
    if (in->last_dts_us == AV_NOPTS_VALUE || dts_us > in->last_dts_us)
        in->last_dts_us = dts_us;
}

static int send_item(Ingest *in, int kind, int branch, void *ptr)
{
    int ret = tq_send(in->cfg.q, kind, 2 * in->cfg.instance + branch, ptr);
    if (ret < 0)
        tq_item_free(kind, ptr);
    return ret;
}

/* Opens the source and says what it carries. */
static int open_source(Ingest *in)
{
    const IngestConfig *c = &in->cfg;
    const AVInputFormat *fmt = NULL;
    AVDictionary *opts = NULL;
    const AVDictionaryEntry *e = NULL;
    char vdesc[96] = "no video", adesc[96] = "no audio";
    int ret, listener = is_listener(c);

    if (c->format && !(fmt = av_find_input_format(c->format)))
        return stage_fail(&in->st, AVERROR_DEMUXER_NOT_FOUND, "unknown input format '%s'", c->format);
    in->ic = avformat_alloc_context();
    if (!in->ic)
        return AVERROR(ENOMEM);
    in->ic->interrupt_callback = dl_callback(&in->dl);
    av_dict_copy(&opts, c->options, 0);
    if (is_network(c->url, c->format) && !av_dict_get(opts, "rw_timeout", NULL, 0) && !listener)
        av_dict_set_int(&opts, "rw_timeout", c->rw_timeout_us, 0);

    /* a listener waits for its publisher as long as it takes; anything else
     * must answer within rw_timeout */
    if (listener)
        dl_disarm(&in->dl);
    else
        dl_arm(&in->dl, c->rw_timeout_us);
    ret = avformat_open_input(&in->ic, c->url, fmt, &opts);
    dl_disarm(&in->dl);
    if (ret < 0) {
        av_dict_free(&opts);
        if (stopping(in) || is_held(in))
            return ret;
        return stage_fail(&in->st, ret, "cannot open input %s%s", in->shown,
                          dl_expired(&in->dl) ? " (no answer within rw_timeout)" : "");
    }
    while ((e = av_dict_get(opts, "", e, AV_DICT_IGNORE_SUFFIX)))
        av_log(in, AV_LOG_WARNING, "input option '%s' was not used by the demuxer or protocol\n", e->key);
    av_dict_free(&opts);

    dl_arm(&in->dl, c->rw_timeout_us + INGEST_PROBE_EXTRA_US);
    ret = avformat_find_stream_info(in->ic, NULL);
    dl_disarm(&in->dl);
    if (ret < 0 && (stopping(in) || is_held(in)))
        return ret;
    if (ret < 0)
        return stage_fail(&in->st, ret, "cannot read the streams of input %s", in->shown);

    in->src_index[BR_VIDEO] = av_find_best_stream(in->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    in->src_index[BR_AUDIO] = c->js->audio.enabled ?
        av_find_best_stream(in->ic, AVMEDIA_TYPE_AUDIO, -1, in->src_index[BR_VIDEO], NULL, 0) : -1;
    for (unsigned i = 0; i < in->ic->nb_streams; i++)
        in->ic->streams[i]->discard = AVDISCARD_ALL;
    if (in->src_index[BR_VIDEO] < 0 && in->src_index[BR_AUDIO] < 0)
        return stage_fail(&in->st, AVERROR_STREAM_NOT_FOUND, "input %s has no video or audio stream", in->shown);

    for (int b = 0; b < NB_BRANCHES; b++) {
        AVStream *st;
        StreamParams *sp;
        if (in->src_index[b] < 0) {
            in->src_index[b] = -1;
            if (send_item(in, TQ_END, b, NULL) < 0)
                return AVERROR_EOF;
            continue;
        }
        st = in->ic->streams[in->src_index[b]];
        st->discard = AVDISCARD_DEFAULT;
        sp = params_alloc(st->codecpar, st->time_base,
                          b == BR_VIDEO ? av_guess_frame_rate(in->ic, st, NULL) : (AVRational){ 0, 1 });
        if (!sp)
            return AVERROR(ENOMEM);
        if (send_item(in, TQ_PARAMS, b, sp) < 0)
            return AVERROR_EOF;
        if (b == BR_VIDEO)
            snprintf(vdesc, sizeof(vdesc), "video %s %dx%d", avcodec_get_name(st->codecpar->codec_id),
                     st->codecpar->width, st->codecpar->height);
        else
            snprintf(adesc, sizeof(adesc), "audio %s %d Hz", avcodec_get_name(st->codecpar->codec_id),
                     st->codecpar->sample_rate);
    }
    stage_event(&in->st, EV_START, "input %s opened (%s; %s, %s)", in->shown,
                in->ic->iformat->name, vdesc, adesc);
    in->offset_us = in->ic->start_time != AV_NOPTS_VALUE ? -in->ic->start_time : 0;
    in->last_dts_us = AV_NOPTS_VALUE;
    in->pace_wall_us = AV_NOPTS_VALUE;
    in->prev_packet_us = 0;
    atomic_store(&in->up, 1);
    return 0;
}

/* Reads until the source ends, fails, is held or the stream stops. Returns
 * AVERROR_EOF for an end, 0 for a stop, INGEST_HELD when it was held, < 0
 * for a failure (reported). */
static int read_source(Ingest *in)
{
    const IngestConfig *c = &in->cfg;

    for (;;) {
        AVPacket *pkt;
        const AVStream *st;
        int64_t t0, now, t_us;
        int b, ret;

        if (stopping(in))
            return 0;
        if (is_held(in))
            return INGEST_HELD;
        pkt = av_packet_alloc();
        if (!pkt)
            return AVERROR(ENOMEM);
        t0 = av_gettime_relative();
        dl_arm(&in->dl, c->rw_timeout_us);
        ret = av_read_frame(in->ic, pkt);
        dl_disarm(&in->dl);
        now = av_gettime_relative();
        if (ret == AVERROR(EAGAIN)) {
            av_packet_free(&pkt);
            av_usleep(5000);
            continue;
        }
        if (ret < 0) {
            av_packet_free(&pkt);
            if (stopping(in))
                return 0;
            if (is_held(in))
                return INGEST_HELD;
            if (ret == AVERROR_EOF || avio_feof(in->ic->pb)) {
                stage_event(&in->st, EV_END, "input %s ended", in->shown);
                return AVERROR_EOF;
            }
            if (dl_expired(&in->dl))
                return stage_fail(&in->st, AVERROR(ETIMEDOUT), "no data from input %s for %.1f s",
                                  in->shown, c->rw_timeout_us / 1e6);
            return stage_fail(&in->st, ret, "reading input %s failed", in->shown);
        }
        atomic_fetch_add(&in->read_us_sum, now - t0);
        atomic_fetch_add(&in->reads, 1);
        b = pkt->stream_index == in->src_index[BR_VIDEO] ? BR_VIDEO :
            pkt->stream_index == in->src_index[BR_AUDIO] ? BR_AUDIO : -1;
        if (b < 0) {
            av_packet_free(&pkt);
            continue;
        }
        st = in->ic->streams[pkt->stream_index];
        rebase(in, pkt, st);
        pkt->time_base = st->time_base;
        pkt->stream_index = 0;
        t_us = pkt->dts != AV_NOPTS_VALUE ? av_rescale_q(pkt->dts, st->time_base, AV_TIME_BASE_Q) :
               pkt->pts != AV_NOPTS_VALUE ? av_rescale_q(pkt->pts, st->time_base, AV_TIME_BASE_Q) : 0;

        if (fault_any(&in->faults)) {
            FaultEffect fx = fault_poll(&in->faults, t_us);
            if (fx.error || fx.close) {
                av_packet_free(&pkt);
                return stage_fail(&in->st, fx.error ? AVERROR(EIO) : AVERROR(ECONNRESET),
                                  "fault: input %s %s", in->shown, fx.error ? "read error" : "connection closed");
            }
            if (fx.stall_us) {
                av_log(in, AV_LOG_WARNING, "fault: stalling for %.3f s\n", fx.stall_us / 1e6);
                if (nap(in, fx.stall_us)) {
                    av_packet_free(&pkt);
                    return 0;
                }
                in->pace_wall_us = AV_NOPTS_VALUE;
            }
            if (fx.delay_us)
                av_usleep(fx.delay_us);
            if (fx.drop) {
                av_packet_free(&pkt);
                continue;
            }
        }
        if (c->realtime && (pkt->dts != AV_NOPTS_VALUE || pkt->pts != AV_NOPTS_VALUE) && pace(in, t_us)) {
            av_packet_free(&pkt);
            return 0;
        }

        now = av_gettime_relative();
        if (in->prev_packet_us) {
            int64_t gap = now - in->prev_packet_us;
            atomic_fetch_add(&in->gap_sum_us, gap);
            atomic_fetch_add(&in->gap_sq_sum_us2, gap * gap);
        }
        in->prev_packet_us = now;
        atomic_fetch_add(&in->packets, 1);
        atomic_fetch_add(&in->bytes, pkt->size);
        atomic_store(&in->last_packet_us, now);
        if (send_item(in, TQ_PACKET, b, pkt) < 0)
            return 0;            /* the input stage is gone: the stream ends */
    }
}

static void close_source(Ingest *in)
{
    avformat_close_input(&in->ic);
    atomic_store(&in->up, 0);
}

static int ingest_run(void *arg)
{
    Ingest *in = arg;
    int ret = 0;

    for (;;) {
        /* held: closed, waiting to be wanted (or stopped) */
        while (is_held(in) && !stopping(in))
            av_usleep(INGEST_SLICE_US);
        if (stopping(in)) {
            ret = 0;
            break;
        }
        ret = open_source(in);
        if (ret >= 0) {
            in->fails = 0;
            ret = read_source(in);
        }
        close_source(in);
        if (stopping(in) || ret == 0) {
            ret = 0;
            break;
        }
        if (ret == INGEST_HELD || is_held(in)) {
            /* let go on purpose: no failure, no back-off; the input stage
             * hears that the source is gone until it is wanted again */
            stage_event(&in->st, EV_INFO, "input %s closed: not read until it is provisioned",
                        in->shown);
            in->fails = 0;
            for (int b = 0; b < NB_BRANCHES; b++)
                if (send_item(in, TQ_END, b, NULL) < 0)
                    goto end;
            continue;
        }
        /* lost or ended: the input stage hears it now */
        for (int b = 0; b < NB_BRANCHES; b++)
            if (send_item(in, TQ_END, b, NULL) < 0)
                goto end;
        if (!in->cfg.reconnect) {
            /* a file or generated source ended (or failed): it is over */
            if (ret == AVERROR_EOF)
                ret = 0;
            break;
        }
        /* a live source is tried again */
        atomic_fetch_add(&in->errors, ret != AVERROR_EOF);
        in->fails++;
        if (nap(in, FFMIN(INGEST_RETRY_MIN_US << FFMIN(in->fails - 1, 5), INGEST_RETRY_MAX_US))) {
            ret = 0;
            break;
        }
        atomic_fetch_add(&in->reconnects, 1);
    }
end:
    tq_send_done(in->cfg.q);
    return ret == AVERROR_EOF ? 0 : ret;
}

int ingest_alloc(Ingest **pin, const IngestConfig *cfg)
{
    Ingest *in = av_mallocz(sizeof(*in));

    *pin = NULL;
    if (!in)
        return AVERROR(ENOMEM);
    stage_init(&in->st, cfg->js->name, cfg->component, cfg->events, ingest_run);
    in->cfg = *cfg;
    redact_url(cfg->url, in->shown, sizeof(in->shown));
    atomic_init(&in->held, cfg->held);
    atomic_init(&in->cut, cfg->held);
    dl_init(&in->dl, &in->cut);
    fault_point_init(&in->faults, cfg->js, cfg->component);
    fault_point_report(&in->faults, cfg->events, cfg->js->name);
    *pin = in;
    return 0;
}

void ingest_free(Ingest **pin)
{
    if (*pin)
        stage_uninit(&(*pin)->st);
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

void ingest_abort(Ingest *in)
{
    atomic_store(&in->abort, 1);
    atomic_store(&in->cut, 1);
}

void ingest_hold(Ingest *in, int held)
{
    atomic_store(&in->held, !!held);
    atomic_store(&in->cut, held || atomic_load(&in->abort));
}

int ingest_running(Ingest *in)
{
    return stage_state(&in->st) == STAGE_RUNNING;
}

void ingest_stats(Ingest *in, IngestStats *s)
{
    s->packets = atomic_load(&in->packets);
    s->bytes = atomic_load(&in->bytes);
    s->last_packet_us = atomic_load(&in->last_packet_us);
    s->read_us_sum = atomic_load(&in->read_us_sum);
    s->reads = atomic_load(&in->reads);
    s->gap_sum_us = atomic_load(&in->gap_sum_us);
    s->gap_sq_sum_us2 = atomic_load(&in->gap_sq_sum_us2);
    s->discontinuities = atomic_load(&in->discontinuities);
    s->errors = atomic_load(&in->errors);
    s->reconnects = atomic_load(&in->reconnects);
    s->up = atomic_load(&in->up);
}
