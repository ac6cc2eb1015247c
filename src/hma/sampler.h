/*
 * sampler.h: the tick: one snapshot of every component of the job.
 *
 * Every tick the run asks the sampler for a Sample (sample.h): the host
 * (this process's CPU and memory, the kernel's pressure, the disk that
 * holds the outputs, the network), each GPU (NVML for NVIDIA, DRM fdinfo
 * for VAAPI devices this process uses), and every stream's components
 * (agent_plane.h). Per-component CPU comes from the threads named after
 * the component (encoder libraries' worker threads inherit the name). The
 * network agent (agent_net.h) gives the sources and the outputs' edges the
 * kernel's figures of their TCP connections; the disk agent (agent_disk.h)
 * the file outputs' and the data store's filesystems; the memory agent
 * (agent_mem.h) the process's memory growth and its cgroup's limits.
 *
 * Probes that cannot work here (no GPU, no PSI) have said so once and add
 * nothing: absent, not zero.
 */
#ifndef HS_SAMPLER_H
#define HS_SAMPLER_H

#include "job/job.h"
#include "plane/pipeline.h"
#include "hma/sample.h"

typedef struct Sampler Sampler;

/* pl: the job's pipelines, not owned; they outlive the sampler. */
int sampler_alloc(Sampler **psm, const Job *job, Pipeline **pl, int nb);
void sampler_free(Sampler **psm);

/* Takes the tick's snapshot. The Sample belongs to the sampler and stays
 * valid until the next call; the caller may add figures to it (the
 * predictor's risk) before passing it on. */
Sample *sampler_tick(Sampler *sm);

/* Events from the probes since the last tick (GPU lost, XID errors) are
 * emitted to el. */
void sampler_set_events(Sampler *sm, EventLog *el);

#endif
