/*
 * agent_drm.c: DRM fdinfo engine usage and sysfs GPU figures; see agent_drm.h.
 *
 * Formats, as the kernel prints them (checked in the kernel sources):
 * - drm-usage-stats.rst: "key:<whitespace>value[ unit]", keys drm-driver,
 *   drm-pdev, drm-client-id, drm-engine-<e> (ns), drm-engine-capacity-<e>,
 *   drm-cycles-<e>, drm-total-cycles-<e> (either this or drm-maxfreq-<e>),
 *   drm-memory-<r> (deprecated alias of drm-resident-<r>), drm-total-<r>,
 *   drm-shared-, drm-active-, drm-resident-, drm-purgeable-<r>, sizes in
 *   bytes or with " KiB"/" MiB".
 * - i915_drm_client.c: "drm-engine-%s:\t%llu ns" for render, copy, video,
 *   video-enhance, compute; "drm-engine-capacity-%s:\t%u" when > 1.
 * - xe_drm_client.c: "drm-cycles-%s:\t%llu", "drm-total-cycles-%s:\t%llu"
 *   (a GPU timestamp shared by all classes), capacity when > 1; classes
 *   rcs, bcs, vcs, vecs, ccs.
 * - amdgpu_fdinfo.c:
 *     5.14-5.18: "pdev:\t%04x:%02x:%02x.%d" (5.14: without the domain),
 *                "pasid:\t%u", "vram mem:\t%llu kB", and per ring
 *                "%s%d:\t%d.%d%%" (gfx0, enc0, dec0...); no drm- key at
 *                all and no client id (the pasid, one per open file, stands
 *                in for it);
 *     5.19 on:   drm- keys (from 6.5 the DRM core prints drm-driver,
 *                drm-client-id and drm-pdev), "drm-memory-gtt: \t%llu KiB"
 *                (a space before the tab), and per IP
 *                "drm-engine-%s:\t%lld ns", printed only when not 0, names
 *                gfx, compute, dma, dec, enc, enc_1, jpeg. A reviewed version
 *                of the 5.19 patch printed per ring ("drm-engine-%s%d",
 *                gfx0); names with a ring index classify the same way.
 *   Note the old percentage's quirk: "%d.%d%%" with perc % 100 as the
 *   fraction prints 12.05 % as "12.5%"; it is read as printed.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "hma/agent_drm.h"
#include "core/log.h"

#define FDINFO_MAX 16384              /* xe prints about 1.5 KiB */

static int has_prefix(const char *s, size_t len, const char *prefix, size_t *plen)
{
    size_t n = strlen(prefix);

    if (len <= n || memcmp(s, prefix, n))
        return 0;
    *plen = n;
    return 1;
}

static void copy_name(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
}

enum AgentDrmEngineClass agent_drm_engine_class(const char *name)
{
    static const struct { const char *name; enum AgentDrmEngineClass cls; } exact[] = {
        { "render", AGENT_DRM_ENGINE_RENDER },   /* i915 */
        { "copy", AGENT_DRM_ENGINE_COPY },
        { "video", AGENT_DRM_ENGINE_VIDEO },
        { "video-enhance", AGENT_DRM_ENGINE_VIDEO_ENHANCE },
        { "compute", AGENT_DRM_ENGINE_COMPUTE },
        { "rcs", AGENT_DRM_ENGINE_RENDER },      /* xe */
        { "bcs", AGENT_DRM_ENGINE_COPY },
        { "vcs", AGENT_DRM_ENGINE_VIDEO },
        { "vecs", AGENT_DRM_ENGINE_VIDEO_ENHANCE },
        { "ccs", AGENT_DRM_ENGINE_COMPUTE },
    };
    /* amdgpu, also with the ring index of 5.14-6.3 ("enc0", "enc_10") */
    static const struct { const char *prefix; enum AgentDrmEngineClass cls; } amd[] = {
        { "gfx", AGENT_DRM_ENGINE_RENDER },
        { "compute", AGENT_DRM_ENGINE_COMPUTE },
        { "dma", AGENT_DRM_ENGINE_COPY },
        { "enc", AGENT_DRM_ENGINE_ENC },
        { "dec", AGENT_DRM_ENGINE_DEC },
        { "jpeg", AGENT_DRM_ENGINE_JPEG },
    };

    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (!strcmp(name, exact[i].name))
            return exact[i].cls;
    for (size_t i = 0; i < sizeof(amd) / sizeof(amd[0]); i++) {
        size_t n = strlen(amd[i].prefix);
        const char *rest = name + n;
        if (strncmp(name, amd[i].prefix, n))
            continue;
        if (*rest == '_')         /* "enc_1" */
            rest++;
        while (isdigit((unsigned char)*rest))
            rest++;
        if (!*rest)
            return amd[i].cls;
    }
    return AGENT_DRM_ENGINE_OTHER;
}

