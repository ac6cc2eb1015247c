/*
 * agent_drm_test.c: DRM fdinfo parsing and utilisation.
 *
 * tests/data/fdinfo/ holds fdinfo texts in the formats the kernel prints
 * (see the comment at the top of src/agent_drm.c for the sources):
 *   i915.txt, i915-1s.txt            i915, Linux 6.8+, one second apart
 *   amdgpu-old.txt                   amdgpu 5.14-5.18 (no drm- keys, %)
 *   amdgpu-new.txt, amdgpu-new-1s.txt amdgpu 6.x, one second apart
 *   xe.txt, xe-1s.txt                xe 6.13+ cycles, 19.2 M ticks apart
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "hma/agent_drm.h"

static char data_dir[PATH_MAX / 2];
static int nb_log_lines;

static void log_count_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level <= AV_LOG_VERBOSE)
        nb_log_lines++;
}

static char *read_data(const char *name)
{
    static char buf[8][16384];
    static int next;
    char path[PATH_MAX];
    char *b = buf[next++ % 8];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", data_dir, name);
    f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    n = fread(b, 1, sizeof(buf[0]) - 1, f);
    b[n] = 0;
    fclose(f);
    return b;
}

static const AgentDrmEngine *engine(const AgentDrmClient *c, const char *name)
{
    for (int i = 0; i < c->nb_engines; i++)
        if (!strcmp(c->engines[i].name, name))
            return &c->engines[i];
    return NULL;
}

static const AgentDrmRegion *region(const AgentDrmClient *c, const char *name)
{
    for (int i = 0; i < c->nb_regions; i++)
        if (!strcmp(c->regions[i].name, name))
            return &c->regions[i];
    return NULL;
}

static const AgentDrmEngineUtil *util(const AgentDrmStats *st, const char *name)
{
    for (int i = 0; i < st->nb_engines; i++)
        if (!strcmp(st->engines[i].name, name))
            return &st->engines[i];
    return NULL;
}

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)

/* A sample of one fdinfo text at time t (s). */
static AgentDrmSample *sample_of(const char *file, double t)
{
    AgentDrmSample *s = av_mallocz(sizeof(*s));
    AgentDrmClient c;

    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data(file), &c) == 0);
    CU_ASSERT_FATAL(agent_drm_sample_add(s, &c) == 0);
    s->time_ns = (int64_t)(t * 1e9);
    return s;
}

static void test_parse_i915(void)
{
    AgentDrmClient c;
    const AgentDrmEngine *e;
    const AgentDrmRegion *r;

    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data("i915.txt"), &c) == 0);
    CU_ASSERT_STRING_EQUAL(c.driver, "i915");
    CU_ASSERT_STRING_EQUAL(c.pdev, "0000:00:02.0");
    CU_ASSERT(c.have == (AGENT_DRM_CLIENT_PDEV | AGENT_DRM_CLIENT_ID));
    CU_ASSERT(c.client_id == 7);
    CU_ASSERT(c.nb_engines == 5);
    CU_ASSERT_FATAL((e = engine(&c, "video")) != NULL);
    CU_ASSERT(e->cls == AGENT_DRM_ENGINE_VIDEO);
    CU_ASSERT(e->have == AGENT_DRM_HAVE_NS && e->busy_ns == 52567609040ULL);
    CU_ASSERT(e->capacity == 2);
    CU_ASSERT_FATAL((e = engine(&c, "video-enhance")) != NULL);
    CU_ASSERT(e->cls == AGENT_DRM_ENGINE_VIDEO_ENHANCE && e->busy_ns == 921073);
    CU_ASSERT(e->capacity == 1);
    CU_ASSERT_FATAL((e = engine(&c, "compute")) != NULL);
    CU_ASSERT(e->have == AGENT_DRM_HAVE_NS && e->busy_ns == 0);   /* 0 is a value */
    CU_ASSERT(engine(&c, "render")->cls == AGENT_DRM_ENGINE_RENDER);
    CU_ASSERT(engine(&c, "copy")->busy_ns == 2035071108ULL);
    CU_ASSERT_FATAL((r = region(&c, "system0")) != NULL);
    CU_ASSERT(r->have == (AGENT_DRM_MEM_TOTAL | AGENT_DRM_MEM_RESIDENT));
    CU_ASSERT(r->total == 42ULL << 20 && r->resident == 41984ULL << 10);
    CU_ASSERT_FATAL((r = region(&c, "stolen-system0")) != NULL);
    CU_ASSERT(r->total == 0 && r->have == (AGENT_DRM_MEM_TOTAL | AGENT_DRM_MEM_RESIDENT));
    CU_ASSERT(c.nb_regions == 2);
}

