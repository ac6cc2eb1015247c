/*
 * output.c: the output stage: cache, destinations, switching; see output.h.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "plane/fault.h"
#include "plane/mux.h"
#include "plane/output.h"
#include "plane/params.h"
#include "core/redact.h"

/* The primary and up to 7 backups, the job's and those added at run time
 * (COMP_OP_ADD): the slots are all there from the start, nb_inst says how
 * many are in use. */
#define OUT_MAX_INSTANCES COMP_MAX_INSTANCES
#define OUT_MAX_INPUTS    33     /* 32 renditions and audio */
/* The thread wakes this often to watch its destinations: it bounds the
 * time from a destination's failure to its backup's first packet. */
#define OUT_POLL_US       5000
#define OUT_RETRY_MIN_US  1000000
#define OUT_RETRY_MAX_US  (30 * 1000000LL)
/* The cache covers rw_timeout plus this (what a dead peer may have lost
 * before it was noticed, and a GOP to start from); for segmenting formats
 * at least a segment and a GOP more (see cache_window). */
#define OUT_CACHE_EXTRA_US (2 * 1000000LL)
#define OUT_CACHE_MAX_US  (60 * 1000000LL)
/* With a destination that confirms (mux_confirmed), the cache keeps what it
 * does not hold yet, from the keyframe before, and at least this much... */
#define OUT_CONFIRM_FLOOR_US 1000000
/* ...and this much more than it holds: the muxer's interleaving may write a
 * packet after later ones of another stream, as much as it holds back (a
 * second of slack against two of interleaving lost up to a second of HLS
 * at failovers in the soak). */
#define OUT_CONFIRM_SLACK_US MUX_MAX_INTERLEAVE_US
/* Entries at most, whatever the window: bounds memory when nothing
 * drains the cache (every destination down). */
#define OUT_CACHE_MAX     65536

enum InState { IN_WAITING, IN_PRESENT, IN_ABSENT, IN_ENDED };

typedef struct OutInput {
    int is_audio;
    const char *name;            /* rendition name, or "audio" */
    enum InState state;
    StreamParams *sp;            /* as of the cache's first entry */
} OutInput;

typedef struct CacheEntry {
    int kind;                    /* TQ_PACKET or TQ_PARAMS */
    int index;                   /* input */
    void *ptr;                   /* AVPacket * or StreamParams *, owned */
    int64_t pts_us;
    int key;                     /* a video keyframe */
    int64_t arrival_us;          /* when it reached the output (monotonic) */
} CacheEntry;

typedef struct Cache {
    CacheEntry *e;               /* ring of OUT_CACHE_MAX */
    int64_t first;               /* sequence number of the oldest entry */
    int64_t end;                 /* one past the newest */
    int64_t newest_pts_us;
} Cache;

enum OutInstState {
    OI_IDLE,                   /* no muxer */
    OI_OPENING,                /* muxer opening, not to be fed yet */
    OI_READY,                  /* open, not fed (standby, recovered primary) */
    OI_STARTING,               /* to be fed from cursor as soon as it is open */
    OI_WAIT_KEY,               /* to take over at the next keyframe (planned) */
    OI_ACTIVE,                 /* fed */
    OI_DRAINING,               /* fed until the new one has every keyframe */
    OI_CLOSING,                /* told to end, thread finishing */
};

typedef struct Inst {
    char component[64];          /* "out:main", "out:main.backup2" */
    const char *url;             /* the job's, or own_url; NULL when vacant */
    char *own_url;               /* a destination added at run time (COMP_OP_ADD,
                                    a provision hook's URL): owned, freed
                                    when it is let go; NULL for the job's */
    int dynamic;                 /* added at run time: its release frees the slot */
    int vacant;                  /* a dynamic slot let go: no destination, only
                                    an ADD fills it again */
    int retire;                  /* closing on its release: vacant once reaped */
    AVDictionary *options;       /* not owned: the job's */
    int64_t rw_timeout_us;
    int64_t stall_timeout_us;
    int64_t send_buffer;
    Mux *mux;
    FaultPoint faults;           /* its faults, kept across its muxers (one
                                    at a time uses it: the last is joined
                                    before the next starts) */
    enum OutInstState state;
    int64_t cursor;              /* next cache entry to feed it */
    int64_t params_seq;          /* cache end when its muxer was created */
    int need_key[OUT_MAX_INPUTS];/* video inputs waiting for a keyframe */
    int64_t start_pts_us;        /* audio before this is not fed */
    int fails;                   /* in all (published) */
    int64_t hls_next;            /* HLS: no muxer of this destination has used
                                    this number or a higher one (MuxStats) */
    int muxers;                  /* muxers started for it so far (DASH names) */
    int streak;                  /* failures in a row: the back-off */
    int64_t up_since;            /* first seen open since its last failure
                                    (0: not since) */
    int64_t retry_at;            /* 0: no retry scheduled */
    int64_t ready_since;
    int64_t switch_started;      /* when it was chosen, for the latency */
    uint32_t open_seq;           /* a provision waiting for it to be ready */
    uint32_t switch_seq;         /* a planned switch to it, waiting for a keyframe */
    int finishing;               /* active at the end: told to write the rest and
                                    its trailer; still a failure if that fails */
    InstStatus pub;              /* as last published */
} Inst;

struct Output {
    Stage st;
    const JobStream *js;
    const JobOutput *jo;
    const StreamClock *clock;
    ThreadQueue *in;             /* not owned */
    OutInput *inputs;
    int nb_inputs;
    FaultPoint drills;           /* actions named "out:NAME" */
    Continuity *cont;            /* frames lost from the timeline; its
                                    muxers report to it */
    int replacing;               /* a reload's replacement (output_hold, before
                                    the thread starts): HLS goes on in the
                                    playlists there */
    _Atomic int continued;       /* the stream goes on in a reload's pipeline:
                                    HLS without ENDLIST (output_continued) */
    _Atomic int final;           /* the stream ends for good, epoch-locked or
                                    not: HLS with ENDLIST (output_final) */
    _Atomic int held;            /* a reload's replacement: cache, write nothing
                                    until output_release */
    _Atomic int64_t take_from_us;/* ... then start at the newest keyframe that
                                    arrived before this (monotonic) */
    _Atomic int ready;           /* held, with a keyframe to start from */
    _Atomic int fenced;          /* a fleet node that may no longer own the
                                    stream: write nothing, keep the rest warm
                                    (output_fence) */
    _Atomic int64_t from_unix_us;/* a planned move's boundary (output_window):
                                    start writing there, not before */
    _Atomic int64_t until_unix_us;/* ... on the node it leaves: end there */
    _Atomic int64_t fence_keep_us;/* while fenced, the cache reaches this far
                                    back at least (a hot pair's follower) */
    int cut;                     /* output thread: until_unix_us reached */

    /* Output thread only. */
    Inst inst[OUT_MAX_INSTANCES];
    int nb_inst;
    int active;                  /* the instance fed, -1 none */
    Cache cache;
    int key_input;               /* the video input whose keyframes cut */
    int64_t window_us;
    int64_t ts_shift_us;         /* keeps every timestamp >= 0, all instances */
    int64_t grid_start_us;       /* epoch lock: media time of the keyframe the
                                    primary starts at, on the segment grid */
    int grid_pending;            /* ... for the next inst_open */
    int grid_said;               /* the grid could not be kept: said */
    char shown[512];

    _Atomic int64_t switches, reconnects, errors;
    _Atomic int opened, active_idx;
    /* stats of instances that ended, added to the live ones' */
    _Atomic int64_t done_packets, done_bytes;
    _Atomic int64_t last_pts_us, write_us_last, write_us_max;
    _Atomic int64_t waited_us, budget_us;     /* the destination in use's (MuxStats) */
    _Atomic int64_t pub_packets, pub_bytes;   /* published by publish_stats */
    _Atomic int64_t pub_write_us_sum, pub_writes, tick_max_write, pub_busy_us;
    _Atomic int64_t done_write_us_sum, done_writes, done_busy_us;
    _Atomic int64_t done_http[5], pub_http[5];  /* checks, then 2xx..5xx answers */
    _Atomic int64_t newest_seq, segment_ms;     /* pathways: the playlists' newest
                                                   segment (pathway_io.h) */
};

int output_nb_inputs(const JobOutput *jo, int has_audio)
{
    return jo->nb_renditions + !!has_audio;
}

int output_wants_global_header(const JobOutput *jo)
{
    return mux_wants_global_header(jo->format);
}

/* --- cache ---------------------------------------------------------------- */

static CacheEntry *cache_at(Cache *c, int64_t seq)
{
    return &c->e[seq % OUT_CACHE_MAX];
}

static void cache_drop_first(Output *out)
{
    Cache *c = &out->cache;
    CacheEntry *e = cache_at(c, c->first);

    if (e->kind == TQ_PARAMS) {
        /* the parameters now hold from the cache's start */
        params_free(&out->inputs[e->index].sp);
        out->inputs[e->index].sp = e->ptr;
    } else {
        tq_item_free(e->kind, e->ptr);
    }
    e->ptr = NULL;
    c->first++;
}

/* The oldest cursor an instance still needs, or the cache end. */
static int64_t needed_from(Output *out)
{
    int64_t min = out->cache.end;

    for (int i = 0; i < out->nb_inst; i++) {
        enum OutInstState s = out->inst[i].state;
        if ((s == OI_STARTING || s == OI_ACTIVE || s == OI_DRAINING) &&
            out->inst[i].cursor < min)
            min = out->inst[i].cursor;
    }
    return min;
}

/* The media time before which the cache may let packets go: what the
 * destination in use is known to hold (less the interleaving slack), or,
 * when that is not known, the window. */
