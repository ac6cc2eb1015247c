/*
 * input.c: the input stage: sources, loss detection, switching; see
 * input.h.
 */
#include <string.h>

#include <libavcodec/packet.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "plane/fault.h"
#include "plane/input.h"
#include "plane/params.h"

#define IN_MAX_SOURCES 8
/* The stage wakes this often to look for a lost source: with loss_timeout
 * it bounds the time from the last packet to the switch. */
#define IN_POLL_US 5000
/* Packets that may wait for this stage, per source (one ring for all).
 * Raw inputs (lavfi, rawvideo) make 1.4 MB packets at 720p, kept alive by
 * the frames decoded from them: 64 in all cost 87 MB of RSS against ffmpeg
 * (bench_ladder); 4, as between the stage and each decoder. */
#define IN_QUEUE_PER_SOURCE 4
/* What a source read ahead keeps: its last two GOPs, at most this long and
 * this many packets. */
#define IN_CACHE_MAX 4096
#define IN_CACHE_MAX_US (10 * 1000000LL)
/* A source whose content failed is not taken again for this long
 * (doubling with each repeated failure). */
#define IN_BAD_CONTENT_US (10 * 1000000LL)

enum { BR_VIDEO, BR_AUDIO, NB_BRANCHES };

typedef struct Cached {
    int branch;
    AVPacket *pkt;               /* owned */
    int64_t wall_us;             /* when it arrived */
    int key;                     /* a video keyframe */
} Cached;

typedef struct Src {
    char component[64];
    Ingest *ing;
    int reconnect;               /* a live network source: lost, not ended */
    StreamParams *sp[NB_BRANCHES];   /* this session's; NULL: branch absent */
    int session;                 /* counts TQ_PARAMS from it: a new session */
    int up;                      /* has parameters, no loss since */
    int64_t up_since;            /* first packet of this session */
    int64_t last_wall_us;        /* arrival of its last packet */
    Cached *cache;               /* when not in use: ring of IN_CACHE_MAX */
    int cache_head, nb_cache;
    int64_t offset_us;           /* its timeline -> the stream's (in use) */
    int key_seen;                /* (in use) video flows from a keyframe */
    int64_t bad_until;           /* content failed: not taken before this */
    int bad_count;
    int held;                    /* prefetch: on_risk and not provisioned: not read */
    uint32_t provision_seq;      /* a provision answered once the source is up */
    char provision_origin[16];
} Src;

struct Input {
    Stage st;
    const JobStream *js;
    ThreadQueue *q;              /* owned: the instances send here */
    ThreadQueue *out[NB_BRANCHES];   /* not owned: the decoders */
    int out_open[NB_BRANCHES];
    StreamClock *clock;
    const _Atomic int *stop;
    _Atomic int stop_self;       /* this stream alone (input_stop: a reload) */
    Src src[IN_MAX_SOURCES];
    int nb_src;
    FaultPoint drills;           /* actions on "input" */
    _Atomic int content_failed;
    char content_what[64];       /* protected by content_lock */
    pthread_mutex_t content_lock;

    /* Input thread only. */
    int active;                  /* -1: none (an outage) */
    int planned;                 /* switch to this source at its next keyframe, -1 */
    uint32_t planned_seq;        /* the request behind planned, 0 none */
    InstStatus pub[IN_MAX_SOURCES];  /* as last published */
    int started;                 /* the stream has begun */
    int64_t next_video_us;       /* stream time just after the last video forwarded */
    int64_t last_fwd_wall_us;
    int64_t frame_us;            /* video frame duration, stream clock */
    int64_t lost_at;
    /* the latency of the last switch, as outputs and encoders report
     * theirs: from the failure (or the planned switch's keyframe) to the
     * first packet of the new source passed on; 0 none pending */
    int64_t switch_started, switch_first;
    int switch_failed;           /* started by a failure, not planned */

    _Atomic int active_idx;
};

/* --- caches of sources read ahead ------------------------------------------ */

static Cached *cache_at(Src *s, int i)
{
    return &s->cache[(s->cache_head + i) % IN_CACHE_MAX];
}

static void cache_pop(Src *s)
{
    av_packet_free(&cache_at(s, 0)->pkt);
    s->cache_head = (s->cache_head + 1) % IN_CACHE_MAX;
    s->nb_cache--;
}

