/*
 * agent_disk.c: free space, fill rate and time to full of the job's
 * filesystems; see agent_disk.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/log.h"
#include "hma/agent_disk.h"

int agent_disk_space(const struct statvfs *v, AgentDiskSpace *s)
{
    uint64_t unit = v->f_frsize ? v->f_frsize : v->f_bsize;

    if (!unit || !v->f_blocks || v->f_bfree > v->f_blocks || v->f_bavail > v->f_blocks)
        return AVERROR(EINVAL);
    s->size = (uint64_t)v->f_blocks * unit;
    s->free = (uint64_t)v->f_bavail * unit;
    s->used = (uint64_t)(v->f_blocks - v->f_bfree) * unit;
    return 0;
}

const char *agent_disk_url_dir(const char *url, char *buf, size_t size)
{
    const char *slash;

    size_t scheme = strspn(url, "abcdefghijklmnopqrstuvwxyz0123456789+.-");

    /* "proto:..." is a libav protocol (as libav reads it): only file: is
     * a file */
    if (!strncmp(url, "file:", 5))
        url += 5;
    else if ((scheme > 0 && url[scheme] == ':') || !strcmp(url, "-") || !*url)
        return NULL;
    slash = strrchr(url, '/');
    if (!slash)
        av_strlcpy(buf, ".", size);
    else if (slash == url)
        av_strlcpy(buf, "/", size);
    else
        snprintf(buf, size, "%.*s", (int)(slash - url), url);
    return buf;
}

typedef struct DiskFs {
    char path[PATH_MAX];          /* the nearest directory that exists */
    dev_t dev;
    int failing;
    int have;
    AgentDiskSpace space;
    Trend used;
} DiskFs;

struct AgentDisk {
    LogCtx log;
    int nb;
    DiskFs fs[AGENT_DISK_MAX_FS];
};

int agent_disk_alloc(AgentDisk **pa)
{
    AgentDisk *a = av_mallocz(sizeof(*a));

    *pa = a;
    if (!a)
        return AVERROR(ENOMEM);
    logctx_init(&a->log, "agent:disk");
    return 0;
}

void agent_disk_free(AgentDisk **pa)
{
    av_freep(pa);
}

int agent_disk_add(AgentDisk *a, const char *dir)
{
    char path[PATH_MAX];
    struct stat st;

    av_strlcpy(path, *dir ? dir : ".", sizeof(path));
    /* the directory may be made later: its parent's filesystem holds it */
    while (stat(path, &st) < 0) {
        char *slash = strrchr(path, '/');
        int err = errno;
        if (!slash) {
            if (!strcmp(path, "."))
                return AVERROR(err);
            av_strlcpy(path, ".", sizeof(path));
        } else if (slash == path) {
            if (!path[1])
                return AVERROR(err);
            path[1] = 0;
        } else {
            *slash = 0;
        }
    }
    for (int i = 0; i < a->nb; i++)
        if (a->fs[i].dev == st.st_dev)
            return i;
    if (a->nb == AGENT_DISK_MAX_FS)
        return AVERROR(ENOSPC);
    av_strlcpy(a->fs[a->nb].path, path, sizeof(a->fs[a->nb].path));
    a->fs[a->nb].dev = st.st_dev;
    trend_init(&a->fs[a->nb].used, AGENT_DISK_WINDOW);
    return a->nb++;
}

void agent_disk_refresh(AgentDisk *a, double now_s)
{
    for (int i = 0; i < a->nb; i++) {
        DiskFs *fs = &a->fs[i];
        struct statvfs v;
        int ret = statvfs(fs->path, &v) < 0 ? AVERROR(errno) : agent_disk_space(&v, &fs->space);

        if (ret < 0 && !fs->failing)
            av_log(a, AV_LOG_WARNING, "cannot measure the filesystem of %s: %s\n",
                   fs->path, av_err2str(ret));
        fs->failing = ret < 0;
        fs->have = ret >= 0;
        if (fs->have)
            trend_add(&fs->used, now_s, fs->space.used);
    }
}

/* the same order for both kinds (agent_disk_sample) */
typedef char check_fs_order[HM_STORE_FS_TIME_TO_FULL - HM_STORE_FS_FREE == 3 &&
                            OM_FS_TIME_TO_FULL - OM_FS_FREE == 3 &&
                            HM_STORE_FS_SIZE - HM_STORE_FS_FREE == OM_FS_SIZE - OM_FS_FREE &&
                            HM_STORE_FS_FILL_RATE - HM_STORE_FS_FREE ==
                            OM_FS_FILL_RATE - OM_FS_FREE ? 1 : -1];

void agent_disk_sample(const AgentDisk *a, int id, SampleComp *c, int first)
{
    AgentDiskFigures f;

    agent_disk_figures(a, id, &f);
    if (f.have_space) {
        sample_set(c, first, f.space.free);
        sample_set(c, first + OM_FS_SIZE - OM_FS_FREE, f.space.size);
    }
    if (f.have_rate)
        sample_set(c, first + OM_FS_FILL_RATE - OM_FS_FREE, f.fill_rate);
    if (f.have_ttf)
        sample_set(c, first + OM_FS_TIME_TO_FULL - OM_FS_FREE, f.time_to_full);
}

void agent_disk_figures(const AgentDisk *a, int id, AgentDiskFigures *f)
{
    const DiskFs *fs;

    memset(f, 0, sizeof(*f));
    if (!a || id < 0 || id >= a->nb || !a->fs[id].have)
        return;
    fs = &a->fs[id];
    f->have_space = 1;
    f->space = fs->space;
    if (trend_slope(&fs->used, &f->fill_rate) < 0)
        return;
    f->have_rate = 1;
    /* full: nothing left for us, used + free */
    f->have_ttf = trend_time_to(fs->space.used, fs->space.used + fs->space.free,
                                f->fill_rate, &f->time_to_full) >= 0;
}