static int64_t cache_keep_from(Output *out)
{
    Cache *c = &out->cache;
    int64_t confirmed;
    MuxConfirm how = MUX_CONFIRM_NONE;

    if (out->active >= 0 && out->inst[out->active].mux &&
        (out->inst[out->active].state == OI_ACTIVE || out->inst[out->active].state == OI_STARTING))
        how = mux_confirmed(out->inst[out->active].mux, &confirmed);
    if (how == MUX_CONFIRM_NONE && atomic_load(&out->fenced))
        return c->newest_pts_us - FFMIN(FFMAX(out->window_us, atomic_load(&out->fence_keep_us)),
                                        OUT_CACHE_MAX_US);
    if (how == MUX_CONFIRM_NONE)
        return c->newest_pts_us - out->window_us;
    if (confirmed == INT64_MIN)
        return c->newest_pts_us - OUT_CACHE_MAX_US;
    return FFMAX(FFMIN(confirmed - OUT_CONFIRM_SLACK_US, c->newest_pts_us - OUT_CONFIRM_FLOOR_US),
                 c->newest_pts_us - OUT_CACHE_MAX_US);
}

/* Keeps the cache starting at a keyframe of the cutting input and covering
 * what the destination in use may not hold yet (cache_keep_from); never
 * drops what a destination still has to get. */
static void cache_trim(Output *out)
{
    Cache *c = &out->cache;
    int64_t need = needed_from(out);
    int64_t keep_from = cache_keep_from(out);

    for (;;) {
        int64_t next_key = -1;
        CacheEntry *e;

        if (c->end - c->first >= OUT_CACHE_MAX) {
            /* full: nothing drains it (every destination down) */
            cache_drop_first(out);
            continue;
        }
        /* the second keyframe: everything before it may go if the window
         * is covered from there */
        for (int64_t s = c->first + 1; s < c->end && s < need; s++) {
            e = cache_at(c, s);
            if (e->kind == TQ_PACKET && e->index == out->key_input && e->key) {
                next_key = s;
                break;
            }
        }
        if (next_key < 0 || cache_at(c, next_key)->pts_us > keep_from)
            return;
        while (c->first < next_key)
            cache_drop_first(out);
    }
}

static void cache_push(Output *out, int kind, int index, void *ptr)
{
    Cache *c = &out->cache;
    CacheEntry *e;

    if (c->end - c->first >= OUT_CACHE_MAX)
        cache_drop_first(out);
    e = cache_at(c, c->end++);
    e->kind = kind;
    e->index = index;
    e->ptr = ptr;
    e->key = 0;
    e->pts_us = c->newest_pts_us;
    e->arrival_us = av_gettime_relative();
    if (kind == TQ_PACKET) {
        AVPacket *pkt = ptr;
        if (pkt->pts != AV_NOPTS_VALUE)
            e->pts_us = av_rescale_q(pkt->pts, pkt->time_base, AV_TIME_BASE_Q);
        e->key = !out->inputs[index].is_audio && (pkt->flags & AV_PKT_FLAG_KEY);
        if (e->pts_us > c->newest_pts_us)
            c->newest_pts_us = e->pts_us;
    }
}

static void cache_clear(Output *out)
{
    while (out->cache.first < out->cache.end)
        cache_drop_first(out);
}

/* --- destinations --------------------------------------------------------- */

/* Answers request seq about in (an event that carries the seq; in NULL:
 * the output as a whole). */
static void answer(Output *out, const Inst *in, EventKind kind, uint32_t seq, int err,
                   const char *fmt, ...) av_printf_format(6, 7);

static void answer(Output *out, const Inst *in, EventKind kind, uint32_t seq, int err,
                   const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    evlog_emit_seq(out->st.events, out->st.stream, in ? in->component : out->st.component,
                   kind, err, seq, "%s", msg);
}

/* An event of the output's that answers no request. */
#define emit(out, kind, ...) answer(out, NULL, kind, 0, 0, __VA_ARGS__)

/* Slot i as a fresh closed destination: its name ("out:main",
 * "out:main.backup", "out:main.backup2", comp.h's rules), URL (not
 * copied), options and faults. */
static void inst_setup(Output *out, int i, const char *url, AVDictionary *options,
                       int64_t rw_timeout_us, int64_t stall_timeout_us, int64_t send_buffer)
{
    Inst *d = &out->inst[i];
    char role[16];

    memset(d, 0, sizeof(*d));
    if (!i)
        snprintf(d->component, sizeof(d->component), "%s", out->st.component);
    else
        snprintf(d->component, sizeof(d->component), "%s.%s", out->st.component,
                 comp_instance_name(i, role, sizeof(role)));
    d->url = url;
    d->options = options;
    d->rw_timeout_us = rw_timeout_us;
    d->stall_timeout_us = stall_timeout_us;
    d->send_buffer = send_buffer;
    fault_point_init(&d->faults, out->js, d->component);
    fault_point_report(&d->faults, out->st.events, out->js->name);
}

/* An HLS destination's segment length, s (libav's default 2 s). */
static double output_hls_time(const AVDictionary *options)
{
    return job_option_duration_us(options, "hls_time", 2000000) / 1e6;
}

/* The shortest segment an HLS muxer with these options cuts, us. */
static int64_t hls_segment_min_us(const AVDictionary *options)
{
    int64_t t = job_option_duration_us(options, "hls_time", 2000000);
    int64_t init = job_option_duration_us(options, "hls_init_time", 0);

    if (init > 0 && init < t)
        t = init;
    return FFMAX(t, 1);
}

/* Starts a muxer for inst with the parameters that hold at the cache's
 * start (a replay) or now (opened ahead). */
static int inst_open(Output *out, Inst *in, int at_cache_start)
{
    MuxInput mi[OUT_MAX_INPUTS];
    const StreamParams *sp[OUT_MAX_INPUTS];
    MuxConfig cfg = {
        .js = out->js, .jo = out->jo, .component = in->component, .url = in->url,
        .options = in->options, .rw_timeout_us = in->rw_timeout_us,
        .stall_timeout_us = in->stall_timeout_us, .send_buffer = in->send_buffer,
        .hls_start_number = -1, .ts_shift_us = out->ts_shift_us, .clock = out->clock,
        .events = out->st.events, .faults = &in->faults, .wake = out->in,
        .continuity = out->cont, .hls_append = out->replacing, .continued = &out->continued,
        .final = &out->final,
    };
    int64_t upto = at_cache_start ? out->cache.first : out->cache.end;
    int64_t epoch = out->clock ? atomic_load(&out->clock->epoch_us) : 0;
    int64_t seg_us = job_output_segment_us(out->jo, in->options);
    int ret;

    for (int i = 0; i < out->nb_inputs; i++)
        sp[i] = out->inputs[i].state == IN_ABSENT ? NULL : out->inputs[i].sp;
    for (int64_t s = out->cache.first; s < upto; s++) {
        CacheEntry *e = cache_at(&out->cache, s);
        if (e->kind == TQ_PARAMS)
            sp[e->index] = e->ptr;
    }
    for (int i = 0; i < out->nb_inputs; i++)
        mi[i] = (MuxInput){ out->inputs[i].is_audio, out->inputs[i].name, sp[i] };

    /* HLS on another destination, or on the primary opened again (after a
     * failure, to switch back to it): number segments by media time
     * (hls_time apart, from 0; an epoch-locked stream's from 1970), so the
     * playlists agree and a primary that comes back does not start again
     * at index0 over what its origin has */
    if (!strcmp(out->jo->format, "hls") && (in != &out->inst[0] || in->fails)) {
        double hls_time = output_hls_time(in->options);
        int64_t from = at_cache_start ? cache_at(&out->cache, out->cache.first)->pts_us
                                      : out->cache.newest_pts_us;
        if (hls_time > 0 && out->cache.end > out->cache.first)
            cfg.hls_start_number = (int64_t)((from + epoch) / 1e6 / hls_time);
    }

    /* epoch lock: the first segment starts on the grid of hls_time from
     * 1970 (grid_start_us, chosen by the caller: output_run, fence) and
     * is numbered by it, so every node that runs the stream cuts and
     * numbers the same segments with the same timestamps, and a node that
     * takes the stream over goes on in the timeline (no discontinuity).
     * Without a locked timeline (the stream's first packet not seen), the
     * wall clock's count of hls_time periods: a takeover numbers after
     * what the previous leader could have cut, never over it. */
    cfg.epoch_lock = job_output_epoch_locked(out->jo);
    cfg.timeline_locked = cfg.epoch_lock && epoch;
    if (cfg.epoch_lock && out->grid_pending) {
        cfg.hls_start_number = (out->grid_start_us + epoch + seg_us / 2) / FFMAX(seg_us, 1);
        out->grid_pending = 0;
    } else if (cfg.epoch_lock && !strcmp(out->jo->format, "hls") && !out->replacing &&
               !(in != &out->inst[0] || in->fails)) {
        double hls_time = output_hls_time(in->options);
        if (hls_time > 0)
            cfg.hls_start_number = (int64_t)(av_gettime() / 1e6 / hls_time);
    }
    /* Unix time on the outputs that are epoch-locked; the others keep
     * media time (FLV's 32-bit millisecond timestamps would overflow) */
    if (cfg.epoch_lock)
        cfg.ts_shift_us += epoch;
    /* never a number this destination's earlier muxers used: its origin
     * holds one file per number, and this muxer's, starting later in the
     * media, would take the earlier one's first seconds with it (a
     * destination that takes over again replays from before the number
     * its media time gives, or was opened ahead, long before) */
    if (!strcmp(out->jo->format, "hls")) {
        cfg.hls_segment_min_us = hls_segment_min_us(in->options);
        /* not on an epoch-locked output: there a number is a place on the
         * grid every node shares (a segment written again there is the
         * same media), and a destination_gap looks segments up by it */
        if (!cfg.epoch_lock && in->hls_next > FFMAX(cfg.hls_start_number, 0)) {
            av_log(out, AV_LOG_VERBOSE, "%s: segments numbered from %" PRId64 ", after its "
                   "earlier ones (%" PRId64 " by media time)\n", in->component, in->hls_next,
                   cfg.hls_start_number);
            cfg.hls_start_number = in->hls_next;
        }
    }
    cfg.dash_run = in->muxers;
    cfg.newest_seq = &out->newest_seq;
    cfg.segment_ms = &out->segment_ms;
    ret = mux_alloc(&in->mux, &cfg, mi, out->nb_inputs);
    if (ret >= 0)
        ret = mux_start(in->mux);
    if (ret >= 0)
        in->muxers++;
    if (ret < 0) {
        mux_free(&in->mux);
        return ret;
    }
    in->params_seq = upto;
    return 0;
}

