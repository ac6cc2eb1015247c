/*
 * agent_plane.h: the agent of the data plane: every component of one
 * stream with its figures, once per tick, read from what the stages
 * publish (stats getters; nothing waits on a stage's thread).
 *
 * One ingest per source (instance = the source's index), one encoder per
 * rendition and for the audio, one output and one edge per output
 * (instance = the one in use). Rates are over the time since the previous
 * call.
 */
#ifndef HS_AGENT_PLANE_H
#define HS_AGENT_PLANE_H

#include <stdint.h>

#include "hma/sample.h"
#include "plane/pipeline.h"

typedef struct AgentPlane AgentPlane;

/* p: not owned, outlives the agent. */
int agent_plane_alloc(AgentPlane **pa, Pipeline *p);
void agent_plane_free(AgentPlane **pa);

/* The CPU time so far of the threads working for a component
 * ("news/enc:720p"), in seconds; < 0 when unknown. */
typedef double (*ThreadCpuFn)(void *opaque, const char *component);

/* Appends the stream's components to s with their figures at now_us
 * (av_gettime_relative). One caller (the sampler's tick). Returns 0 or
 * AVERROR(ENOMEM). */
int agent_plane_sample(AgentPlane *a, Sample *s, int64_t now_us, ThreadCpuFn cpu, void *opaque);

#endif