static void test_parse_amdgpu_old(void)
{
    AgentDrmClient c;
    const AgentDrmEngine *e;
    const AgentDrmRegion *r;

    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data("amdgpu-old.txt"), &c) == 0);
    CU_ASSERT_STRING_EQUAL(c.driver, "amdgpu");
    CU_ASSERT_STRING_EQUAL(c.pdev, "0000:03:00.0");
    CU_ASSERT(c.client_id == 32770 && (c.have & AGENT_DRM_CLIENT_ID));
    CU_ASSERT(c.nb_engines == 3);
    CU_ASSERT_FATAL((e = engine(&c, "enc0")) != NULL);
    CU_ASSERT(e->cls == AGENT_DRM_ENGINE_ENC);
    CU_ASSERT(e->have == AGENT_DRM_HAVE_PERCENT && NEAR(e->percent, 4.18));
    CU_ASSERT_FATAL((e = engine(&c, "dec0")) != NULL);
    CU_ASSERT(e->cls == AGENT_DRM_ENGINE_DEC && NEAR(e->percent, 12.5));
    CU_ASSERT(engine(&c, "gfx0")->cls == AGENT_DRM_ENGINE_RENDER);
    CU_ASSERT_FATAL((r = region(&c, "vram")) != NULL);
    CU_ASSERT(r->have == AGENT_DRM_MEM_RESIDENT && r->resident == 1057380ULL << 10);
    CU_ASSERT(region(&c, "gtt")->resident == 6124ULL << 10);
    CU_ASSERT(region(&c, "cpu") != NULL);
    /* the fdinfo preamble is not an engine */
    CU_ASSERT(engine(&c, "pos") == NULL && engine(&c, "mnt_id") == NULL);

    /* Linux 5.14 printed the slot without a domain */
    CU_ASSERT(agent_drm_parse_fdinfo("pdev:\t03:00.0\npasid:\t9\nenc0:\t1.0%\n", &c) == 0);
    CU_ASSERT_STRING_EQUAL(c.pdev, "0000:03:00.0");
}

static void test_parse_amdgpu_new(void)
{
    AgentDrmClient c;
    const AgentDrmEngine *e;

    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data("amdgpu-new.txt"), &c) == 0);
    CU_ASSERT_STRING_EQUAL(c.driver, "amdgpu");
    CU_ASSERT_STRING_EQUAL(c.pdev, "0000:03:00.0");
    CU_ASSERT(c.client_id == 1298);       /* drm-client-id wins over pasid */
    CU_ASSERT(c.nb_engines == 3);
    CU_ASSERT_FATAL((e = engine(&c, "enc")) != NULL);
    CU_ASSERT(e->cls == AGENT_DRM_ENGINE_ENC && e->busy_ns == 4511907512ULL);
    CU_ASSERT(engine(&c, "dec")->cls == AGENT_DRM_ENGINE_DEC);
    CU_ASSERT(engine(&c, "gfx")->busy_ns == 1180021);
    /* "drm-memory-gtt: \t8204 KiB": a space before the tab */
    CU_ASSERT(region(&c, "gtt")->resident == 8204ULL << 10);
    CU_ASSERT(region(&c, "vram")->resident == 104368ULL << 10);
    /* amd-* keys are amdgpu's own, not regions */
    CU_ASSERT(c.nb_regions == 3);
}