static AgentDrmEngine *engine_of(AgentDrmClient *c, const char *name, size_t len)
{
    AgentDrmEngine *e;
    char buf[AGENT_DRM_NAME_SIZE];

    if (!len || len >= sizeof(buf))
        return NULL;
    copy_name(buf, sizeof(buf), name, len);
    for (int i = 0; i < c->nb_engines; i++)
        if (!strcmp(c->engines[i].name, buf))
            return &c->engines[i];
    if (c->nb_engines >= AGENT_DRM_MAX_ENGINES)
        return NULL;
    e = &c->engines[c->nb_engines++];
    memset(e, 0, sizeof(*e));
    memcpy(e->name, buf, sizeof(buf));
    e->cls = agent_drm_engine_class(e->name);
    return e;
}

static AgentDrmRegion *region_of(AgentDrmClient *c, const char *name, size_t len)
{
    AgentDrmRegion *r;
    char buf[AGENT_DRM_NAME_SIZE];

    if (!len || len >= sizeof(buf))
        return NULL;
    copy_name(buf, sizeof(buf), name, len);
    for (int i = 0; i < c->nb_regions; i++)
        if (!strcmp(c->regions[i].name, buf))
            return &c->regions[i];
    if (c->nb_regions >= AGENT_DRM_MAX_REGIONS)
        return NULL;
    r = &c->regions[c->nb_regions++];
    memset(r, 0, sizeof(*r));
    memcpy(r->name, buf, sizeof(buf));
    return r;
}

/* An unsigned value, and the unit after it ("" when none). */
static int parse_uint(const char *v, uint64_t *out, const char **unit)
{
    char *end;

    if (!isdigit((unsigned char)*v))
        return 0;
    errno = 0;
    *out = strtoull(v, &end, 10);
    if (errno)
        return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    *unit = end;
    return 1;
}

/* A size: bytes, or KiB/MiB (drm-usage-stats.rst), or kB (old amdgpu). */
static int parse_size(const char *v, uint64_t *bytes)
{
    const char *unit;
    uint64_t n;

    if (!parse_uint(v, &n, &unit))
        return 0;
    if (!*unit)
        *bytes = n;
    else if (!strcmp(unit, "KiB") || !strcmp(unit, "kB"))
        *bytes = n << 10;
    else if (!strcmp(unit, "MiB"))
        *bytes = n << 20;
    else if (!strcmp(unit, "GiB"))
        *bytes = n << 30;
    else
        return 0;
    return 1;
}

/* amdgpu before 5.19: "gfx0:\t12.5%": a name ending in a ring index and a
 * percentage. */
static int parse_old_amd_ring(AgentDrmClient *c, const char *key, size_t klen,
                              const char *v)
{
    AgentDrmEngine *e;
    size_t vlen = strlen(v);
    char *end;
    double pct;

    if (!klen || !isdigit((unsigned char)key[klen - 1]) || !vlen || v[vlen - 1] != '%')
        return 0;
    for (size_t i = 0; i < klen; i++)
        if (!(islower((unsigned char)key[i]) || isdigit((unsigned char)key[i]) ||
              key[i] == '_'))
            return 0;
    pct = strtod(v, &end);
    if (end != v + vlen - 1 || pct < 0)
        return 0;
    if (!(e = engine_of(c, key, klen)))
        return 1;
    e->percent = pct;
    e->have |= AGENT_DRM_HAVE_PERCENT;
    return 1;
}

