/*
 * agent_host.c: process, thread, pressure, disk and network counters from
 * /proc; see agent_host.h.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
/* libasan's (sanitizer/allocator_interface.h, which gcc does not ship) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "hma/agent_host.h"
#include "core/log.h"

#define DISKSTATS_MAX (256 * 1024)    /* hosts with thousands of devices */
#define SMALL_MAX     8192

int agent_host_parse_stat(const char *text, char *comm, uint64_t *ticks)
{
    const char *open = strchr(text, '('), *close = strrchr(text, ')');
    const char *p;
    char *end;
    uint64_t utime = 0, stime = 0;
    size_t len;

    /* comm is between the first '(' and the last ')': it may hold either */
    if (!open || !close || close < open)
        return AVERROR(EINVAL);
    len = close - open - 1;
    if (len >= AGENT_HOST_COMM_SIZE)
        len = AGENT_HOST_COMM_SIZE - 1;
    memcpy(comm, open + 1, len);
    comm[len] = 0;
    /* field 3 is the state letter; 14 and 15 are utime and stime */
    p = close + 1;
    while (*p == ' ')
        p++;
    if (!isalpha((unsigned char)*p))
        return AVERROR(EINVAL);
    p++;
    for (int field = 4; field <= 15; field++) {
        long long v;
        while (*p == ' ')
            p++;
        errno = 0;
        v = strtoll(p, &end, 10);
        if (end == p || errno)
            return AVERROR(EINVAL);
        p = end;
        if (field == 14)
            utime = v;
        else if (field == 15)
            stime = v;
    }
    *ticks = utime + stime;
    return 0;
}