/* Joins inst's muxer thread (it has ended or been told to) and keeps its
 * figures. */
static void inst_reap(Output *out, Inst *in)
{
    MuxStats ms;

    if (!in->mux)
        return;
    mux_join(in->mux);
    mux_stats(in->mux, &ms);
    in->hls_next = FFMAX(in->hls_next, ms.hls_next_number);
    atomic_fetch_add(&out->done_packets, ms.packets);
    atomic_fetch_add(&out->done_bytes, ms.bytes);
    atomic_fetch_add(&out->done_write_us_sum, ms.write_us_sum);
    atomic_fetch_add(&out->done_writes, ms.writes);
    atomic_fetch_add(&out->done_busy_us, ms.busy_us);
    atomic_fetch_add(&out->done_http[0], ms.http_checks);
    for (int i = 0; i < 4; i++)
        atomic_fetch_add(&out->done_http[1 + i], ms.http_status[i]);
    mux_free(&in->mux);
    in->state = OI_IDLE;
    in->finishing = 0;
}

/* Tells inst's muxer to end, trailer or not. It finishes on its own thread
 * (a trailer to a slow peer must not hold the other destinations up);
 * supervise() reaps it. */
static void inst_close(Output *out, Inst *in, int trailer)
{
    if (!in->mux)
        return;
    tq_send(mux_queue(in->mux), TQ_END, trailer ? 0 : 1, NULL);
    in->state = OI_CLOSING;
}

static int has_backups(Output *out)
{
    for (int i = 1; i < out->nb_inst; i++)
        if (!out->inst[i].vacant)
            return 1;
    return 0;
}

/* A dynamic destination let go: its URL is forgotten (the release hook
 * lets the remote behind it go too) and its slot is free for another ADD;
 * free slots at the end are dropped, so that status lists no more
 * instances than the output has. */
static void inst_vacate(Output *out, Inst *in)
{
    av_freep(&in->own_url);
    in->url = NULL;
    in->vacant = 1;
    in->retire = 0;
    in->retry_at = 0;
    in->open_seq = in->switch_seq = 0;
    while (out->nb_inst > 1 && out->inst[out->nb_inst - 1].vacant)
        out->nb_inst--;
}

/* A destination failed: join it and schedule it again (with back-off) when
 * the output has backups. */
static void inst_failed(Output *out, Inst *in, int64_t now)
{
    int64_t backoff;

    atomic_fetch_add(&out->errors, 1);
    inst_reap(out, in);
    if (in->open_seq)
        answer(out, in, EV_REFUSED, in->open_seq, 0, "failed while opening");
    if (in->switch_seq)
        answer(out, in, EV_REFUSED, in->switch_seq, 0, "failed before it could take over");
    in->open_seq = in->switch_seq = 0;
    in->fails++;
    /* the back-off grows with the failures in a row: a destination that
     * had been up longer than the longest back-off starts again from the
     * shortest, else one that failed a few times in an hour is tried
     * only every 30 s for good, and a primary and its backup failing
     * together (the backup as it takes over) stay down past the cache */
    if (in->up_since && now - in->up_since >= OUT_RETRY_MAX_US)
        in->streak = 0;
    in->streak++;
    in->up_since = 0;
    in->ready_since = 0;
    if (!has_backups(out)) {
        in->retry_at = 0;
        return;
    }
    backoff = inst_backoff(in->streak, OUT_RETRY_MIN_US, OUT_RETRY_MAX_US);
    in->retry_at = now + backoff;
}

/* Makes inst the destination fed from cursor, waiting for a keyframe on
 * every video input (and skipping audio before start_pts). */
static void inst_take_over(Output *out, Inst *in, int64_t cursor, int64_t start_pts)
{
    in->cursor = cursor;
    in->start_pts_us = start_pts;
    in->finishing = 0;
    for (int i = 0; i < out->nb_inputs; i++)
        in->need_key[i] = !out->inputs[i].is_audio;
    in->state = in->mux && mux_state(in->mux) == MUX_READY ? OI_ACTIVE : OI_STARTING;
    out->active = (int)(in - out->inst);
    atomic_store(&out->active_idx, out->active);
}

/* Feeds inst what it has not had yet. Never blocks: a full queue is
 * tried again at the next wake-up (the cache keeps the packets). */
static void feed(Output *out, Inst *in)
{
    ThreadQueue *q = mux_queue(in->mux);

    /* parameters that changed after its muxer was created and before its
     * cursor (it was opened ahead, then took over at a keyframe) */
    for (; in->params_seq < in->cursor; in->params_seq++) {
        CacheEntry *e = cache_at(&out->cache, in->params_seq);
        StreamParams *sp;
        if (in->params_seq < out->cache.first || e->kind != TQ_PARAMS)
            continue;
        sp = params_clone(e->ptr);
        if (!sp || tq_send_timeout(q, TQ_PARAMS, e->index, sp, 0) < 0) {
            params_free(&sp);
            return;
        }
    }
    while (in->cursor < out->cache.end) {
        CacheEntry *e = cache_at(&out->cache, in->cursor);
        void *copy;
        int ret;

        if (e->kind == TQ_PACKET) {
            if (in->need_key[e->index]) {
                if (!e->key) {
                    in->cursor++;
                    continue;
                }
                in->need_key[e->index] = 0;
            } else if (out->inputs[e->index].is_audio && e->pts_us < in->start_pts_us) {
                in->cursor++;
                continue;
            }
            copy = av_packet_clone(e->ptr);
            if (copy)
                mux_stamp_arrival(copy, e->arrival_us);
        } else {
            copy = params_clone(e->ptr);
        }
        if (!copy)
            return;
        ret = tq_send_timeout(q, e->kind, e->index, copy, 0);
        if (ret < 0) {
            tq_item_free(e->kind, copy);
            return;              /* full: later; closed: its failure is seen */
        }
        in->cursor++;
        in->params_seq = FFMAX(in->params_seq, in->cursor);
    }
}

static int all_keys_seen(Output *out, const Inst *in)
{
    for (int i = 0; i < out->nb_inputs; i++)
        if (in->need_key[i] && out->inputs[i].state == IN_PRESENT)
            return 0;
    return 1;
}

/* The next destination to take over from failed (or any, with failed -1):
 * one that is open beats one that is opening beats one that can be opened;
 * in the order of the job (primary, backups). */
static Inst *pick_next(Output *out, int failed, int64_t now)
{
    static const enum OutInstState pref[] = { OI_READY, OI_OPENING, OI_IDLE };

    for (size_t p = 0; p < sizeof(pref) / sizeof(pref[0]); p++)
        for (int i = 0; i < out->nb_inst; i++) {
            Inst *in = &out->inst[i];
            if (i == failed || in->state != pref[p] || in->vacant)
                continue;
            if (pref[p] == OI_IDLE && in->retry_at && now < in->retry_at)
                continue;
            return in;
        }
    return NULL;
}

/* The active destination failed: the next takes over at the cache's start. */
static void failover(Output *out, int64_t now)
{
    Inst *failed = &out->inst[out->active];
    int fidx = out->active;
    Inst *next;
    CacheEntry *first;

    inst_failed(out, failed, now);
    out->active = -1;
    atomic_store(&out->active_idx, -1);
    next = pick_next(out, fidx, now);
    if (!next) {
        if (has_backups(out))
            emit(out, EV_WARNING, "no destination can take over now: keeping the last %.0f s "
                 "and trying again", out->window_us / 1e6);
        return;
    }
    if (next->state == OI_IDLE && inst_open(out, next, 1) < 0) {
        emit(out, EV_WARNING, "cannot start %s", next->component);
        return;
    }
    first = out->cache.first < out->cache.end ? cache_at(&out->cache, out->cache.first) : NULL;
    next->switch_started = now;
    inst_take_over(out, next, out->cache.first, first ? first->pts_us : 0);
    atomic_fetch_add(&out->switches, 1);
    emit(out, EV_SWITCH, "%s takes over from %s (%s), replaying from %.3f s",
         next->component, failed->component,
         next->state == OI_ACTIVE ? "opened ahead" : "opening now",
         first ? first->pts_us / 1e6 : 0.0);
}

/* A planned switch to target at the next keyframe; seq: the request it
 * answers (0: the output's own, switching back). Returns 0, or < 0 when it
 * cannot be planned (answered when seq). */