static void cache_clear(Src *s)
{
    while (s->nb_cache)
        cache_pop(s);
}

static int64_t pkt_us(const AVPacket *pkt)
{
    int64_t t = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    return t == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(t, pkt->time_base, AV_TIME_BASE_Q);
}

/* Keeps a read-ahead packet (consumed): everything from the keyframe before
 * the last one on, so the GOP in which a switch lands is complete. */
static void cache_push(Src *s, int branch, AVPacket *pkt, int64_t now)
{
    int key = branch == BR_VIDEO && (pkt->flags & AV_PKT_FLAG_KEY);
    int keys = 0, second = -1;

    if (s->nb_cache == IN_CACHE_MAX)
        cache_pop(s);
    *cache_at(s, s->nb_cache++) = (Cached){ branch, pkt, now, key };
    if (!key)
        return;
    /* drop what precedes the second-newest keyframe, or what is too old */
    for (int i = s->nb_cache - 1; i >= 0; i--)
        if (cache_at(s, i)->key && ++keys == 2) {
            second = i;
            break;
        }
    for (int i = 0; i < second; i++)
        cache_pop(s);
    while (s->nb_cache > 1 && now - cache_at(s, 0)->wall_us > IN_CACHE_MAX_US)
        cache_pop(s);
}

/* Answers request seq about source i (-1: the input as a whole). */
static void answer(Input *in, int i, EventKind kind, uint32_t seq, const char *fmt, ...)
    av_printf_format(5, 6);

/* --- forwarding ---------------------------------------------------------------- */

static void close_branch(Input *in, int b)
{
    if (in->out[b] && in->out_open[b]) {
        in->out_open[b] = 0;
        tq_send_done(in->out[b]);
    }
}

/* Sends a packet (consumed) of the source in use to its decoder, on the
 * stream's timeline. */
static void forward(Input *in, Src *s, int b, AVPacket *pkt, int64_t wall)
{
    int64_t d, t;

    if (!in->out[b] || !in->out_open[b]) {
        av_packet_free(&pkt);
        return;
    }
    d = av_rescale_q(s->offset_us, AV_TIME_BASE_Q, pkt->time_base);
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts += d;
    if (pkt->dts != AV_NOPTS_VALUE)
        pkt->dts += d;
    t = pkt_us(pkt);
    if (b == BR_VIDEO && t != AV_NOPTS_VALUE && t + in->frame_us > in->next_video_us)
        in->next_video_us = t + in->frame_us;
    in->last_fwd_wall_us = wall;
    if (!atomic_load(&in->clock->origin_us) && t != AV_NOPTS_VALUE)
        atomic_store(&in->clock->origin_us, wall - t);
    if (tq_send(in->out[b], TQ_PACKET, 0, pkt) < 0) {
        /* its decoder reached the job's duration (or failed) */
        av_packet_free(&pkt);
        close_branch(in, b);
        return;
    }
    if (in->switch_started && !in->switch_first)
        in->switch_first = av_gettime_relative();
}

/* The first packet passed on since a switch, as an event: after the
 * switch's own (a drill measures from one to the other). */
static void report_first_packet(Input *in)
{
    if (!in->switch_first || in->active < 0)
        return;
    evlog_emit(in->st.events, in->st.stream, in->st.component, EV_INFO, 0,
               "%s passed on its first packet %.1f ms after the %s",
               in->src[in->active].component, (in->switch_first - in->switch_started) / 1e3,
               in->switch_failed ? "failure" : "switch");
    in->switch_started = in->switch_first = 0;
}

/* Tells the decoders what the source now in use carries. */
static void announce(Input *in, Src *s)
{
    for (int b = 0; b < NB_BRANCHES; b++) {
        StreamParams *sp;
        if (!in->out[b] || !in->out_open[b])
            continue;
        if (!s->sp[b]) {
            /* the stream starts without this branch: it stays without */
            if (!in->started)
                close_branch(in, b);
            continue;
        }
        if (b == BR_VIDEO && s->sp[b]->frame_rate.num > 0)
            in->frame_us = av_rescale_q(1, av_inv_q(s->sp[b]->frame_rate), AV_TIME_BASE_Q);
        sp = params_clone(s->sp[b]);
        if (!sp || tq_send(in->out[b], TQ_PARAMS, 0, sp) < 0) {
            params_free(&sp);
            close_branch(in, b);
        }
    }
}

