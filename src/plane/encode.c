/*
 * encode.c: the encoder stage: primary and standby, loss-free switching;
 * see encode.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avstring.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "plane/codec.h"
#include "plane/enc_worker.h"
#include "plane/encode.h"
#include "plane/fault.h"
#include "plane/params.h"

#define ENC_MAX_OUTPUTS 32
/* Frames an encoder may hold before its first packet (lookahead, B-frames,
 * frame threads): x264 placebo with 250 lookahead stays below this. */
#define ENC_PENDING_MAX 512
#define ENC_RETRY_MIN_US 1000000
#define ENC_RETRY_MAX_US (30 * 1000000LL)
/* Latency histogram: log2 buckets of 100 us .. ~ 100 s. */
#define ENC_LAT_BUCKETS 24
#define ENC_LAT_UNIT_US 100
/* frames waiting in its queue (of PL_ENC_QUEUE, pipeline.c) that make a late
 * encoder the one holding the stream up */
#define ENC_BEHIND_QUEUED 2
/* With no frame coming, the stage still wakes this often for its mailbox. */
#define ENC_POLL_US 20000
/* An encode call that has not returned after this long has hung (without a
 * latency budget; with one, half of it, so that the renditions the ladder
 * feeds beside it are late by less than the budget when it is given up). */
#define ENC_CALL_DEADLINE_US (5 * 1000000LL)
/* A hot standby encodes on its own worker, in parallel with the encoder in
 * use; it may fall this many calls behind before the stage waits for it
 * (bounded by the call deadline: a standby that hangs is given up, and the
 * encoder in use is held up by at most that long). */
#define ENC_HOT_LAG 4

typedef struct EncOutput {
    ThreadQueue *q;              /* not owned */
    int index;
    int open;
} EncOutput;

typedef struct Pending {
    AVFrame *f;                  /* a reference, pts in the encoder time base */
    int64_t sent_us;             /* when it was given to the encoder */
    unsigned emitted;            /* bit i: instance i's packet for it came out */
    int released;                /* the packet in use was passed on */
    int gop_start;               /* the first frame of a GOP (a forced IDR) */
} Pending;

typedef struct EncInst {
    char component[64];          /* "enc:720p", "enc:720p.backup" */
    CodecVideoConfig vcfg;
    CodecInst ci;                /* ci.ctx NULL: closed */
    FaultPoint faults;
    int fails;
    int64_t retry_at;            /* reopen after this (0: not scheduled) */
    int64_t open_since;
    int caught_up;               /* once on time: the latency budget applies */
    EncWorker *worker;           /* its libav calls; NULL until the first, and
                                    after one hung (abandoned with its encoder) */
    InstStatus pub;              /* as last published */
    char device[48];             /* placed by the allocator; vcfg.device
                                    points here once it is set */
    /* standby_mode hot (is_hot): a standby given every frame */
    int hot_req;                 /* made hot by a request; until it closes */
    int fed;                     /* given every frame from fed_from on */
    int64_t fed_from;            /* pts, encoder time base; a GOP boundary */
    int64_t fed_frames;          /* given while not in use */
    AVPacket *kept[ENC_PENDING_MAX];   /* not in use: its packets from the
                                          first frame not passed on, a ring */
    int kept_head, nb_kept;
} EncInst;

struct Encoder {
    Stage st;
    const JobStream *js;
    const JobRendition *jr;      /* video, or NULL */
    const JobAudio *ja;          /* audio, or NULL */
    ThreadQueue *in;             /* not owned */
    const StreamClock *clock;
    EncOutput outputs[ENC_MAX_OUTPUTS];
    int nb_outputs;
    int global_header;
    FaultPoint drills;           /* actions on "enc:NAME" */
    int64_t call_deadline_us;    /* an encode call this long has hung */
    Probe probe;                 /* audio: silence */
    char *probe_filters;

    /* Encoder thread only. */
    EncInst inst[2];             /* primary, standby */
    int nb_inst;
    int active;                  /* -1: none */
    StreamParams *in_params;     /* what the ladder said, for (re)opening */
    AVCodecParameters *out_par;  /* what the outputs were told */
    int64_t last_pts;            /* encoder time base */
    int64_t last_out_dts;        /* ENC_OUT_TB */
    int hot_ok;                  /* a standby may be hot: video, a standby, and
                                    a GOP that fits the latency budget */
    int hot_mode;                /* standby_mode: hot (and hot_ok) */
    int gop;                     /* frames; 0: boundaries by time */
    int64_t gop_us;
    int64_t last_gop_index;
    int planned;                 /* instance to switch to at the next GOP, -1 */
    uint32_t planned_seq;        /* the request behind planned, 0 none */
    int hang_next;               /* fault: the next encode call hangs */
    int64_t failed_at;           /* when the last failover began; 0 once the
                                    new encoder's first packet is out */
    int64_t switched_at;         /* the same for a planned switch (a drill
                                    measures both) */
    Pending pending[ENC_PENDING_MAX];
    int pend_head, nb_pend;
    AVPacket *held[ENC_PENDING_MAX];
    int held_head, nb_held;

    _Atomic int64_t frames_in, packets_out, bytes_out, dropped, errors, switches, last_pts_us;
    _Atomic int64_t standby_frames, standby_busy_us;   /* what hot standbys cost */
    _Atomic int64_t behind_us;   /* the latest frame's lag behind real time */
    _Atomic int64_t busy_us;     /* time spent on frames, not waiting for one */
    _Atomic int quality, active_idx;
    _Atomic int64_t lat_hist[ENC_LAT_BUCKETS];
    int64_t lat_seen[ENC_LAT_BUCKETS];   /* enc_take_latency's caller only */
};

/* --- events -------------------------------------------------------------------- */

/* An event about instance in; seq: the request it answers (0: none). */
static void inst_event_seq(Encoder *enc, EncInst *in, EventKind kind, int err, uint32_t seq,
                           const char *fmt, ...) av_printf_format(6, 7);

static void inst_event_seq(Encoder *enc, EncInst *in, EventKind kind, int err, uint32_t seq,
                           const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    evlog_emit_seq(enc->st.events, enc->st.stream, in->component, kind, err, seq, "%s", msg);
}

#define inst_event(enc, in, kind, err, ...) inst_event_seq(enc, in, kind, err, 0, __VA_ARGS__)

/* --- pending frames and held packets ---------------------------------------- */

static Pending *pend_at(Encoder *enc, int i)
{
    return &enc->pending[(enc->pend_head + i) % ENC_PENDING_MAX];
}

static void pend_pop(Encoder *enc)
{
    av_frame_free(&pend_at(enc, 0)->f);
    enc->pend_head = (enc->pend_head + 1) % ENC_PENDING_MAX;
    enc->nb_pend--;
}

static void pend_clear(Encoder *enc)
{
    while (enc->nb_pend)
        pend_pop(enc);
}

static AVPacket **held_at(Encoder *enc, int i)
{
    return &enc->held[(enc->held_head + i) % ENC_PENDING_MAX];
}

static void held_drop_all(Encoder *enc)
{
    while (enc->nb_held) {
        av_packet_free(held_at(enc, 0));
        enc->held_head = (enc->held_head + 1) % ENC_PENDING_MAX;
        enc->nb_held--;
    }
}

