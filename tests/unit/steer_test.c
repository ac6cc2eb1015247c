/*
 * steer_test.c: Content Steering on synthetic inputs: the ordering rules
 * (src/fo/steer_rules.c) over sequences of viewer reports, the manifest's
 * JSON and the players' queries (src/dra/steer.c), malformed ones refused
 * with a reason.
 */
#include <string.h>

#include <CUnit/Basic.h>
#include <jansson.h>
#include <libavutil/error.h>

#include "dra/steer.h"
#include "fo/steer_rules.h"

#define S(x) ((int64_t)(x) * 1000000)

static const SteerPolicy policy = {
    .demote_above = 0.8f, .promote_below = 0.4f, .confirm_ticks = 3, .promote_after_us = S(30),
};

static SteerView up(float risk)
{
    return (SteerView){ .known = 1, .up = 1, .risk = risk };
}

/* A pathway whose risk climbs is demoted after confirm ticks above, not
 * before; the others keep the job's order; it comes back only after
 * promote_after healthy. */
static void test_demote_on_risk_then_promote(void)
{
    SteerPathState st[3] = { { 0 } };
    int order[3];
    int64_t t = S(100);

    for (int i = 0; i < 5; i++, t += S(1))
        for (int p = 0; p < 3; p++)
            CU_ASSERT_EQUAL(steer_judge(&st[p], &(SteerView){ .known = 1, .up = 1, .risk = 0.1f },
                                        &policy, t), STEER_NONE);
    /* cdn-a (0) at 0.85: two ticks are not enough */
    CU_ASSERT_EQUAL(steer_judge(&st[0], &(SteerView){ .known = 1, .up = 1, .risk = 0.85f },
                                &policy, t), STEER_NONE);
    CU_ASSERT_EQUAL(steer_judge(&st[0], &(SteerView){ .known = 1, .up = 1, .risk = 0.9f },
                                &policy, t += S(1)), STEER_NONE);
    steer_order(st, 3, order);
    CU_ASSERT(order[0] == 0 && order[1] == 1 && order[2] == 2);
    CU_ASSERT_EQUAL(steer_judge(&st[0], &(SteerView){ .known = 1, .up = 1, .risk = 0.95f },
                                &policy, t += S(1)), STEER_DEMOTED_RISK);
    /* the demoted one last, and left out of the manifest */
    CU_ASSERT_EQUAL(steer_order(st, 3, order), 2);
    CU_ASSERT(order[0] == 1 && order[1] == 2 && order[2] == 0);
    /* healthy again: not promoted before promote_after (30 s from its
     * first healthy tick) */
    for (int i = 0; i < 30; i++) {
        SteerView v = up(0.2f);
        CU_ASSERT_EQUAL(steer_judge(&st[0], &v, &policy, t += S(1)), STEER_NONE);
    }
    {
        SteerView v = up(0.2f);
        CU_ASSERT_EQUAL(steer_judge(&st[0], &v, &policy, t += S(1)), STEER_PROMOTED);
    }
    CU_ASSERT_EQUAL(steer_order(st, 3, order), 3);
    CU_ASSERT(order[0] == 0 && order[1] == 1 && order[2] == 2);
}

/* A viewer that fails demotes at once; a risk between the thresholds
 * neither demotes nor promotes (hysteresis); an unknown view changes
 * nothing. */
static void test_down_and_hysteresis(void)
{
    SteerPathState st[2] = { { 0 } };
    SteerView down = { .known = 1, .up = 0, .risk = -1 }, unknown = { 0 }, mid = up(0.6f);
    int order[2];
    int64_t t = S(10);

    CU_ASSERT_EQUAL(steer_judge(&st[0], &unknown, &policy, t), STEER_NONE);
    CU_ASSERT_EQUAL(steer_judge(&st[0], &down, &policy, t += S(1)), STEER_DEMOTED_DOWN);
    CU_ASSERT_EQUAL(steer_judge(&st[1], &mid, &policy, t), STEER_NONE);
    steer_order(st, 2, order);
    CU_ASSERT(order[0] == 1 && order[1] == 0);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(steer_judge(&st[0], &mid, &policy, t += S(1)), STEER_NONE);
    CU_ASSERT(st[0].demoted);
}

/* Every pathway demoted: those answering first, a failed one last, in the
 * job's order whatever their risks (which move every tick: the order keeps
 * no risk to go by). */
static void test_all_demoted(void)
{
    SteerPathState st[3] = { { .demoted = 1 }, { .demoted = 1, .down = 1 }, { .demoted = 1 } };
    int order[3];

    CU_ASSERT_EQUAL(steer_order(st, 3, order), 3);   /* all listed */
    CU_ASSERT(order[0] == 0 && order[1] == 2 && order[2] == 1);
    st[1].down = 0;
    st[0].down = 1;
    steer_order(st, 3, order);
    CU_ASSERT(order[0] == 1 && order[1] == 2 && order[2] == 0);
}