/*
 * The stream's timeline starts at media time 0 on its first packet. An
 * epoch-locked stream's media time 0 is also a Unix time: now, on the
 * frame grid of the source's rate (clock_epoch_grid), so that two nodes
 * that start the same stream at different times put its frames on one
 * timeline (each frame at the grid point of when it arrived: a network
 * source reaches both within a frame of each other, or they differ by
 * that frame).
 */
static void start_timeline(Input *in, Src *s)
{
    AVRational fr = s->sp[BR_VIDEO] ? s->sp[BR_VIDEO]->frame_rate : (AVRational){ 0, 1 };

    if (in->clock->epoch_lock && !atomic_load(&in->clock->epoch_us))
        atomic_store(&in->clock->epoch_us, clock_epoch_grid(av_gettime(), fr));
}

static void set_active(Input *in, int i)
{
    in->active = i;
    atomic_store(&in->active_idx, i);
}

/*
 * Makes source i the one in use, starting at its cached packet `from`
 * (a video keyframe), which lands at stream time `at_us`. What it cached
 * from there is decoded now; the decoders drop what overlaps the stream.
 */
static void activate(Input *in, int i, int from, int64_t at_us, const char *why)
{
    Src *s = &in->src[i];
    int prev = in->active;
    int64_t start = pkt_us(cache_at(s, from)->pkt);

    s->offset_us = at_us - start;
    s->key_seen = 1;
    if (prev >= 0 || why) {
        /* a failover comes with the active source already dropped (prev
         * -1): measured from the loss, an outage's length included */
        in->switch_failed = prev < 0 && in->lost_at;
        in->switch_started = in->switch_failed ? in->lost_at : av_gettime_relative();
        in->switch_first = 0;
    }
    set_active(in, i);
    announce(in, s);
    for (int k = 0; k < from; k++)
        cache_pop(s);
    while (s->nb_cache) {
        Cached *c = cache_at(s, 0);
        AVPacket *pkt = c->pkt;
        int b = c->branch;
        int64_t t = pkt_us(pkt), w = c->wall_us;
        c->pkt = NULL;
        cache_pop(s);
        if (b == BR_AUDIO && t != AV_NOPTS_VALUE && t < start) {
            av_packet_free(&pkt);
            continue;
        }
        forward(in, s, b, pkt, w);
    }
    in->started = 1;
    if (prev >= 0 || why) {
        /* a planned switch answers its request */
        evlog_emit_seq(in->st.events, in->st.stream, in->st.component, EV_SWITCH, 0,
                       i == in->planned ? in->planned_seq : 0, "%s takes over%s%s at %.3f s (%s)",
                       s->component, prev >= 0 ? " from " : "",
                       prev >= 0 ? in->src[prev].component : "", at_us / 1e6, why ? why : "");
    }
    report_first_packet(in);
}

/* Where a source read ahead should start, for a switch now: its packet
 * that arrived first after the stream's last forwarded one, backed to the
 * keyframe before it. Returns the cache index of that keyframe and, in
 * *arrived, the cache index of the first new packet; -1 when it has no
 * keyframe. */
static int pick_start(Input *in, Src *s, int *first_new)
{
    int key = -1, fresh = -1;

    for (int i = 0; i < s->nb_cache; i++) {
        Cached *c = cache_at(s, i);
        if (c->branch != BR_VIDEO)
            continue;
        if (fresh < 0 && c->wall_us > in->last_fwd_wall_us)
            fresh = i;
        if (c->key && (fresh < 0 || i <= fresh))
            key = i;
    }
    if (key < 0)
        return -1;
    *first_new = fresh >= 0 ? fresh : key;
    return key;
}

/* Is source i ready to take over now? */
static int candidate(Input *in, int i, int64_t now)
{
    Src *s = &in->src[i];
    int dummy;

    return i != in->active && s->up && s->nb_cache && now >= s->bad_until &&
           now - s->last_wall_us <= in->js->input.loss_timeout_us &&
           pick_start(in, s, &dummy) >= 0;
}

/* prefetch: on_risk, and the source in use is lost with no backup read
 * ahead: the reflex opens every held backup now, cold (the stream repeats
 * its last frame until one is up). Returns how many. */
