/*
 * drill_test.c: a drill's judgement (cli/drill_eval.c) on synthetic
 * events and reports: expectations that hold, each kind that does not,
 * faults that fail nothing (skipped), failures that belong to another
 * fault or component, drills answered, refused and never answered, runs
 * that crash or hang, and the events file's lines.
 */
#include <math.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <libavutil/mem.h>

#include "cli/drill_eval.h"

#define MS 1000                  /* microseconds */

/* A stream "ch" with outputs main and extra, the faults given, and the
 * expectations: frames_lost 0, switch_within 50ms, detect_within 1s. */
static JobOutput outputs[2] = { { .name = "main" }, { .name = "extra" } };
static JobStream stream;
static Job job;

static void setup(JobFault *faults, int nb_faults)
{
    memset(&stream, 0, sizeof(stream));
    stream.name = "ch";
    stream.outputs = outputs;
    stream.nb_outputs = 2;
    stream.faults = faults;
    stream.nb_faults = nb_faults;
    stream.expect = (JobExpect){ .frames_lost = 0, .switch_within_us = 50 * MS,
                                 .detect_within_us = 1000 * MS, .exit = -1 };
    memset(&job, 0, sizeof(job));
    job.path = "ch.yaml";
    job.streams = &stream;
    job.nb_streams = 1;
    job.expect = (JobExpect)JOB_EXPECT_UNSET;
}

static DrillEvent event(int64_t mono_ms, const char *component, EventKind kind, uint32_t seq,
                        const char *cause)
{
    DrillEvent e = { .mono_us = mono_ms * MS, .kind = kind, .seq = seq };

    strcpy(e.stream, "ch");
    strcpy(e.component, component);
    strcpy(e.cause, cause);
    return e;
}

/* A report with both outputs, main having lost lost_main frames. */
static DrillOutputFigures figs[2];
static DrillStreamFigures sfig;

static DrillReport report(int64_t lost_main)
{
    figs[0] = (DrillOutputFigures){ .name = "main", .frames = 300, .frames_lost = lost_main };
    figs[1] = (DrillOutputFigures){ .name = "extra", .frames = 300 };
    strcpy(sfig.name, "ch");
    sfig.outputs = figs;
    sfig.nb_outputs = 2;
    return (DrillReport){ .exit = 0, .streams = &sfig, .nb_streams = 1 };
}

static const DrillRun run_ok = { .status = 0, .wall_s = 10 };

static const DrillResult *find(const DrillResults *r, const char *name)
{
    for (int i = 0; i < r->nb; i++)
        if (!strcmp(r->v[i].name, name))
            return &r->v[i];
    fprintf(stderr, "\n    no result '%s' among:", name);
    for (int i = 0; i < r->nb; i++)
        fprintf(stderr, " '%s'", r->v[i].name);
    fprintf(stderr, "\n");
    return NULL;
}

static int contains(const char *s, const char *what)
{
    return s && strstr(s, what);
}

static const JobFault out_error = { .at_us = 2000 * MS, .count = 1, .component = "out:main",
                                    .kind = JOB_FAULT_ERROR };

/* An output error detected at once, its backup writing 0.5 ms later:
 * every check holds; the JSON/JUnit figures are in the results. */
static void test_all_hold(void)
{
    DrillEvent ev[] = {
        event(100, "out:main", EV_START, 0, "opened"),
        /* it strikes the first item at or after 2 s: named by the job's time */
        event(2000, "out:main", EV_FAULT, 0, "injected fault error at media time 2.033 s"),
        event(2001, "out:main", EV_FAILURE, 0, "writing failed"),
        event(2002, "out:main", EV_SWITCH, 0, "out:main.backup takes over"),
        event(2003, "out:main", EV_INFO, 0, "out:main.backup wrote its first packet 0.5 ms after the switch"),
    };
    DrillReport rep = report(0);
    DrillResults res = { 0 };
    const DrillResult *r;
    int pass, fail, skip;

    setup((JobFault *)&out_error, 1);
    CU_ASSERT_EQUAL_FATAL(drill_evaluate(&job, ev, 5, &rep, &run_ok, &res), 0);
    drill_results_count(&res, &pass, &fail, &skip);
    CU_ASSERT_EQUAL(res.nb, 5);   /* 2 outputs, detect, switch, exit */
    CU_ASSERT_EQUAL(pass, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "detect_within out:main@2.000s"));
    CU_ASSERT_STRING_EQUAL(r->stream, "ch");
    CU_ASSERT_DOUBLE_EQUAL(r->value, 1.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r->limit, 1000.0, 1e-9);
    CU_ASSERT_PTR_NULL(r->message);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "switch_within out:main@2.000s"));
    CU_ASSERT_DOUBLE_EQUAL(r->value, 0.5, 1e-9);
    CU_ASSERT(contains(r->figures, "wrote its first packet 0.5 ms"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "frames_lost out:extra"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_PASS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "exit"));
    CU_ASSERT_PTR_NULL(r->stream);
    CU_ASSERT_EQUAL(r->verdict, DRILL_PASS);
    drill_results_free(&res);
    CU_ASSERT_PTR_NULL(res.v);
    drill_results_free(NULL);
}