static void set_pdev(AgentDrmClient *c, const char *v)
{
    /* the first amdgpu (5.14) printed "%02x:%02x.%d", without a domain */
    if (strlen(v) == 7 && v[2] == ':' && v[5] == '.')
        snprintf(c->pdev, sizeof(c->pdev), "0000:%s", v);
    else
        av_strlcpy(c->pdev, v, sizeof(c->pdev));
    c->have |= AGENT_DRM_CLIENT_PDEV;
}

/* One "key: value" line; value trimmed. */
static void parse_pair(AgentDrmClient *c, const char *key, size_t klen, const char *v,
                       uint64_t *pasid, int *have_pasid)
{
    AgentDrmEngine *e;
    AgentDrmRegion *r;
    const char *unit;
    uint64_t n;
    size_t p;

#define KEY(s) (klen == sizeof(s) - 1 && !memcmp(key, s, klen))
    if (KEY("drm-driver")) {
        av_strlcpy(c->driver, v, sizeof(c->driver));
    } else if (KEY("drm-pdev") || KEY("pdev")) {
        set_pdev(c, v);
    } else if (KEY("drm-client-id")) {
        if (parse_uint(v, &n, &unit) && !*unit) {
            c->client_id = n;
            c->have |= AGENT_DRM_CLIENT_ID;
        }
    } else if (KEY("pasid")) {
        if (parse_uint(v, &n, &unit) && !*unit) {
            *pasid = n;
            *have_pasid = 1;
        }
    } else if (has_prefix(key, klen, "drm-engine-capacity-", &p)) {
        if (parse_uint(v, &n, &unit) && !*unit && n > 0 && n < 1024 &&
            (e = engine_of(c, key + p, klen - p)))
            e->capacity = n;
    } else if (has_prefix(key, klen, "drm-engine-", &p)) {
        if (parse_uint(v, &n, &unit) && (!*unit || !strcmp(unit, "ns")) &&
            (e = engine_of(c, key + p, klen - p))) {
            e->busy_ns = n;
            e->have |= AGENT_DRM_HAVE_NS;
        }
    } else if (has_prefix(key, klen, "drm-cycles-", &p)) {
        if (parse_uint(v, &n, &unit) && !*unit && (e = engine_of(c, key + p, klen - p))) {
            e->cycles = n;
            e->have |= AGENT_DRM_HAVE_CYCLES;
        }
    } else if (has_prefix(key, klen, "drm-total-cycles-", &p)) {
        if (parse_uint(v, &n, &unit) && !*unit && (e = engine_of(c, key + p, klen - p))) {
            e->total_cycles = n;
            e->have |= AGENT_DRM_HAVE_TOTAL;
        }
    } else if (has_prefix(key, klen, "drm-memory-", &p) ||
               has_prefix(key, klen, "drm-resident-", &p)) {
        if (parse_size(v, &n) && (r = region_of(c, key + p, klen - p))) {
            r->resident = n;
            r->have |= AGENT_DRM_MEM_RESIDENT;
        }
    } else if (has_prefix(key, klen, "drm-total-", &p)) {
        if (parse_size(v, &n) && (r = region_of(c, key + p, klen - p))) {
            r->total = n;
            r->have |= AGENT_DRM_MEM_TOTAL;
        }
    } else if (KEY("vram mem") || KEY("gtt mem") || KEY("cpu mem")) {
        if (parse_size(v, &n) && (r = region_of(c, key, klen - 4))) {
            r->resident = n;
            r->have |= AGENT_DRM_MEM_RESIDENT;
        }
    } else if (strncmp(key, "drm-", 4)) {
        parse_old_amd_ring(c, key, klen, v);
    }
#undef KEY
}

