/*
 * agent_disk_test.c: the disk agent: statvfs answers captured here with
 * what df said of the same numbers (tests/data/statvfs/), the directory of
 * an output URL, the least-squares trend (trend.c) on synthetic series,
 * one measure per filesystem, and a live filesystem filled by the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>
#include <libavutil/log.h>

#include "hma/agent_disk.h"

static char data_dir[PATH_MAX / 2];

/* A capture: statvfs's fields as stat -f printed them, and df's line. */
static void load(const char *name, struct statvfs *v, unsigned long long df[3])
{
    char path[PATH_MAX], line[512];
    unsigned long long x[7];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", data_dir, name);
    f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fgets(line, sizeof(line), f) && line[0] == '#');
    CU_ASSERT_FATAL(fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %*s df %llu %llu %llu",
                           &x[0], &x[1], &x[2], &x[3], &x[4], &x[5], &x[6],
                           &df[0], &df[1], &df[2]) == 10);
    fclose(f);
    memset(v, 0, sizeof(*v));
    v->f_bsize = x[0];
    v->f_frsize = x[1];
    v->f_blocks = x[2];
    v->f_bfree = x[3];
    v->f_bavail = x[4];
    v->f_files = x[5];
    v->f_ffree = x[6];
}

static void test_space(void)
{
    struct statvfs v;
    unsigned long long df[3];
    AgentDiskSpace s;

    /* ext4 with blocks reserved: free is what df calls available */
    load("ext4-work.txt", &v, df);
    CU_ASSERT_FATAL(agent_disk_space(&v, &s) == 0);
    CU_ASSERT(s.size == df[0] && s.used == df[1] && s.free == df[2]);
    CU_ASSERT(s.used + s.free < s.size);
    load("tmpfs-shm.txt", &v, df);
    CU_ASSERT_FATAL(agent_disk_space(&v, &s) == 0);
    CU_ASSERT(s.size == df[0] && s.used == df[1] && s.free == df[2]);
    /* /proc has no blocks: nothing to measure */
    load("proc.txt", &v, df);
    CU_ASSERT(agent_disk_space(&v, &s) == AVERROR(EINVAL));
    /* answers that cannot be */
    load("ext4-work.txt", &v, df);
    v.f_bfree = v.f_blocks + 1;
    CU_ASSERT(agent_disk_space(&v, &s) == AVERROR(EINVAL));
    load("ext4-work.txt", &v, df);
    v.f_frsize = v.f_bsize = 0;
    CU_ASSERT(agent_disk_space(&v, &s) == AVERROR(EINVAL));
    /* f_frsize 0 on old systems: f_bsize is the unit */
    load("ext4-work.txt", &v, df);
    v.f_frsize = 0;
    CU_ASSERT(agent_disk_space(&v, &s) == 0 && s.size == df[0]);
}

static void test_url_dir(void)
{
    char b[256];

    CU_ASSERT_STRING_EQUAL(agent_disk_url_dir("out/hls/index.m3u8", b, sizeof(b)), "out/hls");
    CU_ASSERT_STRING_EQUAL(agent_disk_url_dir("file:/srv/rec/a.ts", b, sizeof(b)), "/srv/rec");
    CU_ASSERT_STRING_EQUAL(agent_disk_url_dir("a.mp4", b, sizeof(b)), ".");
    CU_ASSERT_STRING_EQUAL(agent_disk_url_dir("/a.mp4", b, sizeof(b)), "/");
    CU_ASSERT(agent_disk_url_dir("rtmp://h/live/k", b, sizeof(b)) == NULL);
    CU_ASSERT(agent_disk_url_dir("http://origin/live/index.m3u8", b, sizeof(b)) == NULL);
    CU_ASSERT(agent_disk_url_dir("-", b, sizeof(b)) == NULL);
    CU_ASSERT(agent_disk_url_dir("pipe:1", b, sizeof(b)) == NULL);
    CU_ASSERT(agent_disk_url_dir("srt://h:9000", b, sizeof(b)) == NULL);
    CU_ASSERT_STRING_EQUAL(agent_disk_url_dir("rec/a:b.ts", b, sizeof(b)), "rec");
}

static void test_trend(void)
{
    Trend tr;
    double slope = 0, s;

    trend_init(&tr, 30);
    CU_ASSERT(trend_slope(&tr, &slope) == AVERROR(EAGAIN));
    /* a line through big times and values: exact */
    for (int i = 0; i < 2; i++)
        trend_add(&tr, 1e6 + i, 5e11 + 1234.5 * i);
    CU_ASSERT(trend_slope(&tr, &slope) == AVERROR(EAGAIN));
    trend_add(&tr, 1e6 + 2, 5e11 + 1234.5 * 2);
    CU_ASSERT(trend_slope(&tr, &slope) == 0 && fabs(slope - 1234.5) < 1e-3);
    /* noise around a slope: least squares finds it; the window forgets
     * the start (a flat past) */
    trend_init(&tr, 30);
    for (int i = 0; i < 100; i++) {
        double noise = ((i * 7919) % 13 - 6) * 1000.0;
        trend_add(&tr, i * 0.5, i < 60 ? 1e9 : 1e9 + (i - 60) * 0.5 * 4096 + noise);
    }
    CU_ASSERT(trend_slope(&tr, &slope) == 0 && fabs(slope - 4096) < 300);
    /* a clock going back starts again */
    trend_add(&tr, 1, 1);
    CU_ASSERT(trend_slope(&tr, &slope) == AVERROR(EAGAIN));
    /* the same time twice: no spread */
    trend_init(&tr, 4);
    trend_add(&tr, 1, 1);
    trend_add(&tr, 1, 2);
    trend_add(&tr, 1, 3);
    CU_ASSERT(trend_slope(&tr, &slope) == AVERROR(EAGAIN));
    CU_ASSERT(trend_time_to(10, 110, 20, &s) == 0 && s == 5);
    CU_ASSERT(trend_time_to(10, 110, 0, &s) == AVERROR(ERANGE));
    CU_ASSERT(trend_time_to(120, 110, -3, &s) == 0 && s == 0);
}