static void test_parse_xe(void)
{
    AgentDrmClient c;
    const AgentDrmEngine *e;
    const AgentDrmRegion *r;

    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data("xe.txt"), &c) == 0);
    CU_ASSERT_STRING_EQUAL(c.driver, "xe");
    CU_ASSERT(c.client_id == 3);
    CU_ASSERT(c.nb_engines == 5);
    CU_ASSERT_FATAL((e = engine(&c, "vcs")) != NULL);
    CU_ASSERT(e->cls == AGENT_DRM_ENGINE_VIDEO && e->capacity == 2);
    CU_ASSERT(e->have == (AGENT_DRM_HAVE_CYCLES | AGENT_DRM_HAVE_TOTAL));
    CU_ASSERT(e->total_cycles == 7655183225ULL);
    CU_ASSERT(engine(&c, "vecs")->cls == AGENT_DRM_ENGINE_VIDEO_ENHANCE);
    CU_ASSERT(engine(&c, "ccs")->capacity == 4);
    CU_ASSERT(engine(&c, "rcs")->cycles == 28257900ULL);
    /* drm-total-cycles-* are engines, not a memory region named "cycles-rcs" */
    CU_ASSERT_FATAL((r = region(&c, "vram0")) != NULL);
    CU_ASSERT(r->total == 23992ULL << 10 && r->resident == 23992ULL << 10);
    CU_ASSERT(region(&c, "gtt")->total == 192ULL << 10);
    CU_ASSERT(c.nb_regions == 4);         /* system, gtt, vram0, stolen */
}

static void test_not_drm(void)
{
    AgentDrmClient c;

    CU_ASSERT(agent_drm_parse_fdinfo("pos:\t0\nflags:\t0100000\nmnt_id:\t25\nino:\t1234\n",
                                     &c) == AVERROR(ENOENT));
    CU_ASSERT(agent_drm_parse_fdinfo("", &c) == AVERROR(ENOENT));
    /* malformed values are skipped, not taken as 0 */
    CU_ASSERT(agent_drm_parse_fdinfo("drm-driver:\ti915\ndrm-engine-video:\tlots ns\n"
                                     "drm-engine-copy:\t12 ms\ndrm-client-id:\tx\n", &c) == 0);
    CU_ASSERT(c.nb_engines == 0 && !(c.have & AGENT_DRM_CLIENT_ID));
    /* no trailing newline */
    CU_ASSERT(agent_drm_parse_fdinfo("drm-driver: i915\ndrm-engine-video: 5 ns", &c) == 0);
    CU_ASSERT(c.nb_engines == 1 && c.engines[0].busy_ns == 5);
}

static void test_engine_classes(void)
{
    CU_ASSERT(agent_drm_engine_class("enc") == AGENT_DRM_ENGINE_ENC);
    CU_ASSERT(agent_drm_engine_class("enc_1") == AGENT_DRM_ENGINE_ENC);
    CU_ASSERT(agent_drm_engine_class("enc0") == AGENT_DRM_ENGINE_ENC);
    CU_ASSERT(agent_drm_engine_class("enc_10") == AGENT_DRM_ENGINE_ENC);
    CU_ASSERT(agent_drm_engine_class("dec1") == AGENT_DRM_ENGINE_DEC);
    CU_ASSERT(agent_drm_engine_class("jpeg0") == AGENT_DRM_ENGINE_JPEG);
    CU_ASSERT(agent_drm_engine_class("gfx0") == AGENT_DRM_ENGINE_RENDER);
    CU_ASSERT(agent_drm_engine_class("compute3") == AGENT_DRM_ENGINE_COMPUTE);
    CU_ASSERT(agent_drm_engine_class("vcs") == AGENT_DRM_ENGINE_VIDEO);
    CU_ASSERT(agent_drm_engine_class("video") == AGENT_DRM_ENGINE_VIDEO);
    CU_ASSERT(agent_drm_engine_class("video-enhance") == AGENT_DRM_ENGINE_VIDEO_ENHANCE);
    CU_ASSERT(agent_drm_engine_class("encoder") == AGENT_DRM_ENGINE_OTHER);
    CU_ASSERT(agent_drm_engine_class("decx") == AGENT_DRM_ENGINE_OTHER);
    CU_ASSERT(agent_drm_engine_class("npu") == AGENT_DRM_ENGINE_OTHER);
}