int agent_drm_parse_fdinfo(const char *text, AgentDrmClient *c)
{
    const char *line = text;
    uint64_t pasid = 0;
    int have_pasid = 0;

    memset(c, 0, sizeof(*c));
    while (line && *line) {
        const char *eol = strchr(line, '\n');
        const char *colon, *v, *vend;
        size_t klen;
        char value[128];

        if (!eol)
            eol = line + strlen(line);
        colon = memchr(line, ':', eol - line);
        if (colon) {
            klen = colon - line;
            v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            vend = eol;
            while (vend > v && isspace((unsigned char)vend[-1]))
                vend--;
            if (klen && (size_t)(vend - v) < sizeof(value)) {
                memcpy(value, v, vend - v);
                value[vend - v] = 0;
                parse_pair(c, line, klen, value, &pasid, &have_pasid);
            }
        }
        line = *eol ? eol + 1 : NULL;
    }
    if (!c->driver[0]) {
        /* amdgpu before 5.19: no drm-driver, but its pasid line */
        if (!have_pasid)
            return AVERROR(ENOENT);
        av_strlcpy(c->driver, "amdgpu", sizeof(c->driver));
    }
    if (!(c->have & AGENT_DRM_CLIENT_ID) && have_pasid) {
        /* one address space per open file: as unique as a client id */
        c->client_id = pasid;
        c->have |= AGENT_DRM_CLIENT_ID;
    }
    for (int i = 0; i < c->nb_engines; i++)
        if (!c->engines[i].capacity)
            c->engines[i].capacity = 1;   /* the spec's default */
    return 0;
}

static int same_client(const AgentDrmClient *a, const AgentDrmClient *b)
{
    return (a->have & AGENT_DRM_CLIENT_ID) && (b->have & AGENT_DRM_CLIENT_ID) &&
           a->client_id == b->client_id && !strcmp(a->driver, b->driver) &&
           !strcmp(a->pdev, b->pdev);
}

static const AgentDrmEngine *find_engine(const AgentDrmClient *c, const char *name)
{
    for (int i = 0; i < c->nb_engines; i++)
        if (!strcmp(c->engines[i].name, name))
            return &c->engines[i];
    return NULL;
}

#define MAXU(a, b) ((a) > (b) ? (a) : (b))

int agent_drm_sample_add(AgentDrmSample *s, const AgentDrmClient *c)
{
    for (int i = 0; i < s->nb_clients; i++) {
        AgentDrmClient *o = &s->clients[i];
        if (!same_client(o, c))
            continue;
        /* the same client through another fd: merge, never add */
        for (int j = 0; j < c->nb_engines; j++) {
            const AgentDrmEngine *ce = &c->engines[j];
            AgentDrmEngine *oe = (AgentDrmEngine *)find_engine(o, ce->name);
            if (!oe) {
                if (o->nb_engines < AGENT_DRM_MAX_ENGINES)
                    o->engines[o->nb_engines++] = *ce;
                continue;
            }
            oe->have |= ce->have;
            oe->busy_ns = MAXU(oe->busy_ns, ce->busy_ns);
            oe->cycles = MAXU(oe->cycles, ce->cycles);
            oe->total_cycles = MAXU(oe->total_cycles, ce->total_cycles);
            oe->percent = MAXU(oe->percent, ce->percent);
            oe->capacity = MAXU(oe->capacity, ce->capacity);
        }
        return 0;
    }
    if (s->nb_clients >= AGENT_DRM_MAX_CLIENTS)
        return AVERROR(ENOSPC);
    if (!(c->have & AGENT_DRM_CLIENT_ID))
        s->nb_unkeyed++;
    s->clients[s->nb_clients++] = *c;
    return 0;
}

static const AgentDrmClient *find_client(const AgentDrmSample *s, const AgentDrmClient *c)
{
    for (int i = 0; i < s->nb_clients; i++)
        if (same_client(&s->clients[i], c))
            return &s->clients[i];
    return NULL;
}

/* Accumulators beside out->engines[], same index. */
typedef struct UtilAcc {
    double frac;                      /* busy fraction of the class, summed */
    int valid, invalid;
} UtilAcc;