static int emitted_by(const Pending *p, int i)
{
    return i >= 0 && (p->emitted >> i) & 1;
}

/* --- a hot standby's packets ------------------------------------------------ */

static AVPacket **kept_at(EncInst *in, int i)
{
    return &in->kept[(in->kept_head + i) % ENC_PENDING_MAX];
}

static AVPacket *kept_pop(EncInst *in)
{
    AVPacket *pkt = *kept_at(in, 0);

    *kept_at(in, 0) = NULL;
    in->kept_head = (in->kept_head + 1) % ENC_PENDING_MAX;
    in->nb_kept--;
    return pkt;
}

static void kept_drop_all(EncInst *in)
{
    while (in->nb_kept) {
        AVPacket *pkt = kept_pop(in);
        av_packet_free(&pkt);
    }
}

/* The first frame not passed on (INT64_MAX: none): a standby's packets
 * below it can never be used. */
static int64_t first_not_passed(Encoder *enc)
{
    return enc->nb_pend ? pend_at(enc, 0)->f->pts : INT64_MAX;
}

/* Drops what a standby keeps below the first frame not passed on. */
static void kept_trim(Encoder *enc, EncInst *in)
{
    int64_t from = first_not_passed(enc);

    for (int n = in->nb_kept; n > 0; n--) {
        AVPacket *pkt = kept_pop(in);
        if (pkt->pts >= from)
            in->kept[(in->kept_head + in->nb_kept++) % ENC_PENDING_MAX] = pkt;
        else
            av_packet_free(&pkt);
    }
}

/* Is instance i a standby to be given every frame (from the next GOP
 * boundary on, if it is not yet)? */
static int is_hot(const Encoder *enc, int i)
{
    const EncInst *in = &enc->inst[i];

    return enc->hot_ok && i != enc->active && in->ci.ctx && (enc->hot_mode || in->hot_req);
}

/* While a standby is or may be hot, packets leave a GOP at a time, so that
 * a failover splices at the IDR of the first GOP not passed on. In
 * standby_mode hot always (the delay stays the same when the standby comes
 * and goes); made hot by a request, while it is. */
static int hold_gops(const Encoder *enc)
{
    if (enc->hot_mode)
        return 1;
    for (int i = 0; i < enc->nb_inst; i++)
        if (is_hot(enc, i))
            return 1;
    return 0;
}

/* --- outputs ---------------------------------------------------------------- */

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

/* Tells the outputs about the codec parameters of the encoder in use when
 * they are not what the outputs have. */
static int announce_params(Encoder *enc)
{
    AVCodecContext *ctx = enc->inst[enc->active].ci.ctx;
    AVCodecParameters *par = avcodec_parameters_alloc();
    int ret;

    if (!par)
        return AVERROR(ENOMEM);
    ret = avcodec_parameters_from_context(par, ctx);
    if (ret < 0)
        goto out;
    if (enc->out_par && enc->out_par->codec_id == par->codec_id &&
        enc->out_par->width == par->width && enc->out_par->height == par->height &&
        enc->out_par->extradata_size == par->extradata_size &&
        (!par->extradata_size || !memcmp(enc->out_par->extradata, par->extradata, par->extradata_size)))
        goto out;                /* the same: nothing to tell */
    for (int i = 0; i < enc->nb_outputs; i++) {
        EncOutput *o = &enc->outputs[i];
        StreamParams *sp;
        if (!o->open)
            continue;
        sp = params_alloc(par, enc->jr ? ENC_OUT_TB : ctx->time_base, ctx->framerate);
        if (!sp) {
            ret = AVERROR(ENOMEM);
            goto out;
        }
        if (tq_send(o->q, TQ_PARAMS, o->index, sp) < 0) {
            params_free(&sp);
            o->open = 0;
        }
    }
    if (enc->out_par)
        av_log(enc, AV_LOG_INFO, "the outputs get new codec parameters\n");
    avcodec_parameters_free(&enc->out_par);
    enc->out_par = par;
    par = NULL;
out:
    avcodec_parameters_free(&par);
    return ret;
}

/* Passes a packet of the encoder in use on (consumed): in ENC_OUT_TB for
 * video, DTS strictly increasing across splices. */
static void pass_on(Encoder *enc, AVPacket *pkt)
{
    AVRational tb = enc->inst[enc->active].ci.ctx->time_base;

    if (enc->jr) {
        av_packet_rescale_ts(pkt, tb, ENC_OUT_TB);
        pkt->time_base = ENC_OUT_TB;
        if (pkt->dts != AV_NOPTS_VALUE && enc->last_out_dts != AV_NOPTS_VALUE &&
            pkt->dts <= enc->last_out_dts)
            pkt->dts = enc->last_out_dts + 1;
        if (pkt->pts != AV_NOPTS_VALUE && pkt->dts != AV_NOPTS_VALUE && pkt->pts < pkt->dts)
            pkt->pts = pkt->dts;
        if (pkt->dts != AV_NOPTS_VALUE)
            enc->last_out_dts = pkt->dts;
    } else {
        pkt->time_base = tb;
    }
    if (enc->failed_at || enc->switched_at) {
        int64_t from = enc->failed_at ? enc->failed_at : enc->switched_at;
        evlog_emit(enc->st.events, enc->st.stream, enc->st.component, EV_INFO, 0,
                   "%s passed on its first packet %.1f ms after the %s",
                   enc->inst[enc->active].component, (av_gettime_relative() - from) / 1e3,
                   enc->failed_at ? "failure" : "switch");
        enc->failed_at = enc->switched_at = 0;
    }
    atomic_fetch_add(&enc->packets_out, 1);
    atomic_fetch_add(&enc->bytes_out, pkt->size);
    if (pkt->pts != AV_NOPTS_VALUE)
        atomic_store(&enc->last_pts_us, av_rescale_q(pkt->pts, pkt->time_base, AV_TIME_BASE_Q));
    fan_out(enc, pkt);
}

static void record_latency(Encoder *enc, int64_t us)
{
    int b = 0;
    int64_t v = us / ENC_LAT_UNIT_US;

    while (v > 1 && b < ENC_LAT_BUCKETS - 1) {
        v >>= 1;
        b++;
    }
    atomic_fetch_add(&enc->lat_hist[b], 1);
}

/*
 * Passes on the held packets of the encoder in use every earlier frame (in
 * presentation order) of which is out: a failure can then cut between what
 * was passed on and what was not, and the frames not passed on are exactly
 * those still pending. While a standby is hot (hold_gops), only whole
 * GOPs: the cut is then at a GOP boundary, where the standby has an IDR.
 */