static int read_cold(Input *in, const char *why)
{
    int n = 0;

    for (int i = 1; i < in->nb_src; i++)
        if (in->src[i].held) {
            in->src[i].held = 0;
            ingest_hold(in->src[i].ing, 0);
            n++;
        }
    if (n)
        evlog_emit(in->st.events, in->st.stream, in->st.component, EV_WARNING, 0,
                   "%s and no backup source was read ahead (prefetch: on_risk): "
                   "opening %d now", why, n);
    return n;
}

/* The source in use is gone (or its content failed): the first other that
 * is up takes over, without a gap on the stream's timeline. */
static void failover(Input *in, int64_t now, const char *why)
{
    int from = in->active;

    if (from >= 0) {
        Src *f = &in->src[from];
        cache_clear(f);
        evlog_emit(in->st.events, in->st.stream, f->component, EV_FAILURE, 0, "%s", why);
    }
    set_active(in, -1);
    in->lost_at = now;
    for (int i = 0; i < in->nb_src; i++) {
        Src *s = &in->src[i];
        int first_new, key;
        int64_t at;
        if (!candidate(in, i, now))
            continue;
        if (!in->started) {
            /* the stream starts on a backup: at its newest keyframe */
            for (key = s->nb_cache - 1; key > 0 && !cache_at(s, key)->key; key--)
                ;
            start_timeline(in, s);
            activate(in, i, key, 0, why);
            return;
        }
        key = pick_start(in, s, &first_new);
        /* the first new packet lands just after the stream's last one; a
         * gap in real time beyond a frame stays a gap (the decoders fill it) */
        at = in->next_video_us +
             FFMAX(0, cache_at(s, first_new)->wall_us - in->last_fwd_wall_us - in->frame_us);
        at -= pkt_us(cache_at(s, first_new)->pkt) - pkt_us(cache_at(s, key)->pkt);
        activate(in, i, key, at, why);
        return;
    }
    if (from >= 0)
        evlog_emit(in->st.events, in->st.stream, in->st.component, EV_WARNING, 0,
                   "no source is up: the stream repeats its last frame until one is");
    read_cold(in, "the source in use was lost");
}

/* A packet of source i (consumed). */
static void take_packet(Input *in, int i, int b, AVPacket *pkt, int64_t now)
{
    Src *s = &in->src[i];
    int key = b == BR_VIDEO && (pkt->flags & AV_PKT_FLAG_KEY);

    if (s->held) {
        av_packet_free(&pkt);    /* read before it was let go */
        return;
    }
    if (!s->up_since)
        s->up_since = now;
    s->last_wall_us = now;

    if (i == in->active) {
        if (!s->key_seen) {
            /* a source joined mid-GOP starts at its first keyframe */
            if (!key) {
                av_packet_free(&pkt);
                return;
            }
            s->key_seen = 1;
        }
        forward(in, s, b, pkt, now);
        report_first_packet(in);
        return;
    }
    /* a planned switch, or the end of an outage, happens at a keyframe */
    if (key && s->up && (i == in->planned || (in->active < 0 && in->started && now >= s->bad_until))) {
        int64_t at = in->next_video_us + FFMAX(0, now - in->last_fwd_wall_us - in->frame_us);
        cache_clear(s);
        cache_push(s, b, pkt, now);
        activate(in, i, 0, at, i == 0 && in->active >= 0 ? "switching back" : "planned");
        in->planned = -1;
        in->planned_seq = 0;
        return;
    }
    if (!in->started && i == 0 && in->active < 0) {
        /* the primary starts the stream */
        cache_push(s, b, pkt, now);
        if (key) {
            start_timeline(in, s);
            activate(in, 0, s->nb_cache - 1, 0, NULL);
        }
        return;
    }
    cache_push(s, b, pkt, now);
}

