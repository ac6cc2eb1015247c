/*
 * agent_mem_test.c: the memory agent: where this process's memory cgroup
 * is, from /proc/self/cgroup and /proc/self/mountinfo texts
 * (tests/data/cgroup/: captured here, and the v2 layouts this machine
 * cannot show), its files' values, the time to the limit, and the growth
 * of a live process's memory.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>
#include <libavutil/log.h>

#include "hma/agent_mem.h"

static char data_dir[PATH_MAX / 2];

static char *read_data(const char *name)
{
    static char buf[4][16384];
    static int next;
    char path[PATH_MAX];
    char *b = buf[next++ % 4];
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

static void test_cgroup_dir(void)
{
    char dir[PATH_MAX];

    /* this machine: memory on v1, the unified hierarchy without it */
    CU_ASSERT(agent_mem_cgroup_dir(read_data("proc-cgroup-hybrid.txt"),
                                   read_data("mountinfo-hybrid.txt"), dir, sizeof(dir)) == 1);
    CU_ASSERT_STRING_EQUAL(dir, "/sys/fs/cgroup/memory/process_api/d5b735e71d80b3122764051154d1afaf");
    /* a systemd host on v2 */
    CU_ASSERT(agent_mem_cgroup_dir(read_data("proc-cgroup-v2.txt"), read_data("mountinfo-v2.txt"),
                                   dir, sizeof(dir)) == 2);
    CU_ASSERT_STRING_EQUAL(dir, "/sys/fs/cgroup/system.slice/hotspare@news.service");
    /* a container: its cgroup is the mount's root */
    CU_ASSERT(agent_mem_cgroup_dir(read_data("proc-cgroup-v2-container.txt"),
                                   read_data("mountinfo-v2-container.txt"), dir, sizeof(dir)) == 2);
    CU_ASSERT_STRING_EQUAL(dir, "/sys/fs/cgroup");
    /* the root cgroup */
    CU_ASSERT(agent_mem_cgroup_dir("0::/\n", read_data("mountinfo-v2.txt"), dir, sizeof(dir)) == 2);
    CU_ASSERT_STRING_EQUAL(dir, "/sys/fs/cgroup");
    /* v2 named, not mounted; nothing at all; garbage */
    CU_ASSERT(agent_mem_cgroup_dir("0::/a\n", read_data("mountinfo-hybrid.txt") + 0, dir, sizeof(dir)) == 2);
    CU_ASSERT_STRING_EQUAL(dir, "/sys/fs/cgroup/unified/a");
    CU_ASSERT(agent_mem_cgroup_dir("0::/a\n", "21 26 0:20 / /proc rw - proc proc rw\n", dir,
                                   sizeof(dir)) == AVERROR(ENOENT));
    CU_ASSERT(agent_mem_cgroup_dir("", read_data("mountinfo-v2.txt"), dir, sizeof(dir)) ==
              AVERROR(ENOENT));
    CU_ASSERT(agent_mem_cgroup_dir("garbage\n::\n", "x - y\n", dir, sizeof(dir)) == AVERROR(ENOENT));
    /* "memorys" is not "memory" */
    CU_ASSERT(agent_mem_cgroup_dir("4:memorys:/x\n", read_data("mountinfo-hybrid.txt"), dir,
                                   sizeof(dir)) == AVERROR(ENOENT));
}

