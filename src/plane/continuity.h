/*
 * continuity.h: an output's own count of the frames its timeline lost.
 *
 * "Frames lost" is what a viewer of the output misses: a video frame of
 * the stream's timeline that no destination of the output ever wrote. The
 * output's muxers (primary, backups, one thread each) report every video
 * packet they wrote. Per rendition, a frame is its decoding time in frame
 * durations from the first one written; a window of the newest frames
 * remembers which were written, because two destinations write at once
 * around a switch (a planned switch's new destination starts at its
 * keyframe while the old one still writes what comes before it), and a
 * replay from the cache writes frames again. A frame that leaves the
 * window, or is still in it when the output ends, unwritten, is lost:
 * frames the encoders dropped, packets a fault dropped, a backup that
 * started after a gap, and what the output was given and never wrote.
 *
 * Decoding times step one frame per packet, B-frames or not. A frame's
 * number comes from the rendition's frame rate, exactly (a rational, not
 * rounded microseconds that drift by a frame every few hours), else from
 * the mean step of one frame seen.
 */
#ifndef HS_CONTINUITY_H
#define HS_CONTINUITY_H

#include <stdint.h>

#include <libavutil/rational.h>

/* Frames remembered behind the newest: longer than any switch's overlap
 * (68 s at 30 fps). */
#define CONT_WINDOW 2048

/* One rendition's timeline: the pure part, for tests. */
typedef struct ContTrack {
    int64_t origin_us;           /* decoding time of frame 0; INT64_MIN none */
    int64_t step_min_us;         /* without a frame rate: the smallest step
                                    seen (0 none), and the mean of the steps
                                    of one frame (within 1.5 of it) */
    int64_t step_sum_us, step_n;
    int64_t last_us;             /* the previous packet's, for the step */
    int64_t base;                /* first frame not settled yet */
    int64_t top;                 /* one past the newest frame written or given */
    uint64_t bits[CONT_WINDOW / 64];  /* frame k written: bit k % CONT_WINDOW */
    int64_t frames;              /* frames written (once each) */
    int64_t lost;                /* frames settled unwritten */
} ContTrack;

void cont_track_init(ContTrack *t);

/* A packet with decoding time dts_us was written; fr: the rendition's
 * frame rate ({0, 1}: unknown, learned from the steps). Returns the
 * frames this settled as lost (frames that left the window unwritten). */
int64_t cont_track_written(ContTrack *t, int64_t dts_us, AVRational fr);

/* The output was given a packet at dts_us (its stage thread): the
 * timeline reaches that far. */
void cont_track_received(ContTrack *t, int64_t dts_us, AVRational fr);

/* The output has ended: every frame not settled yet and not written is
 * lost. Returns how many. */
int64_t cont_track_close(ContTrack *t);

typedef struct Continuity Continuity;

/* nb: the output's inputs (renditions, then audio); audio is not counted. */
int  continuity_alloc(Continuity **pc, int nb);
void continuity_free(Continuity **pc);

/* From any muxer thread, after a successful write of a video packet of
 * input index (fr: its frame rate, {0, 1} unknown). Thread-safe. */
void continuity_written(Continuity *c, int index, int64_t dts_us, AVRational fr);

/* From the output's own thread: a video packet of input index reached it,
 * and, at its end, the frames it was given and never wrote. Thread-safe. */
void continuity_received(Continuity *c, int index, int64_t dts_us, AVRational fr);
void continuity_close(Continuity *c);

/* Frames of the timeline written (front moves) and lost, all renditions. */
void continuity_totals(Continuity *c, int64_t *frames, int64_t *lost);

#endif