static void test_util_i915(void)
{
    AgentDrmSample *p = sample_of("i915.txt", 10.0);
    AgentDrmSample *c = sample_of("i915-1s.txt", 11.0);
    AgentDrmStats st;
    const AgentDrmEngineUtil *u;

    CU_ASSERT_FATAL(agent_drm_stats(p, c, &st) == 0);
    CU_ASSERT(st.nb_engines == 5);
    /* 450 ms busy over 1 s on a class of 2 engines */
    CU_ASSERT_FATAL((u = util(&st, "video")) != NULL);
    CU_ASSERT(u->present && NEAR(u->percent, 22.5));
    CU_ASSERT_STRING_EQUAL(u->pdev, "0000:00:02.0");
    CU_ASSERT(u->cls == AGENT_DRM_ENGINE_VIDEO && u->nb_clients == 1);
    CU_ASSERT(util(&st, "video-enhance")->present &&
              NEAR(util(&st, "video-enhance")->percent, 10.0));
    /* idle is 0 and present, not absent */
    CU_ASSERT(util(&st, "render")->present && util(&st, "render")->percent == 0);
    CU_ASSERT(st.nb_memory == 2);
    CU_ASSERT(st.memory[0].resident == 44ULL << 20);
    /* time must go forward */
    CU_ASSERT(agent_drm_stats(c, p, &st) == AVERROR(EINVAL));
    av_free(p);
    av_free(c);
}

static void test_util_xe(void)
{
    AgentDrmSample *p = sample_of("xe.txt", 1.0);
    AgentDrmSample *c = sample_of("xe-1s.txt", 1.5);  /* wall time is not used */
    AgentDrmStats st;

    CU_ASSERT_FATAL(agent_drm_stats(p, c, &st) == 0);
    CU_ASSERT(util(&st, "vcs")->present && NEAR(util(&st, "vcs")->percent, 30.0));
    CU_ASSERT(util(&st, "vecs")->present && NEAR(util(&st, "vecs")->percent, 5.0));
    CU_ASSERT(util(&st, "rcs")->present && util(&st, "rcs")->percent == 0);
    av_free(p);
    av_free(c);
}

static void test_util_amdgpu(void)
{
    AgentDrmSample *p = sample_of("amdgpu-new.txt", 0.0);
    AgentDrmSample *c = sample_of("amdgpu-new-1s.txt", 1.0);
    AgentDrmStats st;

    CU_ASSERT_FATAL(agent_drm_stats(p, c, &st) == 0);
    CU_ASSERT(NEAR(util(&st, "dec")->percent, 20.0) && util(&st, "dec")->present);
    CU_ASSERT(NEAR(util(&st, "enc")->percent, 60.0) && util(&st, "enc")->present);
    /* amdgpu prints an engine once used: absent before means 0 ns before */
    CU_ASSERT(util(&st, "jpeg")->present && NEAR(util(&st, "jpeg")->percent, 0.5));
    av_free(p);
    av_free(c);

    /* before 5.19 the kernel's percentage is taken as it is */
    p = sample_of("amdgpu-old.txt", 0.0);
    c = sample_of("amdgpu-old.txt", 1.0);
    CU_ASSERT_FATAL(agent_drm_stats(p, c, &st) == 0);
    CU_ASSERT(util(&st, "dec0")->present && NEAR(util(&st, "dec0")->percent, 12.5));
    CU_ASSERT(util(&st, "enc0")->cls == AGENT_DRM_ENGINE_ENC);
    CU_ASSERT(st.memory[0].resident == 1057380ULL << 10);
    av_free(p);
    av_free(c);
}

