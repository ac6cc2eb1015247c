/*
 * place_test.c: where the allocator opens a standby encoder (dra/place.h),
 * on synthetic devices: the most headroom wins, a lost GPU never, the
 * per-device session budget with reservations, unknown devices in
 * between, names ("gpu0" = "0" = "cuda:0"), and dra_place over a sample.
 */
#include <math.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>

#include "dra/place.h"

static char *names01[] = { "0", "1" };

static void test_headroom(void)
{
    DraDevice d[2] = {
        { "gpu0", 1, 0.10, 1 },
        { "gpu1", 1, 0.80, 1 },
    };
    char why[256];

    CU_ASSERT_EQUAL(dra_place_pick(d, 2, names01, 2, NULL, 0, why, sizeof(why)), 1);
    d[1].headroom = 0.05;
    CU_ASSERT_EQUAL(dra_place_pick(d, 2, names01, 2, NULL, 0, why, sizeof(why)), 0);
    /* ties: the job's order */
    d[0].headroom = d[1].headroom = 0.5;
    CU_ASSERT_EQUAL(dra_place_pick(d, 2, names01, 2, NULL, 0, why, sizeof(why)), 0);
    /* a lost GPU is never picked, however free */
    d[0].headroom = 1;
    d[0].up = 0;
    CU_ASSERT_EQUAL(dra_place_pick(d, 2, names01, 2, NULL, 0, why, sizeof(why)), 1);
    d[1].up = 0;
    CU_ASSERT_EQUAL(dra_place_pick(d, 2, names01, 2, NULL, 0, why, sizeof(why)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "0 lost, 1 lost"));
}

static void test_budget(void)
{
    DraDevice d[2] = {
        { "gpu0", 1, 0.10, 2 },
        { "gpu1", 1, 0.90, 3 },
    };
    int reserved[2] = { 0, 0 };
    char why[256];

    /* the free GPU is at its budget: the busy one takes it */
    CU_ASSERT_EQUAL(dra_place_pick(d, 2, names01, 2, reserved, 3, why, sizeof(why)), 0);
    /* a reservation counts like a session */
    reserved[0] = 1;
    CU_ASSERT_EQUAL(dra_place_pick(d, 2, names01, 2, reserved, 3, why, sizeof(why)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "0 3 of 3 sessions"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "1 3 of 3 sessions"));
    /* no budget: headroom alone */
    CU_ASSERT_EQUAL(dra_place_pick(d, 2, names01, 2, reserved, 0, why, sizeof(why)), 1);
}

static void test_unknown(void)
{
    DraDevice d[1] = { { "gpu1", 1, 0.2, -1 } };
    char *cand[] = { "/dev/dri/renderD128", "cuda:1" };
    char why[64];

    /* a device nothing is known of counts as half free: it beats a busy GPU */
    CU_ASSERT_EQUAL(dra_place_pick(d, 1, cand, 2, NULL, 0, why, sizeof(why)), 0);
    d[0].headroom = 0.9;
    CU_ASSERT_EQUAL(dra_place_pick(d, 1, cand, 2, NULL, 0, why, sizeof(why)), 1);
    d[0].headroom = NAN;
    CU_ASSERT_EQUAL(dra_place_pick(d, 1, cand, 2, NULL, 0, why, sizeof(why)), 0);
    /* no devices known at all: the first listed */
    CU_ASSERT_EQUAL(dra_place_pick(NULL, 0, cand, 2, NULL, 1, why, sizeof(why)), 0);
}

