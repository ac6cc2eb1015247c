/*
 * ladder.h: the filter ladder stage: one libavfilter graph that turns the
 * decoded video into one frame stream per rendition.
 *
 *   buffer -> [input filter, e.g. the deinterlace preset] -> split=N
 *          -> scale -> [fps] -> format (what the rung's encoder takes) -> buffersink
 *
 * Frames are always software frames in a format the rendition's encoder
 * accepts (hardware encoders upload themselves, see encode.c), so a standby
 * software encoder can be fed the very same frames.
 *
 * The graph is rebuilt when the input's size or pixel format changes
 * (drained first, so no frame is lost); each rung keeps the size it got at
 * the first build so the encoders never see a change. A rung whose encoder
 * is gone is still drained (libavfilter would otherwise queue its frames
 * forever) and its frames dropped.
 *
 * When the input has black or freeze probes, one more branch of the split
 * carries a small copy of the picture through them (probe.h).
 */
#ifndef HS_LADDER_H
#define HS_LADDER_H

#include <stdint.h>

#include "core/event.h"
#include "job/job.h"
#include "plane/probe.h"
#include "plane/tq.h"

typedef struct Ladder Ladder;

typedef struct LadderStats {
    int64_t frames_in;
    int64_t reconfigs;           /* graph rebuilt on an input change */
} LadderStats;

/* js: not owned. in: from the video decoder. enc_q[i]: to the encoder of
 * js->renditions[i], not owned, NULL for a rendition that has no encoder
 * (it failed before start). content_fail: called (on the ladder's thread)
 * when the input's black or freeze probe sees a failure; NULL when the
 * stream probes nothing. */
int ladder_alloc(Ladder **pl, const JobStream *js, ThreadQueue *in,
                 ThreadQueue **enc_q, ProbeFailure content_fail, void *opaque,
                 EventLog *events);
void ladder_free(Ladder **pl);

int ladder_start(Ladder *l);
int ladder_join(Ladder *l);
void ladder_stats(Ladder *l, LadderStats *st);

#endif