static void take_params(Input *in, int i, int b, StreamParams *sp)
{
    Src *s = &in->src[i];

    if (s->held) {
        params_free(&sp);        /* opened before it was let go */
        return;
    }
    params_free(&s->sp[b]);
    s->sp[b] = sp;
    if (!s->up) {
        s->up = 1;
        s->session++;
        s->up_since = 0;
        cache_clear(s);
        if (s->provision_seq) {
            answer(in, i, EV_PROVISIONED, s->provision_seq, "read ahead and ready (%s)",
                   s->provision_origin);
            s->provision_seq = 0;
        }
    }
    if (i == in->active) {
        /* the source in use came back on its own (a reconnect faster than
         * loss_timeout): a new session, mapped like a switch */
        s->key_seen = 0;
        announce(in, s);
        s->offset_us = in->next_video_us + FFMAX(0, av_gettime_relative() - in->last_fwd_wall_us -
                                                 in->frame_us);
    }
}

static void answer(Input *in, int i, EventKind kind, uint32_t seq, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    evlog_emit_seq(in->st.events, in->st.stream, i >= 0 ? in->src[i].component : in->st.component,
                   kind, 0, seq, "%s", msg);
}

/* Stops reading backup source i (not in use): held, its cache dropped;
 * what it was asked for ends with it. */
static void hold_source(Input *in, int i, uint32_t seq)
{
    Src *s = &in->src[i];

    s->held = 1;
    ingest_hold(s->ing, 1);
    cache_clear(s);
    s->up = 0;
    s->up_since = 0;
    if (s->provision_seq)
        answer(in, i, EV_REFUSED, s->provision_seq, "released by request %u before it was up",
               (unsigned)seq);
    s->provision_seq = 0;
    if (in->planned == i) {
        if (in->planned_seq)
            answer(in, i, EV_REFUSED, in->planned_seq, "released by request %u", (unsigned)seq);
        in->planned = -1;
        in->planned_seq = 0;
    }
}

/* prefetch: on_risk: a backup source is read ahead once provisioned (the
 * provision is answered when it is up) and held again once released
 * (never the one in use, never the primary). With prefetch: always every
 * source is read all the time: refused. COMP_ANY: provision the first held
 * backup, release every backup read and not in use. */
static void provision_or_release(Input *in, const CompRequest *r)
{
    int prov = r->op == COMP_OP_PROVISION, i = r->instance, n = 0;
    Src *s;

    if (in->js->input.prefetch == JOB_PREFETCH_ALWAYS) {
        answer(in, -1, EV_REFUSED, r->seq, "every source of this input is read all the time "
               "(prefetch: always): it is switched, not %s", prov ? "provisioned" : "released");
        return;
    }
    if (i == COMP_ANY && prov) {
        for (int k = 1; k < in->nb_src && i == COMP_ANY; k++)
            if (in->src[k].held)
                i = k;
        if (i == COMP_ANY) {
            answer(in, -1, EV_REFUSED, r->seq, "every backup source is read already");
            return;
        }
    } else if (i == COMP_ANY) {
        for (int k = 1; k < in->nb_src; k++)
            if (!in->src[k].held && k != in->active) {
                hold_source(in, k, r->seq);
                answer(in, k, EV_RELEASED, r->seq, "no longer read (%s)", r->origin);
                n++;
            }
        if (!n)
            answer(in, -1, EV_REFUSED, r->seq, "no backup source is read, other than the one in use");
        return;
    }
    if (i < 0 || i >= in->nb_src) {
        answer(in, -1, EV_REFUSED, r->seq, "no source %d (it has %d)", i, in->nb_src);
        return;
    }
    s = &in->src[i];
    if (i == 0) {
        answer(in, i, EV_REFUSED, r->seq, "the primary source is always read");
    } else if (!prov && i == in->active) {
        answer(in, i, EV_REFUSED, r->seq, "it is in use");
    } else if (!prov) {
        hold_source(in, i, r->seq);
        answer(in, i, EV_RELEASED, r->seq, "no longer read (%s)", r->origin);
    } else {
        if (s->held) {
            s->held = 0;
            ingest_hold(s->ing, 0);
        }
        if (s->up) {
            answer(in, i, EV_PROVISIONED, r->seq, "read ahead and ready (%s)", r->origin);
            return;
        }
        if (s->provision_seq)
            answer(in, i, EV_REFUSED, s->provision_seq, "superseded by request %u",
                   (unsigned)r->seq);
        s->provision_seq = r->seq;
        av_strlcpy(s->provision_origin, r->origin, sizeof(s->provision_origin));
    }
}

/* A planned switch to source i at its next keyframe (COMP_ANY: the next
 * source after the one in use that is up). */