static int plan_switch(Output *out, Inst *target, const char *why, uint32_t seq)
{
    int ret;

    if (out->active >= 0 && target == &out->inst[out->active]) {
        if (seq)
            answer(out, target, EV_REFUSED, seq, 0, "already in use");
        return AVERROR(EINVAL);
    }
    if (target->state == OI_WAIT_KEY) {
        if (seq && target->switch_seq)
            answer(out, target, EV_REFUSED, target->switch_seq, 0, "superseded by request %u",
                   (unsigned)seq);
        target->switch_seq = seq ? seq : target->switch_seq;
        return 0;
    }
    if (target->state == OI_CLOSING || target->state == OI_DRAINING) {
        if (seq)
            answer(out, target, EV_REFUSED, seq, 0, "it is closing");
        return AVERROR(EBUSY);
    }
    if (target->state == OI_IDLE && (ret = inst_open(out, target, 0)) < 0) {
        if (seq)
            answer(out, target, EV_REFUSED, seq, ret, "cannot open it");
        return ret;
    }
    target->state = OI_WAIT_KEY;
    target->switch_seq = seq;
    emit(out, EV_INFO, "%s takes over at the next keyframe (%s)", target->component, why);
    return 0;
}

/* A packet at seq is a keyframe of the cutting input: a planned switch
 * waiting for it happens now. */
static void cut_at(Output *out, int64_t seq, int64_t now)
{
    for (int i = 0; i < out->nb_inst; i++) {
        Inst *in = &out->inst[i];
        Inst *old;
        if (in->state != OI_WAIT_KEY || !in->mux || mux_state(in->mux) != MUX_READY)
            continue;
        old = out->active >= 0 ? &out->inst[out->active] : NULL;
        /* an old destination that is behind (slow, the very reason to
         * switch) may fail before it has written up to the cut: the new
         * one starts from the keyframe at or before what the old one has
         * written, so that nothing depends on the old one draining */
        if (old && old->mux) {
            MuxStats ms;
            mux_stats(old->mux, &ms);
            for (int64_t q = seq; ms.packets && q >= out->cache.first; q--) {
                const CacheEntry *e = cache_at(&out->cache, q);
                if (e->kind == TQ_PACKET && e->key && e->index == out->key_input &&
                    e->pts_us <= ms.last_pts_us) {
                    seq = q;
                    break;
                }
            }
        }
        in->switch_started = now;
        inst_take_over(out, in, seq, cache_at(&out->cache, seq)->pts_us);
        if (old)
            old->state = OI_DRAINING;
        atomic_fetch_add(&out->switches, 1);
        answer(out, NULL, EV_SWITCH, in->switch_seq, 0, "%s took over at %.3f s%s%s", in->component,
               cache_at(&out->cache, seq)->pts_us / 1e6, old ? " from " : "",
               old ? old->component : "");
        in->switch_seq = 0;
        return;
    }
}

/* Provision: open instance i ahead (COMP_ANY: the first backup that is
 * closed). Answered when it is ready (supervise) or fails. */
static void provision(Output *out, const CompRequest *r)
{
    int i = r->instance;
    Inst *in;
    int ret;

    if (i == COMP_ANY) {
        for (i = 1; i < out->nb_inst && (out->inst[i].state != OI_IDLE || out->inst[i].vacant); i++)
            ;
        if (i == out->nb_inst) {
            answer(out, NULL, EV_REFUSED, r->seq, 0, "every backup is open already");
            return;
        }
    }
    in = &out->inst[i];
    switch (in->state) {
    case OI_IDLE:
        if ((ret = inst_open(out, in, 0)) < 0) {
            answer(out, in, EV_REFUSED, r->seq, ret, "cannot open it");
            return;
        }
        in->state = OI_OPENING;
        in->open_seq = r->seq;
        emit(out, EV_INFO, "provisioning %s (%s)", in->component, r->origin);
        return;
    case OI_OPENING:
        if (in->open_seq)
            answer(out, in, EV_REFUSED, in->open_seq, 0, "superseded by request %u", (unsigned)r->seq);
        in->open_seq = r->seq;
        return;
    case OI_READY:
    case OI_WAIT_KEY:
        answer(out, in, EV_PROVISIONED, r->seq, 0, "%s is open already", in->component);
        return;
    default:
        answer(out, in, EV_REFUSED, r->seq, 0, "%s is in use", in->component);
    }
}

/* Add: a destination the job does not name (a provision hook's URL, from
 * the allocator) becomes backup r->instance, the next slot or a vacant
 * one, with the output's format, options and rw_timeout, and is opened
 * ahead; answered as a provision is (EV_PROVISIONED once it is ready), or
 * refused (no room, not the next instance, cannot open it). The URL is
 * copied: the request is the mailbox's. */
static void add_backup(Output *out, const CompRequest *r)
{
    int i = r->instance, ret;
    char shown[512];
    Inst *in;

    if (!memchr(r->url, 0, sizeof(r->url)) || !r->url[0]) {
        answer(out, NULL, EV_REFUSED, r->seq, 0, "add: no URL");
        return;
    }
    redact_url(r->url, shown, sizeof(shown));
    if (out->nb_inst >= OUT_MAX_INSTANCES && (i < 1 || i >= out->nb_inst || !out->inst[i].vacant)) {
        answer(out, NULL, EV_REFUSED, r->seq, 0, "no room for %s: the output has %d "
               "destinations, %d at most", shown, out->nb_inst, OUT_MAX_INSTANCES);
        return;
    }
    if (i < 1 || i > out->nb_inst || (i < out->nb_inst && !out->inst[i].vacant)) {
        answer(out, NULL, EV_REFUSED, r->seq, 0, "cannot add %s as instance %d: the next free "
               "one is %d", shown, i, out->nb_inst);
        return;
    }
    inst_setup(out, i, NULL, out->jo->options, out->jo->rw_timeout_us,
               out->jo->stall_timeout_us, out->jo->send_buffer_size);
    in = &out->inst[i];
    in->dynamic = 1;
    if (!(in->own_url = av_strdup(r->url))) {
        inst_vacate(out, in);
        answer(out, NULL, EV_REFUSED, r->seq, AVERROR(ENOMEM), "cannot add %s", shown);
        return;
    }
    in->url = in->own_url;
    out->nb_inst = FFMAX(out->nb_inst, i + 1);
    if ((ret = inst_open(out, in, 0)) < 0) {
        answer(out, in, EV_REFUSED, r->seq, ret, "cannot open %s", shown);
        inst_vacate(out, in);
        return;
    }
    in->state = OI_OPENING;
    in->open_seq = r->seq;
    emit(out, EV_INFO, "added %s as %s (%s), provisioning it", shown, in->component, r->origin);
}

/* Release: close instance i if it is open and not in use (COMP_ANY: every
 * backup that is). A destination added at run time is let go for good:
 * its slot becomes vacant once its muxer has ended. */
static void release(Output *out, const CompRequest *r)
{
    int n = 0;

    if (r->instance != COMP_ANY) {
        Inst *in = &out->inst[r->instance];
        if (r->instance == out->active || in->state == OI_STARTING || in->state == OI_ACTIVE ||
            in->state == OI_DRAINING) {
            answer(out, in, EV_REFUSED, r->seq, 0, "%s is in use", in->component);
            return;
        }
    }
    for (int i = 1; i < out->nb_inst; i++) {
        Inst *in = &out->inst[i];
        if ((r->instance != COMP_ANY && i != r->instance) || i == out->active)
            continue;
        if (in->state == OI_READY || in->state == OI_OPENING || in->state == OI_WAIT_KEY) {
            if (in->open_seq)
                answer(out, in, EV_REFUSED, in->open_seq, 0, "released before it was ready");
            if (in->switch_seq)
                answer(out, in, EV_REFUSED, in->switch_seq, 0, "released before it took over");
            in->open_seq = in->switch_seq = 0;
            inst_close(out, in, 0);
            in->retire = in->dynamic;
            answer(out, in, EV_RELEASED, r->seq, 0, "released %s (%s)%s", in->component, r->origin,
                   in->dynamic ? ": a destination added at run time, its slot is freed" : "");
            n++;
        } else if (in->dynamic && in->state == OI_IDLE && !in->vacant && r->instance == i) {
            /* closed already (failed, in back-off): let its URL go all the same */
            answer(out, in, EV_RELEASED, r->seq, 0, "released %s (%s): it was not open; a "
                   "destination added at run time, its slot is freed", in->component, r->origin);
            inst_vacate(out, in);
            n++;
        }
    }
    if (!n)
        answer(out, r->instance == COMP_ANY ? NULL : &out->inst[r->instance], EV_RELEASED, r->seq,
               0, "nothing to release: not open");
}

/* Switch: a planned switch to instance i at the next keyframe (COMP_ANY:
 * the next destination after the one in use, wrapping). */
static void switch_to(Output *out, const CompRequest *r)
{
    int i = r->instance;

    if (i == COMP_ANY) {
        for (int k = 1; k < out->nb_inst && i == COMP_ANY; k++) {
            int c = (FFMAX(out->active, 0) + k) % out->nb_inst;
            enum OutInstState st = out->inst[c].state;
            if (!out->inst[c].vacant &&
                (st == OI_IDLE || st == OI_OPENING || st == OI_READY || st == OI_WAIT_KEY))
                i = c;
        }
        if (i == COMP_ANY) {
            answer(out, NULL, EV_REFUSED, r->seq, 0, "no other destination can take over");
            return;
        }
    }
    plan_switch(out, &out->inst[i], r->origin[0] ? r->origin : "requested", r->seq);
}

/* The drills due now go into the mailbox, then the mailbox is served in
 * order: a drill and a request from the control socket are one thing. */
