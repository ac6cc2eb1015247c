/*
 * agent_mem.h: the memory agent: how fast this process's resident memory
 * grows, and the memory limits of its cgroup with the time left before the
 * lower one is reached at the cgroup's growth.
 *
 * A leak shows as a steady slope long before the OOM killer ends the
 * process: the slope is the least-squares one over the last 30 ticks
 * (trend.h). The cgroup is this process's memory cgroup: cgroup v2
 * (memory.current, memory.max, memory.high) or, on hosts still on v1 for
 * the memory controller, v1 (memory.usage_in_bytes, memory.limit_in_bytes;
 * v1 has no memory.high). A limit of "max" (v1: the largest page count) is
 * no limit: absent, never 0.
 *
 * Sources: /proc/self/cgroup (cgroups(7)), /proc/self/mountinfo
 * (proc(5)), Documentation/admin-guide/cgroup-v2.rst. The parsers are pure
 * functions of the texts, tested on captured files (tests/data/cgroup/).
 */
#ifndef HS_AGENT_MEM_H
#define HS_AGENT_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "hma/trend.h"

#define AGENT_MEM_WINDOW 30

/*
 * This process's memory cgroup directory from the texts of
 * /proc/self/cgroup and /proc/self/mountinfo: where the memory controller
 * is mounted, and the process's path below it (less the mount's own root,
 * for a container's view). Returns 2 (v2) or 1 (v1) and the directory in
 * dir, or AVERROR(ENOENT) (no memory controller mounted). Pure.
 */
int agent_mem_cgroup_dir(const char *proc_cgroup, const char *mountinfo, char *dir,
                         size_t size);

/* A memory.max / memory.current / v1 *_in_bytes text: 1 and the value,
 * 0 for no limit ("max", or v1's huge number), AVERROR(EINVAL) for
 * anything else. Pure. */
int agent_mem_parse_value(const char *text, uint64_t *v);

typedef struct AgentMemFigures {
    int have_rss_growth;
    double rss_growth;            /* bytes/s */
    int have_current, have_max, have_high, have_time_to_limit;
    uint64_t current, max, high;
    double time_to_limit;         /* s */
} AgentMemFigures;

/* The time to the lower of the limits at the given growth of current; 0
 * when already there, AVERROR(ERANGE) when not growing or no limit. Pure. */
int agent_mem_time_to_limit(const AgentMemFigures *f, double growth, double *seconds);

typedef struct AgentMem AgentMem;

/* Finds the cgroup; says once when there is none (then only the RSS
 * growth). */
int agent_mem_alloc(AgentMem **pa);
void agent_mem_free(AgentMem **pa);

/* Once per tick: rss (bytes, from the host agent; < 0 unknown) at now_s (a
 * monotonic clock), and the cgroup's files. */
void agent_mem_sample(AgentMem *a, double now_s, double rss, AgentMemFigures *f);

#endif