static void release_held(Encoder *enc)
{
    int64_t m = INT64_MAX, gop = INT64_MIN;
    int hold = hold_gops(enc);

    for (int i = 0; i < enc->nb_pend; i++) {
        Pending *p = pend_at(enc, i);
        if (hold && p->gop_start)
            gop = p->f->pts;
        if (!emitted_by(p, enc->active)) {
            /* no GOP start before it: it is in the GOP of the first frame
             * pending, which cannot go yet */
            m = !hold ? p->f->pts : gop != INT64_MIN ? gop : pend_at(enc, 0)->f->pts;
            break;
        }
    }
    while (enc->nb_held && (*held_at(enc, 0))->pts < m) {
        AVPacket *p = *held_at(enc, 0);
        for (int i = 0; i < enc->nb_pend; i++)
            if (pend_at(enc, i)->f->pts == p->pts) {
                pend_at(enc, i)->released = 1;
                break;
            }
        enc->held_head = (enc->held_head + 1) % ENC_PENDING_MAX;
        enc->nb_held--;
        pass_on(enc, p);
    }
    while (enc->nb_pend && pend_at(enc, 0)->released)
        pend_pop(enc);
    for (int i = 0; i < enc->nb_inst; i++)
        if (i != enc->active && enc->inst[i].nb_kept)
            kept_trim(enc, &enc->inst[i]);
}

/* Holds a packet of the encoder in use (consumed), then passes on what may go. */
static void hold(Encoder *enc, AVPacket *pkt)
{
    if (enc->nb_held == ENC_PENDING_MAX) {
        /* cannot happen with a sane encoder: pass on rather than lose */
        pass_on(enc, pkt);
        return;
    }
    *held_at(enc, enc->nb_held++) = pkt;
    release_held(enc);
}

/* Marks the frame of pkt as out of instance i; returns the frame, or NULL. */
static Pending *mark_emitted(Encoder *enc, int i, const AVPacket *pkt)
{
    for (int k = 0; k < enc->nb_pend; k++) {
        Pending *p = pend_at(enc, k);
        if (!emitted_by(p, i) && p->f->pts == pkt->pts) {
            p->emitted |= 1u << i;
            return p;
        }
    }
    return NULL;
}

/* A packet of the encoder in use (consumed). */
static void took_packet(Encoder *enc, AVPacket *pkt)
{
    size_t sdsize;
    const uint8_t *sd = av_packet_get_side_data(pkt, AV_PKT_DATA_QUALITY_STATS, &sdsize);
    Pending *p;

    /* x264 reports -1 * FF_QP2LAMBDA for some flushed frames: keep the last
     * meaningful value */
    if (sd && sdsize >= 4 && (int)AV_RL32(sd) >= 0)
        atomic_store(&enc->quality, (int)AV_RL32(sd));

    if (!enc->jr) {
        pass_on(enc, pkt);
        return;
    }
    if ((p = mark_emitted(enc, enc->active, pkt)))
        record_latency(enc, av_gettime_relative() - p->sent_us);
    hold(enc, pkt);
}

/* A packet of hot standby i (consumed): kept while it may be needed. */
static void standby_took(Encoder *enc, int i, AVPacket *pkt)
{
    EncInst *in = &enc->inst[i];

    mark_emitted(enc, i, pkt);
    if (pkt->pts < first_not_passed(enc) || in->nb_kept == ENC_PENDING_MAX) {
        /* below what is passed on already; or (not with a sane encoder) no
         * room: it cannot take over from here, until a new GOP */
        if (in->nb_kept == ENC_PENDING_MAX) {
            kept_drop_all(in);
            in->fed = 0;
        }
        av_packet_free(&pkt);
        return;
    }
    *kept_at(in, in->nb_kept++) = pkt;
}

/* --- the encoder in use ------------------------------------------------------ */

/* Sends a frame (consumed; NULL flushes) to the encoder in use, on its
 * worker, and passes on what comes back. AVERROR(ETIMEDOUT): the call hung
 * and was given up (enc_worker.h). */
static int send(Encoder *enc, AVFrame *f)
{
    EncInst *in = &enc->inst[enc->active];
    AVPacket **pkts;
    int nb, ret, hang = enc->hang_next;

    if (!in->worker && (ret = enc_worker_alloc(&in->worker, enc->st.log.name)) < 0) {
        av_frame_free(&f);
        return ret;
    }
    enc->hang_next = 0;
    ret = enc_worker_call(&in->worker, &in->ci, f, hang, enc->call_deadline_us, &pkts, &nb);
    for (int k = 0; k < nb; k++) {
        took_packet(enc, pkts[k]);
        pkts[k] = NULL;
    }
    av_free(pkts);
    return ret;
}

/* The reason a failover gives: why, or for a call given up, that it hung. */
static const char *why_failed(Encoder *enc, int err, const char *why, char *buf, size_t size)
{
    if (err != AVERROR(ETIMEDOUT))
        return why;
    snprintf(buf, size, "hung: the encode call did not return within %.1f s (%s)",
             enc->call_deadline_us / 1e6, why);
    return buf;
}

static int make_active(Encoder *enc, int i);

/* Closes instance i once its worker is done with it (a call that does not
 * return within the deadline is abandoned with the encoder), and forgets
 * it was hot. */
static void close_inst(Encoder *enc, int i)
{
    EncInst *in = &enc->inst[i];

    if (in->worker) {
        AVPacket **pkts;
        int nb;
        enc_worker_take(&in->worker, &in->ci, 0, enc->call_deadline_us, &pkts, &nb, NULL);
        enc_worker_free_packets(&pkts, nb);
    }
    codec_close(&in->ci);
    kept_drop_all(in);
    in->fed = 0;
    in->hot_req = 0;
}

/* Hot standby i failed (err): closed, opened again after its back-off
 * (standby: always, a provision); the encoder in use goes on. */
static void standby_failed(Encoder *enc, int i, int err, const char *why)
{
    EncInst *in = &enc->inst[i];
    char buf[160];

    atomic_fetch_add(&enc->errors, 1);
    inst_event(enc, in, EV_FAILURE, err, "hot standby: %s", why_failed(enc, err, why, buf, sizeof(buf)));
    close_inst(enc, i);
    in->fails++;
    in->retry_at = av_gettime_relative() + inst_backoff(in->fails, ENC_RETRY_MIN_US, ENC_RETRY_MAX_US);
}

/* Takes what hot standby i has encoded, once at most max_left of its calls
 * are left (the standby may lag, not hold the encoder in use up). Returns
 * < 0 when it failed (it is then closed). */
static int collect_standby(Encoder *enc, int i, int max_left)
{
    EncInst *in = &enc->inst[i];
    AVPacket **pkts;
    int nb, ret;
    int64_t busy = 0;

    if (!in->worker)
        return 0;
    ret = enc_worker_take(&in->worker, &in->ci, max_left, enc->call_deadline_us, &pkts, &nb, &busy);
    atomic_fetch_add(&enc->standby_busy_us, busy);
    for (int k = 0; k < nb; k++) {
        standby_took(enc, i, pkts[k]);
        pkts[k] = NULL;
    }
    av_free(pkts);
    if (ret < 0)
        standby_failed(enc, i, ret, "encoding failed");
    return ret;
}

/*
 * Gives every hot standby a reference to f (pts in the encoder time base,
 * pict_type set), on its own worker, without waiting for it: it encodes in
 * parallel with the encoder in use. A standby starts at a GOP boundary, so
 * its first frame is an IDR where the encoder in use has one too.
 */