static void handle_requests(Output *out)
{
    JobFaultKind acts[8];
    int n = fault_actions(&out->drills, out->cache.newest_pts_us, acts, 8);
    CompRequest r;

    for (int i = 0; i < n; i++) {
        CompRequest d = {
            .op = acts[i] == JOB_ACTION_PROVISION ? COMP_OP_PROVISION :
                  acts[i] == JOB_ACTION_RELEASE ? COMP_OP_RELEASE : COMP_OP_SWITCH,
            .instance = acts[i] == JOB_ACTION_SWITCH_BACK ? 0 : COMP_ANY,
            .seq = comp_next_seq(), .origin = "drill",
        };
        if (stage_post(&out->st, &d) < 0)
            emit(out, EV_WARNING, "drill dropped: %d requests wait already", STAGE_MAILBOX);
    }
    while (stage_take(&out->st, &r)) {
        if (r.op == COMP_OP_ADD) {
            add_backup(out, &r);
            continue;
        }
        if (r.instance != COMP_ANY && (r.instance < 0 || r.instance >= out->nb_inst)) {
            answer(out, NULL, EV_REFUSED, r.seq, 0, "no instance %d (it has %d)", r.instance,
                   out->nb_inst);
            continue;
        }
        if (r.op != COMP_OP_SWITCH && r.instance == 0) {
            answer(out, &out->inst[0], EV_REFUSED, r.seq, 0, "the primary is not %s",
                   r.op == COMP_OP_PROVISION ? "provisioned" : "released");
            continue;
        }
        if (out->nb_inst < 2 && r.op != COMP_OP_SWITCH) {
            answer(out, NULL, EV_REFUSED, r.seq, 0, "the output has no backup");
            continue;
        }
        if (r.instance != COMP_ANY && out->inst[r.instance].vacant) {
            answer(out, &out->inst[r.instance], EV_REFUSED, r.seq, 0, "vacant: its destination "
                   "was released (only a new URL fills it again)");
            continue;
        }
        switch (r.op) {
        case COMP_OP_PROVISION: provision(out, &r); break;
        case COMP_OP_RELEASE:   release(out, &r);   break;
        case COMP_OP_SWITCH:    switch_to(out, &r); break;
        default: answer(out, NULL, EV_REFUSED, r.seq, 0, "unknown request %d", (int)r.op);
        }
    }
}

/* What other threads may read: every instance's state, the one in use. */
static void publish_status(Output *out, int64_t now)
{
    CompStatus st = { .nb_instances = out->nb_inst, .active = out->active };

    for (int i = 0; i < out->nb_inst; i++) {
        Inst *in = &out->inst[i];
        static const InstState map[] = {
            [OI_IDLE] = INST_IDLE, [OI_OPENING] = INST_OPENING, [OI_READY] = INST_READY,
            [OI_STARTING] = INST_ACTIVE, [OI_WAIT_KEY] = INST_READY, [OI_ACTIVE] = INST_ACTIVE,
            [OI_DRAINING] = INST_DRAINING, [OI_CLOSING] = INST_DRAINING,
        };
        InstState s = map[in->state];
        if (s == INST_IDLE && in->retry_at && now < in->retry_at)
            s = INST_BACKOFF;
        if (in->vacant)
            s = INST_VACANT;
        inst_observe(&in->pub, s, in->fails, in->retry_at, now);
        in->pub.dynamic = in->dynamic;
        in->pub.sock_inode = in->mux ? mux_sock_inode(in->mux) : 0;
        st.inst[i] = in->pub;
    }
    stage_publish(&out->st, &st);
}

/* Figures for other threads: the instances belong to this one. */
static void publish_stats(Output *out)
{
    int64_t packets = atomic_load(&out->done_packets), bytes = atomic_load(&out->done_bytes);
    int64_t wsum = atomic_load(&out->done_write_us_sum), writes = atomic_load(&out->done_writes);
    int64_t busy = atomic_load(&out->done_busy_us);
    int64_t http[5];

    for (int i = 0; i < 5; i++)
        http[i] = atomic_load(&out->done_http[i]);

    for (int i = 0; i < out->nb_inst; i++) {
        MuxStats ms;
        int64_t recent;
        if (!out->inst[i].mux)
            continue;
        mux_stats(out->inst[i].mux, &ms);
        packets += ms.packets;
        bytes += ms.bytes;
        wsum += ms.write_us_sum;
        writes += ms.writes;
        busy += ms.busy_us;
        http[0] += ms.http_checks;
        for (int k = 0; k < 4; k++)
            http[1 + k] += ms.http_status[k];
        recent = mux_take_max_write(out->inst[i].mux);
        if (recent > atomic_load(&out->tick_max_write))
            atomic_store(&out->tick_max_write, recent);
        if (ms.last_pts_us > atomic_load(&out->last_pts_us))
            atomic_store(&out->last_pts_us, ms.last_pts_us);
        if (i == out->active) {
            atomic_store(&out->write_us_last, ms.write_us_last);
            atomic_store(&out->waited_us, ms.waited_us);
            atomic_store(&out->budget_us, ms.budget_us);
            if (ms.write_us_max > atomic_load(&out->write_us_max))
                atomic_store(&out->write_us_max, ms.write_us_max);
        }
    }
    atomic_store(&out->pub_packets, packets);
    atomic_store(&out->pub_bytes, bytes);
    atomic_store(&out->pub_write_us_sum, wsum);
    atomic_store(&out->pub_writes, writes);
    atomic_store(&out->pub_busy_us, busy);
    for (int i = 0; i < 5; i++)
        atomic_store(&out->pub_http[i], http[i]);
}

int64_t output_take_max_write(Output *out)
{
    return atomic_exchange(&out->tick_max_write, 0);
}

/* Watches every destination: open ones become ready, failures fail over,
 * retries, switching back, draining ones end. */
static void supervise(Output *out)
{
    int64_t now = av_gettime_relative();

    for (int i = 0; i < out->nb_inst; i++) {
        Inst *in = &out->inst[i];
        MuxState ms = in->mux ? mux_state(in->mux) : MUX_DONE;

        if (in->state == OI_CLOSING) {
            if (ms == MUX_DONE || ms == MUX_FAILED) {
                inst_reap(out, in);
                if (in->retire)
                    inst_vacate(out, in);
                else if (out->js->standby == JOB_STANDBY_ALWAYS && i > 0 && i != out->active &&
                         inst_open(out, in, 0) >= 0)
                    in->state = OI_OPENING;
            }
            continue;
        }
        if (in->mux && ms == MUX_FAILED) {
            if (i == out->active) {
                failover(out, now);
            } else {
                if (in->state == OI_DRAINING)
                    emit(out, EV_WARNING, "%s failed while handing over", in->component);
                inst_failed(out, in, now);
            }
            continue;
        }
        if (in->mux && ms == MUX_READY) {
            atomic_store(&out->opened, 1);
            if (!in->up_since)
                in->up_since = now;
            if (in->state == OI_OPENING) {
                in->state = OI_READY;
                in->ready_since = now;
                if (in->open_seq) {
                    answer(out, in, EV_PROVISIONED, in->open_seq, 0, "%s is ready", in->component);
                    in->open_seq = 0;
                }
                if (in->fails) {
                    atomic_fetch_add(&out->reconnects, 1);
                    emit(out, EV_INFO, "%s is up again", in->component);
                }
            } else if (in->state == OI_STARTING) {
                in->state = OI_ACTIVE;
            }
        }
        if (in->state == OI_IDLE && in->retry_at && now >= in->retry_at && i == 0) {
            /* the primary comes back first, ahead, then takes over after
             * switch_back; a failed backup waits until it is needed */
            in->retry_at = 0;
            if (inst_open(out, in, 0) >= 0)
                in->state = OI_OPENING;
        }
    }

    /* no destination at all: try the first that may be tried */
    if (out->active < 0 && has_backups(out)) {
        Inst *next = pick_next(out, -1, now);
        if (next && (next->state != OI_IDLE || inst_open(out, next, 1) >= 0)) {
            CacheEntry *first = out->cache.first < out->cache.end ?
                                cache_at(&out->cache, out->cache.first) : NULL;
            inst_take_over(out, next, out->cache.first, first ? first->pts_us : 0);
            emit(out, EV_SWITCH, "%s takes over, replaying from %.3f s", next->component,
                 first ? first->pts_us / 1e6 : 0.0);
        }
    }

    handle_requests(out);

    for (int i = 0; i < out->nb_inst; i++) {
        Inst *in = &out->inst[i];
        if (in->state == OI_ACTIVE || in->state == OI_DRAINING)
            feed(out, in);
        if (in->state == OI_ACTIVE && in->switch_started) {
            MuxStats ms;
            mux_stats(in->mux, &ms);
            if (ms.first_write_us) {
                emit(out, EV_INFO, "%s wrote its first packet %.1f ms after the switch",
                     in->component, (ms.first_write_us - in->switch_started) / 1000.0);
                in->switch_started = 0;
            }
        }
    }
    /* the old destination of a planned switch ends once the new one has a
     * keyframe on every rendition */
    if (out->active >= 0 && all_keys_seen(out, &out->inst[out->active]))
        for (int i = 0; i < out->nb_inst; i++)
            if (out->inst[i].state == OI_DRAINING) {
                inst_close(out, &out->inst[i], 1);
                emit(out, EV_INFO, "%s handed over and closes", out->inst[i].component);
            }
    cache_trim(out);
    publish_stats(out);
    publish_status(out, now);
}

/* --- the thread ------------------------------------------------------------ */

static int all_resolved(Output *out)
{
    for (int i = 0; i < out->nb_inputs; i++)
        if (out->inputs[i].state == IN_WAITING)
            return 0;
    return 1;
}

/* Takes an item from the encoders. Returns 1 for a packet of the cutting
 * input that is a keyframe (a planned switch may happen there). */
