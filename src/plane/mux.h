/*
 * mux.h: one muxer instance: an output written to one destination (the
 * primary URL, or a backup's), on its own thread.
 *
 * The output stage (output.c) owns one or more instances and decides which
 * gets the packets; an instance only opens its destination, writes what it
 * is given and reports how that goes. Opening (connect, handshake, header)
 * happens on the instance's thread, so a backup can be opened ahead while
 * the primary keeps writing.
 *
 * Its queue carries:
 *   TQ_PACKET  index = the output input it belongs to (pkt->time_base set)
 *   TQ_PARAMS  index = an input whose codec parameters changed (a standby
 *              encoder took over): FLV gets a new sequence header, HLS a
 *              discontinuity (the muxer is restarted on the same playlist),
 *              MPEG-TS carries the new headers in band; other formats go on
 *              with a warning
 *   TQ_END     index 0: finish (trailer: ENDLIST, moov); index 1: abandon
 *              (an instance opened ahead that never wrote: no trailer that
 *              would overwrite the destination's playlist)
 *
 * Every blocking call runs under the instance's rw_timeout. A failure is an
 * event; the instance closes its queue (the owner's sends then fail) and
 * ends. It also fails when, on a live stream, what it writes falls behind
 * real time by more than the stream's latency budget.
 */
#ifndef HS_MUX_H
#define HS_MUX_H

#include <stdatomic.h>
#include <stdint.h>

#include <libavcodec/packet.h>
#include <libavutil/dict.h>

#include "core/event.h"
#include "plane/continuity.h"
#include "plane/fault.h"
#include "job/job.h"
#include "plane/params.h"
#include "plane/stage.h"
#include "plane/tq.h"

typedef struct Mux Mux;

/* How far apart the streams may drift in the interleaving queue before
 * lavf writes anyway (max_interleave_delta): bounds the delay an input
 * that died leaves behind, and a packet handed over may be written after
 * later ones, this much later in media time at most. */
#define MUX_MAX_INTERLEAVE_US (2 * 1000000)

typedef enum MuxState {
    MUX_OPENING,                 /* connecting, writing the header */
    MUX_READY,                   /* header written: takes packets */
    MUX_FAILED,                  /* an event says why; the thread ends */
    MUX_DONE,                    /* finished or abandoned */
} MuxState;

/* An input of the output, as the instance lays out its streams. */
typedef struct MuxInput {
    int is_audio;
    const char *name;            /* rendition name, or "audio" */
    const StreamParams *sp;      /* NULL: absent; copied by mux_alloc */
} MuxInput;

typedef struct MuxConfig {
    const JobStream *js;
    const JobOutput *jo;
    const char *component;       /* "out:main", "out:main.backup" */
    const char *url;             /* may hold secrets */
    AVDictionary *options;       /* not owned; copied */
    int64_t rw_timeout_us;
    int64_t hls_start_number;    /* HLS: first segment number, -1 default */
    int dash_run;                /* DASH: how many muxers of this destination
                                    came before; from the second on, the
                                    segment names carry it (-rN), since
                                    libav numbers every muxer's from 1 */
    int64_t hls_segment_min_us;  /* HLS: the shortest segment the muxer cuts
                                    (hls_time, hls_init_time when shorter):
                                    bounds the numbers it uses
                                    (MuxStats.hls_next_number); 0: not HLS */
    int timeline_locked;         /* epoch lock with Unix-time timestamps: a
                                    node's first segment goes on in the
                                    stream's timeline (no discontinuity) */
    int epoch_lock;              /* HLS: numbered from the wall clock (see
                                    hls_start_number), the first segment
                                    after a discontinuity, no ENDLIST;
                                    DASH: named on the grid, the MPD a
                                    number template from 1970 (epoch_io.h) */
    int64_t ts_shift_us;         /* added to every timestamp: the same for
                                    every instance of an output, so that a
                                    backup goes on where the primary was */
    const StreamClock *clock;    /* not owned */
    EventLog *events;
    ThreadQueue *wake;           /* gets an empty item (TQ_END, index -1) when
                                    this muxer fails, so that its owner acts
                                    at once; may be NULL; not owned */
    int64_t stall_timeout_us;    /* its peer takes nothing this long: failed (conn.h) */
    int64_t send_buffer;         /* SO_SNDBUF of its TCP connections; 0 the kernel's */
    _Atomic int64_t *newest_seq; /* HLS/DASH with pathways: where the newest
                                    segment number of the playlists written
                                    is published (pathway_io.h); not owned */
    _Atomic int64_t *segment_ms; /* ... and its target duration */
    int hls_append;              /* HLS: go on in the playlists already there
                                    (a reload replaced the stream), after a
                                    discontinuity */
    const _Atomic int *continued;/* set: the stream goes on in another
                                    pipeline (a reload): HLS ends without
                                    ENDLIST; not owned, may be NULL */
    const _Atomic int *final;    /* set: the stream ends for good: HLS ends
                                    with ENDLIST, epoch-locked too; not
                                    owned, may be NULL */
    Continuity *continuity;      /* the output's timeline: every video packet
                                    written is reported; not owned, may be NULL */
    FaultPoint *faults;          /* the instance's injected faults, or NULL;
                                    not owned, used by the mux thread only,
                                    kept by the owner across muxers so that a
                                    fault fires once, not once per reopen */
} MuxConfig;