static void feed_standbys(Encoder *enc, const AVFrame *f, int gop_start)
{
    for (int i = 0; i < enc->nb_inst; i++) {
        EncInst *in = &enc->inst[i];
        AVFrame *c;
        int ret, hang = 0;

        if (!is_hot(enc, i) || (!in->fed && !gop_start))
            continue;
        /* its own faults while it encodes (error, hang; a stall or a slow
         * encoder is the one in use's) */
        if (fault_any(&in->faults)) {
            FaultEffect fx = fault_poll(&in->faults, av_rescale_q(f->pts, f->time_base, AV_TIME_BASE_Q));
            if (fx.error) {
                standby_failed(enc, i, AVERROR(EIO), "fault: encoding error");
                continue;
            }
            if ((hang = fx.hang))
                inst_event(enc, in, EV_WARNING, 0, "fault: the next encode call hangs");
        }
        if (!in->worker && (ret = enc_worker_alloc(&in->worker, enc->st.log.name)) < 0) {
            standby_failed(enc, i, ret, "no worker thread");
            continue;
        }
        if (!(c = av_frame_clone(f))) {
            standby_failed(enc, i, AVERROR(ENOMEM), "no memory for its frame");
            continue;
        }
        /* collect_standby left at most ENC_HOT_LAG < ENC_WORKER_QUEUE calls */
        if ((ret = enc_worker_post(in->worker, &in->ci, c, hang)) < 0) {
            av_frame_free(&c);
            standby_failed(enc, i, ret, "its worker's queue is full");
            continue;
        }
        if (!in->fed) {
            in->fed = 1;
            in->fed_from = f->pts;
            in->fed_frames = 0;
            inst_event(enc, in, EV_INFO, 0, "hot: given every frame from %.3f s (a GOP boundary) "
                       "beside %s", av_rescale_q(f->pts, f->time_base, AV_TIME_BASE_Q) / 1e6,
                       enc->inst[enc->active].component);
        }
        in->fed_frames++;
        atomic_fetch_add(&enc->standby_frames, 1);
    }
}

/*
 * Can hot standby i take over from the first frame not passed on? It must
 * have been given that frame, the first of a GOP, and every one since.
 */
static int covers(Encoder *enc, int i)
{
    const EncInst *in = &enc->inst[i];
    const Pending *first = enc->nb_pend ? pend_at(enc, 0) : NULL;

    return is_hot(enc, i) && in->fed && in->worker &&
           (!first || (first->gop_start && first->f->pts >= in->fed_from));
}

/*
 * Hot standby i takes over at the first GOP not passed on: its packets from
 * that GOP's IDR are kept (or on their way, from calls it is making in
 * parallel), so nothing is encoded again. The packets held of the encoder
 * that was in use are dropped (the caller has dealt with them). Returns 0,
 * or < 0 when it cannot after all (it is then closed: it has been given
 * frames past the ones a warm take-over would resend).
 */
static int take_over_hot(Encoder *enc, int i, const char *from, uint32_t seq, int planned)
{
    EncInst *in = &enc->inst[i];
    int64_t at = first_not_passed(enc);
    int ret, n = enc->nb_pend;

    /* a few calls in flight at most (ENC_HOT_LAG) */
    if ((ret = collect_standby(enc, i, 0)) < 0)
        return ret;
    kept_trim(enc, in);
    if (in->nb_kept && !((*kept_at(in, 0))->flags & AV_PKT_FLAG_KEY)) {
        close_inst(enc, i);
        return AVERROR_BUG;       /* not a closed GOP after all */
    }
    ret = make_active(enc, i);
    if (ret < 0)
        return ret;
    atomic_fetch_add(&enc->switches, 1);
    if (at == INT64_MAX)
        at = enc->last_pts + 1;
    evlog_emit_seq(enc->st.events, enc->st.stream, enc->st.component, EV_SWITCH, 0, seq,
                   "%s (hot standby, given %" PRId64 " frames) took over from %s at a GOP "
                   "boundary (%.3f s)%s: %d frame%s not passed on, none encoded again",
                   in->component, in->fed_frames, from,
                   av_rescale_q(at, in->ci.ctx->time_base, AV_TIME_BASE_Q) / 1e6,
                   planned ? ", no flush" : "", n, n == 1 ? "" : "s");
    /* its packets from that IDR on, as if they had just come */
    while (in->nb_kept)
        hold(enc, kept_pop(in));
    return 0;
}

static int inst_open(Encoder *enc, int i)
{
    EncInst *in = &enc->inst[i];
    char desc[256];
    int ret;

    if (in->ci.ctx)
        return 0;
    ret = enc->jr ? codec_open_video(&in->ci, &enc->st, &in->vcfg, enc->in_params, enc->global_header)
                  : codec_open_audio(&in->ci, &enc->st, enc->ja, enc->in_params, enc->global_header,
                                     enc->probe_filters);
    if (ret < 0) {
        in->fails++;
        in->retry_at = av_gettime_relative() +
                       inst_backoff(in->fails, ENC_RETRY_MIN_US, ENC_RETRY_MAX_US);
        return ret;
    }
    in->open_since = av_gettime_relative();
    in->retry_at = 0;
    in->caught_up = 0;
    codec_describe(&in->ci, desc, sizeof(desc));
    inst_event(enc, in, EV_START, 0, "%s", desc);
    return 0;
}

/* Makes instance i the one in use (it must be open) and tells the outputs
 * if its parameters differ. */
static int make_active(Encoder *enc, int i)
{
    enc->active = i;
    atomic_store(&enc->active_idx, i);
    return announce_params(enc);
}

/*
 * The encoder in use failed: the standby takes the frames it had not passed
 * on, the first as an IDR (a fresh encoder starts with one). Returns < 0
 * when no encoder can go on.
 */