static int take(Output *out, int kind, int index, void *ptr)
{
    OutInput *in;

    if (index < 0 || index >= out->nb_inputs) {
        tq_item_free(kind, ptr);
        return 0;
    }
    in = &out->inputs[index];
    if (kind == TQ_PARAMS) {
        if (in->state == IN_WAITING) {
            in->sp = ptr;
            in->state = IN_PRESENT;
        } else {
            cache_push(out, TQ_PARAMS, index, ptr);
        }
    } else if (kind == TQ_END) {
        in->state = in->state == IN_WAITING ? IN_ABSENT : IN_ENDED;
    } else if (kind == TQ_PACKET) {
        const AVPacket *pkt = ptr;
        int64_t until = atomic_load(&out->until_unix_us);
        /* a planned move away: nothing from its boundary on is this
         * node's to write (the next node writes it) */
        if (until && pkt->pts != AV_NOPTS_VALUE && out->clock &&
            av_rescale_q(pkt->pts, pkt->time_base, AV_TIME_BASE_Q) +
            atomic_load(&out->clock->epoch_us) >= until) {
            if (index == out->key_input)
                out->cut = 1;
            tq_item_free(kind, ptr);
            return 0;
        }
        /* the timeline reaches this far (a held replacement's is its
         * predecessor's until it takes over) */
        if (!in->is_audio && pkt->dts != AV_NOPTS_VALUE && !atomic_load(&out->held)) {
            continuity_received(out->cont, index,
                                av_rescale_q(pkt->dts, pkt->time_base, AV_TIME_BASE_Q),
                                in->sp ? in->sp->frame_rate : (AVRational){ 0, 1 });
        }
        cache_push(out, TQ_PACKET, index, ptr);
        return index == out->key_input && cache_at(&out->cache, out->cache.end - 1)->key;
    } else {
        tq_item_free(kind, ptr);
    }
    return 0;
}

/* A replacement's first packet: the newest keyframe of the key input that
 * arrived before from_us, so that it goes on where its predecessor
 * stopped, repeating at most a GOP (and the difference of the two
 * pipelines' encoding delays) and missing nothing; the first one when
 * none had. */
static int64_t release_point(Output *out, int64_t from_us)
{
    int64_t pick = -1;

    for (int64_t q = out->cache.first; q < out->cache.end; q++) {
        CacheEntry *e = cache_at(&out->cache, q);
        if (e->kind != TQ_PACKET || !e->key || e->index != out->key_input)
            continue;
        if (pick < 0 || e->arrival_us <= from_us)
            pick = q;
        if (e->arrival_us > from_us)
            break;
    }
    return pick >= 0 ? pick : out->cache.first;
}

/* One wait while nothing is written: what comes is cached (a keyframe
 * makes a held output ready), destinations closing are joined once they
 * have ended. AVERROR_EOF when the inputs ended. */
static int wait_step(Output *out)
{
    int kind, index, ret;
    void *ptr;

    ret = tq_recv(out->in, &kind, &index, &ptr, OUT_POLL_US);
    if (ret == AVERROR_EOF)
        return ret;
    if (ret >= 0) {
        if (kind == TQ_PACKET && index == out->key_input &&
            (((AVPacket *)ptr)->flags & AV_PKT_FLAG_KEY))
            atomic_store(&out->ready, 1);
        take(out, kind, index, ptr);
    }
    for (int i = 0; i < out->nb_inst; i++) {
        Inst *in = &out->inst[i];
        if (in->state == OI_CLOSING && in->mux &&
            (mux_state(in->mux) == MUX_DONE || mux_state(in->mux) == MUX_FAILED))
            inst_reap(out, in);
    }
    cache_trim(out);
    stage_beat(&out->st, 0);
    return 0;
}

/* Waits until the output is neither held nor fenced. AVERROR_EOF when the
 * inputs ended meanwhile. */
static int wait_unheld(Output *out)
{
    while (atomic_load(&out->held) || atomic_load(&out->fenced))
        if (wait_step(out) == AVERROR_EOF)
            return AVERROR_EOF;
    return 0;
}

/* An epoch-locked HLS or DASH output whose stream has a Unix-time
 * timeline (StreamClock): its primary starts at a keyframe on the grid of
 * its segment length from 1970, so that its segments are every node's. */
static int grid_locked(Output *out)
{
    return job_output_epoch_locked(out->jo) && out->clock &&
           atomic_load(&out->clock->epoch_us) &&
           job_output_segment_us(out->jo, out->inst[0].options) > 0;
}

/*
 * Where an epoch-locked primary starts: the first keyframe of the cutting
 * input at or after seq that falls on the segment grid (within half a
 * frame), waited for when the cache has none yet (a segment, when the GOP
 * divides hls_time). A GOP that does not (2 s at 29.97 fps is 60 frames,
 * 2.002 s) may put no keyframe on the grid for minutes: after two
 * segments without one it starts at the next keyframe, said once, its
 * segments then off the grid (numbered by their start). Sets
 * grid_start_us. The cache sequence, or AVERROR_EOF.
 */
static int64_t grid_start(Output *out, int64_t seq)
{
    int64_t epoch = atomic_load(&out->clock->epoch_us);
    int64_t seg = job_output_segment_us(out->jo, out->inst[0].options);
    const StreamParams *sp = out->inputs[out->key_input].sp;
    int64_t half = sp && sp->frame_rate.num > 0 ?
                   av_rescale_q(1, av_inv_q(sp->frame_rate), AV_TIME_BASE_Q) / 2 : 20000;

    int64_t first = -1;           /* the first candidate's media time */

    for (;;) {
        int64_t from = atomic_load(&out->from_unix_us);
        for (seq = FFMAX(seq, out->cache.first); seq < out->cache.end; seq++) {
            const CacheEntry *e = cache_at(&out->cache, seq);
            int64_t d;
            if (e->kind != TQ_PACKET || !e->key || e->index != out->key_input ||
                e->pts_us + epoch < from - half)
                continue;
            if (first < 0)
                first = e->pts_us;
            d = (e->pts_us + epoch) % seg;
            if (e->pts_us - first > 2 * seg) {
                if (!out->grid_said)
                    emit(out, EV_WARNING, "no keyframe on the %.3f s segment grid in two segments: "
                         "the GOP does not divide hls_time; started off the grid (segments not "
                         "aligned with other nodes')", seg / 1e6);
                out->grid_said = 1;
                d = 0;
            }
            if (d <= half || seg - d <= half) {
                out->grid_start_us = e->pts_us;
                out->grid_pending = 1;
                return seq;
            }
        }
        if (wait_step(out) == AVERROR_EOF)
            return AVERROR_EOF;
    }
}

/* The URL (or path) of segment n of the primary destination, as the HLS
 * muxer names it: hls_segment_filename, else mux.c's defaults (one
 * rendition: the playlist's name without .m3u8, then n; several: the
 * first rendition's name, _, n on 5 digits). */
static void segment_url(Output *out, int64_t n, char *buf, size_t size)
{
    const Inst *in = &out->inst[0];
    const AVDictionaryEntry *p = av_dict_get(in->options, "hls_segment_filename", NULL, 0);
    const AVDictionaryEntry *t = av_dict_get(in->options, "hls_segment_type", NULL, 0);
    const char *ext = t && !strcmp(t->value, "fmp4") ? "m4s" : "ts";
    const char *v = out->js->renditions[out->jo->renditions[0]].name, *c, *slash;
    char pat[4096];
    AVBPrint bp;

    /* DASH, epoch-locked: the first representation's, by number
     * (epoch_io.h) */
    if (!strcmp(out->jo->format, "dash")) {
        slash = strrchr(in->url, '/');
        snprintf(buf, size, "%.*schunk-stream0-%" PRId64 ".m4s",
                 slash ? (int)(slash - in->url + 1) : 0, in->url, n);
        return;
    }

    if (p) {
        av_strlcpy(pat, p->value, sizeof(pat));
    } else if (out->jo->nb_renditions > 1 || out->jo->nb_pathways) {
        slash = strrchr(in->url, '/');
        snprintf(pat, sizeof(pat), "%.*s%%v_%%05d.%s", slash ? (int)(slash - in->url + 1) : 0,
                 in->url, ext);
    } else {
        size_t len = strcspn(in->url, "?#");
        if (len > 5 && !av_strncasecmp(in->url + len - 5, ".m3u8", 5))
            len -= 5;
        snprintf(pat, sizeof(pat), "%.*s%%d.%s", (int)len, in->url, ext);
    }
    /* %v: the variant; %d or %0Nd: the number (64 bits: epoch numbers) */
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    for (c = pat; *c; c++) {
        int width = 0;
        const char *d = c + 1;
        if (*c != '%') {
            av_bprint_chars(&bp, *c, 1);
            continue;
        }
        while (*d >= '0' && *d <= '9')
            width = width * 10 + (*d++ - '0');
        if (*d == 'd') {
            av_bprintf(&bp, "%0*" PRId64, width, n);
            c = d;
        } else if (*d == 'v' && d == c + 1) {
            av_bprintf(&bp, "%s", v);
            c = d;
        } else {
            av_bprint_chars(&bp, *c, 1);
        }
    }
    av_strlcpy(buf, bp.str, size);
    av_bprint_finalize(&bp, NULL);
}

/* Does the primary destination hold segment n? Asked with a read that is
 * closed at once (a file: whether it exists), with the destination's
 * headers and user agent, within deadline_us (av_gettime_relative).
 * 1 yes, 0 no (404, or no such file), -1 unknown (no answer in time,
 * refused: an ingest-only origin). */