static void test_pin_merge(void)
{
    int rules[3] = { 1, 2, 0 }, pin[1] = { 0 }, order[3];

    steer_pin_merge(rules, 3, pin, 1, order);
    CU_ASSERT(order[0] == 0 && order[1] == 1 && order[2] == 2);
    steer_pin_merge(rules, 3, pin, 0, order);
    CU_ASSERT(order[0] == 1 && order[1] == 2 && order[2] == 0);
}

/* The manifest: the keys and order players read, valid JSON. */
static void test_manifest(void)
{
    const char *ids[2] = { "cdn-a", "cdn-b" };
    int order[2] = { 1, 0 };
    AVBPrint bp;
    json_t *j;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    CU_ASSERT_EQUAL(steer_manifest(ids, order, 2, 10, "https://s.example/a \"x\".json", &bp), 0);
    CU_ASSERT_STRING_EQUAL(bp.str, "{\"VERSION\":1,\"TTL\":10,\"RELOAD-URI\":"
                           "\"https://s.example/a \\\"x\\\".json\",\"PATHWAY-PRIORITY\":"
                           "[\"cdn-b\",\"cdn-a\"]}\n");
    j = json_loads(bp.str, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL(j);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "VERSION")), 1);
    json_decref(j);
    av_bprint_finalize(&bp, NULL);
}

static int parse(const MetricsArg *a, int n, SteerQuery *q, char *why)
{
    static const char *const ids[2] = { "cdn-a", "cdn-b" };
    return steer_query_parse(a, n, ids, 2, q, why, 160);
}

/* What hls.js, Shaka, VHS and dash.js send; unknown parameters (the
 * SERVER-URI's own) ignored; malformed ones refused with a reason. */
static void test_queries(void)
{
    SteerQuery q;
    char why[160];

    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_HLS_pathway", "cdn-b" },
                                          { "_HLS_throughput", "2500000" } }, 2, &q, why), 0);
    CU_ASSERT_EQUAL(q.pathway, 1);
    CU_ASSERT_DOUBLE_EQUAL(q.throughput_bps, 2500000, 0.1);
    /* dash.js: every location used, quoted, the fastest first */
    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_DASH_pathway", "\"cdn-a,cdn-b\"" },
                                          { "_DASH_throughput", "5000000,1200000" },
                                          { "asset", "7" } }, 3, &q, why), 0);
    CU_ASSERT_EQUAL(q.pathway, 0);
    CU_ASSERT_DOUBLE_EQUAL(q.throughput_bps, 5000000, 0.1);
    /* the first request: nothing to say */
    CU_ASSERT_EQUAL(parse(NULL, 0, &q, why), 0);
    CU_ASSERT_EQUAL(q.pathway, -1);
    CU_ASSERT_EQUAL(q.throughput_bps, -1);
    /* a well-formed pathway this output does not have: answered, flagged */
    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_HLS_pathway", "cdn-z" } }, 1, &q, why), 0);
    CU_ASSERT(q.pathway == -1 && q.unknown);
    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_HLS_pathway", "." } }, 1, &q, why), 0);

    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_HLS_throughput", "abc" } }, 1, &q, why),
                    AVERROR_INVALIDDATA);
    CU_ASSERT_STRING_EQUAL(why, "the throughput is not a list of bit/s (non-negative numbers, "
                           "comma-separated)");
    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_HLS_throughput", "-5" } }, 1, &q, why),
                    AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_HLS_throughput", "1e400" } }, 1, &q, why),
                    AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_HLS_throughput", "12," } }, 1, &q, why),
                    AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_HLS_pathway", "cdn a" } }, 1, &q, why),
                    AVERROR_INVALIDDATA);
    CU_ASSERT_STRING_EQUAL(why, "the pathway is not a list of pathway ids ([A-Za-z0-9._-], "
                           "comma-separated)");
    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_HLS_pathway", "a,,b" } }, 1, &q, why),
                    AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(parse((MetricsArg[]){ { "_HLS_pathway", "cdn-a" },
                                          { "_HLS_pathway", "cdn-b" } }, 2, &q, why),
                    AVERROR_INVALIDDATA);
    CU_ASSERT_STRING_EQUAL(why, "_HLS_pathway is given twice");
    CU_ASSERT_EQUAL(parse(NULL, -1, &q, why), AVERROR_INVALIDDATA);
    CU_ASSERT_STRING_EQUAL(why, "too many query parameters");
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("steer", NULL, NULL);
    CU_add_test(s, "demote on risk, then promote", test_demote_on_risk_then_promote);
    CU_add_test(s, "down and hysteresis", test_down_and_hysteresis);
    CU_add_test(s, "all demoted", test_all_demoted);
    CU_add_test(s, "pin merge", test_pin_merge);
    CU_add_test(s, "manifest", test_manifest);
    CU_add_test(s, "queries", test_queries);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