static void test_backwards(void)
{
    AgentDrmSample *p = sample_of("i915-1s.txt", 1.0);
    AgentDrmSample *c = sample_of("i915.txt", 2.0);     /* counters lower */
    AgentDrmSample *n = sample_of("i915-1s.txt", 3.0);
    AgentDrmStats st;
    AgentDrmClient cl;

    CU_ASSERT_FATAL(agent_drm_stats(p, c, &st) == 0);
    /* the interval is absent, never negative */
    CU_ASSERT(!util(&st, "video")->present && util(&st, "video")->percent == 0);
    CU_ASSERT(!util(&st, "video-enhance")->present);
    /* unchanged counters still give a valid 0 */
    CU_ASSERT(util(&st, "render")->present && util(&st, "render")->percent == 0);
    /* the spec: stay with the larger previous value */
    CU_ASSERT(c->clients[0].engines[2].busy_ns == 53017609040ULL);
    CU_ASSERT_FATAL(agent_drm_stats(c, n, &st) == 0);
    CU_ASSERT(util(&st, "video")->present && util(&st, "video")->percent == 0);

    /* the same for xe's cycles */
    av_free(p);
    av_free(c);
    p = sample_of("xe-1s.txt", 1.0);
    c = sample_of("xe.txt", 2.0);
    CU_ASSERT_FATAL(agent_drm_stats(p, c, &st) == 0);
    CU_ASSERT(!util(&st, "vcs")->present && !util(&st, "rcs")->present);

    /* a reopened client (new client id): no interval for it this time */
    av_free(p);
    p = sample_of("i915.txt", 1.0);
    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data("i915-1s.txt"), &cl) == 0);
    cl.client_id = 8;
    c->nb_clients = 0;
    CU_ASSERT_FATAL(agent_drm_sample_add(c, &cl) == 0);
    CU_ASSERT_FATAL(agent_drm_stats(p, c, &st) == 0);
    CU_ASSERT(!util(&st, "video")->present);
    n->clients[0].client_id = 8;
    n->time_ns = 3000000000LL;
    CU_ASSERT_FATAL(agent_drm_stats(c, n, &st) == 0);
    CU_ASSERT(util(&st, "video")->present);

    /* an old client and a new one: the process's sum is not known */
    cl.client_id = 7;
    CU_ASSERT_FATAL(agent_drm_sample_add(c, &cl) == 0);
    CU_ASSERT_FATAL(c->nb_clients == 2);
    CU_ASSERT_FATAL(agent_drm_stats(p, c, &st) == 0);
    CU_ASSERT(!util(&st, "video")->present && util(&st, "video")->nb_clients == 2);
    av_free(p);
    av_free(c);
    av_free(n);
}

static void test_duplicate_fds(void)
{
    AgentDrmSample *p = sample_of("i915.txt", 0.0);
    AgentDrmSample *c = sample_of("i915-1s.txt", 1.0);
    AgentDrmStats st;
    AgentDrmClient cl;

    /* the same client through a dup'ed fd: counted once */
    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data("i915.txt"), &cl) == 0);
    CU_ASSERT(agent_drm_sample_add(p, &cl) == 0);
    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data("i915-1s.txt"), &cl) == 0);
    CU_ASSERT(agent_drm_sample_add(c, &cl) == 0);
    CU_ASSERT(p->nb_clients == 1 && c->nb_clients == 1);
    CU_ASSERT_FATAL(agent_drm_stats(p, c, &st) == 0);
    CU_ASSERT(NEAR(util(&st, "video")->percent, 22.5));
    CU_ASSERT(util(&st, "video")->nb_clients == 1);
    CU_ASSERT(st.memory[0].resident == 44ULL << 20);

    /* a second client of the same device: summed */
    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data("i915.txt"), &cl) == 0);
    cl.client_id = 9;
    CU_ASSERT(agent_drm_sample_add(p, &cl) == 0);
    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data("i915-1s.txt"), &cl) == 0);
    cl.client_id = 9;
    CU_ASSERT(agent_drm_sample_add(c, &cl) == 0);
    CU_ASSERT_FATAL(agent_drm_stats(p, c, &st) == 0);
    CU_ASSERT(NEAR(util(&st, "video")->percent, 45.0));
    CU_ASSERT(util(&st, "video")->nb_clients == 2);

    /* the same client id on another device is another client */
    CU_ASSERT_FATAL(agent_drm_parse_fdinfo(read_data("i915.txt"), &cl) == 0);
    av_strlcpy(cl.pdev, "0000:03:00.0", sizeof(cl.pdev));
    CU_ASSERT(agent_drm_sample_add(p, &cl) == 0);
    CU_ASSERT(p->nb_clients == 3);
    av_free(p);
    av_free(c);
}

