/*
 * inst_test.c: the request seam of the data plane: a stage's mailbox keeps
 * order, refuses when full and never blocks, and refuses
 * once the stage has ended; the instance state machine's moves; back-off.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>
#include <libavutil/time.h>

#include "plane/inst.h"
#include "plane/stage.h"

static int run_nothing(void *arg)
{
    (void)arg;
    return 0;
}

static void test_mailbox_order_and_bound(void)
{
    Stage s = { 0 };
    CompRequest r;
    int64_t t0;

    stage_init(&s, "news", "out:main", NULL, run_nothing);
    t0 = av_gettime_relative();
    for (int i = 0; i < STAGE_MAILBOX; i++) {
        CompRequest q = { .op = COMP_OP_SWITCH, .instance = i % 3, .seq = 100 + i };
        CU_ASSERT(stage_post(&s, &q) == 0);
    }
    /* full: refused at once, never blocks, nothing lost of what waits */
    {
        CompRequest q = { .op = COMP_OP_PROVISION, .instance = 1, .seq = 999 };
        CU_ASSERT(stage_post(&s, &q) == AVERROR(EAGAIN));
    }
    CU_ASSERT(av_gettime_relative() - t0 < 100000);
    {
        CompStatus st;
        stage_status(&s, &st);
        CU_ASSERT(st.pending == STAGE_MAILBOX);
    }
    for (int i = 0; i < STAGE_MAILBOX; i++) {
        CU_ASSERT_FATAL(stage_take(&s, &r) == 1);
        CU_ASSERT(r.seq == (uint32_t)(100 + i));
        CU_ASSERT(r.instance == i % 3);
    }
    CU_ASSERT(stage_take(&s, &r) == 0);
    /* room again, and the ring wraps in order */
    for (int i = 0; i < 5; i++) {
        CompRequest q = { .op = COMP_OP_RELEASE, .instance = 1, .seq = 200 + i };
        CU_ASSERT(stage_post(&s, &q) == 0);
    }
    for (int i = 0; i < 5; i++) {
        CU_ASSERT(stage_take(&s, &r) == 1);
        CU_ASSERT(r.seq == (uint32_t)(200 + i));
    }
    stage_uninit(&s);
}

static void test_mailbox_after_end(void)
{
    Stage s = { 0 };
    CompRequest q = { .op = COMP_OP_SWITCH, .instance = 0, .seq = 1 };

    stage_init(&s, "news", "enc:720p", NULL, run_nothing);
    CU_ASSERT(stage_start(&s) == 0);
    CU_ASSERT(stage_join(&s) == 0);
    CU_ASSERT(stage_state(&s) == STAGE_DONE);
    CU_ASSERT(stage_post(&s, &q) == AVERROR(ENODEV));
    stage_uninit(&s);
}

/* Posting from several threads at once: every request arrives once, and
 * each thread's requests in the order it posted them. */
typedef struct Poster {
    Stage *s;
    int id;
    int posted;
} Poster;

static void *post_many(void *arg)
{
    Poster *p = arg;

    for (int i = 0; i < 200; i++) {
        CompRequest q = { .op = COMP_OP_SWITCH, .instance = p->id, .seq = (uint32_t)(p->id * 1000 + i) };
        while (stage_post(p->s, &q) == AVERROR(EAGAIN))
            av_usleep(100);
        p->posted++;
    }
    return NULL;
}