static int util_slot(AgentDrmStats *out, const AgentDrmClient *c, const AgentDrmEngine *e)
{
    AgentDrmEngineUtil *u;

    for (int i = 0; i < out->nb_engines; i++) {
        u = &out->engines[i];
        if (!strcmp(u->name, e->name) && !strcmp(u->pdev, c->pdev) &&
            !strcmp(u->driver, c->driver))
            return i;
    }
    if (out->nb_engines >= AGENT_DRM_MAX_UTIL)
        return -1;
    u = &out->engines[out->nb_engines];
    memset(u, 0, sizeof(*u));
    av_strlcpy(u->driver, c->driver, sizeof(u->driver));
    av_strlcpy(u->pdev, c->pdev, sizeof(u->pdev));
    av_strlcpy(u->name, e->name, sizeof(u->name));
    u->cls = e->cls;
    return out->nb_engines++;
}

static void add_memory(AgentDrmStats *out, const AgentDrmClient *c, const AgentDrmRegion *r)
{
    AgentDrmMemory *m = NULL;

    for (int i = 0; i < out->nb_memory && !m; i++)
        if (!strcmp(out->memory[i].name, r->name) && !strcmp(out->memory[i].pdev, c->pdev))
            m = &out->memory[i];
    if (!m) {
        if (out->nb_memory >= (int)(sizeof(out->memory) / sizeof(out->memory[0])))
            return;
        m = &out->memory[out->nb_memory++];
        memset(m, 0, sizeof(*m));
        av_strlcpy(m->pdev, c->pdev, sizeof(m->pdev));
        av_strlcpy(m->name, r->name, sizeof(m->name));
    }
    m->have |= r->have;
    m->total += r->total;
    m->resident += r->resident;
}

/*
 * One client's part of one engine's utilisation over the interval, as a
 * fraction of the whole engine class; 0 when there is no valid interval.
 * A counter that went backwards is raised to the previous value.
 */
static int engine_delta(const AgentDrmEngine *pe, AgentDrmEngine *e, int64_t dt_ns,
                        double *frac)
{
    if (e->have & AGENT_DRM_HAVE_PERCENT) {
        /* old amdgpu: the kernel's own figure, not a counter */
        *frac = e->percent / 100.0;
        return 1;
    }
    if ((e->have & AGENT_DRM_HAVE_CYCLES) && (e->have & AGENT_DRM_HAVE_TOTAL)) {
        /* xe: busy cycles over total cycles, both in the GPU's clock, so
         * the CPU's sleep between samples does not matter */
        uint64_t dc, dtot;
        int back;
        if (!pe || !(pe->have & AGENT_DRM_HAVE_CYCLES) || !(pe->have & AGENT_DRM_HAVE_TOTAL))
            return 0;
        back = e->cycles < pe->cycles || e->total_cycles < pe->total_cycles;
        if (back) {
            e->cycles = MAXU(e->cycles, pe->cycles);
            e->total_cycles = MAXU(e->total_cycles, pe->total_cycles);
            return 0;
        }
        dc = e->cycles - pe->cycles;
        dtot = e->total_cycles - pe->total_cycles;
        if (!dtot)
            return 0;
        *frac = (double)dc / (double)dtot / e->capacity;
        return 1;
    }
    if (e->have & AGENT_DRM_HAVE_NS) {
        /* amdgpu prints an engine only once it was used: a client seen
         * before without it had 0 ns on it */
        uint64_t prev = pe && (pe->have & AGENT_DRM_HAVE_NS) ? pe->busy_ns : 0;
        if (e->busy_ns < prev) {
            e->busy_ns = prev;
            return 0;
        }
        *frac = (double)(e->busy_ns - prev) / (double)dt_ns / e->capacity;
        return 1;
    }
    return 0;                         /* cycles without a total (maxfreq form) */
}