/* A fake /proc/PID: fd/N links and fdinfo/N texts. */
static void test_scan_dir(void)
{
    char root[] = "/tmp/hs-drm-XXXXXX", fd[64], fdinfo[64], path[128];
    AgentDrmSample *s = av_mallocz(sizeof(*s));
    static const struct { const char *n, *target, *data; } fds[] = {
        { "3", "/dev/dri/renderD128", "i915.txt" },
        { "4", "/dev/dri/renderD128", "i915.txt" },    /* dup of 3 */
        { "5", "/dev/null", "i915.txt" },              /* not DRM: not read */
        { "6", "socket:[4242]", NULL },
        { "7", "/dev/dri/card1", "xe.txt" },
        { "8", "/dev/dri/renderD129", NULL },          /* no usage stats */
    };

    CU_ASSERT_FATAL(s && mkdtemp(root));
    snprintf(fd, sizeof(fd), "%s/fd", root);
    snprintf(fdinfo, sizeof(fdinfo), "%s/fdinfo", root);
    CU_ASSERT_FATAL(mkdir(fd, 0700) == 0 && mkdir(fdinfo, 0700) == 0);
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s", fd, fds[i].n);
        CU_ASSERT(symlink(fds[i].target, path) == 0);
        snprintf(path, sizeof(path), "%s/%s", fdinfo, fds[i].n);
        CU_ASSERT_FATAL((f = fopen(path, "w")) != NULL);
        fputs(fds[i].data ? read_data(fds[i].data) : "pos:\t0\nflags:\t02\n", f);
        fclose(f);
    }
    CU_ASSERT(agent_drm_scan_dir(fd, fdinfo, s) == 4);
    CU_ASSERT(s->nb_clients == 2);
    CU_ASSERT(s->time_ns > 0);
    CU_ASSERT(agent_drm_scan_dir("/nonexistent", fdinfo, s) == AVERROR(ENOENT));
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fd, fds[i].n);
        unlink(path);
        snprintf(path, sizeof(path), "%s/%s", fdinfo, fds[i].n);
        unlink(path);
    }
    rmdir(fd);
    rmdir(fdinfo);
    rmdir(root);
    av_free(s);
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CU_ASSERT_FATAL((f = fopen(path, "w")) != NULL);
    fputs(text, f);
    fclose(f);
}

