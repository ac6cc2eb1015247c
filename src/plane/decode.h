/*
 * decode.h: the decoder stage, one per elementary stream (video, audio).
 *
 * Takes the input stage's packets (stream timeline) and produces frames on
 * the stream's timeline in a fixed time base: DEC_VIDEO_TB for video,
 * 1/sample_rate of the first audio for audio. Fixed, so that what comes
 * after the decoder never depends on which source is in use.
 *
 * A TQ_PARAMS in the middle of the stream means another source took over:
 * the decoder drains what it holds and opens again for the new source.
 *
 * On a live stream the decoder also keeps the timeline whole:
 *   - frames at or before what was already passed on are dropped (a source
 *     that took over re-decodes a bit of its GOP);
 *   - a gap of more than half a frame is filled: video repeats the last
 *     frame, audio plays silence;
 *   - with no packet at all for the input's loss_timeout (no source is up),
 *     it goes on by itself at the frame rate, on the wall clock, until
 *     packets come again: the outputs never starve.
 *
 * Sends TQ_PARAMS (built from the first decoded frame) before the first
 * frame. Ends the stream at the job's duration: frames at or after it are
 * not passed on, and the input queue is closed so the input stage stops.
 */
#ifndef HS_DECODE_H
#define HS_DECODE_H

#include <stdint.h>

#include <libavutil/avutil.h>

#include "core/event.h"
#include "job/job.h"
#include "plane/stage.h"
#include "plane/tq.h"

/* 90 kHz: exact for every common frame rate (25, 29.97, 30, 50, 59.94, 60)
 * and for MPEG-TS and FLV (1/1000) timestamps. */
#define DEC_VIDEO_TB ((AVRational){ 1, 90000 })

typedef struct Decoder Decoder;

typedef struct DecoderStats {
    int64_t frames;              /* passed on, filled ones included */
    int64_t errors;              /* packets the decoder refused */
    int64_t filled;              /* frames made up to fill a gap or an outage */
    int64_t dropped;             /* frames dropped as overlapping */
    int64_t reopens;             /* another source's parameters */
} DecoderStats;

/* js, in, out, clock: not owned. */
int dec_alloc(Decoder **pdec, const JobStream *js, enum AVMediaType type,
              ThreadQueue *in, ThreadQueue *out, const StreamClock *clock, EventLog *events);
void dec_free(Decoder **pdec);

int dec_start(Decoder *dec);
int dec_join(Decoder *dec);
void dec_stats(Decoder *dec, DecoderStats *st);

#endif