int agent_drm_stats(const AgentDrmSample *prev, AgentDrmSample *cur, AgentDrmStats *out)
{
    UtilAcc acc[AGENT_DRM_MAX_UTIL];
    int64_t dt = cur->time_ns - (prev ? prev->time_ns : 0);

    out->nb_engines = 0;
    out->nb_memory = 0;
    if (prev && dt <= 0)
        return AVERROR(EINVAL);
    memset(acc, 0, sizeof(acc));
    for (int i = 0; i < cur->nb_clients; i++) {
        AgentDrmClient *c = &cur->clients[i];
        const AgentDrmClient *pc = prev ? find_client(prev, c) : NULL;

        for (int j = 0; j < c->nb_engines; j++) {
            AgentDrmEngine *e = &c->engines[j];
            int k = util_slot(out, c, e);
            double frac = 0;
            if (k < 0)
                continue;
            out->engines[k].nb_clients++;
            /* a client without a previous sample has no interval, unless
             * the kernel gives its own percentage */
            if ((!pc && !(e->have & AGENT_DRM_HAVE_PERCENT)) ||
                !engine_delta(pc ? find_engine(pc, e->name) : NULL, e, dt, &frac)) {
                acc[k].invalid = 1;
                continue;
            }
            acc[k].frac += frac;
            acc[k].valid = 1;
        }
        for (int j = 0; j < c->nb_regions; j++)
            add_memory(out, c, &c->regions[j]);
    }
    for (int k = 0; k < out->nb_engines; k++) {
        AgentDrmEngineUtil *u = &out->engines[k];
        double pct = acc[k].frac * 100.0;
        /* Part of the process's use is unknown: the sum would be a guess. */
        u->present = acc[k].valid && !acc[k].invalid;
        /* Busy time read a moment after the clock can exceed it slightly. */
        u->percent = !u->present ? 0 : pct < 0 ? 0 : pct > 100 ? 100 : pct;
    }
    return 0;
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
        if (n <= 0)
            break;
        len += n;
    }
    close(fd);
    buf[len] = 0;
    return (int)len;
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

int agent_drm_scan_dir(const char *fd_dir, const char *fdinfo_dir, AgentDrmSample *s)
{
    AgentDrmClient *client;
    struct dirent *de;
    char *text;
    DIR *d;
    int nb_fds = 0, ret = 0;

    s->nb_clients = 0;
    s->nb_unkeyed = 0;
    s->time_ns = monotonic_ns();
    client = av_malloc(sizeof(*client));
    text = av_malloc(FDINFO_MAX);
    if (!client || !text) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if (!(d = opendir(fd_dir))) {
        ret = AVERROR(errno);
        goto end;
    }
    while ((de = readdir(d))) {
        char path[PATH_MAX], target[PATH_MAX];
        ssize_t n;

        if (!all_digits(de->d_name))
            continue;
        /* Only DRM device files: reading every socket's fdinfo is waste. */
        snprintf(path, sizeof(path), "%s/%s", fd_dir, de->d_name);
        n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        if (strncmp(target, "/dev/dri/", 9))
            continue;
        nb_fds++;
        snprintf(path, sizeof(path), "%s/%s", fdinfo_dir, de->d_name);
        if (read_text(path, text, FDINFO_MAX) <= 0)
            continue;             /* closed meanwhile */
        if (agent_drm_parse_fdinfo(text, client) < 0)
            continue;             /* a kernel without usage stats */
        if (agent_drm_sample_add(s, client) < 0)
            break;
    }
    closedir(d);
    ret = nb_fds;
end:
    av_free(client);
    av_free(text);
    return ret;
}

static int read_uint_file(const char *path, unsigned *v)
{
    char buf[32], *end;
    unsigned long n;

    if (read_text(path, buf, sizeof(buf)) <= 0)
        return 0;
    n = strtoul(buf, &end, 10);
    if (end == buf || (*end && *end != '\n') || n > 100)
        return 0;
    *v = n;
    return 1;
}

/* The last component of the link at path, into buf. */
static int link_base(const char *path, char *buf, size_t size)
{
    char target[PATH_MAX];
    const char *base;
    ssize_t n = readlink(path, target, sizeof(target) - 1);

    if (n <= 0)
        return 0;
    target[n] = 0;
    base = strrchr(target, '/');
    av_strlcpy(buf, base ? base + 1 : target, size);
    return 1;
}

