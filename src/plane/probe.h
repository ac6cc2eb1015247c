/*
 * probe.h: content probes: black, frozen and silent media, as failures of
 * the input in use (MediaLive's input failover conditions).
 *
 * The filters come from the presets in filters/ (probe-black, probe-freeze,
 * probe-silence: their thresholds), with the duration the job's input
 * probes: set. The ladder runs the video probes on a small copy of the
 * decoded picture, the audio encoder stage the silence probe; both read the
 * filters' metadata off each frame with probe_frame() and call the
 * failure callback once per failure (the input stage then switches to a
 * source that is up).
 */
#ifndef HS_PROBE_H
#define HS_PROBE_H

#include <stdint.h>

#include <libavutil/frame.h>

#include "job/job.h"

typedef void (*ProbeFailure)(void *opaque, const char *what);

typedef struct Probe {
    int64_t black_us, freeze_us, silence_us;   /* 0: not probed */
    int64_t black_start_us;      /* AV_NOPTS_VALUE: not black now */
    int black_fired, freeze_fired, silence_fired;
    ProbeFailure fail;
    void *opaque;
} Probe;

void probe_init(Probe *p, const JobInput *ji, ProbeFailure fail, void *opaque);

/* The filter chain (without input or output labels) probing video, or
 * audio; NULL when nothing is probed (av_malloc'd otherwise). */
char *probe_video_filters(const Probe *p);
char *probe_audio_filters(const Probe *p);

/* Reads one probed frame's metadata (its pts in tb) and reports a failure
 * once it has lasted as long as the job says. */
void probe_frame(Probe *p, const AVFrame *f, AVRational tb);

#endif