static int failover(Encoder *enc, int err, const char *why)
{
    int failed = enc->active, next = -1, ret;
    EncInst *fi = &enc->inst[failed];

    enc->failed_at = av_gettime_relative();
    atomic_fetch_add(&enc->errors, 1);
    inst_event(enc, fi, EV_FAILURE, err, "%s", why);
    held_drop_all(enc);
    close_inst(enc, failed);
    fi->fails++;
    fi->retry_at = av_gettime_relative() +
                   inst_backoff(fi->fails, ENC_RETRY_MIN_US, ENC_RETRY_MAX_US);
    enc->active = -1;
    atomic_store(&enc->active_idx, -1);

    /* a hot standby that has every frame from the first GOP not passed
     * on: no frame encoded again, no burst */
    for (int i = 0; i < enc->nb_inst; i++) {
        if (i == failed || !enc->inst[i].fed)
            continue;
        if (covers(enc, i) && take_over_hot(enc, i, fi->component, 0, 0) >= 0)
            return 0;
        /* given frames past the first not passed on, it cannot take them
         * again as a warm standby: a fresh one (below) will */
        if (enc->inst[i].ci.ctx)
            close_inst(enc, i);
    }

    for (int k = 1; k <= enc->nb_inst && next < 0; k++) {
        int i = (failed + k) % enc->nb_inst;
        if (inst_open(enc, i) >= 0)
            next = i;
        else if (i != failed)
            inst_event(enc, &enc->inst[i], EV_FAILURE, 0, "cannot take over");
    }
    if (next < 0)
        return AVERROR_EXTERNAL;
    ret = make_active(enc, next);
    if (ret < 0)
        return ret;
    atomic_fetch_add(&enc->switches, 1);
    if (next == failed)
        evlog_emit(enc->st.events, enc->st.stream, enc->st.component, EV_SWITCH, 0,
                   "%s opened again (no standby could take over), with %d frame%s not yet passed on",
                   fi->component, enc->nb_pend, enc->nb_pend == 1 ? "" : "s");
    else
        evlog_emit(enc->st.events, enc->st.stream, enc->st.component, EV_SWITCH, 0,
                   "%s takes over from %s with %d frame%s not yet passed on",
                   enc->inst[next].component, fi->component, enc->nb_pend, enc->nb_pend == 1 ? "" : "s");

    /* the frames not passed on, in order, to the new encoder; taken first,
     * since what the encoder gives back meanwhile pops them off the list */
    enc->inst[next].fed = enc->nb_pend > 0;
    if (enc->nb_pend)
        enc->inst[next].fed_from = pend_at(enc, 0)->f->pts;
    {
        int n = enc->nb_pend;
        AVFrame **resend = av_calloc(FFMAX(n, 1), sizeof(*resend));
        if (!resend)
            return AVERROR(ENOMEM);
        for (int i = 0; i < n; i++) {
            Pending *p = pend_at(enc, i);
            p->emitted &= ~(1u << next);
            p->released = 0;
            p->sent_us = av_gettime_relative();
            resend[i] = av_frame_clone(p->f);
        }
        ret = 0;
        for (int i = 0; i < n; i++) {
            if (!resend[i] && ret >= 0)
                ret = AVERROR(ENOMEM);
            if (ret < 0) {
                av_frame_free(&resend[i]);
                continue;
            }
            resend[i]->pict_type = i ? AV_PICTURE_TYPE_NONE : AV_PICTURE_TYPE_I;
            ret = send(enc, resend[i]);
        }
        av_free(resend);
        if (ret < 0) {
            char buf[128];
            return failover(enc, ret, why_failed(enc, ret, "encoding failed while taking over",
                                                 buf, sizeof(buf)));
        }
    }
    return 0;
}

/* A planned switch at a GOP boundary: the encoder in use is flushed (all its
 * packets out), the other starts with the next frame. */
static int planned_switch(Encoder *enc, int target)
{
    int from = enc->active, ret;

    ret = inst_open(enc, target);
    if (ret < 0) {
        inst_event_seq(enc, &enc->inst[target], enc->planned_seq ? EV_REFUSED : EV_WARNING, ret,
                       enc->planned_seq, "cannot open for a planned switch");
        enc->planned_seq = 0;
        return 0;                 /* stay as we are */
    }
    ret = send(enc, NULL);
    if (ret < 0) {
        char why[128];
        if (enc->planned_seq)
            inst_event_seq(enc, &enc->inst[target], EV_REFUSED, ret, enc->planned_seq,
                           "the encoder in use failed while flushing for the switch");
        enc->planned_seq = 0;
        return failover(enc, ret, why_failed(enc, ret, "flushing for a planned switch failed",
                                             why, sizeof(why)));
    }
    enc->switched_at = av_gettime_relative();
    close_inst(enc, from);
    pend_clear(enc);
    held_drop_all(enc);
    ret = make_active(enc, target);
    atomic_fetch_add(&enc->switches, 1);
    evlog_emit_seq(enc->st.events, enc->st.stream, enc->st.component, EV_SWITCH, 0,
                   enc->planned_seq, "%s took over from %s at a GOP boundary",
                   enc->inst[target].component, enc->inst[from].component);
    enc->planned_seq = 0;
    return ret;
}

/*
 * A planned switch to hot standby target, at a GOP boundary: it takes over
 * at the first GOP not passed on, with its own packets from that IDR; the
 * encoder in use is not flushed and nothing is encoded again. In
 * standby_mode hot the one that was in use stays hot, as the standby
 * (its packets held become what it keeps), else it is closed. Returns 1
 * when done, 0 when the target has not yet every frame from there (the
 * next boundary will see), < 0 when no encoder can go on.
 */
static int planned_switch_hot(Encoder *enc, int target)
{
    int from = enc->active, ret;
    EncInst *fi = &enc->inst[from];
    uint32_t seq = enc->planned_seq;

    if (!covers(enc, target))
        return 0;
    /* what the one in use holds becomes what it keeps, as a standby */
    while (enc->nb_held && fi->nb_kept < ENC_PENDING_MAX) {
        fi->kept[(fi->kept_head + fi->nb_kept++) % ENC_PENDING_MAX] = *held_at(enc, 0);
        enc->held_head = (enc->held_head + 1) % ENC_PENDING_MAX;
        enc->nb_held--;
    }
    held_drop_all(enc);
    fi->fed_frames = 0;
    enc->planned_seq = 0;
    enc->switched_at = av_gettime_relative();
    ret = take_over_hot(enc, target, fi->component, seq, 1);
    if (ret < 0) {
        /* the one in use carries on: it has every frame */
        if (seq)
            inst_event_seq(enc, &enc->inst[target], EV_REFUSED, ret, seq,
                           "the hot standby could not take over");
        enc->switched_at = 0;       /* no switch after all */
        ret = make_active(enc, from);
        while (fi->nb_kept)
            hold(enc, kept_pop(fi));
        return ret < 0 ? ret : 1;
    }
    if (!enc->hot_mode)
        close_inst(enc, from);    /* made hot on request: the old one is not */
    return 1;
}

/* Is the frame at pts (encoder time base: frames) the first of a GOP?
 * An epoch-locked stream's GOPs are counted from 1970 (StreamClock), so
 * that every node cuts them at the same frames. */
static int gop_boundary(Encoder *enc, int64_t pts, int64_t t_us)
{
    int64_t idx, epoch = enc->clock ? atomic_load(&enc->clock->epoch_us) : 0;

    if (enc->gop > 0) {
        if (epoch && enc->in_params && enc->in_params->frame_rate.num > 0)
            pts += av_rescale_q(epoch, AV_TIME_BASE_Q, av_inv_q(enc->in_params->frame_rate));
        return pts % enc->gop == 0;
    }
    idx = (t_us + epoch) / FFMAX(enc->gop_us, 1);
    if (idx == enc->last_gop_index)
        return 0;
    enc->last_gop_index = idx;
    return 1;
}

/*
 * May a standby be hot here? It holds packets back a GOP at a time and the
 * frames with them (ENC_PENDING_MAX, half for the GOP, half for the
 * encoder's delay), and a hung call is given up after half the latency
 * budget: the GOP must fit both. The job loader checks the budget where it
 * knows the GOP in time; a GOP in frames is known here.
 */
