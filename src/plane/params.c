/*
 * params.c: StreamParams, see params.h.
 */
#include <libavutil/mem.h>

#include "plane/params.h"

StreamParams *params_alloc(const AVCodecParameters *par, AVRational time_base,
                           AVRational frame_rate)
{
    StreamParams *sp = av_mallocz(sizeof(*sp));

    if (!sp)
        return NULL;
    sp->par = avcodec_parameters_alloc();
    if (!sp->par || (par && avcodec_parameters_copy(sp->par, par) < 0)) {
        params_free(&sp);
        return NULL;
    }
    sp->time_base = time_base;
    sp->frame_rate = frame_rate;
    return sp;
}

StreamParams *params_clone(const StreamParams *sp)
{
    return params_alloc(sp->par, sp->time_base, sp->frame_rate);
}

void params_free(StreamParams **psp)
{
    StreamParams *sp = *psp;

    if (!sp)
        return;
    avcodec_parameters_free(&sp->par);
    av_freep(psp);
}