static void carry_out(Input *in, const CompRequest *r)
{
    int i = r->instance;

    if (r->op != COMP_OP_SWITCH) {
        provision_or_release(in, r);
        return;
    }
    if (i == COMP_ANY) {
        for (int k = 1; k < in->nb_src && i == COMP_ANY; k++) {
            int c = (FFMAX(in->active, 0) + k) % in->nb_src;
            if (in->src[c].up)
                i = c;
        }
        if (i == COMP_ANY) {
            answer(in, -1, EV_REFUSED, r->seq, "no other source is up");
            return;
        }
    }
    if (i < 0 || i >= in->nb_src) {
        answer(in, -1, EV_REFUSED, r->seq, "no source %d (it has %d)", i, in->nb_src);
        return;
    }
    if (i == in->active) {
        answer(in, i, EV_REFUSED, r->seq, "already in use");
        return;
    }
    if (!in->src[i].up) {
        answer(in, i, EV_REFUSED, r->seq, "it is not up");
        return;
    }
    if (in->planned >= 0 && in->planned_seq)
        answer(in, in->planned, EV_REFUSED, in->planned_seq, "superseded by request %u",
               (unsigned)r->seq);
    in->planned = i;
    in->planned_seq = r->seq;
}

/* What other threads may read: every source's state, the one in use. */
static void publish_status(Input *in, int64_t now)
{
    CompStatus st = {
        .nb_instances = in->nb_src, .active = in->active,
        .all_open = in->js->input.prefetch == JOB_PREFETCH_ALWAYS,
    };

    for (int i = 0; i < in->nb_src; i++) {
        Src *s = &in->src[i];
        /* ready: up, and its packets recent (a source that went quiet
         * without ending is not one to switch to) */
        int fresh = s->up && now - s->last_wall_us <= in->js->input.loss_timeout_us;
        InstState state = i == in->active ? INST_ACTIVE :
                          fresh ? INST_READY :
                          ingest_running(s->ing) && !s->held ? INST_OPENING : INST_IDLE;
        if (state != INST_ACTIVE && now < s->bad_until)
            state = INST_BACKOFF;
        inst_observe(&in->pub[i], state, s->bad_count, s->bad_until, now);
        st.inst[i] = in->pub[i];
    }
    stage_publish(&in->st, &st);
}

/* Drills due now go into the mailbox; then the mailbox is served, in order. */
static void handle_requests(Input *in, int64_t now)
{
    JobFaultKind acts[8];
    int n = fault_actions(&in->drills, in->next_video_us, acts, 8);
    CompRequest r;

    for (int k = 0; k < n; k++) {
        CompRequest d = {
            .op = acts[k] == JOB_ACTION_PROVISION ? COMP_OP_PROVISION :
                  acts[k] == JOB_ACTION_RELEASE ? COMP_OP_RELEASE : COMP_OP_SWITCH,
            .instance = acts[k] == JOB_ACTION_SWITCH_BACK ? 0 : COMP_ANY,
            .seq = comp_next_seq(), .origin = "drill",
        };
        if (stage_post(&in->st, &d) < 0)
            evlog_emit(in->st.events, in->st.stream, in->st.component, EV_WARNING, 0,
                       "drill dropped: %d requests wait already", STAGE_MAILBOX);
    }
    while (stage_take(&in->st, &r))
        carry_out(in, &r);

    if (atomic_exchange(&in->content_failed, 0) && in->active >= 0) {
        Src *s = &in->src[in->active];
        char why[128];
        pthread_mutex_lock(&in->content_lock);
        snprintf(why, sizeof(why), "content failure: %s", in->content_what);
        pthread_mutex_unlock(&in->content_lock);
        s->bad_count++;
        s->bad_until = now + (IN_BAD_CONTENT_US << FFMIN(s->bad_count - 1, 5));
        for (int i = 0; i < in->nb_src; i++)
            if (candidate(in, i, now)) {
                failover(in, now, why);
                return;
            }
        if (read_cold(in, why) && in->planned < 0)
            in->planned = 1;     /* the first backup takes over at its first keyframe */
        else
            evlog_emit(in->st.events, in->st.stream, s->component, EV_WARNING, 0,
                       "%s, and no other source is up: staying", why);
    }
}