static void test_values(void)
{
    uint64_t v = 7;

    CU_ASSERT(agent_mem_parse_value(read_data("v2-memory.max-unlimited"), &v) == 0 && v == 7);
    CU_ASSERT(agent_mem_parse_value(read_data("v2-memory.max"), &v) == 1 && v == 536870912);
    CU_ASSERT(agent_mem_parse_value(read_data("v2-memory.high"), &v) == 1 && v == 402653184);
    /* v1's no limit */
    v = 7;
    CU_ASSERT(agent_mem_parse_value(read_data("v1-memory.limit_in_bytes"), &v) == 0 && v == 7);
    CU_ASSERT(agent_mem_parse_value(read_data("v1-memory.usage_in_bytes"), &v) == 1 && v == 122540032);
    CU_ASSERT(agent_mem_parse_value("", &v) == AVERROR(EINVAL));
    CU_ASSERT(agent_mem_parse_value("maximum\n", &v) == AVERROR(EINVAL));
    CU_ASSERT(agent_mem_parse_value("-1\n", &v) == AVERROR(EINVAL));
    CU_ASSERT(agent_mem_parse_value("12k\n", &v) == AVERROR(EINVAL));
    CU_ASSERT(agent_mem_parse_value("99999999999999999999999\n", &v) == AVERROR(EINVAL));
}

static void test_time_to_limit(void)
{
    AgentMemFigures f = { 0 };
    double s = -1;

    f.have_current = 1;
    f.current = 100 << 20;
    /* no limit */
    CU_ASSERT(agent_mem_time_to_limit(&f, 1 << 20, &s) == AVERROR(ERANGE));
    /* the lower of the two: high */
    f.have_max = f.have_high = 1;
    f.max = 200 << 20;
    f.high = 150 << 20;
    CU_ASSERT(agent_mem_time_to_limit(&f, 1 << 20, &s) == 0 && fabs(s - 50) < 1e-9);
    f.have_high = 0;
    CU_ASSERT(agent_mem_time_to_limit(&f, 1 << 20, &s) == 0 && fabs(s - 100) < 1e-9);
    /* shrinking or flat: not heading there */
    CU_ASSERT(agent_mem_time_to_limit(&f, 0, &s) == AVERROR(ERANGE));
    CU_ASSERT(agent_mem_time_to_limit(&f, -5, &s) == AVERROR(ERANGE));
    /* past it already */
    f.current = 300 << 20;
    CU_ASSERT(agent_mem_time_to_limit(&f, -5, &s) == 0 && s == 0);
}

/* A live process whose memory grows 8 MiB per tick: the slope says so,
 * whatever the clock's unit (ticks of 0.1 s here). */
static void test_live(void)
{
    AgentMem *a = NULL;
    AgentMemFigures f;

    CU_ASSERT_FATAL(agent_mem_alloc(&a) == 0 && a);
    agent_mem_sample(a, 10.0, 100e6, &f);
    CU_ASSERT(!f.have_rss_growth);
    agent_mem_sample(a, 10.1, 100e6 + 8388608, &f);
    CU_ASSERT(!f.have_rss_growth);
    for (int i = 2; i < 40; i++)
        agent_mem_sample(a, 10 + i * 0.1, 100e6 + 8388608.0 * i, &f);
    CU_ASSERT(f.have_rss_growth && fabs(f.rss_growth - 83886080) < 1);
    /* this machine's cgroup (v1 here): usage is there, the limit is
     * "none"; on a v2 host both are read alike */
    if (access("/sys/fs/cgroup/memory", F_OK) == 0 || access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
        CU_ASSERT(f.have_current && f.current > 0);
        if (!f.have_max)
            CU_ASSERT(!f.have_time_to_limit);
    }
    /* unknown RSS: no growth */
    agent_mem_sample(a, 20, -1, &f);
    CU_ASSERT(!f.have_rss_growth);
    agent_mem_free(&a);
    agent_mem_free(&a);
    CU_ASSERT(a == NULL);
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
    snprintf(data_dir, sizeof(data_dir), "%s/../data/cgroup", dirname(exe));
    av_log_set_level(AV_LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    s = CU_add_suite("agent_mem", NULL, NULL);
    CU_add_test(s, "memory cgroup directory", test_cgroup_dir);
    CU_add_test(s, "cgroup values", test_values);
    CU_add_test(s, "time to the limit", test_time_to_limit);
    CU_add_test(s, "live growth and cgroup", test_live);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