/* Outputs sharing a filesystem are measured once; a directory not made
 * yet is on its parent's. */
static void test_one_per_filesystem(void)
{
    AgentDisk *a = NULL;
    char tmpl[] = "/dev/shm/agent_disk_test-XXXXXX", sub[PATH_MAX];
    char *d = mkdtemp(tmpl);
    int id1, id2, id3;

    CU_ASSERT_FATAL(d != NULL);
    CU_ASSERT_FATAL(agent_disk_alloc(&a) == 0);
    id1 = agent_disk_add(a, d);
    snprintf(sub, sizeof(sub), "%s/not/made/yet", d);
    id2 = agent_disk_add(a, sub);
    id3 = agent_disk_add(a, "relative/not/made");      /* the working directory's */
    CU_ASSERT(id1 == 0 && id2 == 0 && id3 >= 0);
    {
        struct stat s1, s2;
        CU_ASSERT(stat(d, &s1) == 0 && stat(".", &s2) == 0);
        CU_ASSERT((id3 == id1) == (s1.st_dev == s2.st_dev));
    }
    agent_disk_free(&a);
    agent_disk_free(&a);
    CU_ASSERT(a == NULL);
    rmdir(d);
}

/* A filesystem the test fills by 4 MiB a tick (the clock is the test's:
 * 1 s a tick): the fill rate and the time to full follow. tmpfs, so that
 * the test's writes dominate (another writer would blur it). */
static void test_live_fill(void)
{
    static char chunk[1 << 20];
    AgentDisk *a = NULL;
    AgentDiskFigures f;
    char tmpl[] = "/dev/shm/agent_disk_test-XXXXXX", path[PATH_MAX];
    char *d = mkdtemp(tmpl);
    int id, fd;
    SampleComp c = { 0 };

    CU_ASSERT_FATAL(d != NULL);
    CU_ASSERT_FATAL(agent_disk_alloc(&a) == 0);
    CU_ASSERT_FATAL((id = agent_disk_add(a, d)) >= 0);
    snprintf(path, sizeof(path), "%s/fill", d);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    memset(chunk, 1, sizeof(chunk));
    agent_disk_figures(a, id, &f);
    CU_ASSERT(!f.have_space);                  /* not measured yet */
    for (int t = 0; t < 8; t++) {
        agent_disk_refresh(a, 100 + t);
        for (int k = 0; k < 4; k++)
            CU_ASSERT(write(fd, chunk, sizeof(chunk)) == sizeof(chunk));
        fsync(fd);
    }
    agent_disk_figures(a, id, &f);
    CU_ASSERT(f.have_space && f.space.size > 0 && f.space.free > 0);
    CU_ASSERT(f.have_rate && fabs(f.fill_rate - 4194304) < 0.1 * 4194304);
    CU_ASSERT(f.have_ttf && fabs(f.time_to_full - f.space.free / f.fill_rate) < 1e-6);
    agent_disk_sample(a, id, &c, OM_FS_FREE);
    CU_ASSERT(sample_has(&c, OM_FS_FREE) && sample_has(&c, OM_FS_TIME_TO_FULL));
    CU_ASSERT(c.v[OM_FS_FREE] == f.space.free);
    /* the file gone: emptying, not filling: no time to full */
    close(fd);
    unlink(path);
    for (int t = 8; t < 40; t++)
        agent_disk_refresh(a, 100 + t);
    agent_disk_figures(a, id, &f);
    CU_ASSERT(f.have_rate && !f.have_ttf);
    /* an unknown id, a missing agent: nothing */
    agent_disk_figures(a, 7, &f);
    CU_ASSERT(!f.have_space);
    memset(&c, 0, sizeof(c));
    agent_disk_sample(NULL, 0, &c, OM_FS_FREE);
    CU_ASSERT(c.present == 0);
    agent_disk_free(&a);
    rmdir(d);
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
    snprintf(data_dir, sizeof(data_dir), "%s/../data/statvfs", dirname(exe));
    av_log_set_level(AV_LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    s = CU_add_suite("agent_disk", NULL, NULL);
    CU_add_test(s, "statvfs answers against df", test_space);
    CU_add_test(s, "directory of an output URL", test_url_dir);
    CU_add_test(s, "least-squares trend", test_trend);
    CU_add_test(s, "one measure per filesystem", test_one_per_filesystem);
    CU_add_test(s, "a live filesystem filling", test_live_fill);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
