/*
 * agent_mem.c: memory growth and cgroup limits; see agent_mem.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "core/log.h"
#include "hma/agent_mem.h"

/* v1 writes "no limit" as PAGE_COUNTER_MAX pages (LONG_MAX rounded down to
 * a page): anything this large is no limit. */
#define V1_UNLIMITED (UINT64_C(1) << 62)

/* The next line of text, its length in *len; NULL at the end. */
static const char *next_line(const char **p, size_t *len)
{
    const char *line = *p, *eol;

    if (!line || !*line)
        return NULL;
    eol = strchr(line, '\n');
    *len = eol ? (size_t)(eol - line) : strlen(line);
    *p = eol ? eol + 1 : NULL;
    return line;
}

/* Does the comma-separated list (len bytes) hold word? */
static int has_word(const char *list, size_t len, const char *word)
{
    size_t wl = strlen(word);
    const char *p = list, *end = list + len;

    while (p < end) {
        const char *c = memchr(p, ',', end - p);
        size_t l = (c ? c : end) - p;
        if (l == wl && !memcmp(p, word, wl))
            return 1;
        p += l + 1;
    }
    return 0;
}

/* The cgroup path of the memory controller: v1's "N:...memory...:/path",
 * else v2's "0::/path". */
static int cgroup_path(const char *proc_cgroup, char *path, size_t size)
{
    const char *p = proc_cgroup, *line;
    size_t len;
    int version = 0;

    while ((line = next_line(&p, &len))) {
        const char *c1 = memchr(line, ':', len), *c2;
        if (!c1 || !(c2 = memchr(c1 + 1, ':', line + len - c1 - 1)))
            continue;
        if (has_word(c1 + 1, c2 - c1 - 1, "memory")) {
            snprintf(path, size, "%.*s", (int)(line + len - c2 - 1), c2 + 1);
            return 1;
        }
        if (c2 == c1 + 1 && !strncmp(line, "0:", 2)) {
            snprintf(path, size, "%.*s", (int)(line + len - c2 - 1), c2 + 1);
            version = 2;
        }
    }
    return version ? version : AVERROR(ENOENT);
}

int agent_mem_cgroup_dir(const char *proc_cgroup, const char *mountinfo, char *dir,
                         size_t size)
{
    char path[PATH_MAX], root[PATH_MAX], mnt[PATH_MAX];
    const char *p = mountinfo, *line;
    size_t len;
    int version = cgroup_path(proc_cgroup, path, sizeof(path));

    if (version < 0)
        return version;
    /* mountinfo: id parent major:minor root mount-point options [optional
     * fields] - fstype source super-options */
    while ((line = next_line(&p, &len))) {
        char l[4096], *sep, fstype[32], super[1024];
        if (len >= sizeof(l))
            continue;
        memcpy(l, line, len);
        l[len] = 0;
        if (!(sep = strstr(l, " - ")) ||
            sscanf(l, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
            sscanf(sep + 3, "%31s %*s %1023s", fstype, super) != 2)
            continue;
        if (version == 2 ? strcmp(fstype, "cgroup2")
                         : strcmp(fstype, "cgroup") || !has_word(super, strlen(super), "memory"))
            continue;
        /* a container sees its own cgroup as the mount's root */
        {
            const char *rest = path;
            size_t rl = strlen(root);
            if (strcmp(root, "/") && !strncmp(path, root, rl) && (!path[rl] || path[rl] == '/'))
                rest = path + rl;
            if (!strcmp(rest, "/"))
                rest = "";
            snprintf(dir, size, "%s%s", mnt, rest);
        }
        return version;
    }
    return AVERROR(ENOENT);
}

int agent_mem_parse_value(const char *text, uint64_t *v)
{
    unsigned long long x;
    char *end;

    while (*text == ' ')
        text++;
    if (!strncmp(text, "max", 3) && (!text[3] || text[3] == '\n'))
        return 0;
    if (*text < '0' || *text > '9')
        return AVERROR(EINVAL);
    errno = 0;
    x = strtoull(text, &end, 10);
    if (errno || (*end && *end != '\n'))
        return AVERROR(EINVAL);
    if (x >= V1_UNLIMITED)
        return 0;
    *v = x;
    return 1;
}

int agent_mem_time_to_limit(const AgentMemFigures *f, double growth, double *seconds)
{
    uint64_t limit;

    if (!f->have_current || (!f->have_max && !f->have_high))
        return AVERROR(ERANGE);
    limit = f->have_max ? f->max : f->high;
    if (f->have_high && f->high < limit)
        limit = f->high;
    return trend_time_to(f->current, limit, growth, seconds);
}

struct AgentMem {
    LogCtx log;
    int version;                  /* 0: no cgroup */
    char dir[PATH_MAX];
    Trend rss, current;
};

static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return AVERROR(errno);
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return AVERROR(EIO);
    buf[n] = 0;
    return 0;
}

int agent_mem_alloc(AgentMem **pa)
{
    AgentMem *a = av_mallocz(sizeof(*a));
    char *cg = av_malloc(4096), *mi = av_malloc(256 * 1024);
    int ret = AVERROR(ENOMEM);

    *pa = NULL;
    if (!a || !cg || !mi)
        goto end;
    logctx_init(&a->log, "agent:mem");
    trend_init(&a->rss, AGENT_MEM_WINDOW);
    trend_init(&a->current, AGENT_MEM_WINDOW);
    if (read_small("/proc/self/cgroup", cg, 4096) >= 0 &&
        read_small("/proc/self/mountinfo", mi, 256 * 1024) >= 0 &&
        (ret = agent_mem_cgroup_dir(cg, mi, a->dir, sizeof(a->dir))) > 0)
        a->version = ret;
    else
        av_log(a, AV_LOG_INFO, "no memory cgroup here: no cgroup memory limits\n");
    *pa = a;
    a = NULL;
    ret = 0;
end:
    av_free(a);
    av_free(cg);
    av_free(mi);
    return ret;
}

void agent_mem_free(AgentMem **pa)
{
    av_freep(pa);
}

/* 1 and the value, 0 no limit, < 0 unreadable */
static int read_value(AgentMem *a, const char *name, uint64_t *v)
{
    char path[PATH_MAX + 64], buf[64];
    int ret;

    snprintf(path, sizeof(path), "%s/%s", a->dir, name);
    if ((ret = read_small(path, buf, sizeof(buf))) < 0)
        return ret;
    return agent_mem_parse_value(buf, v);
}

void agent_mem_sample(AgentMem *a, double now_s, double rss, AgentMemFigures *f)
{
    double slope;

    memset(f, 0, sizeof(*f));
    if (rss >= 0) {
        trend_add(&a->rss, now_s, rss);
        f->have_rss_growth = trend_slope(&a->rss, &f->rss_growth) >= 0;
    }
    if (!a->version)
        return;
    f->have_current = read_value(a, a->version == 2 ? "memory.current" : "memory.usage_in_bytes",
                                 &f->current) > 0;
    f->have_max = read_value(a, a->version == 2 ? "memory.max" : "memory.limit_in_bytes",
                             &f->max) > 0;
    if (a->version == 2)
        f->have_high = read_value(a, "memory.high", &f->high) > 0;
    if (!f->have_current)
        return;
    trend_add(&a->current, now_s, f->current);
    if (trend_slope(&a->current, &slope) >= 0)
        f->have_time_to_limit = agent_mem_time_to_limit(f, slope, &f->time_to_limit) >= 0;
}
