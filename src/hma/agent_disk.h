/*
 * agent_disk.h: the disk agent: free space and fill rate of the
 * filesystems the job writes to (each file output's, the data store's),
 * with the time until they are full at that rate.
 *
 * A filesystem that several outputs share is measured once (they are told
 * apart by device, st_dev, of the nearest directory that exists: an output
 * directory not made yet is on its parent's filesystem). The fill rate is
 * the least-squares slope of the used bytes over the last 30 ticks
 * (trend.h): every writer's bytes, not only ours, since all of them fill
 * it. Time to full is absent while the filesystem is not filling.
 *
 * The parser is a pure function of statvfs's answer, tested on captured
 * answers; free bytes are those an unprivileged writer may use (f_bavail:
 * the reserved blocks are root's, and hotspare should not run as root).
 */
#ifndef HS_AGENT_DISK_H
#define HS_AGENT_DISK_H

#include <stdint.h>
#include <sys/statvfs.h>

#include "hma/sample.h"
#include "hma/trend.h"

#define AGENT_DISK_WINDOW 30      /* ticks the fill rate is taken over */
#define AGENT_DISK_MAX_FS 32

typedef struct AgentDiskSpace {
    uint64_t size, free, used;    /* bytes; free: for unprivileged writers */
} AgentDiskSpace;

/* statvfs's answer to bytes. AVERROR(EINVAL) for an answer that cannot
 * be (no blocks, free above size). Pure. */
int agent_disk_space(const struct statvfs *v, AgentDiskSpace *s);

/* The directory a job URL writes into, for a local file ("out/a.m3u8",
 * "file:/x/y.ts" -> "out", "/x"), or NULL for a network URL. Pure. */
const char *agent_disk_url_dir(const char *url, char *buf, size_t size);

typedef struct AgentDiskFigures {
    int have_space, have_rate, have_ttf;
    AgentDiskSpace space;
    double fill_rate;             /* bytes/s */
    double time_to_full;          /* s */
} AgentDiskFigures;

typedef struct AgentDisk AgentDisk;

int agent_disk_alloc(AgentDisk **pa);
void agent_disk_free(AgentDisk **pa);

/* Registers the filesystem of dir; returns its id (the same for a
 * filesystem already known), or a negative AVERROR (none of dir's
 * ancestors exists, too many filesystems). */
int agent_disk_add(AgentDisk *a, const char *dir);

/* Once per tick: measures every filesystem once. now_s: a monotonic clock. */
void agent_disk_refresh(AgentDisk *a, double now_s);

/* The figures of filesystem id from the last refresh. */
void agent_disk_figures(const AgentDisk *a, int id, AgentDiskFigures *f);

/* Sets them on c from metric first on, in the order free, size, fill
 * rate, time to full (HM_STORE_FS_FREE, OM_FS_FREE); id < 0: nothing. */
void agent_disk_sample(const AgentDisk *a, int id, SampleComp *c, int first);

#endif