static int is_pci_slot(const char *s)
{
    unsigned dom, bus, dev, fn;
    char tail;

    return strlen(s) == 12 &&
           sscanf(s, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) == 4;
}

static int card_cmp(const void *a, const void *b)
{
    return atoi(((const AgentDrmCard *)a)->card + 4) - atoi(((const AgentDrmCard *)b)->card + 4);
}

int agent_drm_read_cards(const char *class_dir, AgentDrmCard *cards, int max)
{
    struct dirent *de;
    DIR *d = opendir(class_dir);
    int n = 0;

    if (!d)
        return 0;
    while ((de = readdir(d)) && n < max) {
        AgentDrmCard *c = &cards[n];
        char path[PATH_MAX], slot[64];

        /* cardN only: not card0-HDMI-A-1 (connectors), renderD128, version */
        if (strncmp(de->d_name, "card", 4) || !all_digits(de->d_name + 4) ||
            strlen(de->d_name) >= sizeof(c->card))
            continue;
        memset(c, 0, sizeof(*c));
        av_strlcpy(c->card, de->d_name, sizeof(c->card));
        snprintf(path, sizeof(path), "%s/%s/device", class_dir, de->d_name);
        if (link_base(path, slot, sizeof(slot)) && is_pci_slot(slot))
            av_strlcpy(c->pdev, slot, sizeof(c->pdev));
        snprintf(path, sizeof(path), "%s/%s/device/driver", class_dir, de->d_name);
        link_base(path, c->driver, sizeof(c->driver));
        /* amdgpu: GFX busy only, not VCN (encode/decode is in fdinfo) */
        snprintf(path, sizeof(path), "%s/%s/device/gpu_busy_percent", class_dir, de->d_name);
        if (read_uint_file(path, &c->gpu_busy_percent))
            c->have |= AGENT_DRM_CARD_GPU_BUSY;
        snprintf(path, sizeof(path), "%s/%s/device/mem_busy_percent", class_dir, de->d_name);
        if (read_uint_file(path, &c->mem_busy_percent))
            c->have |= AGENT_DRM_CARD_MEM_BUSY;
        n++;
    }
    closedir(d);
    qsort(cards, n, sizeof(*cards), card_cmp);
    return n;
}

/* ---- the agent ----------------------------------------------------------- */

struct AgentDrm {
    LogCtx log;
    int said_none;                    /* "no DRM client" said */
    int said_no_stats;                /* "DRM fds without usage stats" said */
    int said_unkeyed;
};

int agent_drm_alloc(AgentDrm **pa)
{
    AgentDrm *a = av_mallocz(sizeof(*a));

    *pa = a;
    if (!a)
        return AVERROR(ENOMEM);
    logctx_init(&a->log, "agent/drm");
    return 0;
}

void agent_drm_free(AgentDrm **pa)
{
    if (pa)
        av_freep(pa);
}

int agent_drm_sample(AgentDrm *a, AgentDrmSample *s)
{
    int fds = agent_drm_scan_dir("/proc/self/fd", "/proc/self/fdinfo", s);

    if (fds < 0)
        return fds;
    if (!fds && !a->said_none) {
        av_log(a, AV_LOG_VERBOSE, "no DRM device open in this process: "
               "Intel/AMD engine usage is absent\n");
        a->said_none = 1;
    } else if (fds && !s->nb_clients && !a->said_no_stats) {
        av_log(a, AV_LOG_INFO, "%d DRM file%s open but the kernel gives no usage "
               "stats (fdinfo): engine usage is absent\n", fds, fds == 1 ? "" : "s");
        a->said_no_stats = 1;
    }
    if (s->nb_unkeyed && !a->said_unkeyed) {
        av_log(a, AV_LOG_VERBOSE, "DRM clients without a client id: a shared fd "
               "would be counted twice\n");
        a->said_unkeyed = 1;
    }
    return s->nb_clients;
}