/* Over a tick's sample, with the reservations dra_place keeps. */
static void test_place_sample(void)
{
    Sample s = { 0 };
    SampleComp *c;
    DraPlace *p = NULL;
    JobEncoderBackup eb = { .devices = names01, .nb_devices = 2 };
    char dev[16], why[256];

    CU_ASSERT_FATAL(dra_place_alloc(&p, 2) == 0);
    sample_reset(&s, 0, 0);
    c = sample_add_comp(&s, COMP_HOST, "", "host", 0);
    sample_set(c, HM_PSI_CPU_SOME, 0.5);
    c = sample_add_comp(&s, COMP_GPU, "", "gpu0", 0);
    sample_set(c, GM_UP, 1);
    sample_set(c, GM_ENCODER_UTIL, 0.9);
    sample_set(c, GM_ENCODER_SESSIONS, 0);
    c = sample_add_comp(&s, COMP_GPU, "", "gpu1", 0);
    sample_set(c, GM_UP, 1);
    sample_set(c, GM_ENCODER_CAPACITY, 0.7);
    sample_set(c, GM_ENCODER_SESSIONS, 1);
    dra_place_observe(p, &s);

    CU_ASSERT_EQUAL(dra_place(p, &eb, 0, dev, sizeof(dev), why, sizeof(why)), 0);
    CU_ASSERT_STRING_EQUAL(dev, "1");
    /* gpu1 now holds 1 + 1 reserved of 2: the next goes to gpu0 */
    CU_ASSERT_EQUAL(dra_place(p, &eb, 1000, dev, sizeof(dev), why, sizeof(why)), 0);
    CU_ASSERT_STRING_EQUAL(dev, "0");
    CU_ASSERT_EQUAL(dra_place(p, &eb, 2000, dev, sizeof(dev), why, sizeof(why)), 0);
    CU_ASSERT_STRING_EQUAL(dev, "0");
    CU_ASSERT_EQUAL(dra_place(p, &eb, 3000, dev, sizeof(dev), why, sizeof(why)), AVERROR(EBUSY));
    /* the reservations lapse: NVML's counts alone again */
    CU_ASSERT_EQUAL(dra_place(p, &eb, DRA_PLACE_RESERVE_US + 3001, dev, sizeof(dev), why,
                              sizeof(why)), 0);
    CU_ASSERT_STRING_EQUAL(dev, "1");
    /* one device and no budget: nothing to choose */
    {
        JobEncoderBackup one = { .devices = names01, .nb_devices = 1 };
        DraPlace *q = NULL;
        CU_ASSERT_FATAL(dra_place_alloc(&q, 0) == 0);
        dra_place_observe(q, &s);
        CU_ASSERT_EQUAL(dra_place(q, &one, 0, dev, sizeof(dev), why, sizeof(why)), 0);
        CU_ASSERT_STRING_EQUAL(dev, "");
        dra_place_free(&q);
        CU_ASSERT_PTR_NULL(q);
    }
    dra_place_free(&p);
    dra_place_free(&p);
    sample_free(&s);
}

/* A tick of two DRM devices: 0000:00:02.0 with engines vcs0 and vcs1,
 * 0000:03:00.0 with vcn, at these busy shares; observed by p. */
static void engines(Sample *s, DraPlace *p, double vcs0, double vcs1, double vcn)
{
    static const char *const names[3] = {
        "dri:0000:00:02.0:vcs0", "dri:0000:00:02.0:vcs1", "dri:0000:03:00.0:vcn",
    };
    const double busy[3] = { vcs0, vcs1, vcn };

    sample_reset(s, 0, 0);
    for (int i = 0; i < 3; i++)
        sample_set(sample_add_comp(s, COMP_GPU, "", names[i], 0), GM_VIDEO_ENGINE_BUSY, busy[i]);
    dra_place_observe(p, s);
}

/* VAAPI devices: the DRM agent's engines ("dri:PDEV:ENGINE") grouped by
 * device, its freest engine's headroom; named "dri:PDEV" in a job (a render
 * node path is resolved through sysfs, which this machine may lack). */
static void test_drm(void)
{
    Sample s = { 0 };
    DraPlace *p = NULL;
    static char *cand[] = { "dri:0000:00:02.0", "dri:0000:03:00.0" };
    JobEncoderBackup eb = { .devices = cand, .nb_devices = 2 };
    char dev[32], why[64];

    CU_ASSERT_FATAL(dra_place_alloc(&p, 0) == 0);
    engines(&s, p, 0.95, 0.90, 0.30);
    CU_ASSERT_EQUAL(dra_place(p, &eb, 0, dev, sizeof(dev), why, sizeof(why)), 0);
    CU_ASSERT_STRING_EQUAL(dev, "dri:0000:03:00.0");
    /* the first device's second engine frees up: its freest engine counts */
    engines(&s, p, 0.95, 0.05, 0.30);
    CU_ASSERT_EQUAL(dra_place(p, &eb, 0, dev, sizeof(dev), why, sizeof(why)), 0);
    CU_ASSERT_STRING_EQUAL(dev, "dri:0000:00:02.0");
    dra_place_free(&p);
    sample_free(&s);
}

int main(void)
{
    CU_pSuite s;
    int failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("place", NULL, NULL);
    CU_add_test(s, "most headroom, never a lost GPU", test_headroom);
    CU_add_test(s, "per-device session budget", test_budget);
    CU_add_test(s, "unknown devices and names", test_unknown);
    CU_add_test(s, "over a sample, with reservations", test_place_sample);
    CU_add_test(s, "DRM video engines", test_drm);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