/* A fake /sys/class/drm. */
static void test_cards(void)
{
    char root[] = "/tmp/hs-sys-XXXXXX", p[PATH_MAX], q[PATH_MAX];
    AgentDrmCard cards[4];
    const char *dirs[] = { "devices", "devices/0000:03:00.0", "devices/0000:00:02.0",
                           "drivers", "drivers/amdgpu", "drivers/i915", "class",
                           "class/card0", "class/card1", "class/card0-DP-1",
                           "class/renderD128" };

    CU_ASSERT_FATAL(mkdtemp(root) != NULL);
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
        CU_ASSERT_FATAL(mkdir(p, 0700) == 0);
    }
    snprintf(p, sizeof(p), "%s/devices/0000:03:00.0", root);
    put(p, "gpu_busy_percent", "37\n");
    put(p, "mem_busy_percent", "4\n");
    snprintf(q, sizeof(q), "%s/class/card1/device", root);
    CU_ASSERT(symlink(p, q) == 0);
    snprintf(p, sizeof(p), "%s/devices/0000:03:00.0/driver", root);
    snprintf(q, sizeof(q), "%s/drivers/amdgpu", root);
    CU_ASSERT(symlink(q, p) == 0);
    snprintf(p, sizeof(p), "%s/devices/0000:00:02.0", root);
    put(p, "gpu_busy_percent", "not a number\n");
    snprintf(q, sizeof(q), "%s/class/card0/device", root);
    CU_ASSERT(symlink(p, q) == 0);
    snprintf(p, sizeof(p), "%s/devices/0000:00:02.0/driver", root);
    snprintf(q, sizeof(q), "%s/drivers/i915", root);
    CU_ASSERT(symlink(q, p) == 0);

    snprintf(p, sizeof(p), "%s/class", root);
    CU_ASSERT_FATAL(agent_drm_read_cards(p, cards, 4) == 2);
    CU_ASSERT_STRING_EQUAL(cards[0].card, "card0");
    CU_ASSERT_STRING_EQUAL(cards[0].pdev, "0000:00:02.0");
    CU_ASSERT_STRING_EQUAL(cards[0].driver, "i915");
    CU_ASSERT(cards[0].have == 0);        /* unreadable: absent, not 0 */
    CU_ASSERT_STRING_EQUAL(cards[1].card, "card1");
    CU_ASSERT_STRING_EQUAL(cards[1].pdev, "0000:03:00.0");
    CU_ASSERT_STRING_EQUAL(cards[1].driver, "amdgpu");
    CU_ASSERT(cards[1].have == (AGENT_DRM_CARD_GPU_BUSY | AGENT_DRM_CARD_MEM_BUSY));
    CU_ASSERT(cards[1].gpu_busy_percent == 37 && cards[1].mem_busy_percent == 4);
    CU_ASSERT(agent_drm_read_cards("/nonexistent", cards, 4) == 0);
    {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        CU_ASSERT(system(cmd) == 0);
    }
}

/* This process, live: no DRM device here unless a render node can be
 * opened; either way the agent agrees with what is open. */
static void test_live(void)
{
    AgentDrm *a = NULL;
    AgentDrmSample *s = av_mallocz(sizeof(*s));
    int fd = open("/dev/dri/renderD128", O_RDWR | O_CLOEXEC);
    int n;

    CU_ASSERT_FATAL(s && agent_drm_alloc(&a) == 0);
    nb_log_lines = 0;
    n = agent_drm_sample(a, s);
    CU_ASSERT(n >= 0);
    if (fd < 0) {
        CU_ASSERT(n == 0 && s->nb_clients == 0);
        CU_ASSERT(nb_log_lines == 1);     /* said once ... */
        CU_ASSERT(agent_drm_sample(a, s) == 0);
        CU_ASSERT(nb_log_lines == 1);     /* ... not per tick */
    } else {
        close(fd);
    }
    agent_drm_free(&a);
    CU_ASSERT(a == NULL);
    agent_drm_free(&a);
    av_free(s);
}

int main(void)
{
    char exe[PATH_MAX];
    ssize_t len;
    CU_pSuite s;
    int failures;

    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0)
        return 1;
    exe[len] = 0;
    snprintf(data_dir, sizeof(data_dir), "%s/../data/fdinfo", dirname(exe));
    av_log_set_callback(log_count_cb);

    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    s = CU_add_suite("agent_drm", NULL, NULL);
    CU_add_test(s, "parse i915", test_parse_i915);
    CU_add_test(s, "parse amdgpu before 5.19", test_parse_amdgpu_old);
    CU_add_test(s, "parse amdgpu 6.x", test_parse_amdgpu_new);
    CU_add_test(s, "parse xe cycles", test_parse_xe);
    CU_add_test(s, "not DRM, malformed", test_not_drm);
    CU_add_test(s, "engine classes", test_engine_classes);
    CU_add_test(s, "utilisation i915 (ns, capacity)", test_util_i915);
    CU_add_test(s, "utilisation xe (cycles)", test_util_xe);
    CU_add_test(s, "utilisation amdgpu", test_util_amdgpu);
    CU_add_test(s, "counters going backwards", test_backwards);
    CU_add_test(s, "duplicate fds counted once", test_duplicate_fds);
    CU_add_test(s, "scan fd and fdinfo dirs", test_scan_dir);
    CU_add_test(s, "sysfs cards", test_cards);
    CU_add_test(s, "live /proc/self", test_live);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
