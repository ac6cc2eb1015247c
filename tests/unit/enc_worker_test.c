/*
 * enc_worker_test.c: an encoder's calls on a worker thread (plane/
 * enc_worker.h), with libavcodec's rawvideo encoder (no delay: one packet
 * per frame): posted calls run in order and their packets are taken
 * together; a take waits only down to max_left calls; a failing call
 * drops the calls queued behind it and its error comes once; a call that
 * hangs fills the queue and is given up at its deadline, with the encoder.
 */
#include <CUnit/Basic.h>
#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/time.h>

#include "plane/enc_worker.h"

#define W 16
#define H 16

/* A rawvideo encoder, opened unless open is 0. */
static CodecInst encoder(int open)
{
    CodecInst ci = { 0 };
    const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_RAWVIDEO);

    CU_ASSERT_FATAL(c != NULL);
    ci.ctx = avcodec_alloc_context3(c);
    CU_ASSERT_FATAL(ci.ctx != NULL);
    ci.ctx->width = W;
    ci.ctx->height = H;
    ci.ctx->pix_fmt = AV_PIX_FMT_GRAY8;
    ci.ctx->time_base = (AVRational){ 1, 30 };
    if (open)
        CU_ASSERT_FATAL(avcodec_open2(ci.ctx, c, NULL) == 0);
    return ci;
}

static AVFrame *frame(int64_t pts)
{
    AVFrame *f = av_frame_alloc();

    CU_ASSERT_FATAL(f != NULL);
    f->width = W;
    f->height = H;
    f->format = AV_PIX_FMT_GRAY8;
    CU_ASSERT_FATAL(av_frame_get_buffer(f, 0) == 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            f->data[0][y * f->linesize[0] + x] = (uint8_t)(pts + x);
    f->pts = pts;
    return f;
}

static void test_post_and_take(void)
{
    EncWorker *w;
    CodecInst ci = encoder(1);
    AVPacket **pkts;
    int nb;
    int64_t busy = -1;

    CU_ASSERT_FATAL(enc_worker_alloc(&w, "t/enc:w") == 0);
    for (int i = 0; i < 5; i++)
        CU_ASSERT(enc_worker_post(w, &ci, frame(i), 0) == 0);
    /* down to 5 left: no wait, and whatever is done so far */
    CU_ASSERT(enc_worker_take(&w, &ci, 5, 1000000, &pkts, &nb, NULL) == 0);
    CU_ASSERT(nb >= 0 && nb <= 5);
    enc_worker_free_packets(&pkts, nb);
    for (int i = 5; i < 8; i++)
        CU_ASSERT(enc_worker_post(w, &ci, frame(i), 0) == 0);
    /* all done: the packets of the calls not taken yet, in order */
    CU_ASSERT(enc_worker_take(&w, &ci, 0, 1000000, &pkts, &nb, &busy) == 0);
    CU_ASSERT_FATAL(nb >= 3 && nb <= 8);
    for (int k = 0; k < nb; k++)
        CU_ASSERT(pkts[k]->pts == 8 - nb + k);
    CU_ASSERT(busy >= 0);
    enc_worker_free_packets(&pkts, nb);
    /* the synchronous call on the same worker */
    CU_ASSERT(enc_worker_call(&w, &ci, frame(8), 0, 1000000, &pkts, &nb) == 0);
    CU_ASSERT(nb == 1 && pkts[0]->pts == 8 && pkts[0]->size == W * H);
    enc_worker_free_packets(&pkts, nb);
    enc_worker_free(&w);
    CU_ASSERT(w == NULL);
    avcodec_free_context(&ci.ctx);
}

static void test_error_drops_the_rest(void)
{
    EncWorker *w;
    CodecInst ci = encoder(0);   /* not open: every send fails */
    AVPacket **pkts;
    int nb;

    CU_ASSERT_FATAL(enc_worker_alloc(&w, "t/enc:w") == 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT(enc_worker_post(w, &ci, frame(i), 0) == 0);
    CU_ASSERT(enc_worker_take(&w, &ci, 0, 1000000, &pkts, &nb, NULL) == AVERROR(EINVAL));
    CU_ASSERT(nb == 0);
    /* said once */
    CU_ASSERT(enc_worker_take(&w, &ci, 0, 1000000, &pkts, &nb, NULL) == 0);
    enc_worker_free(&w);
    avcodec_free_context(&ci.ctx);
}

/* With a deadline: posted calls wait behind the hung one; the queue is
 * bounded; the take gives the worker up, and ci with it. */
static void test_hang_deadline(void)
{
    EncWorker *w;
    CodecInst ci = encoder(1);
    AVPacket **pkts;
    int nb, posted = 0;
    int64_t t0;

    CU_ASSERT_FATAL(enc_worker_alloc(&w, "t/enc:w") == 0);
    CU_ASSERT(enc_worker_post(w, &ci, frame(0), 1) == 0);
    for (int i = 1; i <= ENC_WORKER_QUEUE + 4; i++) {
        AVFrame *f = frame(i);
        if (enc_worker_post(w, &ci, f, 0) == 0) {
            posted++;
        } else {
            av_frame_free(&f);   /* untouched on failure */
            break;
        }
    }
    /* the hung call left the queue, or is about to: 16 or 15 more fit */
    CU_ASSERT(posted >= ENC_WORKER_QUEUE - 1 && posted <= ENC_WORKER_QUEUE);
    t0 = av_gettime_relative();
    CU_ASSERT(enc_worker_take(&w, &ci, 0, 200000, &pkts, &nb, NULL) == AVERROR(ETIMEDOUT));
    CU_ASSERT(av_gettime_relative() - t0 >= 150000);
    CU_ASSERT(w == NULL);
    CU_ASSERT(ci.ctx == NULL);   /* the worker's now; it never returns */
    CU_ASSERT(nb == 0);
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("enc_worker", NULL, NULL);
    CU_add_test(s, "posted calls in order, taken together", test_post_and_take);
    CU_add_test(s, "a failing call drops the rest, said once", test_error_drops_the_rest);
    CU_add_test(s, "a hung call: the queue bounded, given up at the deadline", test_hang_deadline);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
