/*
 * tq_test.c: the bounded queue between stage threads: order, bounds,
 * timeouts, ending from either side, several senders, and a threaded
 * producer/consumer run.
 */
#include <pthread.h>

#include <CUnit/Basic.h>
#include <libavcodec/packet.h>
#include <libavutil/error.h>

#include "plane/tq.h"

static void test_order_and_bounds(void)
{
    ThreadQueue *q = tq_alloc(3, 1);
    int kind, index;
    void *ptr;

    CU_ASSERT_FATAL(q != NULL);
    for (int i = 0; i < 3; i++)
        CU_ASSERT(tq_send(q, TQ_END, i, NULL) == 0);
    CU_ASSERT(tq_depth(q) == 3);
    /* full: a bounded send gives up */
    CU_ASSERT(tq_send_timeout(q, TQ_END, 9, NULL, 20000) == AVERROR(ETIMEDOUT));
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(tq_recv(q, &kind, &index, &ptr, 0) == 0);
        CU_ASSERT(kind == TQ_END);
        CU_ASSERT(index == i);
    }
    /* empty: a bounded receive gives up */
    CU_ASSERT(tq_recv(q, &kind, &index, &ptr, 20000) == AVERROR(EAGAIN));
    tq_free(&q);
    CU_ASSERT(q == NULL);
    tq_free(&q);                 /* NULL is fine */
}

static void test_sender_end(void)
{
    ThreadQueue *q = tq_alloc(4, 2);
    int kind, index;
    void *ptr;

    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT(tq_send(q, TQ_END, 7, NULL) == 0);
    tq_send_done(q);
    /* one sender left: the item, then a wait, not EOF */
    CU_ASSERT(tq_recv(q, &kind, &index, &ptr, 0) == 0);
    CU_ASSERT(index == 7);
    CU_ASSERT(tq_recv(q, &kind, &index, &ptr, 10000) == AVERROR(EAGAIN));
    tq_send_done(q);
    CU_ASSERT(tq_recv(q, &kind, &index, &ptr, -1) == AVERROR_EOF);
    tq_free(&q);
}

static void test_receiver_end(void)
{
    ThreadQueue *q = tq_alloc(4, 1);
    AVPacket *pkt = av_packet_alloc();

    CU_ASSERT_FATAL(q != NULL && pkt != NULL);
    CU_ASSERT(av_new_packet(pkt, 1000) == 0);
    CU_ASSERT(tq_send(q, TQ_PACKET, 0, pkt) == 0);   /* consumed */
    CU_ASSERT(!tq_receiver_done(q));
    tq_recv_done(q);                                  /* frees the packet */
    CU_ASSERT(tq_receiver_done(q));
    CU_ASSERT(tq_depth(q) == 0);
    pkt = av_packet_alloc();
    CU_ASSERT(tq_send(q, TQ_PACKET, 0, pkt) == AVERROR_EOF);   /* untouched */
    av_packet_free(&pkt);
    tq_free(&q);
}

/* A sender blocked on a full queue wakes with EOF when the receiver ends. */
static void *blocked_sender(void *arg)
{
    ThreadQueue *q = arg;
    static int ret;
    tq_send(q, TQ_END, 0, NULL);
    ret = tq_send(q, TQ_END, 1, NULL);    /* blocks: capacity 1 */
    return &ret;
}

static void test_receiver_end_wakes_sender(void)
{
    ThreadQueue *q = tq_alloc(1, 1);
    pthread_t th;
    void *res;

    CU_ASSERT_FATAL(q != NULL);
    pthread_create(&th, NULL, blocked_sender, q);
    while (tq_depth(q) < 1)
        ;
    tq_recv_done(q);
    pthread_join(th, &res);
    CU_ASSERT(*(int *)res == AVERROR_EOF);
    tq_free(&q);
}

#define N_ITEMS 20000

static void *producer(void *arg)
{
    ThreadQueue *q = arg;
    for (int i = 0; i < N_ITEMS; i++)
        tq_send(q, TQ_END, i, NULL);
    tq_send_done(q);
    return NULL;
}

static void test_threaded_order(void)
{
    ThreadQueue *q = tq_alloc(8, 1);
    pthread_t th;
    int kind, index, expect = 0, ret;
    void *ptr;

    CU_ASSERT_FATAL(q != NULL);
    pthread_create(&th, NULL, producer, q);
    while ((ret = tq_recv(q, &kind, &index, &ptr, -1)) == 0) {
        if (index != expect)
            break;
        expect++;
    }
    CU_ASSERT(ret == AVERROR_EOF);
    CU_ASSERT(expect == N_ITEMS);
    pthread_join(th, NULL);
    tq_free(&q);
}

static void test_bad_args(void)
{
    CU_ASSERT(tq_alloc(0, 1) == NULL);
    CU_ASSERT(tq_alloc(1, 0) == NULL);
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("tq", NULL, NULL);
    CU_add_test(s, "order and bounds", test_order_and_bounds);
    CU_add_test(s, "senders end", test_sender_end);
    CU_add_test(s, "receiver ends", test_receiver_end);
    CU_add_test(s, "receiver end wakes a blocked sender", test_receiver_end_wakes_sender);
    CU_add_test(s, "threaded order", test_threaded_order);
    CU_add_test(s, "bad arguments", test_bad_args);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