static void check_hot(Encoder *enc)
{
    AVRational fr = enc->in_params->frame_rate;
    int64_t gop_us = enc->gop > 0 && fr.num > 0 ?
                     av_rescale_q(enc->gop, av_inv_q(fr), AV_TIME_BASE_Q) : enc->gop_us;
    int64_t gop_frames = enc->gop > 0 ? enc->gop :
                         fr.num > 0 ? av_rescale_q(enc->gop_us, AV_TIME_BASE_Q, av_inv_q(fr)) : 0;
    const char *why = NULL;

    if (enc->nb_inst < 2)
        return;
    if (enc->js->latency_budget_us && enc->js->latency_budget_us < 2 * gop_us)
        why = "its latency budget is below 2 GOPs";
    else if (gop_frames > ENC_PENDING_MAX / 2)
        why = "its GOP is longer than 256 frames";
    enc->hot_ok = !why;
    enc->hot_mode = enc->hot_ok && enc->js->standby_mode == JOB_STANDBY_HOT;
    if (why && enc->js->standby_mode == JOB_STANDBY_HOT)
        evlog_emit(enc->st.events, enc->st.stream, enc->st.component, EV_WARNING, 0,
                   "standby_mode hot is not possible (%s, GOP %.3f s): the standby stays warm",
                   why, gop_us / 1e6);
}

/* One request from the mailbox. The encoder has a primary (0) and at most
 * one standby (1). */
static void carry_out(Encoder *enc, const CompRequest *r)
{
    int other = enc->active == 0 ? 1 : 0;
    int i = r->instance == COMP_ANY ? (r->op == COMP_OP_SWITCH ? other : 1) : r->instance;
    EncInst *in;

    if (enc->nb_inst < 2) {
        evlog_emit_seq(enc->st.events, enc->st.stream, enc->st.component, EV_REFUSED, 0, r->seq,
                       "the rendition has no standby encoder");
        return;
    }
    if (i < 0 || i >= enc->nb_inst) {
        evlog_emit_seq(enc->st.events, enc->st.stream, enc->st.component, EV_REFUSED, 0, r->seq,
                       "no instance %d (it has %d)", i, enc->nb_inst);
        return;
    }
    in = &enc->inst[i];
    switch (r->op) {
    case COMP_OP_PROVISION:
    case COMP_OP_RELEASE:
        if (i == 0) {
            inst_event_seq(enc, in, EV_REFUSED, 0, r->seq, "the primary is not %s",
                           r->op == COMP_OP_PROVISION ? "provisioned" : "released");
        } else if (i == enc->active) {
            inst_event_seq(enc, in, EV_REFUSED, 0, r->seq, "it is in use");
        } else if (r->op == COMP_OP_PROVISION) {
            int ret;
            /* the allocator's placement, for an encoder not open yet */
            if (r->device[0] && !in->ci.ctx && enc->jr) {
                av_strlcpy(in->device, r->device, sizeof(in->device));
                in->vcfg.device = in->device;
            }
            ret = inst_open(enc, i);
            if (ret < 0) {
                inst_event_seq(enc, in, EV_REFUSED, ret, r->seq, "cannot open it%s%s",
                               r->device[0] ? " on device " : "", r->device);
                return;
            }
            if (r->hot && enc->hot_ok)
                in->hot_req = 1;
            inst_event_seq(enc, in, EV_PROVISIONED, 0, r->seq, "open and ready%s (%s%s%s)",
                           !is_hot(enc, i) ? (r->hot ? ", warm: this rendition cannot have a "
                                                       "hot standby" : "") :
                           in->fed ? ", hot" : ", hot from the next GOP boundary",
                           r->origin, r->device[0] ? ", device " : "", r->device);
        } else {
            close_inst(enc, i);
            inst_event_seq(enc, in, EV_RELEASED, 0, r->seq, "released (%s)", r->origin);
        }
        return;
    case COMP_OP_SWITCH:
        if (i == enc->active) {
            inst_event_seq(enc, in, EV_REFUSED, 0, r->seq, "already in use");
            return;
        }
        if (enc->planned >= 0 && enc->planned_seq)
            inst_event_seq(enc, &enc->inst[enc->planned], EV_REFUSED, 0, enc->planned_seq,
                           "superseded by request %u", (unsigned)r->seq);
        enc->planned = i;
        enc->planned_seq = r->seq;
        return;
    case COMP_OP_ADD:             /* the ECG refuses it for encoders: their
                                     backup runs in this process */
        break;
    }
    evlog_emit_seq(enc->st.events, enc->st.stream, enc->st.component, EV_REFUSED, 0, r->seq,
                   "unknown request %d", (int)r->op);
}

/* Drills due at media time t_us (< 0: none can be due) go into the mailbox;
 * then the mailbox is served in order, once the encoder has started. */
static void handle_requests(Encoder *enc, int64_t t_us)
{
    JobFaultKind acts[8];
    int n = t_us >= 0 ? fault_actions(&enc->drills, t_us, acts, 8) : 0;
    CompRequest r;

    for (int i = 0; i < n; i++) {
        CompRequest d = {
            .op = acts[i] == JOB_ACTION_PROVISION ? COMP_OP_PROVISION :
                  acts[i] == JOB_ACTION_RELEASE ? COMP_OP_RELEASE : COMP_OP_SWITCH,
            .instance = acts[i] == JOB_ACTION_SWITCH_BACK ? 0 : COMP_ANY,
            .seq = comp_next_seq(), .origin = "drill",
        };
        if (stage_post(&enc->st, &d) < 0)
            evlog_emit(enc->st.events, enc->st.stream, enc->st.component, EV_WARNING, 0,
                       "drill dropped: %d requests wait already", STAGE_MAILBOX);
    }
    if (enc->active < 0)
        return;                  /* not started: requests wait for the first frame */
    while (stage_take(&enc->st, &r))
        carry_out(enc, &r);
}

/* What other threads may read: both instances' states, the one in use. */
static void publish_status(Encoder *enc)
{
    CompStatus st = { .nb_instances = enc->nb_inst, .active = enc->active,
                      .hot_capable = enc->hot_ok };
    int64_t now = av_gettime_relative();

    for (int i = 0; i < enc->nb_inst; i++) {
        EncInst *in = &enc->inst[i];
        InstState s = i == enc->active ? INST_ACTIVE : in->ci.ctx ? INST_READY :
                      in->retry_at && now < in->retry_at ? INST_BACKOFF : INST_IDLE;
        inst_observe(&in->pub, s, in->fails, in->retry_at, now);
        in->pub.hot = is_hot(enc, i);
        st.inst[i] = in->pub;
    }
    stage_publish(&enc->st, &st);
}

/* Keeps the standby ready and the primary open again after its back-off
 * (switching back to it is the orchestrator's). */
static void maintain(Encoder *enc)
{
    int64_t now = av_gettime_relative();

    if (enc->nb_inst < 2 || enc->active < 0)
        return;
    if (enc->active != 0) {
        EncInst *p = &enc->inst[0];
        /* ready again: the orchestrator switches back to it (fo_rules.h) */
        if (!p->ci.ctx && p->retry_at && now >= p->retry_at && inst_open(enc, 0) >= 0)
            inst_event(enc, p, EV_INFO, 0, "open again");
    } else if (enc->js->standby == JOB_STANDBY_ALWAYS && !enc->inst[1].ci.ctx &&
               (!enc->inst[1].retry_at || now >= enc->inst[1].retry_at)) {
        inst_open(enc, 1);
    }
}