static int segment_exists(Output *out, int64_t n, int64_t deadline_us)
{
    char url[4096], t[32];
    AVIOContext *pb = NULL;
    AVDictionary *o = NULL;
    const AVDictionary *opts = out->inst[0].options;
    const AVDictionaryEntry *e;
    int64_t left = deadline_us - av_gettime_relative();
    int ret;

    if (left < 100000)
        return -1;
    segment_url(out, n, url, sizeof(url));
    snprintf(t, sizeof(t), "%" PRId64, FFMIN(left, 1000000));
    av_dict_set(&o, "rw_timeout", t, 0);
    av_dict_set(&o, "timeout", t, 0);
    if ((e = av_dict_get(opts, "http_user_agent", NULL, 0)))
        av_dict_set(&o, "user_agent", e->value, 0);
    if ((e = av_dict_get(opts, "headers", NULL, 0)))
        av_dict_set(&o, "headers", e->value, 0);
    ret = avio_open2(&pb, url, AVIO_FLAG_READ, NULL, &o);
    av_dict_free(&o);
    avio_closep(&pb);
    return ret >= 0 ? 1 : ret == AVERROR_HTTP_NOT_FOUND || ret == AVERROR(ENOENT) ? 0 : -1;
}

/*
 * A hot pair's follower taking the stream over (fleet.h): the grid
 * keyframe in the cache after the newest segment the primary destination
 * holds, so that it uploads what the dead leader did not, from what it
 * kept warm. Asked newest first, within 3 s in all (the output reads
 * nothing meanwhile). -1 when it cannot tell (no answer, refused) or
 * holds the newest: the caller starts at its usual point.
 */
static int64_t destination_gap(Output *out)
{
    int64_t epoch = atomic_load(&out->clock->epoch_us);
    int64_t seg = job_output_segment_us(out->jo, out->inst[0].options);
    const StreamParams *sp = out->inputs[out->key_input].sp;
    int64_t half = sp && sp->frame_rate.num > 0 ?
                   av_rescale_q(1, av_inv_q(sp->frame_rate), AV_TIME_BASE_Q) / 2 : 20000;
    int64_t deadline = av_gettime_relative() + 3000000, after = -1;

    for (int64_t q = out->cache.end - 1; q >= out->cache.first; q--) {
        const CacheEntry *e = cache_at(&out->cache, q);
        int64_t t = e->pts_us + epoch, d = t % seg, n = (t + seg / 2) / seg;
        int has;
        if (e->kind != TQ_PACKET || !e->key || e->index != out->key_input ||
            (d > half && seg - d > half))
            continue;
        stage_beat(&out->st, 0);
        if ((has = segment_exists(out, n, deadline)) < 0)
            return -1;
        if (has) {
            if (after >= 0)
                emit(out, EV_INFO, "%s holds segment %" PRId64 " and not the next: written from "
                     "there, from the cache (%.1f s behind)", out->shown, n,
                     (out->cache.newest_pts_us - cache_at(&out->cache, after)->pts_us) / 1e6);
            return after;
        }
        after = q;
    }
    /* none of the cache's segments is there: from its oldest */
    if (after >= 0)
        emit(out, EV_INFO, "%s holds none of the cached segments: written from the oldest "
             "(%.1f s behind)", out->shown,
             (out->cache.newest_pts_us - cache_at(&out->cache, after)->pts_us) / 1e6);
    return after;
}

/* Where a primary (re)starts by default: seq; a hot pair's takeover asks
 * the destination which segments it lacks. */
static int64_t start_point(Output *out, int64_t seq)
{
    int64_t gap;

    if (atomic_load(&out->from_unix_us) == OUTPUT_FROM_DESTINATION && grid_locked(out) &&
        (gap = destination_gap(out)) >= 0)
        return gap;
    return seq;
}

/*
 * A fleet node that may have lost the stream (fleet.h, fencing) writes
 * nothing more: every destination is closed at once, without a trailer
 * (finishing the segment under way could overlap the node that takes the
 * stream over), and the output caches and trims as its encoders go on,
 * warm. When the fence is lifted, the primary opens again: at the newest
 * keyframe, or (epoch lock) at the grid keyframe of a planned move's
 * boundary or of the first segment the destination lacks (a hot pair),
 * else the next grid keyframe, numbered from 1970 on the stream's
 * timeline. What is not written is lost: the continuity counts it.
 */
static int fence(Output *out)
{
    int64_t seq;
    int ret;

    emit(out, EV_WARNING, "fenced: %s written no more while the fleet cannot say this node "
         "leads the stream", out->shown);
    for (int i = 0; i < out->nb_inst; i++) {
        Inst *in = &out->inst[i];
        if (in->state != OI_CLOSING)
            inst_close(out, in, 0);
        if (!in->mux)
            in->state = OI_IDLE;
        in->retry_at = 0;
        in->open_seq = in->switch_seq = 0;
    }
    out->active = -1;
    atomic_store(&out->active_idx, -1);
    ret = wait_unheld(out);
    /* a muxer still closing (a peer slow to answer): joined, up to its
     * rw_timeout */
    for (int i = 0; i < out->nb_inst; i++)
        inst_reap(out, &out->inst[i]);
    if (ret < 0)
        return ret;
    /* the newest keyframe; a planned move's boundary may be before it
     * (this node learnt of it late): from the cache's start, then */
    seq = atomic_load(&out->from_unix_us) > 0 && grid_locked(out)
          ? out->cache.first : release_point(out, av_gettime_relative());
    if (grid_locked(out) && (seq = grid_start(out, start_point(out, seq))) < 0)
        return AVERROR_EOF;
    if ((ret = inst_open(out, &out->inst[0], 0)) < 0) {
        /* failed over like any destination that cannot be opened */
        inst_failed(out, &out->inst[0], av_gettime_relative());
        return 0;
    }
    inst_take_over(out, &out->inst[0], seq, cache_at(&out->cache, seq)->pts_us);
    emit(out, EV_INFO, "unfenced: %s written again", out->shown);
    return 0;
}

static int output_run(void *arg)
{
    Output *out = arg;
    int ret = 0, kind, index, complete = 0;
    int64_t finish_by = 0, start_seq;
    void *ptr;

    /* 1. every input says what it is, or that it is absent; early packets
     * wait in the cache */
    while (!all_resolved(out)) {
        ret = tq_recv(out->in, &kind, &index, &ptr, -1);
        if (ret == AVERROR_EOF) {
            for (int i = 0; i < out->nb_inputs; i++)
                if (out->inputs[i].state == IN_WAITING)
                    out->inputs[i].state = IN_ABSENT;
            break;
        }
        take(out, kind, index, ptr);
    }
    out->key_input = -1;
    for (int i = 0; i < out->nb_inputs && out->key_input < 0; i++)
        if (!out->inputs[i].is_audio && out->inputs[i].state != IN_ABSENT)
            out->key_input = i;
    if (out->key_input < 0) {
        ret = stage_fail(&out->st, AVERROR_STREAM_NOT_FOUND,
                         "nothing to write: none of the output's video renditions started");
        goto end;
    }

    /* 2. the first packet of every input: encoders start their timestamps
     * below 0 (B-frames, audio priming), and formats that cannot carry that
     * get one shift for all their instances */
    for (;;) {
        int missing = 0;
        for (int i = 0; i < out->nb_inputs; i++) {
            int seen = out->inputs[i].state != IN_PRESENT;
            for (int64_t q = out->cache.first; q < out->cache.end && !seen; q++)
                seen = cache_at(&out->cache, q)->index == i &&
                       cache_at(&out->cache, q)->kind == TQ_PACKET;
            missing += !seen;
        }
        if (!missing || out->cache.end - out->cache.first >= OUT_CACHE_MAX / 2)
            break;
        ret = tq_recv(out->in, &kind, &index, &ptr, -1);
        if (ret == AVERROR_EOF)
            break;
        take(out, kind, index, ptr);
    }
    {
        const AVOutputFormat *f = av_guess_format(out->jo->format, NULL, NULL);
        if (f && !(f->flags & AVFMT_TS_NEGATIVE))
            for (int64_t q = out->cache.first; q < out->cache.end; q++) {
                CacheEntry *e = cache_at(&out->cache, q);
                AVPacket *pkt = e->ptr;
                if (e->kind == TQ_PACKET && pkt->dts != AV_NOPTS_VALUE)
                    out->ts_shift_us = FFMAX(out->ts_shift_us,
                                             -av_rescale_q(pkt->dts, pkt->time_base, AV_TIME_BASE_Q));
            }
    }

    /* 3. a reload's replacement runs (input read, encoders open) while
     * its predecessor writes, and takes over at a keyframe once that
     * has ended (output_release): make before break. Ready as soon as it
     * holds a keyframe, the one steps 1 and 2 cached included. */
    for (int64_t q = out->cache.first; q < out->cache.end && atomic_load(&out->held); q++) {
        const CacheEntry *e = cache_at(&out->cache, q);
        if (e->kind == TQ_PACKET && e->key && e->index == out->key_input)
            atomic_store(&out->ready, 1);
    }
    if (wait_unheld(out) == AVERROR_EOF) {
        ret = 0;                 /* stopped before it took over: nothing to write */
        complete = 1;
        goto end;
    }
    start_seq = out->replacing ? release_point(out, atomic_load(&out->take_from_us))
                               : out->cache.first;
    if (grid_locked(out) && (start_seq = grid_start(out, start_point(out, start_seq))) < 0) {
        ret = 0;                 /* ended before the first segment's start */
        complete = 1;
        goto end;
    }

    /* 4. the primary starts from the first packet; a standby that is
     * always ready opens beside it */
    if ((ret = inst_open(out, &out->inst[0], 1)) < 0) {
        stage_fail(&out->st, ret, "cannot start the output");
        goto end;
    }
    inst_take_over(out, &out->inst[0], start_seq,
                   start_seq > out->cache.first ? cache_at(&out->cache, start_seq)->pts_us : 0);
    if (out->js->standby == JOB_STANDBY_ALWAYS && out->nb_inst > 1 &&
        inst_open(out, &out->inst[1], 0) >= 0)
        out->inst[1].state = OI_OPENING;

    /* 5. packets until every input has ended, then the rest is written;
     * with every destination down at the end, retries get one cache
     * window, not forever */
    for (;;) {
        Inst *a;

        if (!finish_by) {
            ret = tq_recv(out->in, &kind, &index, &ptr, OUT_POLL_US);
            if (ret == AVERROR_EOF)
                finish_by = av_gettime_relative() + out->window_us;
            else if (ret >= 0 && take(out, kind, index, ptr))
                cut_at(out, out->cache.end - 1, av_gettime_relative());
            /* moved to another node at a boundary: what came before it is
             * written, then the trailer, as at the end */
            if (out->cut && !finish_by) {
                finish_by = av_gettime_relative() + out->window_us;
                emit(out, EV_INFO, "%s: handed over to another node at the segment boundary",
                     out->shown);
            }
        } else {
            av_usleep(OUT_POLL_US);
        }
        ret = 0;
        if (atomic_load(&out->fenced) && !finish_by) {
            if (fence(out) == AVERROR_EOF) {
                complete = 1;    /* ended while fenced: nothing more to write */
                goto end;
            }
            continue;
        }
        supervise(out);
        stage_beat(&out->st, 0);
        a = out->active >= 0 ? &out->inst[out->active] : NULL;
        if (!a && !has_backups(out))
            break;               /* a single destination that failed: done */
        /* every packet is with the muxer in use: it writes the rest and its
         * trailer, and the output is complete once it has; one that fails
         * doing so fails over like any other, its backup replaying what
         * the cache holds */
        if (finish_by && a && a->state == OI_ACTIVE && a->cursor == out->cache.end) {
            if (!a->finishing) {
                a->finishing = 1;
                tq_send(mux_queue(a->mux), TQ_END, 0, NULL);
            } else if (mux_state(a->mux) == MUX_DONE) {
                complete = 1;
                break;
            }
        }
        if (finish_by && av_gettime_relative() > finish_by)
            break;
    }

end:
    /* nothing more is wanted: the encoders stop feeding this output */
    tq_recv_done(out->in);
    for (int i = 0; i < out->nb_inst; i++) {
        Inst *in = &out->inst[i];
        int used = in->state == OI_ACTIVE || in->state == OI_DRAINING;
        if (in->state != OI_CLOSING && !in->finishing)
            inst_close(out, in, used);
        inst_reap(out, in);
    }
    /* every muxer has ended: what none of them wrote is lost (a replacement
     * that never took over wrote nothing by design) */
    if (atomic_load(&out->opened) || !out->replacing || !atomic_load(&out->held)) {
        continuity_close(out->cont);
    }
    publish_stats(out);
    cache_clear(out);
    if (!complete && ret >= 0 && out->key_input >= 0) {
        ret = AVERROR_EXTERNAL;
        if (has_backups(out))
            stage_fail(&out->st, 0, "no destination of %s could be written", out->shown);
    }
    return ret;
}

