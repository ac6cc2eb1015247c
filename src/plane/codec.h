/*
 * codec.h: opening an encoder for what the stream produces.
 *
 * An encoder instance is opened on the exact parameters its input has (the
 * ladder's size, format and rate for video; the decoded audio's rate and
 * layout) with hotspare's defaults for a live ladder under the job's
 * options. Hardware encoders that only take hardware frames (VAAPI) get a
 * frames pool on the job's device and have every frame uploaded; audio gets
 * a small conversion graph to the encoder's format and frame size. The
 * encoder stage (encode.c) owns one or two of these (primary, standby).
 */
#ifndef HS_CODEC_H
#define HS_CODEC_H

#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>

#include "job/job.h"
#include "plane/params.h"
#include "plane/stage.h"

typedef struct CodecInst {
    AVCodecContext *ctx;
    int hw_upload;               /* frames go through ctx->hw_frames_ctx */
    AVFilterGraph *agraph;       /* audio: conversion to the encoder */
    AVFilterContext *asrc, *asink;
    AVRational in_tb;            /* of the frames given to codec_submit */
} CodecInst;

/* What a video instance encodes with: the rendition's own settings, or its
 * backup's encoder, options, device and bit rate. */
typedef struct CodecVideoConfig {
    const JobRendition *jr;      /* size, rate, GOP */
    const char *encoder;
    AVDictionary *options;
    const char *device;
    int64_t bitrate;
} CodecVideoConfig;

/* Opens ci for video. Failures are events of stage (with the cause);
 * returns 0 or a negative AVERROR, ci then closed. */
int codec_open_video(CodecInst *ci, Stage *stage, const CodecVideoConfig *cfg,
                     const StreamParams *sp, int global_header);

/* Opens ci for audio, with its conversion graph; probes: filters the
 * audio goes through first (the silence probe), NULL for none. */
int codec_open_audio(CodecInst *ci, Stage *stage, const JobAudio *ja,
                     const StreamParams *sp, int global_header, const char *probes);

/* Describes what was opened, for the start event. */
void codec_describe(const CodecInst *ci, char *buf, size_t size);

void codec_close(CodecInst *ci);

/* The GOP in frames the rendition asks for at this frame rate. */
int codec_gop_frames(const JobRendition *jr, AVRational frame_rate);

#endif