/* One frame from the ladder (consumed). */
static int encode_video(Encoder *enc, AVFrame *f)
{
    EncInst *in;
    int64_t t_us, lag;
    Pending *p;
    int ret;

    f->pts = av_rescale_q(f->pts, f->time_base.num ? f->time_base : enc->in_params->time_base,
                          enc->inst[enc->active].ci.ctx->time_base);
    if (enc->last_pts != AV_NOPTS_VALUE && f->pts <= enc->last_pts) {
        atomic_fetch_add(&enc->dropped, 1);
        av_frame_free(&f);
        return 0;
    }
    enc->last_pts = f->pts;
    f->time_base = enc->inst[enc->active].ci.ctx->time_base;
    t_us = av_rescale_q(f->pts, f->time_base, AV_TIME_BASE_Q);
    atomic_fetch_add(&enc->frames_in, 1);

    handle_requests(enc, t_us);
    maintain(enc);
    f->pict_type = gop_boundary(enc, f->pts, t_us) ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    if (f->pict_type == AV_PICTURE_TYPE_I && enc->planned >= 0) {
        int target = enc->planned;
        enc->planned = -1;
        if (target == enc->active) {
            ret = 0;
        } else if (is_hot(enc, target)) {
            ret = planned_switch_hot(enc, target);
            if (!ret)
                enc->planned = target;   /* not every frame from there yet: next boundary */
        } else {
            ret = planned_switch(enc, target);
        }
        if (ret < 0) {
            av_frame_free(&f);
            return ret;
        }
    }

    in = &enc->inst[enc->active];
    if (fault_any(&in->faults)) {
        FaultEffect fx = fault_poll(&in->faults, t_us);
        if (fx.stall_us) {
            av_log(enc, AV_LOG_WARNING, "fault: %s stalls for %.3f s\n", in->component, fx.stall_us / 1e6);
            av_usleep(fx.stall_us);
        }
        if (fx.delay_us)
            av_usleep(fx.delay_us);
        if (fx.hang) {
            inst_event(enc, in, EV_WARNING, 0, "fault: the next encode call hangs");
            enc->hang_next = 1;
        }
        if (fx.error) {
            /* the frame is kept: it goes to the standby with the others */
            ret = failover(enc, AVERROR(EIO), "fault: encoding error");
            if (ret < 0) {
                av_frame_free(&f);
                return ret;
            }
            in = &enc->inst[enc->active];
        }
    }

    if (enc->nb_pend == ENC_PENDING_MAX) {
        av_frame_free(&f);
        return failover(enc, AVERROR(ENOSPC), "the encoder holds too many frames");
    }
    p = pend_at(enc, enc->nb_pend++);
    p->f = av_frame_clone(f);
    p->sent_us = av_gettime_relative();
    p->emitted = p->released = 0;
    p->gop_start = f->pict_type == AV_PICTURE_TYPE_I;
    if (!p->f) {
        enc->nb_pend--;
        av_frame_free(&f);
        return AVERROR(ENOMEM);
    }
    if (!in->fed) {
        in->fed = 1;
        in->fed_from = f->pts;
    }
    /* a hot standby encodes the same frame meanwhile, on its own thread */
    feed_standbys(enc, f, p->gop_start);
    ret = send(enc, f);
    if (ret < 0) {
        char why[128];
        return failover(enc, ret, why_failed(enc, ret, "encoding failed", why, sizeof(why)));
    }
    for (int i = 0; i < enc->nb_inst; i++)
        if (i != enc->active && enc->inst[i].fed)
            collect_standby(enc, i, ENC_HOT_LAG);

    /* a live encoder behind real time has failed, when the hold-up is
     * here: frames wait in its queue. A rendition fed by a ladder that a
     * slower sibling holds up is just as late, but its queue is empty and
     * a standby would not help it. */
    lag = clock_lag(enc->clock, t_us);
    atomic_store(&enc->behind_us, lag);
    if (enc->clock->latency_budget_us) {
        if (lag < enc->clock->latency_budget_us / 2)
            in->caught_up = 1;
        else if (in->caught_up && lag > enc->clock->latency_budget_us &&
                 tq_depth(enc->in) >= ENC_BEHIND_QUEUED) {
            char why[128];
            snprintf(why, sizeof(why), "%.1f s behind real time (latency budget %.1f s)",
                     lag / 1e6, enc->clock->latency_budget_us / 1e6);
            return failover(enc, AVERROR(ETIMEDOUT), why);
        }
    }
    return 0;
}

/* Audio: through the conversion graph, then the encoder. */
static int audio_pull(Encoder *enc)
{
    CodecInst *ci = &enc->inst[0].ci;

    for (;;) {
        AVFrame *f = av_frame_alloc();
        int ret;
        if (!f)
            return AVERROR(ENOMEM);
        ret = av_buffersink_get_frame(ci->asink, f);
        if (ret < 0) {
            av_frame_free(&f);
            return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
        }
        if (enc->probe_filters)
            probe_frame(&enc->probe, f, av_buffersink_get_time_base(ci->asink));
        f->pts = av_rescale_q(f->pts, av_buffersink_get_time_base(ci->asink), ci->ctx->time_base);
        if (enc->last_pts != AV_NOPTS_VALUE && f->pts <= enc->last_pts) {
            atomic_fetch_add(&enc->dropped, 1);
            av_frame_free(&f);
            continue;
        }
        enc->last_pts = f->pts;
        atomic_fetch_add(&enc->frames_in, 1);
        ret = send(enc, f);
        if (ret < 0)
            return ret;
    }
}

static int encode_audio(Encoder *enc, AVFrame *f)
{
    CodecInst *ci = &enc->inst[0].ci;
    int ret;

    if (fault_any(&enc->inst[0].faults)) {
        FaultEffect fx = fault_poll(&enc->inst[0].faults,
                                    av_rescale_q(f->pts, f->time_base, AV_TIME_BASE_Q));
        if (fx.stall_us || fx.delay_us)
            av_usleep(fx.stall_us + fx.delay_us);
        if (fx.error) {
            av_frame_free(&f);
            return AVERROR(EIO);
        }
    }
    ret = av_buffersrc_add_frame_flags(ci->asrc, f, 0);
    av_frame_free(&f);
    return ret < 0 ? ret : audio_pull(enc);
}

static int flush(Encoder *enc)
{
    int ret;

    if (enc->active < 0)
        return 0;
    if (enc->ja) {
        ret = av_buffersrc_add_frame(enc->inst[0].ci.asrc, NULL);
        if (ret >= 0)
            ret = audio_pull(enc);
        if (ret < 0)
            return ret;
    }
    ret = send(enc, NULL);
    if (ret < 0 && enc->jr)
        return failover(enc, ret, "flushing failed") < 0 ? ret : flush(enc);
    return ret;
}

