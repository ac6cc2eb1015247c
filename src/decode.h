/*
 * decode.h: the decoder stage, one per elementary stream (video, audio).
 *
 * Takes ingest's packets (stream timeline, input time base) and produces
 * frames on the stream's timeline in a fixed time base: DEC_VIDEO_TB for
 * video, 1/sample_rate for audio. Fixed, so that what comes after the
 * decoder never depends on the input's container (a backup input with
 * another time base feeds the same ladder).
 *
 * Sends TQ_PARAMS (built from the first decoded frame: size, pixel or sample
 * format, layout; the time base; the frame rate) before the first frame.
 * Ends the stream at the job's duration: frames at or after it are not
 * passed on, and the input queue is closed so ingest stops reading.
 */
#ifndef HS_DECODE_H
#define HS_DECODE_H

#include <stdint.h>

#include <libavutil/avutil.h>

#include "event.h"
#include "tq.h"

/* 90 kHz: exact for every common frame rate (25, 29.97, 30, 50, 59.94, 60)
 * and for MPEG-TS and FLV (1/1000) timestamps. */
#define DEC_VIDEO_TB ((AVRational){ 1, 90000 })

typedef struct Decoder Decoder;

typedef struct DecoderStats {
    int64_t frames;              /* passed on */
    int64_t errors;              /* packets the decoder refused */
} DecoderStats;

/* in, out: not owned. duration_us: 0 = no limit. */
int dec_alloc(Decoder **pdec, const char *stream, enum AVMediaType type,
              ThreadQueue *in, ThreadQueue *out, int64_t duration_us, EventLog *events);
void dec_free(Decoder **pdec);

int dec_start(Decoder *dec);
int dec_join(Decoder *dec);
void dec_stats(Decoder *dec, DecoderStats *st);

#endif