unsigned agent_host_parse_status(const char *text, uint64_t *rss, uint64_t *hwm)
{
    unsigned have = 0;
    const char *line = text;

    while (line && *line) {
        unsigned long long kb;
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) {
            *rss = kb << 10;
            have |= AGENT_HOST_RSS;
        } else if (sscanf(line, "VmHWM: %llu kB", &kb) == 1) {
            *hwm = kb << 10;
            have |= AGENT_HOST_HWM;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return have;
}

int agent_host_parse_psi(const char *text, AgentHostPsi *p)
{
    const char *line = text;

    memset(p, 0, sizeof(*p));
    while (line && *line) {
        AgentHostPsiLine l;
        unsigned long long total;
        char kind[8];

        if (sscanf(line, "%7s avg10=%lf avg60=%lf avg300=%lf total=%llu", kind,
                   &l.avg10, &l.avg60, &l.avg300, &total) == 5) {
            l.total_us = total;
            if (!strcmp(kind, "some")) {
                p->some = l;
                p->have |= AGENT_HOST_PSI_SOME;
            } else if (!strcmp(kind, "full")) {
                p->full = l;
                p->have |= AGENT_HOST_PSI_FULL;
            }
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return p->have ? 0 : AVERROR(EINVAL);
}

int agent_host_parse_diskstats(const char *text, unsigned major, unsigned minor,
                               AgentHostDisk *d)
{
    const char *line = text;

    while (line && *line) {
        unsigned long long v[11];
        unsigned ma, mi;
        char name[AGENT_HOST_DISK_NAME];

        /* 14 fields at least (Linux 2.6); later kernels add discard and
         * flush counters after them */
        if (sscanf(line, "%u %u %31s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &ma, &mi, name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7], &v[8], &v[9], &v[10]) == 14 && ma == major && mi == minor) {
            memset(d, 0, sizeof(*d));
            av_strlcpy(d->name, name, sizeof(d->name));
            d->major = ma;
            d->minor = mi;
            d->reads = v[0];
            d->read_sectors = v[2];
            d->read_ms = v[3];
            d->writes = v[4];
            d->write_sectors = v[6];
            d->write_ms = v[7];
            d->in_flight = v[8];
            d->io_ms = v[9];
            d->weighted_ms = v[10];
            return 0;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return AVERROR(ENOENT);
}

int agent_host_parse_netdev(const char *text, AgentHostNetIf *ifs, int max)
{
    const char *line = text;
    int n = 0;

    while (line && *line && n < max) {
        const char *colon = strchr(line, ':'), *eol = strchr(line, '\n');
        const char *name = line;
        unsigned long long v[16];

        if (!eol)
            eol = line + strlen(line);
        /* the two header lines have no ':' before the end of the line;
         * a large counter may follow the ':' without a space */
        if (colon && colon < eol) {
            while (name < colon && *name == ' ')
                name++;
            if (colon > name && colon - name < AGENT_HOST_IFNAME_SIZE &&
                sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu "
                       "%llu %llu %llu %llu %llu %llu %llu %llu",
                       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
                       &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14],
                       &v[15]) == 16) {
                AgentHostNetIf *i = &ifs[n++];
                memset(i, 0, sizeof(*i));
                memcpy(i->name, name, colon - name);
                i->rx_bytes = v[0];
                i->rx_packets = v[1];
                i->rx_errs = v[2];
                i->rx_drop = v[3];
                i->tx_bytes = v[8];
                i->tx_packets = v[9];
                i->tx_errs = v[10];
                i->tx_drop = v[11];
            }
        }
        line = *eol ? eol + 1 : NULL;
    }
    return n;
}

static int read_text(const char *path, char *buf, size_t size)
{
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return AVERROR(errno);
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* PSI files exist but refuse reads when booted with psi=0 */
            int err = AVERROR(errno);
            close(fd);
            return err;
        }
        if (n == 0)
            break;
        len += n;
    }
    close(fd);
    buf[len] = 0;
    return (int)len;
}

int agent_host_whole_disk(const char *sys_dev_block, unsigned major, unsigned minor,
                          unsigned *wmajor, unsigned *wminor)
{
    char path[PATH_MAX], real[PATH_MAX], buf[32];
    char *slash;

    snprintf(path, sizeof(path), "%s/%u:%u/dev", sys_dev_block, major, minor);
    if (access(path, F_OK))
        return AVERROR(ENOENT);
    snprintf(path, sizeof(path), "%s/%u:%u/partition", sys_dev_block, major, minor);
    if (access(path, F_OK))
        return 0;
    /* a partition's sysfs directory is inside its disk's: .../sda/sda1 */
    snprintf(path, sizeof(path), "%s/%u:%u", sys_dev_block, major, minor);
    if (!realpath(path, real) || !(slash = strrchr(real, '/')))
        return AVERROR(ENOENT);
    *slash = 0;
    av_strlcat(real, "/dev", sizeof(real));
    if (read_text(real, buf, sizeof(buf)) <= 0 || sscanf(buf, "%u:%u", wmajor, wminor) != 2)
        return AVERROR(ENOENT);
    return 1;
}

/* ---- rates ---------------------------------------------------------------- */

/* b - a when it did not go backwards. */
#define DELTA_OK(a, b) ((b) >= (a))

static int disk_rate(const AgentHostDisk *p, const AgentHostDisk *c, double dt_s,
                     AgentHostDiskRate *r)
{
    uint64_t dr, dw;

    if (p->major != c->major || p->minor != c->minor ||
        !DELTA_OK(p->reads, c->reads) || !DELTA_OK(p->writes, c->writes) ||
        !DELTA_OK(p->read_sectors, c->read_sectors) ||
        !DELTA_OK(p->write_sectors, c->write_sectors) ||
        !DELTA_OK(p->read_ms, c->read_ms) || !DELTA_OK(p->write_ms, c->write_ms) ||
        !DELTA_OK(p->io_ms, c->io_ms))
        return 0;
    dr = c->reads - p->reads;
    dw = c->writes - p->writes;
    /* diskstats sectors are 512 bytes whatever the device's sector size */
    r->read_bps = (c->read_sectors - p->read_sectors) * 512.0 / dt_s;
    r->write_bps = (c->write_sectors - p->write_sectors) * 512.0 / dt_s;
    r->read_iops = dr / dt_s;
    r->write_iops = dw / dt_s;
    r->util_percent = (c->io_ms - p->io_ms) / (dt_s * 10.0);
    if (r->util_percent > 100)
        r->util_percent = 100;
    r->read_await_ms = dr ? (double)(c->read_ms - p->read_ms) / dr : -1;
    r->write_await_ms = dw ? (double)(c->write_ms - p->write_ms) / dw : -1;
    r->in_flight = c->in_flight;
    return 1;
}

static void psi_rate(const AgentHostPsi *p, const AgentHostPsi *c, double dt_s,
                     AgentHostPsiRate *r)
{
    memset(r, 0, sizeof(*r));
    r->have = c->have;
    r->some_avg10 = c->some.avg10;
    r->full_avg10 = c->full.avg10;
    if ((p->have & c->have & AGENT_HOST_PSI_SOME) &&
        DELTA_OK(p->some.total_us, c->some.total_us)) {
        r->some_percent = (c->some.total_us - p->some.total_us) / (dt_s * 1e4);
        r->have_interval |= AGENT_HOST_PSI_SOME;
    }
    if ((p->have & c->have & AGENT_HOST_PSI_FULL) &&
        DELTA_OK(p->full.total_us, c->full.total_us)) {
        r->full_percent = (c->full.total_us - p->full.total_us) / (dt_s * 1e4);
        r->have_interval |= AGENT_HOST_PSI_FULL;
    }
    if (r->some_percent > 100)
        r->some_percent = 100;
    if (r->full_percent > 100)
        r->full_percent = 100;
}

int agent_host_rates(const AgentHostSample *prev, const AgentHostSample *cur,
                     AgentHostRates *r)
{
    double dt_s = (cur->time_ns - prev->time_ns) / 1e9;
    double tck = cur->clk_tck > 0 ? cur->clk_tck : 100;
    unsigned both = prev->have & cur->have;

    memset(r, 0, sizeof(*r));
    if (dt_s <= 0)
        return AVERROR(EINVAL);
    if ((both & AGENT_HOST_CPU) && DELTA_OK(prev->cpu_ticks, cur->cpu_ticks)) {
        r->cpu_percent = (cur->cpu_ticks - prev->cpu_ticks) / tck / dt_s * 100.0;
        r->have |= AGENT_HOST_CPU;
    }
    r->rss_bytes = cur->rss_bytes;
    r->hwm_bytes = cur->hwm_bytes;
    r->have |= cur->have & (AGENT_HOST_RSS | AGENT_HOST_HWM);

    if (both & AGENT_HOST_THREADS) {
        r->have |= AGENT_HOST_THREADS;
        r->nb_threads = cur->nb_threads;
        for (int i = 0; i < cur->nb_threads; i++) {
            const AgentHostThread *c = &cur->threads[i];
            AgentHostThreadRate *t = &r->threads[i];
            t->tid = c->tid;
            memcpy(t->name, c->name, sizeof(t->name));
            for (int j = 0; j < prev->nb_threads; j++) {
                const AgentHostThread *p = &prev->threads[j];
                if (p->tid != c->tid)
                    continue;
                if (DELTA_OK(p->ticks, c->ticks)) {
                    t->cpu_percent = (c->ticks - p->ticks) / tck / dt_s * 100.0;
                    t->present = 1;
                }
                break;
            }
        }
    }

    for (int k = 0; k < AGENT_HOST_NB_PSI; k++) {
        unsigned bit = AGENT_HOST_PSI_CPU << k;
        if (!(cur->have & bit))
            continue;
        r->have |= bit;
        psi_rate((prev->have & bit) ? &prev->psi[k] : &(AgentHostPsi){ 0 },
                 &cur->psi[k], dt_s, &r->psi[k]);
    }

    if ((both & AGENT_HOST_DISK) && disk_rate(&prev->disk, &cur->disk, dt_s, &r->disk))
        r->have |= AGENT_HOST_DISK;
    if ((both & AGENT_HOST_DISK_WHOLE) &&
        disk_rate(&prev->disk_whole, &cur->disk_whole, dt_s, &r->disk_whole))
        r->have |= AGENT_HOST_DISK_WHOLE;

    if (both & AGENT_HOST_NET) {
        r->have |= AGENT_HOST_NET;
        r->nb_ifs = cur->nb_ifs;
        for (int i = 0; i < cur->nb_ifs; i++) {
            const AgentHostNetIf *c = &cur->ifs[i];
            AgentHostNetRate *n = &r->ifs[i];
            memcpy(n->name, c->name, sizeof(n->name));
            for (int j = 0; j < prev->nb_ifs; j++) {
                const AgentHostNetIf *p = &prev->ifs[j];
                if (strcmp(p->name, c->name))
                    continue;
                /* an interface deleted and created again starts from 0 */
                if (DELTA_OK(p->rx_bytes, c->rx_bytes) && DELTA_OK(p->tx_bytes, c->tx_bytes) &&
                    DELTA_OK(p->rx_packets, c->rx_packets) &&
                    DELTA_OK(p->tx_packets, c->tx_packets) &&
                    DELTA_OK(p->rx_errs, c->rx_errs) && DELTA_OK(p->tx_errs, c->tx_errs) &&
                    DELTA_OK(p->rx_drop, c->rx_drop) && DELTA_OK(p->tx_drop, c->tx_drop)) {
                    n->rx_bps = (c->rx_bytes - p->rx_bytes) / dt_s;
                    n->tx_bps = (c->tx_bytes - p->tx_bytes) / dt_s;
                    n->rx_pps = (c->rx_packets - p->rx_packets) / dt_s;
                    n->tx_pps = (c->tx_packets - p->tx_packets) / dt_s;
                    n->rx_errs_ps = (c->rx_errs - p->rx_errs) / dt_s;
                    n->tx_errs_ps = (c->tx_errs - p->tx_errs) / dt_s;
                    n->rx_drop_ps = (c->rx_drop - p->rx_drop) / dt_s;
                    n->tx_drop_ps = (c->tx_drop - p->tx_drop) / dt_s;
                    n->present = 1;
                }
                break;
            }
        }
    }
    return 0;
}

/* ---- the agent ------------------------------------------------------------ */

struct AgentHost {
    LogCtx log;
    long clk_tck;
    char *buf;                        /* DISKSTATS_MAX */
    int has_disk;                     /* the path is on a block device */
    unsigned major, minor;
    int has_whole;
    unsigned wmajor, wminor;
    unsigned said;                    /* AGENT_HOST_* bits said absent */
    int said_diskstats;
};

static const char *const psi_files[AGENT_HOST_NB_PSI] = {
    "/proc/pressure/cpu", "/proc/pressure/memory", "/proc/pressure/io",
};

int agent_host_alloc(AgentHost **pa, const char *disk_path)
{
    AgentHost *a = av_mallocz(sizeof(*a));
    struct stat st;

    *pa = NULL;
    if (!a || !(a->buf = av_malloc(DISKSTATS_MAX))) {
        av_free(a);
        return AVERROR(ENOMEM);
    }
    logctx_init(&a->log, "agent/host");
    a->clk_tck = sysconf(_SC_CLK_TCK);
    if (a->clk_tck <= 0)
        a->clk_tck = 100;
    if (disk_path) {
        if (stat(disk_path, &st) < 0) {
            av_log(a, AV_LOG_INFO, "disk I/O absent: cannot stat %s: %s\n", disk_path,
                   strerror(errno));
        } else if (major(st.st_dev) == 0) {
            /* tmpfs, overlayfs, btrfs subvolumes: an anonymous device */
            av_log(a, AV_LOG_INFO, "disk I/O absent: %s is on no block device "
                   "(device 0:%u)\n", disk_path, minor(st.st_dev));
        } else {
            int ret;
            a->has_disk = 1;
            a->major = major(st.st_dev);
            a->minor = minor(st.st_dev);
            ret = agent_host_whole_disk("/sys/dev/block", a->major, a->minor,
                                        &a->wmajor, &a->wminor);
            a->has_whole = ret == 1;
        }
    }
    *pa = a;
    return 0;
}

void agent_host_free(AgentHost **pa)
{
    if (!pa || !*pa)
        return;
    av_freep(&(*pa)->buf);
    av_freep(pa);
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sample_threads(AgentHost *a, AgentHostSample *s)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int more = 0;

    if (!d)
        return;
    while ((de = readdir(d))) {
        char path[300], text[1024];
        AgentHostThread *t;

        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        if (s->nb_threads >= AGENT_HOST_MAX_THREADS) {
            more++;
            continue;
        }
        t = &s->threads[s->nb_threads];
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
        /* The name comes from stat's comm field: the same task->comm as
         * task/TID/comm, read in the same open as the times. */
        if (read_text(path, text, sizeof(text)) <= 0 ||
            agent_host_parse_stat(text, t->name, &t->ticks) < 0)
            continue;             /* the thread ended meanwhile */
        t->tid = atoi(de->d_name);
        s->nb_threads++;
    }
    closedir(d);
    s->have |= AGENT_HOST_THREADS;
    if (more && !(a->said & AGENT_HOST_THREADS)) {
        av_log(a, AV_LOG_WARNING, "more than %d threads: the CPU of %d is not "
               "sampled\n", AGENT_HOST_MAX_THREADS, more);
        a->said |= AGENT_HOST_THREADS;
    }
}

uint64_t agent_host_heap_bytes(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

int agent_host_sample(AgentHost *a, AgentHostSample *s)
{
    char text[SMALL_MAX];
    unsigned missing_psi = 0;
    char comm[AGENT_HOST_COMM_SIZE];

    s->have = 0;
    s->nb_threads = 0;
    s->nb_ifs = 0;
    s->time_ns = monotonic_ns();
    s->clk_tck = a->clk_tck;

    if (read_text("/proc/self/stat", text, sizeof(text)) > 0 &&
        agent_host_parse_stat(text, comm, &s->cpu_ticks) == 0)
        s->have |= AGENT_HOST_CPU;
    if (read_text("/proc/self/status", text, sizeof(text)) > 0)
        s->have |= agent_host_parse_status(text, &s->rss_bytes, &s->hwm_bytes);
    if ((s->heap_bytes = agent_host_heap_bytes()))
        s->have |= AGENT_HOST_HEAP;
    sample_threads(a, s);

    for (int k = 0; k < AGENT_HOST_NB_PSI; k++) {
        if (read_text(psi_files[k], text, sizeof(text)) > 0 &&
            agent_host_parse_psi(text, &s->psi[k]) == 0)
            s->have |= AGENT_HOST_PSI_CPU << k;
        else
            missing_psi |= AGENT_HOST_PSI_CPU << k;
    }
    if (missing_psi & ~a->said) {
        av_log(a, AV_LOG_INFO, "pressure stall information absent for%s%s%s "
               "(kernel before 4.20, psi=0, or a container without /proc/pressure)\n",
               missing_psi & AGENT_HOST_PSI_CPU ? " cpu" : "",
               missing_psi & AGENT_HOST_PSI_MEMORY ? " memory" : "",
               missing_psi & AGENT_HOST_PSI_IO ? " io" : "");
        a->said |= missing_psi;
    }

    if (a->has_disk && read_text("/proc/diskstats", a->buf, DISKSTATS_MAX) > 0) {
        if (agent_host_parse_diskstats(a->buf, a->major, a->minor, &s->disk) == 0)
            s->have |= AGENT_HOST_DISK;
        else if (!a->said_diskstats) {
            av_log(a, AV_LOG_INFO, "disk I/O absent: device %u:%u is not in "
                   "/proc/diskstats\n", a->major, a->minor);
            a->said_diskstats = 1;
        }
        if (a->has_whole &&
            agent_host_parse_diskstats(a->buf, a->wmajor, a->wminor, &s->disk_whole) == 0)
            s->have |= AGENT_HOST_DISK_WHOLE;
    }

    /* this process's network namespace: a container sees its own */
    if (read_text("/proc/self/net/dev", a->buf, DISKSTATS_MAX) > 0) {
        s->nb_ifs = agent_host_parse_netdev(a->buf, s->ifs, AGENT_HOST_MAX_IFS);
        s->have |= AGENT_HOST_NET;
    } else if (!(a->said & AGENT_HOST_NET)) {
        av_log(a, AV_LOG_INFO, "network counters absent: /proc/self/net/dev "
               "cannot be read\n");
        a->said |= AGENT_HOST_NET;
    }
    return 0;
}