static int enc_run(void *arg)
{
    Encoder *enc = arg;
    int64_t t0;
    int ret = 0, kind, index;
    void *ptr;

    enc->last_pts = AV_NOPTS_VALUE;
    enc->last_out_dts = AV_NOPTS_VALUE;
    enc->active = -1;
    enc->planned = -1;
    enc->last_gop_index = -1;
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
    enc->in_params = ptr;
    if (enc->jr) {
        enc->gop = enc->in_params->frame_rate.num > 0 ? codec_gop_frames(enc->jr, enc->in_params->frame_rate) : 0;
        enc->gop_us = enc->jr->gop_us ? enc->jr->gop_us : 2000000;
        check_hot(enc);
    }

    /* the primary; the standby too when it is to be ready from the start;
     * a primary that cannot open hands over to the standby at once */
    ret = inst_open(enc, 0);
    if (ret >= 0) {
        ret = make_active(enc, 0);
    } else if (enc->nb_inst > 1 && inst_open(enc, 1) >= 0) {
        evlog_emit(enc->st.events, enc->st.stream, enc->st.component, EV_SWITCH, 0,
                   "%s starts in place of %s", enc->inst[1].component, enc->inst[0].component);
        ret = make_active(enc, 1);
    }
    if (ret < 0)
        goto end;
    if (enc->nb_inst > 1 && enc->active == 0 && enc->js->standby == JOB_STANDBY_ALWAYS)
        inst_open(enc, 1);

    publish_status(enc);
    while (any_output_open(enc)) {
        stage_beat(&enc->st, 0);
        ret = tq_recv(enc->in, &kind, &index, &ptr, ENC_POLL_US);
        if (ret == AVERROR(EAGAIN)) {
            /* no frame: the mailbox still gets an answer */
            handle_requests(enc, -1);
            publish_status(enc);
            continue;
        }
        stage_beat(&enc->st, 1);
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
        t0 = av_gettime_relative();
        ret = enc->jr ? encode_video(enc, ptr) : encode_audio(enc, ptr);
        atomic_fetch_add(&enc->busy_us, av_gettime_relative() - t0);
        publish_status(enc);
        if (ret < 0) {
            stage_fail(&enc->st, ret, "encoding failed and no encoder can take over");
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
    pend_clear(enc);
    held_drop_all(enc);
    for (int i = 0; i < enc->nb_inst; i++) {
        close_inst(enc, i);       /* a hot standby's calls: taken, or given up */
        enc_worker_free(&enc->inst[i].worker);
    }
    params_free(&enc->in_params);
    avcodec_parameters_free(&enc->out_par);
    atomic_store(&enc->active_idx, -1);
    enc->active = -1;
    publish_status(enc);
    stage_beat(&enc->st, 0);
    return ret;
}

int enc_alloc(Encoder **penc, const JobStream *js, const JobRendition *jr,
              const JobAudio *ja, ThreadQueue *in, const StreamClock *clock,
              ProbeFailure content_fail, void *opaque, EventLog *events)
{
    Encoder *enc = av_mallocz(sizeof(*enc));
    char comp[48];

    *penc = NULL;
    if (!enc)
        return AVERROR(ENOMEM);
    snprintf(comp, sizeof(comp), "enc:%s", jr ? jr->name : "audio");
    stage_init(&enc->st, js->name, comp, events, enc_run);
    enc->js = js;
    enc->jr = jr;
    enc->ja = ja;
    enc->call_deadline_us = js->latency_budget_us ? js->latency_budget_us / 2 : ENC_CALL_DEADLINE_US;
    enc->in = in;
    enc->clock = clock;
    atomic_init(&enc->quality, -1);
    atomic_init(&enc->active_idx, -1);
    fault_point_init(&enc->drills, js, comp);
    if (ja) {
        probe_init(&enc->probe, &js->input, content_fail, opaque);
        enc->probe.black_us = enc->probe.freeze_us = 0;    /* video: the ladder's */
        enc->probe_filters = probe_audio_filters(&enc->probe);
    }

    enc->nb_inst = jr && jr->backup ? 2 : 1;
    snprintf(enc->inst[0].component, sizeof(enc->inst[0].component), "%s", comp);
    fault_point_init(&enc->inst[0].faults, js, comp);
    fault_point_report(&enc->inst[0].faults, events, js->name);
    if (jr) {
        enc->inst[0].vcfg = (CodecVideoConfig){ jr, jr->encoder, jr->options, jr->device, jr->bitrate };
        if (jr->backup) {
            const JobEncoderBackup *b = jr->backup;
            snprintf(enc->inst[1].component, sizeof(enc->inst[1].component), "%s.backup", comp);
            fault_point_init(&enc->inst[1].faults, js, enc->inst[1].component);
            fault_point_report(&enc->inst[1].faults, events, js->name);
            enc->inst[1].vcfg = (CodecVideoConfig){ jr, b->encoder, b->options, b->device,
                                                    b->bitrate ? b->bitrate : jr->bitrate };
        }
    }
    enc->active = -1;
    publish_status(enc);
    *penc = enc;
    return 0;
}

void enc_free(Encoder **penc)
{
    if (!*penc)
        return;
    av_freep(&(*penc)->probe_filters);
    stage_uninit(&(*penc)->st);
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

/* The percentile q of the histogram counts (bucket upper bounds). */
static int64_t hist_percentile(const int64_t *n, int64_t total, double q)
{
    int64_t want = (int64_t)ceil(total * q), acc = 0;

    for (int b = 0; b < ENC_LAT_BUCKETS; b++) {
        acc += n[b];
        if (acc >= want)
            return (int64_t)ENC_LAT_UNIT_US << (b + 1);
    }
    return (int64_t)ENC_LAT_UNIT_US << ENC_LAT_BUCKETS;
}

void enc_stats(Encoder *enc, EncoderStats *s)
{
    memset(s, 0, sizeof(*s));
    s->frames_in = atomic_load(&enc->frames_in);
    s->packets_out = atomic_load(&enc->packets_out);
    s->bytes_out = atomic_load(&enc->bytes_out);
    s->dropped = atomic_load(&enc->dropped);
    s->errors = atomic_load(&enc->errors);
    s->switches = atomic_load(&enc->switches);
    s->last_pts_us = atomic_load(&enc->last_pts_us);
    s->quality = atomic_load(&enc->quality);
    s->active = atomic_load(&enc->active_idx);
    s->queue_depth = tq_depth(enc->in);
    s->standby_frames = atomic_load(&enc->standby_frames);
    s->standby_busy_us = atomic_load(&enc->standby_busy_us);
    if (enc->jr && enc->jr->fps.num)
        s->target_fps = av_q2d(enc->jr->fps);
    s->behind_us = atomic_load(&enc->behind_us);
    s->busy_us = atomic_load(&enc->busy_us);
    s->budget_us = enc->clock && enc->clock->live ? enc->clock->latency_budget_us : 0;
}

void enc_take_latency(Encoder *enc, int64_t *p50_us, int64_t *p99_us)
{
    int64_t delta[ENC_LAT_BUCKETS], total = 0;

    for (int b = 0; b < ENC_LAT_BUCKETS; b++) {
        int64_t v = atomic_load(&enc->lat_hist[b]);
        delta[b] = v - enc->lat_seen[b];
        enc->lat_seen[b] = v;
        total += delta[b];
    }
    *p50_us = total ? hist_percentile(delta, total, 0.50) : 0;
    *p99_us = total ? hist_percentile(delta, total, 0.99) : 0;
}