static int sources_left(Input *in)
{
    for (int i = 0; i < in->nb_src; i++)
        if (in->src[i].up || ingest_running(in->src[i].ing))
            return 1;
    return 0;
}

static int input_run(void *arg)
{
    Input *in = arg;
    int ret = 0, kind, index;
    void *ptr;

    in->active = -1;
    in->planned = -1;
    in->frame_us = 40000;

    for (;;) {
        int64_t now;

        for (int b = 0; b < NB_BRANCHES; b++)
            if (in->out_open[b] && tq_receiver_done(in->out[b]))
                close_branch(in, b);   /* its decoder reached the job's duration */
        if (!in->out_open[BR_VIDEO] && !in->out_open[BR_AUDIO]) {
            ret = 0;
            break;               /* the decoders want nothing more */
        }
        ret = tq_recv(in->q, &kind, &index, &ptr, IN_POLL_US);
        now = av_gettime_relative();
        if (ret == AVERROR_EOF) {
            ret = 0;
            break;               /* every instance has ended */
        }
        if (ret >= 0) {
            int i = index / 2, b = index % 2;
            if (i >= in->nb_src) {
                tq_item_free(kind, ptr);
            } else if (kind == TQ_PARAMS) {
                take_params(in, i, b, ptr);
            } else if (kind == TQ_PACKET) {
                take_packet(in, i, b, ptr, now);
            } else if (kind == TQ_END) {
                Src *s = &in->src[i];
                s->up = 0;
                s->up_since = 0;
                if (s->held)
                    cache_clear(s);
                if (s->provision_seq) {
                    answer(in, i, EV_REFUSED, s->provision_seq,
                           "could not be read; it is tried again");
                    s->provision_seq = 0;
                }
                if (i == in->active && s->reconnect) {
                    failover(in, now, "the source was lost");
                } else if (i == in->active) {
                    /* a file or generated source ended: the stream ends
                     * with it, unless a backup is up to go on */
                    int other = 0, waiting = 0;
                    for (int k = 0; k < in->nb_src; k++) {
                        other |= candidate(in, k, now);
                        waiting |= k != i && ingest_running(in->src[k].ing);
                    }
                    if (other) {
                        failover(in, now, "the source ended");
                    } else {
                        set_active(in, -1);
                        if (waiting)
                            evlog_emit(in->st.events, in->st.stream, in->st.component, EV_WARNING, 0,
                                       "%s ended and no other source is up: the stream repeats its "
                                       "last frame until one is", s->component);
                    }
                }
            } else {
                tq_item_free(kind, ptr);
            }
        }
        if (in->active >= 0) {
            Src *s = &in->src[in->active];
            if (s->last_wall_us && now - s->last_wall_us > in->js->input.loss_timeout_us) {
                char why[96];
                snprintf(why, sizeof(why), "no packet for %.0f ms (loss_timeout)",
                         (now - s->last_wall_us) / 1e3);
                s->up = 0;        /* until it sends again */
                s->up_since = 0;
                failover(in, now, why);
            }
        }
        if (in->active < 0 && in->started && !sources_left(in)) {
            ret = 0;
            break;               /* no source will come back */
        }
        if (!in->started && !sources_left(in)) {
            ret = stage_fail(&in->st, AVERROR_EXTERNAL, "no source of the stream could be read");
            break;
        }
        if (!in->started && !in->src[0].up && !ingest_running(in->src[0].ing))
            failover(in, now, "the primary could not be read");
        handle_requests(in, now);
        publish_status(in, now);
        stage_beat(&in->st, 0);
        if (atomic_load(in->stop) || atomic_load(&in->stop_self)) {
            stage_event(&in->st, EV_END, "input stopped on request");
            ret = 0;
            break;
        }
    }
    for (int b = 0; b < NB_BRANCHES; b++)
        close_branch(in, b);
    tq_recv_done(in->q);
    for (int i = 0; i < in->nb_src; i++)
        ingest_abort(in->src[i].ing);
    return ret;
}

