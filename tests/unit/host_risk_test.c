/*
 * host_risk_test.c: the host's risk by rules (src/pfm/host_risk.c) on
 * synthetic host components: each rule's ramp, the highest one winning
 * with its reason, and absent figures counting for nothing.
 */
#include <math.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pfm/host_risk.h"

static SampleComp host(void)
{
    SampleComp c = { .kind = COMP_HOST };

    strcpy(c.name, "host");
    return c;
}

static double risk_of(const SampleComp *c, char *why)
{
    HostRisk r;

    host_risk(c, &r);
    if (why)
        strcpy(why, r.why);
    return r.risk;
}

/* Nothing known, or nothing wrong: 0, and no reason. */
static void test_quiet(void)
{
    SampleComp c = host();
    char why[160];

    CU_ASSERT_EQUAL(risk_of(NULL, why), 0);
    CU_ASSERT_EQUAL(risk_of(&c, why), 0);
    CU_ASSERT_STRING_EQUAL(why, "");
    sample_set(&c, HM_PSI_CPU_SOME, 0.20);
    sample_set(&c, HM_PSI_MEMORY_FULL, 0.01);
    sample_set(&c, HM_STORE_FS_FREE, 50e9);
    sample_set(&c, HM_STORE_FS_SIZE, 100e9);
    CU_ASSERT_EQUAL(risk_of(&c, why), 0);
    /* not a host: nothing */
    c.kind = COMP_OUTPUT;
    sample_set(&c, HM_PSI_CPU_SOME, 1.0);
    CU_ASSERT_EQUAL(risk_of(&c, NULL), 0);
}

/* Each ramp: 0 at its quiet end, 1 at its failing end, linear between. */
static void test_ramps(void)
{
    SampleComp c = host();
    char why[160];

    sample_set(&c, HM_STORE_FS_TIME_TO_FULL, 600);
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, NULL), 0, 1e-9);
    sample_set(&c, HM_STORE_FS_TIME_TO_FULL, 330);
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, NULL), 0.5, 1e-9);
    sample_set(&c, HM_STORE_FS_TIME_TO_FULL, 45);
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, why), 1, 1e-9);
    CU_ASSERT_STRING_EQUAL(why, "the data store's filesystem full in 45 s");

    c = host();
    sample_set(&c, HM_CGROUP_MEMORY_TIME_TO_LIMIT, 114);
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, why), 0.9, 1e-9);
    CU_ASSERT(strstr(why, "memory limit") != NULL);

    c = host();
    sample_set(&c, HM_STORE_FS_SIZE, 1000);
    sample_set(&c, HM_STORE_FS_FREE, 30);            /* 3 %: half way from 5 to 1 */
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, why), 0.5, 1e-9);
    CU_ASSERT_STRING_EQUAL(why, "the data store's filesystem free: 3.0 %");
    sample_set(&c, HM_STORE_FS_FREE, 0);
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, NULL), 1, 1e-9);
    sample_set(&c, HM_STORE_FS_SIZE, 0);             /* no size: no ratio */
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, NULL), 0, 1e-9);

    c = host();
    sample_set(&c, HM_PSI_MEMORY_FULL, 0.25);
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, NULL), 0.5, 1e-9);
    c = host();
    sample_set(&c, HM_PSI_IO_FULL, 0.80);
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, NULL), 1, 1e-9);
    c = host();
    sample_set(&c, HM_PSI_CPU_SOME, 0.60);           /* a busy host is not at risk */
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, NULL), 0, 1e-9);
    sample_set(&c, HM_PSI_CPU_SOME, 0.95);
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, why), 1, 1e-9);
    CU_ASSERT_STRING_EQUAL(why, "CPU pressure (PSI some): 95 %");
}

/* The highest rule gives the risk and the reason. */
static void test_highest(void)
{
    SampleComp c = host();
    Sample s = { .nb_comps = 2 };
    SampleComp comps[2];
    HostRisk r;
    char why[160];

    sample_set(&c, HM_PSI_MEMORY_FULL, 0.16);        /* 0.2 */
    sample_set(&c, HM_STORE_FS_TIME_TO_FULL, 168);   /* 0.8 */
    sample_set(&c, HM_PSI_CPU_SOME, 0.81);           /* 0.6 */
    CU_ASSERT_DOUBLE_EQUAL(risk_of(&c, why), 0.8, 1e-9);
    CU_ASSERT(strstr(why, "filesystem full in 168 s") != NULL);
    /* from a sample: its host component, wherever it is */
    comps[0] = (SampleComp){ .kind = COMP_ENCODER };
    comps[1] = c;
    s.comps = comps;
    host_risk_sample(&s, &r);
    CU_ASSERT_DOUBLE_EQUAL(r.risk, 0.8, 1e-9);
    s.nb_comps = 1;
    host_risk_sample(&s, &r);
    CU_ASSERT_EQUAL(r.risk, 0);
    host_risk_sample(NULL, &r);
    CU_ASSERT_EQUAL(r.risk, 0);
}

int main(void)
{
    CU_pSuite s;
    int failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("host_risk", NULL, NULL);
    if (!s ||
        !CU_add_test(s, "quiet hosts", test_quiet) ||
        !CU_add_test(s, "each rule's ramp", test_ramps) ||
        !CU_add_test(s, "the highest rule", test_highest)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