/*
 * How far back the cache reaches. A segmenting format (HLS, DASH) loses a
 * whole segment when its origin fails: the failure shows when the segment
 * is closed and its upload is not confirmed (delivery.h), up to rw_timeout
 * later, and the segment began up to its duration plus a GOP before that.
 */
static int64_t cache_window(const JobStream *js, const JobOutput *jo)
{
    int64_t extra = OUT_CACHE_EXTRA_US, seg = job_output_segment_us(jo, jo->options);

    if (seg > 0) {
        int64_t gop = 0;
        for (int i = 0; i < jo->nb_renditions; i++) {
            const JobRendition *r = &js->renditions[jo->renditions[i]];
            int64_t g = r->gop_us;
            if (!g && r->gop_frames)
                g = r->fps.num > 0 ? av_rescale(r->gop_frames, 1000000LL * r->fps.den, r->fps.num)
                                   : r->gop_frames * 1000000LL / 15;   /* the input's rate is not known yet: assume a low one */
            gop = FFMAX(gop, g);
        }
        extra = FFMAX(extra, seg + gop);
    }
    return FFMIN(jo->rw_timeout_us + extra, OUT_CACHE_MAX_US);
}

int output_alloc(Output **pout, const JobStream *js, const JobOutput *jo, int has_audio,
                 ThreadQueue *in, const StreamClock *clock, EventLog *events)
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
    out->clock = clock;
    out->active = -1;
    atomic_init(&out->active_idx, -1);
    atomic_init(&out->newest_seq, -1);
    redact_url(jo->url, out->shown, sizeof(out->shown));
    fault_point_init(&out->drills, js, comp);
    out->window_us = cache_window(js, jo);
    out->nb_inputs = output_nb_inputs(jo, has_audio);
    if (out->nb_inputs > OUT_MAX_INPUTS) {
        av_log(out, AV_LOG_ERROR, "an output carries %d renditions at most, not %d\n",
               OUT_MAX_INPUTS - 1, jo->nb_renditions);
        out->nb_inputs = 0;
        output_free(&out);
        return AVERROR(EINVAL);
    }
    out->inputs = av_calloc(out->nb_inputs, sizeof(*out->inputs));
    out->cache.e = av_calloc(OUT_CACHE_MAX, sizeof(*out->cache.e));
    if (!out->inputs || !out->cache.e || continuity_alloc(&out->cont, out->nb_inputs) < 0) {
        out->nb_inputs = out->inputs ? out->nb_inputs : 0;
        output_free(&out);
        return AVERROR(ENOMEM);
    }
    for (int i = 0; i < jo->nb_renditions; i++)
        out->inputs[i].name = js->renditions[jo->renditions[i]].name;
    if (has_audio) {
        out->inputs[jo->nb_renditions].is_audio = 1;
        out->inputs[jo->nb_renditions].name = "audio";
    }

    /* destinations: the primary, then the backups in order */
    out->nb_inst = FFMIN(1 + jo->nb_backups, OUT_MAX_INSTANCES);
    for (int i = 0; i < out->nb_inst; i++) {
        if (!i)
            inst_setup(out, 0, jo->url, jo->options, jo->rw_timeout_us,
                       jo->stall_timeout_us, jo->send_buffer_size);
        else
            inst_setup(out, i, jo->backups[i - 1].url, jo->backups[i - 1].options,
                       jo->backups[i - 1].rw_timeout_us, jo->backups[i - 1].stall_timeout_us,
                       jo->backups[i - 1].send_buffer_size);
    }
    publish_status(out, av_gettime_relative());
    *pout = out;
    return 0;
}

void output_free(Output **pout)
{
    Output *out = *pout;

    if (!out)
        return;
    for (int i = 0; i < out->nb_inst; i++)
        mux_free(&out->inst[i].mux);
    for (int i = 0; i < OUT_MAX_INSTANCES; i++)
        av_freep(&out->inst[i].own_url);   /* a slot dropped at the end may hold none */
    stage_uninit(&out->st);
    if (out->cache.e)
        cache_clear(out);
    av_freep(&out->cache.e);
    for (int i = 0; i < out->nb_inputs; i++)
        params_free(&out->inputs[i].sp);
    av_freep(&out->inputs);
    continuity_free(&out->cont);
    av_freep(pout);
}

void output_hold(Output *out)
{
    out->replacing = 1;
    atomic_store(&out->held, 1);
}

void output_continued(Output *out, int continued)
{
    atomic_store(&out->continued, continued);
}

void output_final(Output *out)
{
    atomic_store(&out->final, 1);
}

void output_fence(Output *out, int fenced)
{
    atomic_store(&out->fenced, !!fenced);
}

void output_window(Output *out, int64_t from_unix_us, int64_t until_unix_us, int64_t keep_us)
{
    atomic_store(&out->from_unix_us, from_unix_us);
    atomic_store(&out->until_unix_us, until_unix_us);
    atomic_store(&out->fence_keep_us, keep_us);
}

int output_held(Output *out)
{
    return atomic_load(&out->held);
}

int output_ready(Output *out)
{
    return atomic_load(&out->ready) || (!atomic_load(&out->held) && !atomic_load(&out->fenced));
}

void output_release(Output *out, int64_t from_us)
{
    atomic_store(&out->take_from_us, from_us);
    atomic_store(&out->held, 0);
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
    memset(s, 0, sizeof(*s));
    s->packets = atomic_load(&out->pub_packets);
    s->bytes = atomic_load(&out->pub_bytes);
    s->errors = atomic_load(&out->errors);
    s->switches = atomic_load(&out->switches);
    s->reconnects = atomic_load(&out->reconnects);
    s->opened = atomic_load(&out->opened);
    s->active = atomic_load(&out->active_idx);
    s->queue_depth = tq_depth(out->in);
    s->last_pts_us = atomic_load(&out->last_pts_us);
    s->write_us_last = atomic_load(&out->write_us_last);
    s->write_us_max = atomic_load(&out->write_us_max);
    s->write_us_sum = atomic_load(&out->pub_write_us_sum);
    s->writes = atomic_load(&out->pub_writes);
    s->http_checks = atomic_load(&out->pub_http[0]);
    for (int i = 0; i < 4; i++)
        s->http_status[i] = atomic_load(&out->pub_http[1 + i]);
    s->failed = stage_state(&out->st) == STAGE_FAILED;
    s->newest_seq = atomic_load(&out->newest_seq);
    s->segment_s = atomic_load(&out->segment_ms) / 1e3;
    s->waited_us = atomic_load(&out->waited_us);
    s->budget_us = atomic_load(&out->budget_us);
    s->busy_us = atomic_load(&out->pub_busy_us);
    continuity_totals(out->cont, &s->frames, &s->frames_lost);
}