static void test_mailbox_threads(void)
{
    Stage s = { 0 };
    Poster p[3];
    pthread_t t[3];
    int next[3] = { 0 }, got = 0;
    CompRequest r;

    stage_init(&s, "news", "input", NULL, run_nothing);
    for (int i = 0; i < 3; i++) {
        p[i] = (Poster){ &s, i, 0 };
        pthread_create(&t[i], NULL, post_many, &p[i]);
    }
    while (got < 600) {
        if (!stage_take(&s, &r)) {
            av_usleep(50);
            continue;
        }
        CU_ASSERT(r.seq == (uint32_t)(r.instance * 1000 + next[r.instance]));
        next[r.instance]++;
        got++;
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT(stage_take(&s, &r) == 0);
    stage_uninit(&s);
}

static void test_heartbeat_and_publish(void)
{
    Stage s = { 0 };
    CompStatus st = { .nb_instances = 2, .active = 1 }, got;

    stage_init(&s, "news", "enc:720p", NULL, run_nothing);
    stage_status(&s, &got);
    CU_ASSERT(got.active == -1);
    CU_ASSERT(got.last_progress_us == 0);
    stage_beat(&s, 1);
    st.inst[1].state = INST_ACTIVE;
    stage_publish(&s, &st);
    stage_status(&s, &got);
    CU_ASSERT(got.nb_instances == 2 && got.active == 1);
    CU_ASSERT(got.inst[1].state == INST_ACTIVE);
    /* publishing keeps the heartbeat: only the stage's beat moves it */
    CU_ASSERT(got.busy_since_us > 0);
    CU_ASSERT(got.last_progress_us == got.busy_since_us);
    stage_beat(&s, 0);
    stage_status(&s, &got);
    CU_ASSERT(got.busy_since_us == 0);
    CU_ASSERT(got.last_progress_us > 0);
    stage_uninit(&s);
}

static void test_state_machine(void)
{
    InstStatus st = { 0 };

    /* the normal life of a backup: provisioned, used, handed over */
    CU_ASSERT(inst_set(&st, INST_OPENING, 10) == 0);
    CU_ASSERT(st.since_us == 10);
    CU_ASSERT(inst_set(&st, INST_READY, 20) == 0);
    CU_ASSERT(inst_set(&st, INST_ACTIVE, 30) == 0);
    CU_ASSERT(inst_set(&st, INST_DRAINING, 40) == 0);
    CU_ASSERT(inst_set(&st, INST_IDLE, 50) == 0);
    CU_ASSERT(st.state == INST_IDLE && st.since_us == 50);
    /* moves that do not exist leave it as it was */
    CU_ASSERT(inst_set(&st, INST_DRAINING, 60) == AVERROR(EINVAL));
    CU_ASSERT(st.state == INST_IDLE && st.since_us == 50);
    CU_ASSERT(!inst_transition_ok(INST_IDLE, INST_DRAINING));
    CU_ASSERT(!inst_transition_ok(INST_BACKOFF, INST_READY));
    CU_ASSERT(!inst_transition_ok(INST_BACKOFF, INST_DRAINING));
    CU_ASSERT(!inst_transition_ok(INST_READY, INST_DRAINING));
    CU_ASSERT(!inst_transition_ok(INST_READY, INST_READY));
    CU_ASSERT(!inst_transition_ok(INST_NB_STATES, INST_IDLE));
    /* a failure from every open state; a retry from back-off */
    CU_ASSERT(inst_transition_ok(INST_OPENING, INST_BACKOFF));
    CU_ASSERT(inst_transition_ok(INST_READY, INST_BACKOFF));
    CU_ASSERT(inst_transition_ok(INST_ACTIVE, INST_BACKOFF));
    CU_ASSERT(inst_transition_ok(INST_DRAINING, INST_BACKOFF));
    CU_ASSERT(inst_transition_ok(INST_BACKOFF, INST_OPENING));
    /* staying put is no move, and changes nothing */
    CU_ASSERT(inst_set(&st, INST_IDLE, 70) == 0);
    CU_ASSERT(st.since_us == 50);
    st.state = INST_BACKOFF;
    st.retry_at_us = 99;
    CU_ASSERT(inst_set(&st, INST_OPENING, 80) == 0);
    CU_ASSERT(st.retry_at_us == 0);
    for (int i = 0; i < INST_NB_STATES; i++)
        CU_ASSERT(strcmp(inst_state_name(i), "?") != 0);
    CU_ASSERT_STRING_EQUAL(comp_op_name(COMP_OP_SWITCH), "switch");
    CU_ASSERT_STRING_EQUAL(comp_op_name(COMP_OP_ADD), "add");

    /* a released dynamic backup's slot: only filled again, never used as is */
    CU_ASSERT_STRING_EQUAL(inst_state_name(INST_VACANT), "vacant");
    CU_ASSERT(inst_transition_ok(INST_IDLE, INST_VACANT));
    CU_ASSERT(inst_transition_ok(INST_BACKOFF, INST_VACANT));
    CU_ASSERT(inst_transition_ok(INST_VACANT, INST_OPENING));
    CU_ASSERT(!inst_transition_ok(INST_VACANT, INST_READY));
    CU_ASSERT(!inst_transition_ok(INST_VACANT, INST_ACTIVE));
    CU_ASSERT(!inst_transition_ok(INST_ACTIVE, INST_VACANT));
    CU_ASSERT(!inst_transition_ok(INST_READY, INST_VACANT));
}

static void test_observe(void)
{
    InstStatus pub = { 0 };

    /* the state's time moves only when the state changes */
    inst_observe(&pub, INST_OPENING, 0, 0, 100);
    inst_observe(&pub, INST_OPENING, 0, 0, 200);
    CU_ASSERT(pub.state == INST_OPENING && pub.since_us == 100);
    /* a retry time is kept in back-off only */
    inst_observe(&pub, INST_BACKOFF, 2, 5000, 300);
    CU_ASSERT(pub.state == INST_BACKOFF && pub.since_us == 300);
    CU_ASSERT(pub.fails == 2 && pub.retry_at_us == 5000);
    inst_observe(&pub, INST_READY, 2, 5000, 400);
    CU_ASSERT(pub.retry_at_us == 0 && pub.since_us == 400 && pub.fails == 2);
}

static void test_backoff(void)
{
    CU_ASSERT(inst_backoff(1, 1000000, 30000000) == 1000000);
    CU_ASSERT(inst_backoff(2, 1000000, 30000000) == 2000000);
    CU_ASSERT(inst_backoff(5, 1000000, 30000000) == 16000000);
    CU_ASSERT(inst_backoff(6, 1000000, 30000000) == 30000000);
    CU_ASSERT(inst_backoff(1000, 1000000, 30000000) == 30000000);
    CU_ASSERT(inst_backoff(0, 500000, 10000000) == 500000);
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("inst", NULL, NULL);
    CU_add_test(s, "mailbox order and bound", test_mailbox_order_and_bound);
    CU_add_test(s, "mailbox after the stage ended", test_mailbox_after_end);
    CU_add_test(s, "mailbox from several threads", test_mailbox_threads);
    CU_add_test(s, "heartbeat and published status", test_heartbeat_and_publish);
    CU_add_test(s, "instance state machine", test_state_machine);
    CU_add_test(s, "observed states", test_observe);
    CU_add_test(s, "back-off", test_backoff);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