typedef struct MuxStats {
    int64_t packets;
    int64_t bytes;
    int64_t last_pts_us;
    int64_t write_us_last, write_us_max;
    int64_t first_write_us;      /* av_gettime_relative of the first write, 0 */
    int64_t errors;
    int64_t write_us_sum;        /* time spent writing, all writes */
    int64_t writes;
    int64_t http_checks;         /* segments confirmed on the origin (delivery.h) */
    int64_t http_status[4];      /* their answers: 2xx, 3xx, 4xx, 5xx */
    int64_t waited_us;           /* how long the latest packet waited for it
                                    (live streams with a latency budget) */
    int64_t budget_us;           /* the stream's latency budget, 0: none */
    int64_t busy_us;             /* time its thread spent on packets (writing
                                    them), not waiting for one */
    int64_t hls_next_number;     /* HLS: above every segment number it may have
                                    used, so that the destination's next muxer
                                    overwrites none of them; -1: not known
                                    (not HLS, or numbered from a playlist) */
} MuxStats;

/* How far the destination is known to hold what was written. */
typedef enum MuxConfirm {
    MUX_CONFIRM_NONE,            /* not known (UDP, SRT, an ingest point that
                                    serves nothing): the owner keeps a window */
    MUX_CONFIRM_WRITTEN,         /* a local file: written is delivered */
    MUX_CONFIRM_ACK,             /* a TCP stream: the peer acknowledged the bytes
                                    and may have read them (its window is
                                    counted as unread) */
    MUX_CONFIRM_SEGMENT,         /* HLS/DASH over HTTP: the origin answered a
                                    HEAD for the segment (delivery.h) */
} MuxConfirm;

/* How the destination confirms, and into *pts_us the media time (as
 * given, before ts_shift) up to which it holds everything; INT64_MIN
 * before anything is confirmed. Any thread. */
MuxConfirm mux_confirmed(Mux *m, int64_t *pts_us);

/* The TCP socket its destination uses (the newest), 0 when not known. */
uint64_t mux_sock_inode(Mux *m);

/* The longest write since the previous call (0: none), for a per-tick max. */
int64_t mux_take_max_write(Mux *m);

/* inputs: nb_inputs of them (parameters copied). */
int mux_alloc(Mux **pm, const MuxConfig *cfg, const MuxInput *inputs, int nb_inputs);
void mux_free(Mux **pm);

int mux_start(Mux *m);
int mux_join(Mux *m);

MuxState mux_state(Mux *m);
ThreadQueue *mux_queue(Mux *m);
void mux_stats(Mux *m, MuxStats *st);

/*
 * The latency budget judges an output by its own delay: how long a packet
 * has waited for it since it reached the output (arrival_us, monotonic),
 * not how late the packet already was. A slow encoder upstream makes every
 * packet late, and switching the output would not help; a slow output
 * makes packets pile up in front of it, and that delay grows without
 * bound. The stamp rides in pkt->opaque (which libav leaves to its users)
 * as milliseconds modulo 2^32, so it fits a pointer on every platform and
 * differences stay right for 49 days.
 */
static inline void mux_stamp_arrival(AVPacket *pkt, int64_t arrival_us)
{
    pkt->opaque = (void *)(uintptr_t)(uint32_t)(arrival_us / 1000);
}

/* stamp: the pkt->opaque of a stamped packet */
static inline int64_t mux_waited_us(const void *stamp, int64_t now_us)
{
    return (int64_t)(uint32_t)((uint32_t)(now_us / 1000) - (uint32_t)(uintptr_t)stamp) * 1000;
}

/* Does this format take codec headers out of band? */
int mux_wants_global_header(const char *format);

#endif
