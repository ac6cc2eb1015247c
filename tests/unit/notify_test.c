/*
 * notify_test.c: the bound on a stage's heartbeat that the service
 * watchdog judges by (src/cli/notify.c): the longest deadline a job gives
 * one blocking call, from job files as people write them: the defaults,
 * short deadlines, a backup's own, no latency budget.
 */
#include <stdio.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "cli/notify.h"
#include "core/sdnotify.h"
#include "job/job.h"

static char tmpdir[64];

/* The longest deadline of a one-stream job: head at the top level,
 * stream_extra in the stream, output_extra in its output's map (the job
 * must load). */
static int64_t longest(const char *head, const char *stream_extra, const char *output_extra)
{
    char path[128];
    Job *job = NULL;
    JobDiag d = { 0 };
    FILE *f;
    int64_t v = -1;

    snprintf(path, sizeof(path), "%s/job.yaml", tmpdir);
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "version: 1\n%s"
            "streams:\n"
            "  - name: n\n"
            "    input: { url: \"testsrc2=size=64x64:rate=10\", format: lavfi, realtime: true }\n"
            "    renditions:\n"
            "      - { name: main, width: 64, height: 64 }\n"
            "    outputs:\n"
            "      - { name: ts, format: mpegts, url: %s/a.ts%s }\n"
            "%s", head, tmpdir, output_extra, stream_extra);
    fclose(f);
    if (job_load(path, &job, &d) < 0) {
        for (int i = 0; i < d.nb_msgs; i++)
            fprintf(stderr, "%s\n", d.msgs[i]);
        CU_FAIL("the job does not load");
    } else {
        v = notify_longest_deadline(job);
    }
    job_diag_free(&d);
    job_free(&job);
    unlink(path);
    return v;
}

static void test_defaults(void)
{
    /* rw_timeout 5 s; a live stream's budget 3 s: encoder calls 1.5 s */
    int64_t d = longest("", "", "");

    CU_ASSERT_EQUAL(d, 5000000);
    CU_ASSERT_EQUAL(sdn_wedge_bound(d), 10000000);
}

static void test_short(void)
{
    /* t_notify's job: every call at most 1 s, a 2 s bound */
    int64_t d = longest("rw_timeout: 1s\n", "    latency_budget: 2s\n", "");

    CU_ASSERT_EQUAL(d, 1000000);
    CU_ASSERT_EQUAL(sdn_wedge_bound(d), 2000000);
}

static void test_backup(void)
{
    /* a backup destination's own rw_timeout counts */
    CU_ASSERT_EQUAL(longest("rw_timeout: 1s\n", "    latency_budget: 2s\n",
                            ", backup: { url: /dev/null, rw_timeout: 8s }"), 8000000);
    /* ... and the output's own */
    CU_ASSERT_EQUAL(longest("rw_timeout: 1s\n", "    latency_budget: 2s\n",
                            ", rw_timeout: 3s"), 3000000);
}

static void test_no_budget(void)
{
    /* without a latency budget an encoder call may take 5 s */
    CU_ASSERT_EQUAL(longest("rw_timeout: 1s\n", "    latency_budget: none\n", ""), 5000000);
    /* a budget above twice the rw_timeout: half of it */
    CU_ASSERT_EQUAL(longest("rw_timeout: 1s\n", "    latency_budget: 6s\n", ""), 3000000);
}

int main(void)
{
    CU_pSuite s;
    int failures;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/notify-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("notify", NULL, NULL);
    if (!s ||
        !CU_add_test(s, "defaults", test_defaults) ||
        !CU_add_test(s, "short deadlines", test_short) ||
        !CU_add_test(s, "a backup's deadline", test_backup) ||
        !CU_add_test(s, "no latency budget", test_no_budget)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    rmdir(tmpdir);
    return failures;
}
