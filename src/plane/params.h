/*
 * params.h: what a stage tells the next one before the first frame or
 * packet, and again whenever it changes: codec parameters, time base, frame
 * rate. It travels as a TQ_PARAMS item (tq.h).
 */
#ifndef HS_PARAMS_H
#define HS_PARAMS_H

#include <libavcodec/codec_par.h>
#include <libavutil/buffer.h>
#include <libavutil/rational.h>

typedef struct StreamParams {
    AVCodecParameters *par;      /* owned */
    AVRational time_base;        /* of the frames or packets that follow */
    AVRational frame_rate;       /* video; {0,1} when unknown or variable */
} StreamParams;

/* Allocates with a copy of par (NULL: empty parameters). */
StreamParams *params_alloc(const AVCodecParameters *par, AVRational time_base,
                           AVRational frame_rate);
StreamParams *params_clone(const StreamParams *sp);
void params_free(StreamParams **sp);

#endif
