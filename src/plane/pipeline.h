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
#include "hma/sample.h"

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

/* Have all stage threads ended? */
int pipeline_finished(Pipeline *p);

/* Joins every thread; returns 0 when the stream ended normally, a negative
 * AVERROR when it failed (an event says why). */
int pipeline_join(Pipeline *p);

void pipeline_progress(Pipeline *p, PipelineProgress *pr);

/* The CPU time so far of the threads working for a component
 * ("news/enc:720p"), in seconds; < 0 when unknown. */
typedef double (*ThreadCpuFn)(void *opaque, const char *component);

/*
 * Appends this stream's components to s with their figures at now_us
 * (av_gettime_relative): one ingest per source (backup = the source's
 * index), one encoder per rendition and for the audio, one output and one
 * edge per output (backup = the instance in use). Rates are over the time
 * since the previous call. One caller (the sampler's tick). Returns 0 or
 * AVERROR(ENOMEM).
 */
int pipeline_sample(Pipeline *p, Sample *s, int64_t now_us, ThreadCpuFn cpu, void *opaque);

const char *pipeline_name(const Pipeline *p);

#endif
