/*
 * agent_plane.h: the agent of the data plane: every component of one
 * stream with its figures, once per tick, read from what the stages
 * publish (stats getters; nothing waits on a stage's thread).
 *
 * One ingest per source (instance = the source's index), one encoder per
 * rendition and for the audio, one output and one edge per output
 * (instance = the one in use). Rates are over the time since the previous
 * call.
 *
 * With the network agent, each source and each output's edge gets the
 * figures of its TCP connection(s) (agent_net.h: the socket the stage
 * names in InstStatus.sock_inode, else the peer of its URL, resolved at
 * agent_plane_set_agents); with the disk agent, each output that writes
 * files gets its filesystem's space, fill rate and time to full.
 */
#ifndef HS_AGENT_PLANE_H
#define HS_AGENT_PLANE_H

#include <stdint.h>

#include "hma/agent_disk.h"
#include "hma/agent_net.h"
#include "hma/sample.h"
#include "plane/pipeline.h"

typedef struct AgentPlane AgentPlane;

/* p: not owned, outlives the agent. */
int agent_plane_alloc(AgentPlane **pa, Pipeline *p);
void agent_plane_free(AgentPlane **pa);

/* The shared agents (not owned, outlive a; either may be NULL): resolves
 * the URLs of the sources and destinations (may block on DNS: call it
 * before the ticks) and registers the outputs' directories with disk.
 * Returns 0 or AVERROR(ENOMEM). */
int agent_plane_set_agents(AgentPlane *a, AgentNet *net, AgentDisk *disk);

/* The CPU time so far of the threads working for a component
 * ("news/enc:720p"), in seconds; < 0 when unknown. */
typedef double (*ThreadCpuFn)(void *opaque, const char *component);

/* Appends the stream's components to s with their figures at now_us
 * (av_gettime_relative). One caller (the sampler's tick). Returns 0 or
 * AVERROR(ENOMEM). */
int agent_plane_sample(AgentPlane *a, Sample *s, int64_t now_us, ThreadCpuFn cpu, void *opaque);

#endif
