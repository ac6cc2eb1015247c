/*
 * continuity.h: an output's own count of the frames its timeline lost.
 *
 * "Frames lost" is what a viewer of the output misses: a video frame of
 * the stream's timeline that no destination of the output ever wrote. The
 * output's muxers (primary, backups, one thread each) report every video
 * packet they wrote; per rendition, the timeline's front is the newest
 * decoding time written by any of them. A packet at or behind the front is
 * a backup replaying what its predecessor may have lost (the cache) and
 * costs nothing; one further ahead than a frame leaves a hole of as many
 * frames as fit in it. Frames the encoders dropped, packets a fault
 * dropped and a backup that started after the gap all count.
 *
 * Decoding times step one frame per packet, B-frames or not, so the count
 * needs no reordering. The frame duration is the rendition's frame rate,
 * else the smallest step seen.
 */
#ifndef HS_CONTINUITY_H
#define HS_CONTINUITY_H

#include <stdint.h>

/* One rendition's timeline: the pure part, for tests. */
typedef struct ContTrack {
    int64_t front_us;            /* newest decoding time written; INT64_MIN none */
    int64_t step_us;             /* smallest step seen, 0 none */
    int64_t frames;              /* packets that moved the front */
    int64_t lost;
    int64_t recv_us;             /* newest decoding time the output was given;
                                    INT64_MIN none */
    int64_t recv_count;          /* packets it was given */
} ContTrack;

void cont_track_init(ContTrack *t);

/* A packet with decoding time dts_us was written; frame_us: the frame
 * duration when known (0: learn it from the steps). Returns the frames
 * this packet shows lost (0 most of the time). */
int64_t cont_track_written(ContTrack *t, int64_t dts_us, int64_t frame_us);

/* The output was given a packet at dts_us (its stage thread). */
void cont_track_received(ContTrack *t, int64_t dts_us);

/* The output has ended: what it was given past the front was never
 * written (a destination failed while draining, with no backup to go on):
 * those frames are lost too. Returns how many. */
int64_t cont_track_close(ContTrack *t, int64_t frame_us);

typedef struct Continuity Continuity;

/* nb: the output's inputs (renditions, then audio); audio is not counted. */
int  continuity_alloc(Continuity **pc, int nb);
void continuity_free(Continuity **pc);

/* From any muxer thread, after a successful write of a video packet of
 * input index. Thread-safe. */
void continuity_written(Continuity *c, int index, int64_t dts_us, int64_t frame_us);

/* From the output's own thread: a video packet of input index reached it,
 * and, at its end, the frames it was given and never wrote (frame_us per
 * input, 0 unknown; NULL: all unknown). Thread-safe. */
void continuity_received(Continuity *c, int index, int64_t dts_us);
void continuity_close(Continuity *c, const int64_t *frame_us);

/* Frames of the timeline written (front moves) and lost, all renditions. */
void continuity_totals(Continuity *c, int64_t *frames, int64_t *lost);

#endif
