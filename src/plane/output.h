/*
 * output.h: the output stage: one job output (packager and destination),
 * with its backups, switched without losing a packet.
 *
 * Its queue is fed by every encoder the output carries: the video
 * renditions it names (inputs 0..n-1, in the job's order) and the stream's
 * audio (input n, when the stream has audio). It waits for each input's
 * TQ_PARAMS (or TQ_END: absent, e.g. its encoder failed to open), then
 * writes through a muxer instance (mux.h) per destination: the primary URL
 * and each backup's.
 *
 * Zero loss: every packet goes into a cache first, which always starts at
 * a keyframe and holds everything the destination in use has not
 * confirmed (mux_confirmed): for a TCP stream, what the peer has not
 * acknowledged, or may not have read (its receive window); for HLS/DASH
 * over HTTP, every segment whose upload the origin has not confirmed; at
 * least 2 s. Where nothing confirms (UDP, an ingest point that serves
 * nothing), it covers the output's rw_timeout plus 2 s (and a segment
 * and a GOP). The instance in use is fed from the cache. When it fails (refused, reset,
 * stalled past its deadline, behind real time past the latency budget, or
 * a fault), the next destination gets the cache replayed from its first
 * keyframe and then the live packets: nothing the failed one may not have
 * delivered is lost, timestamps go on as they were, and a receiver sees at
 * worst a repeated part of a GOP. A backup opened ahead (provisioned) gets
 * its first packet within milliseconds; one that is not is opened on the
 * spot (cold) while the cache holds what comes meanwhile.
 *
 * Planned switches (a drill, or back to a recovered primary after the
 * stream's switch_back time) happen at the next keyframe: the new
 * destination starts there, the old one ends with its trailer once the new
 * one has a keyframe on every rendition. A failed destination of an output
 * with backups is opened again with back-off (1 s doubling to 30 s): the
 * primary, once it has been up for switch_back, takes over again. An output
 * without backups fails for good, as a single ffmpeg output would.
 */
#ifndef HS_OUTPUT_H
#define HS_OUTPUT_H

#include <stdint.h>

#include "core/event.h"
#include "job/job.h"
#include "plane/stage.h"
#include "plane/tq.h"

typedef struct Output Output;

typedef struct OutputStats {
    int64_t packets;             /* written, all destinations */
    int64_t bytes;
    int64_t last_pts_us;         /* media time of the newest packet written */
    int64_t write_us_last;       /* the destination in use */
    int64_t write_us_max;
    int64_t errors;              /* failures of any destination */
    int64_t switches;            /* times another destination took over */
    int64_t reconnects;          /* destinations opened again */
    int opened;                  /* some destination has written a header */
    int active;                  /* destination in use: 0 primary, k backup k, -1 none */
    int queue_depth;             /* packets waiting for this stage */
    int64_t write_us_sum;        /* time spent writing, all destinations */
    int64_t writes;
    int64_t http_checks;         /* segments confirmed on an origin (delivery.h) */
    int64_t http_status[4];      /* their answers: 2xx, 3xx, 4xx, 5xx */
    int failed;                  /* the stage has ended on a failure */
    int64_t newest_seq;          /* HLS/DASH with pathways: the newest segment
                                    in the newest playlist written (of the
                                    first rendition), -1 none */
    double segment_s;            /* ... its target duration, 0 unknown */
    int64_t waited_us;           /* the destination in use: how long its latest
                                    packet waited (live, with a latency budget) */
    int64_t budget_us;           /* the stream's latency budget, 0: none */
    int64_t busy_us;             /* time its destinations' threads spent on
                                    packets, all destinations */
    int64_t frames;              /* video frames of the timeline written, all
                                    renditions (plane/continuity.h) */
    int64_t frames_lost;         /* ... and those no destination wrote */
} OutputStats;

/* The longest write since the previous call (0: none): the per-tick max
 * for the one sampler that reads it. */
int64_t output_take_max_write(Output *out);

/* Inputs of an output: its renditions' encoders, then audio if has_audio. */
int output_nb_inputs(const JobOutput *jo, int has_audio);

/* Does this output's format take codec headers out of band? */
int output_wants_global_header(const JobOutput *jo);

/* jo, js, in, clock: not owned. A graceful stop does not abort an output:
 * it ends when its inputs end, after its trailer. */
int output_alloc(Output **pout, const JobStream *js, const JobOutput *jo, int has_audio,
                 ThreadQueue *in, const StreamClock *clock, EventLog *events);
void output_free(Output **pout);

int output_start(Output *out);

/* A reload replaces the stream with another pipeline on the same
 * destinations. output_hold (before output_start): the output takes its
 * packets and writes nothing until output_release; then HLS goes on in
 * the playlists there, after a discontinuity, numbering on.
 * output_continued (any time before the end; thread-safe): 1, the stream
 * goes on elsewhere, HLS ends without ENDLIST; 0, it does not after all. */
void output_hold(Output *out);
void output_continued(Output *out, int continued);
/* The stream ends for good (removed from the fleet): an epoch-locked HLS
 * playlist, which otherwise goes on on the next node, gets its ENDLIST.
 * Thread-safe, any time before the end. */
void output_final(Output *out);
/* Fleet fencing (dra/fleet.h): fenced, the output writes nothing and
 * closes its destinations at once, its encoders going on; unfenced, it
 * starts writing again at the newest keyframe. Thread-safe, any time. */
void output_fence(Output *out, int fenced);
/* A planned move between fleet nodes (epoch-locked HLS): the output
 * starts writing at the first keyframe at or after from_unix_us (the
 * node the stream moves to), or writes nothing from until_unix_us on and
 * ends there (the node it leaves). Unix time, us; 0: no bound.
 * keep_us: while fenced, the cache keeps at least this much (a hot
 * pair's follower must still hold the first segment the dead leader did
 * not upload when it takes over; at most 60 s). Thread-safe; a start
 * bound counts at the output's (re)start only. */
void output_window(Output *out, int64_t from_unix_us, int64_t until_unix_us, int64_t keep_us);
/* output_window's from_unix_us: start at the first segment the primary
 * destination lacks, of those the output holds (a hot pair's takeover). */
#define OUTPUT_FROM_DESTINATION (-1)
/* Held still (never released)? Thread-safe. */
int output_held(Output *out);

/* A held output starts writing, from the newest keyframe that reached it
 * before from_us (av_gettime_relative: when its predecessor stopped).
 * Thread-safe. */
void output_release(Output *out, int64_t from_us);

/* Held or fenced, and holding a keyframe to start from (or neither).
 * Thread-safe. */
int output_ready(Output *out);
int output_join(Output *out);
void output_stats(Output *out, OutputStats *st);

/* Requests (provision, release, switch to an instance) go to the output's
 * mailbox (stage_post on its Stage, the struct's first member) and are
 * carried out by its thread within OUT_POLL (5 ms); see plane/inst.h. */

#endif
