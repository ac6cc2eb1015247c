/*
 * fault_test.c: scheduled faults and drills: one-shot faults fire once per
 * occurrence at the first item at or after their time, windows (slow,
 * drop) apply within their duration, drills are handed out once each, and
 * a point only sees the faults that name its component.
 */
#include <CUnit/Basic.h>

#include "plane/fault.h"

static JobFault faults[] = {
    { .at_us = 1000000, .count = 1, .component = "out:o", .kind = JOB_FAULT_ERROR },
    { .at_us = 2000000, .every_us = 1000000, .count = 3, .component = "out:o",
      .kind = JOB_FAULT_STALL, .duration_us = 500000 },
    { .at_us = 0, .count = 1, .component = "enc:r", .kind = JOB_FAULT_SLOW,
      .duration_us = 1000000, .ramp_us = 40000 },
    { .at_us = 0, .count = 1, .component = "input", .kind = JOB_FAULT_DROP,
      .duration_us = 1000000, .ratio = 0.5 },
    { .at_us = 500000, .every_us = 250000, .count = 4, .component = "out:o",
      .kind = JOB_ACTION_SWITCH },
    { .at_us = 100, .count = 1, .component = "out:o.backup", .kind = JOB_FAULT_CLOSE },
};

static JobStream stream = { .name = "s", .faults = faults, .nb_faults = 6 };

static void test_select(void)
{
    FaultPoint fp;

    CU_ASSERT_EQUAL(fault_point_init(&fp, &stream, "out:o"), 3);
    CU_ASSERT_EQUAL(fault_point_init(&fp, &stream, "out:o.backup"), 1);
    CU_ASSERT_EQUAL(fault_point_init(&fp, &stream, "enc:x"), 0);
    CU_ASSERT_FALSE(fault_any(&fp));
}

static void test_one_shots(void)
{
    FaultPoint fp;
    FaultEffect e;

    fault_point_init(&fp, &stream, "out:o");
    e = fault_poll(&fp, 999999);
    CU_ASSERT_FALSE(e.error);
    e = fault_poll(&fp, 1000000);
    CU_ASSERT_TRUE(e.error);
    e = fault_poll(&fp, 1000001);
    CU_ASSERT_FALSE(e.error);            /* once */
    /* three stalls, 1 s apart; an item late past two of them gets both */
    CU_ASSERT_EQUAL(fault_poll(&fp, 2000000).stall_us, 500000);
    CU_ASSERT_EQUAL(fault_poll(&fp, 2500000).stall_us, 0);
    CU_ASSERT_EQUAL(fault_poll(&fp, 4200000).stall_us, 1000000);
    CU_ASSERT_EQUAL(fault_poll(&fp, 9000000).stall_us, 0);
}

static void test_windows(void)
{
    FaultPoint fp;
    int drops = 0;

    fault_point_init(&fp, &stream, "enc:r");
    CU_ASSERT_EQUAL(fault_poll(&fp, 0).delay_us, 0);
    CU_ASSERT_EQUAL(fault_poll(&fp, 500000).delay_us, 20000);
    CU_ASSERT_EQUAL(fault_poll(&fp, 999999).delay_us, 39999);
    CU_ASSERT_EQUAL(fault_poll(&fp, 1000000).delay_us, 0);   /* over */

    fault_point_init(&fp, &stream, "input");
    for (int i = 0; i < 1000; i++)
        drops += fault_poll(&fp, i * 1000).drop;
    CU_ASSERT(drops > 400 && drops < 600);
    CU_ASSERT_FALSE(fault_poll(&fp, 1000000).drop);
}

static void test_actions(void)
{
    FaultPoint fp;
    JobFaultKind k[8];

    fault_point_init(&fp, &stream, "out:o");
    CU_ASSERT_EQUAL(fault_actions(&fp, 400000, k, 8), 0);
    CU_ASSERT_EQUAL(fault_actions(&fp, 500000, k, 8), 1);
    CU_ASSERT_EQUAL(k[0], JOB_ACTION_SWITCH);
    CU_ASSERT_EQUAL(fault_actions(&fp, 500000, k, 8), 0);
    /* two due at once: both, then the last one later */
    CU_ASSERT_EQUAL(fault_actions(&fp, 1000000, k, 8), 2);
    CU_ASSERT_EQUAL(fault_actions(&fp, 1250000, k, 1), 1);
    CU_ASSERT_EQUAL(fault_actions(&fp, 9000000, k, 8), 0);
    /* actions are not effects */
    CU_ASSERT_FALSE(fault_poll(&fp, 500000).error);
}

static void test_close(void)
{
    FaultPoint fp;

    fault_point_init(&fp, &stream, "out:o.backup");
    CU_ASSERT_TRUE(fault_poll(&fp, 100).close);
    CU_ASSERT_FALSE(fault_poll(&fp, 200).close);
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("fault", NULL, NULL);
    CU_add_test(s, "selection by component", test_select);
    CU_add_test(s, "one-shot faults", test_one_shots);
    CU_add_test(s, "slow and drop windows", test_windows);
    CU_add_test(s, "drills", test_actions);
    CU_add_test(s, "close", test_close);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