int input_alloc(Input **pin, const JobStream *js, ThreadQueue *video_q, ThreadQueue *audio_q,
                StreamClock *clock, EventLog *events, const _Atomic int *stop)
{
    Input *in = av_mallocz(sizeof(*in));
    int ret = AVERROR(ENOMEM);

    *pin = NULL;
    if (!in)
        return ret;
    stage_init(&in->st, js->name, "input", events, input_run);
    in->js = js;
    in->clock = clock;
    in->stop = stop;
    in->out[BR_VIDEO] = video_q;
    in->out[BR_AUDIO] = audio_q;
    in->out_open[BR_VIDEO] = 1;
    in->out_open[BR_AUDIO] = audio_q != NULL;
    pthread_mutex_init(&in->content_lock, NULL);
    fault_point_init(&in->drills, js, "input");
    atomic_init(&in->active_idx, -1);
    in->nb_src = FFMIN(1 + js->input.nb_backups, IN_MAX_SOURCES);
    in->q = tq_alloc(IN_QUEUE_PER_SOURCE * in->nb_src, in->nb_src);
    if (!in->q)
        goto fail;
    for (int i = 0; i < in->nb_src; i++) {
        Src *s = &in->src[i];
        IngestConfig c = {
            .js = js, .component = s->component, .instance = i, .q = in->q, .stop = stop,
            .events = events,
        };
        if (!i) {
            snprintf(s->component, sizeof(s->component), "input");
            c.url = js->input.url;
            c.format = js->input.format;
            c.options = js->input.options;
            c.realtime = js->input.realtime;
            c.rw_timeout_us = js->input.rw_timeout_us;
        } else {
            const JobInputBackup *b = &js->input.backups[i - 1];
            snprintf(s->component, sizeof(s->component), i == 1 ? "input.backup" : "input.backup%d", i);
            c.url = b->url;
            c.format = b->format;
            c.options = b->options;
            c.realtime = b->realtime;
            c.rw_timeout_us = b->rw_timeout_us;
        }
        /* a live network source that is lost is opened again; a file or a
         * generated source that ends has ended */
        c.reconnect = s->reconnect = job_url_is_network(c.url);
        /* prefetch: on_risk: backups wait to be provisioned */
        c.held = s->held = i > 0 && js->input.prefetch == JOB_PREFETCH_ON_RISK;
        s->cache = av_calloc(IN_CACHE_MAX, sizeof(*s->cache));
        if (!s->cache || (ret = ingest_alloc(&s->ing, &c)) < 0)
            goto fail;
    }
    *pin = in;
    return 0;
fail:
    input_free(&in);
    return ret;
}

void input_free(Input **pin)
{
    Input *in = *pin;

    if (!in)
        return;
    for (int i = 0; i < in->nb_src; i++) {
        Src *s = &in->src[i];
        if (s->cache)
            cache_clear(s);
        av_freep(&s->cache);
        for (int b = 0; b < NB_BRANCHES; b++)
            params_free(&s->sp[b]);
        ingest_free(&s->ing);
    }
    tq_free(&in->q);
    stage_uninit(&in->st);
    pthread_mutex_destroy(&in->content_lock);
    av_freep(pin);
}

int input_start(Input *in)
{
    int ret = stage_start(&in->st);

    for (int i = 0; i < in->nb_src && ret >= 0; i++)
        ret = ingest_start(in->src[i].ing);
    return ret;
}

int input_join(Input *in)
{
    int ret = stage_join(&in->st);

    /* the stage stopped reading: instances blocked on its queue get EOF */
    for (int i = 0; i < in->nb_src; i++)
        ingest_join(in->src[i].ing);
    return ret;
}

void input_stop(Input *in)
{
    atomic_store(&in->stop_self, 1);
}

int input_finished(Input *in)
{
    if (stage_state(&in->st) == STAGE_RUNNING)
        return 0;
    for (int i = 0; i < in->nb_src; i++)
        if (ingest_running(in->src[i].ing))
            return 0;
    return 1;
}

int input_nb_sources(const Input *in)
{
    return in->nb_src;
}

void input_source_stats(Input *in, int i, IngestStats *st)
{
    ingest_stats(in->src[i].ing, st);
}

int input_active(Input *in)
{
    return atomic_load(&in->active_idx);
}

void input_content_failure(Input *in, const char *what)
{
    pthread_mutex_lock(&in->content_lock);
    av_strlcpy(in->content_what, what, sizeof(in->content_what));
    pthread_mutex_unlock(&in->content_lock);
    atomic_store(&in->content_failed, 1);
}
