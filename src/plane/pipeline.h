/*
 * pipeline.h: one stream of a job, wired: its queues and stage threads.
 *
 *   ingest -> vdec -> ladder -> enc:<rendition> ... -\
 *          -> adec -----------> enc:audio ------------> out:<output> ...
 *
 * The pipeline is the only place that knows the whole chain of a stream
 * (FFmpeg's scheduler idea); stages know their neighbours' queues only. It
 * decides nothing while the stream runs: failures unwind through the queues
 * (tq.h), and the pipeline reads the outcome when every thread has ended:
 * the stream failed when its input failed or when none of its outputs could
 * go on.
 */
#ifndef HS_PIPELINE_H
#define HS_PIPELINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/event.h"
#include "job/job.h"
#include "plane/decode.h"
#include "plane/encode.h"
#include "plane/input.h"
#include "plane/ladder.h"
#include "plane/output.h"

typedef struct Pipeline Pipeline;

/* For --progress and the status line: the stream as a whole. */
typedef struct PipelineProgress {
    int64_t frames;              /* video frames encoded by the first rendition */
    int64_t total_size;          /* bytes written by all outputs */
    int64_t out_time_us;         /* media time written, furthest output */
    int64_t dropped;             /* frames dropped by encoders */
    int quality;                 /* first rendition's last QP * FF_QP2LAMBDA, -1 */
    int outputs_open;            /* outputs that have written their header... */
    int outputs_failed;          /* ...and those that failed */
} PipelineProgress;

/* js: not owned, outlives the pipeline. stop: the run's graceful-stop flag. */
int pipeline_alloc(Pipeline **pp, const JobStream *js, EventLog *events,
                   const _Atomic int *stop);
void pipeline_free(Pipeline **pp);

/* Starts every stage thread (outputs first). */
int pipeline_start(Pipeline *p);

int pipeline_started(const Pipeline *p);

/* Stops this stream alone, as the run's stop does (a reload removed or
 * replaced it): the input ends, the outputs finish. replaced: the stream
 * goes on in another pipeline, so HLS playlists get no ENDLIST. */
void pipeline_stop(Pipeline *p, int replaced);

/* The stream ends for good (removed from the fleet; before or after
 * pipeline_stop): its epoch-locked HLS playlists get their ENDLIST. */
void pipeline_final(Pipeline *p);

/* Before pipeline_start: this pipeline replaces one that writes to the
 * same destinations. It runs (input read, encoders open) and its outputs
 * write nothing until pipeline_release; HLS then goes on in the playlists,
 * after a discontinuity. */
void pipeline_continue(Pipeline *p);

/* Is every output ready to take over (a keyframe cached)? */
int pipeline_ready(Pipeline *p);

/* Its predecessor has ended (stopped at from_us, av_gettime_relative): the
 * outputs start at the newest keyframe before that. */
void pipeline_release(Pipeline *p, int64_t from_us);
/* Fleet fencing and planned moves: every output stops or starts writing,
 * the rest runs on (output_fence, output_window). Thread-safe. */
void pipeline_fence(Pipeline *p, int fenced, int64_t from_unix_us, int64_t until_unix_us,
                    int64_t keep_us);

/* Have all stage threads ended? */
int pipeline_finished(Pipeline *p);

/* Joins every thread; returns 0 when the stream ended normally, a negative
 * AVERROR when it failed (an event says why). */
int pipeline_join(Pipeline *p);

void pipeline_progress(Pipeline *p, PipelineProgress *pr);

const char *pipeline_name(const Pipeline *p);
const JobStream *pipeline_stream(const Pipeline *p);

/* The stages, for the agents and the chain graph (not owned; valid until
 * pipeline_free). pipeline_encoder: rendition r, or the audio encoder for
 * r == nb_renditions (NULL when the stream has no audio); likewise
 * pipeline_decoder(p, 1). */
Input *pipeline_input(Pipeline *p);
Decoder *pipeline_decoder(Pipeline *p, int audio);
Ladder *pipeline_ladder(Pipeline *p);
Encoder *pipeline_encoder(Pipeline *p, int r);
Output *pipeline_output(Pipeline *p, int o);

#endif
