/*
 * agent_edge_test.c: the CDN edge viewer's freshness (src/hma/agent_edge.c),
 * a pure function of the edge's newest segment and when each of the
 * origin's newest segments was first seen.
 */
#include <CUnit/Basic.h>

#include "hma/agent_edge.h"

#define S(x) ((int64_t)(x) * 1000000)

static void test_stale(void)
{
    /* the origin had 10 at t=100 s, 11 at 102 s, 12 at 104 s */
    const int64_t seqs[3] = { 10, 11, 12 }, at[3] = { S(100), S(102), S(104) };

    /* up to date: 0, whenever asked */
    CU_ASSERT_DOUBLE_EQUAL(agent_edge_stale_s(12, seqs, at, 3, 2, S(105)), 0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(agent_edge_stale_s(13, seqs, at, 3, 2, S(105)), 0, 1e-9);
    /* one behind: since 12 was uploaded */
    CU_ASSERT_DOUBLE_EQUAL(agent_edge_stale_s(11, seqs, at, 3, 2, S(105)), 1, 1e-9);
    /* two behind: since 11 */
    CU_ASSERT_DOUBLE_EQUAL(agent_edge_stale_s(10, seqs, at, 3, 2, S(105)), 3, 1e-9);
    /* older than the history: its first entry's age and the segments before
     * it at the target duration */
    CU_ASSERT_DOUBLE_EQUAL(agent_edge_stale_s(7, seqs, at, 3, 2, S(105)), 5 + 2 * 2, 1e-9);
    /* nothing uploaded yet: nothing to be behind */
    CU_ASSERT_DOUBLE_EQUAL(agent_edge_stale_s(3, seqs, at, 0, 2, S(105)), 0, 1e-9);
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("agent_edge", NULL, NULL);
    CU_add_test(s, "staleness", test_stale);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