/* Frames lost, a slow detection and a slow switch each fail with a
 * message saying by how much. */
static void test_each_fails(void)
{
    DrillEvent ev[] = {
        event(2000, "out:main", EV_FAULT, 0, "injected fault error at media time 2.000 s"),
        event(3500, "out:main", EV_FAILURE, 0, "no answer"),
        event(3600, "out:main", EV_INFO, 0, "out:main.backup wrote its first packet 80.0 ms after the switch"),
    };
    DrillReport rep = report(7);
    DrillResults res = { 0 };
    const DrillResult *r;
    int pass, fail, skip;

    setup((JobFault *)&out_error, 1);
    CU_ASSERT_EQUAL_FATAL(drill_evaluate(&job, ev, 3, &rep, &run_ok, &res), 0);
    drill_results_count(&res, &pass, &fail, &skip);
    CU_ASSERT_EQUAL(fail, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "frames_lost out:main"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT_EQUAL(r->value, 7);
    CU_ASSERT(contains(r->message, "out:main lost 7 frames, at most 0 expected"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "detect_within out:main@2.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT(contains(r->message, "1500.0 ms after the fault"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "switch_within out:main@2.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT(contains(r->message, "80.0 ms"));
    drill_results_free(&res);
}

/* error fails what it strikes: no failure after it fails both checks. A
 * drop that fails nothing has nothing to time: skipped, and says why. */
static void test_no_failure(void)
{
    JobFault faults[] = {
        out_error,
        { .at_us = 5000 * MS, .count = 1, .component = "input", .kind = JOB_FAULT_DROP,
          .duration_us = 200 * MS, .ratio = 1 },
    };
    DrillEvent ev[] = {
        event(2000, "out:main", EV_FAULT, 0, "injected fault error at media time 2.000 s"),
        event(5000, "input", EV_FAULT, 0, "injected fault drop for 200 ms at media time 5.000 s"),
        /* another output's failure is not out:main's */
        event(5001, "out:main2", EV_FAILURE, 0, "refused"),
    };
    DrillReport rep = report(0);
    DrillResults res = { 0 };
    const DrillResult *r;

    setup(faults, 2);
    CU_ASSERT_EQUAL_FATAL(drill_evaluate(&job, ev, 3, &rep, &run_ok, &res), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "detect_within out:main@2.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT(contains(r->message, "no failure of out:main followed the error fault"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "switch_within out:main@2.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "detect_within input@5.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_SKIP);
    CU_ASSERT(contains(r->message, "failed nothing"));
    CU_ASSERT(isnan(r->value));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "switch_within input@5.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_SKIP);
    drill_results_free(&res);
}

/* A failure belongs to the last fault on its component before it (any
 * instance of it); a failure with no backup to take over fails the
 * switch. */
static void test_attribution(void)
{
    JobFault faults[] = {
        { .at_us = 2000 * MS, .every_us = 1000 * MS, .count = 2, .component = "out:main",
          .kind = JOB_FAULT_STALL, .duration_us = 100 * MS },
    };
    DrillEvent ev[] = {
        event(2000, "out:main", EV_FAULT, 0, "injected fault stall for 100 ms at media time 2.000 s"),
        event(3000, "out:main.backup", EV_FAULT, 0, "injected fault stall for 100 ms at media time 3.000 s"),
        event(3200, "out:main.backup", EV_FAILURE, 0, "stalled"),
    };
    DrillReport rep = report(0);
    DrillResults res = { 0 };
    const DrillResult *r;

    setup(faults, 1);
    CU_ASSERT_EQUAL_FATAL(drill_evaluate(&job, ev, 3, &rep, &run_ok, &res), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "detect_within out:main@2.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_SKIP);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "detect_within out:main.backup@3.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_PASS);
    CU_ASSERT_DOUBLE_EQUAL(r->value, 200.0, 1e-9);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "switch_within out:main.backup@3.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT(contains(r->message, "no instance of out:main passed on a packet"));
    drill_results_free(&res);
}

/* Drills are paired with their answers in order (seq); a provision on
 * the same component takes its place in that order; a refused switch and
 * one never answered fail. */
static void test_drills(void)
{
    JobFault faults[] = {
        { .at_us = 1000 * MS, .count = 1, .component = "enc:main", .kind = JOB_ACTION_PROVISION },
        { .at_us = 2000 * MS, .every_us = 2000 * MS, .count = 3, .component = "enc:main",
          .kind = JOB_ACTION_SWITCH },
        { .at_us = 3000 * MS, .count = 1, .component = "enc:main", .kind = JOB_ACTION_SWITCH_BACK },
    };
    DrillEvent ev[] = {
        event(1010, "enc:main.backup", EV_PROVISIONED, 4, "opened"),
        event(2010, "enc:main", EV_SWITCH, 5, "enc:main.backup took over"),
        event(2020, "enc:main", EV_INFO, 0, "enc:main.backup passed on its first packet 12.5 ms after the switch"),
        event(3010, "enc:main", EV_SWITCH, 6, "enc:main took over"),
        event(3020, "enc:main", EV_INFO, 0, "enc:main passed on its first packet 60.0 ms after the switch"),
        event(4010, "enc:main.backup", EV_REFUSED, 7, "it is not up"),
    };
    DrillReport rep = report(0);
    DrillResults res = { 0 };
    const DrillResult *r;

    setup(faults, 3);
    stream.expect.detect_within_us = 0;
    CU_ASSERT_EQUAL_FATAL(drill_evaluate(&job, ev, 6, &rep, &run_ok, &res), 0);
    CU_ASSERT_EQUAL(res.nb, 2 + 4 + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "switch_within enc:main switch@2.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_PASS);
    CU_ASSERT_DOUBLE_EQUAL(r->value, 12.5, 1e-9);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "switch_within enc:main switch_back@3.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT(contains(r->message, "60.0 ms"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "switch_within enc:main switch@4.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT(contains(r->message, "refused: it is not up"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "switch_within enc:main switch@6.000s"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT(contains(r->message, "not answered"));
    drill_results_free(&res);
}

/* The run's end: another status than expected, a crash, a time-out; no
 * report fails frames_lost. Nothing expected: only exit is checked. */
static void test_exit(void)
{
    DrillReport none = { .exit = -1 };
    DrillRun crashed = { .status = -1, .signal = 11, .wall_s = 1, .log_path = "/tmp/x/run.log" };
    DrillRun hung = { .status = 255, .timed_out = 1, .timeout_s = 40, .wall_s = 45 };
    DrillRun one = { .status = 1, .wall_s = 3 };
    DrillResults res = { 0 };
    const DrillResult *r;

    setup(NULL, 0);
    CU_ASSERT_EQUAL_FATAL(drill_evaluate(&job, NULL, 0, &none, &crashed, &res), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "frames_lost out:main"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT(contains(r->message, "did not finish"));
    CU_ASSERT(contains(r->figures, "/tmp/x/run.log"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "exit"));
    CU_ASSERT_EQUAL(r->verdict, DRILL_FAIL);
    CU_ASSERT(contains(r->message, "signal 11"));
    drill_results_free(&res);

    CU_ASSERT_EQUAL_FATAL(drill_evaluate(&job, NULL, 0, &none, &hung, &res), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r = find(&res, "exit"));
    CU_ASSERT(contains(r->message, "did not end: killed after 40 s"));
    drill_results_free(&res);

    stream.expect = (JobExpect)JOB_EXPECT_UNSET;
    job.expect.exit = 1;
    CU_ASSERT_EQUAL_FATAL(drill_evaluate(&job, NULL, 0, &none, &one, &res), 0);
    CU_ASSERT_EQUAL(res.nb, 1);
    CU_ASSERT_EQUAL(res.v[0].verdict, DRILL_PASS);
    drill_results_free(&res);
    job.expect.exit = -1;
    CU_ASSERT_EQUAL_FATAL(drill_evaluate(&job, NULL, 0, &none, &one, &res), 0);
    CU_ASSERT_EQUAL(res.v[0].verdict, DRILL_FAIL);
    CU_ASSERT(contains(res.v[0].message, "exited 1, 0 expected"));
    drill_results_free(&res);
}

static void test_parse(void)
{
    DrillEvent e;

    CU_ASSERT_EQUAL(drill_parse_event("{\"time\":\"2026-12-05T23:29:21.083Z\",\"mono_us\":43134667563,"
                                      "\"stream\":\"ch\",\"component\":\"out:main\",\"kind\":\"switch\","
                                      "\"cause\":\"x took over\",\"seq\":8}\n", &e), 0);
    CU_ASSERT_EQUAL(e.mono_us, 43134667563LL);
    CU_ASSERT_STRING_EQUAL(e.stream, "ch");
    CU_ASSERT_STRING_EQUAL(e.component, "out:main");
    CU_ASSERT_EQUAL(e.kind, EV_SWITCH);
    CU_ASSERT_EQUAL(e.seq, 8);
    CU_ASSERT_EQUAL(drill_parse_event("{\"mono_us\":1,\"kind\":\"newer\"}", &e), 0);
    CU_ASSERT_EQUAL(e.kind, EV_NB_KINDS);
    CU_ASSERT(drill_parse_event("{\"mono_us\":1,\"kind\":\"fau", &e) < 0);   /* cut by a crash */
    CU_ASSERT(drill_parse_event("[1]", &e) < 0);
}

int main(void)
{
    CU_pSuite s;
    int failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("drill", NULL, NULL);
    if (!s ||
        !CU_add_test(s, "all hold", test_all_hold) ||
        !CU_add_test(s, "each fails", test_each_fails) ||
        !CU_add_test(s, "no failure after a fault", test_no_failure) ||
        !CU_add_test(s, "attribution", test_attribution) ||
        !CU_add_test(s, "drills", test_drills) ||
        !CU_add_test(s, "exit", test_exit) ||
        !CU_add_test(s, "events file lines", test_parse)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
