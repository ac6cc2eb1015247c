/*
 * encode.h: the encoder stage: one per video rendition, one for the
 * stream's audio.
 *
 * Opens its encoder on the first TQ_PARAMS (so it knows the exact size,
 * format and rate the ladder produces), sends its own TQ_PARAMS (codec
 * parameters, encoder time base) to every output it feeds, then the packets.
 * An encoder that cannot open (no GPU for NVENC, no render node for VAAPI,
 * a bad option) is a failure event: it sends TQ_END to its outputs, which go
 * on without it, and the rest of the stream keeps running.
 *
 * Hardware encoders get software frames and upload them here (VAAPI through
 * an hw frames context on the job's device, NVENC by itself), so that the
 * ladder is the same for every encoder.
 *
 * Audio: the encoder stage also adapts the decoded audio to what the encoder
 * takes (sample format, rate, layout, frame size) with a small libavfilter
 * graph (aresample, aformat, buffersink frame size).
 */
#ifndef HS_ENCODE_H
#define HS_ENCODE_H

#include <stdint.h>

#include "event.h"
#include "job.h"
#include "tq.h"

typedef struct Encoder Encoder;

typedef struct EncoderStats {
    int64_t frames_in;
    int64_t packets_out;
    int64_t bytes_out;
    int64_t dropped;             /* frames refused for non-increasing pts */
    int64_t last_pts_us;         /* of the last packet, stream timeline */
    int quality;                 /* last packet's QP * FF_QP2LAMBDA, -1 unknown */
} EncoderStats;

/* A video encoder for jr, or the audio encoder for ja (exactly one non-NULL;
 * both not owned). in: not owned. */
int enc_alloc(Encoder **penc, const char *stream, const JobRendition *jr,
              const JobAudio *ja, ThreadQueue *in, EventLog *events);
void enc_free(Encoder **penc);

/* Adds an output queue (not owned) fed with this encoder's packets as input
 * number index of that output. global_header: the output's format wants
 * codec headers out of band (mp4, flv, HLS). Before enc_start() only. */
int enc_add_output(Encoder *enc, ThreadQueue *q, int index, int global_header);

int enc_start(Encoder *enc);
int enc_join(Encoder *enc);
void enc_stats(Encoder *enc, EncoderStats *st);

#endif
