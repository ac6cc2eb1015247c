/*
 * continuity_test.c: an output's count of frames lost (plane/continuity.c)
 * on synthetic decoding times: a steady timeline, gaps of every size and
 * past the window, a backup replaying what its predecessor wrote, two
 * destinations overlapping at a planned switch, timing jitter, an unknown
 * frame rate, a tail never written, and several muxer threads at once.
 */
#include <pthread.h>
#include <stdint.h>

#include <CUnit/Basic.h>
#include <libavutil/avutil.h>
#include <libavutil/mathematics.h>

#include "plane/continuity.h"

#define F 40000                  /* 25 fps, in microseconds */
#define FR ((AVRational){ 25, 1 })
#define FR_NTSC ((AVRational){ 30000, 1001 })
#define FR_30 ((AVRational){ 30, 1 })
#define FR_UNKNOWN ((AVRational){ 0, 1 })

static void test_steady(void)
{
    ContTrack t;

    cont_track_init(&t);
    for (int i = 0; i < 5000; i++)
        CU_ASSERT_EQUAL(cont_track_written(&t, 1000000 + (int64_t)i * F, FR), 0);
    CU_ASSERT_EQUAL(cont_track_close(&t), 0);
    CU_ASSERT_EQUAL(t.frames, 5000);
    CU_ASSERT_EQUAL(t.lost, 0);
}

static void test_gaps(void)
{
    ContTrack t;

    cont_track_init(&t);
    cont_track_written(&t, 0, FR);
    cont_track_written(&t, 2 * F, FR);        /* one missing */
    cont_track_written(&t, 12 * F, FR);       /* nine */
    cont_track_written(&t, 13 * F, FR);
    CU_ASSERT_EQUAL(t.lost, 0);               /* not settled yet: may still come */
    CU_ASSERT_EQUAL(cont_track_close(&t), 10);
    CU_ASSERT_EQUAL(t.frames, 4);
    /* frames leave the window unwritten: settled as they go */
    cont_track_init(&t);
    cont_track_written(&t, 0, FR);
    CU_ASSERT_EQUAL(cont_track_written(&t, (int64_t)(CONT_WINDOW + 10) * F, FR), 10);
    CU_ASSERT_EQUAL(cont_track_close(&t), CONT_WINDOW - 1);
    /* a jump far past the window */
    cont_track_init(&t);
    cont_track_written(&t, 0, FR);
    cont_track_written(&t, (int64_t)(5 * CONT_WINDOW) * F, FR);
    cont_track_close(&t);
    CU_ASSERT_EQUAL(t.lost, 5 * CONT_WINDOW - 1);
    CU_ASSERT_EQUAL(t.frames, 2);
}

/* A backup starts from the keyframe before the front: the replayed
 * frames were written already and cost nothing; so do the old
 * destination's last packets while it drains. */
static void test_replay(void)
{
    ContTrack t;

    cont_track_init(&t);
    for (int i = 0; i <= 30; i++)
        cont_track_written(&t, (int64_t)i * F, FR);
    for (int i = 25; i <= 40; i++)                 /* the backup, from the GOP */
        cont_track_written(&t, (int64_t)i * F, FR);
    cont_track_written(&t, 35 * F, FR);             /* the old one, late */
    CU_ASSERT_EQUAL(t.frames, 41);
    /* a backup that could only start after a hole */
    cont_track_written(&t, 46 * F, FR);
    CU_ASSERT_EQUAL(cont_track_close(&t), 5);
}

/* A planned switch: the new destination starts at its keyframe while the
 * old one still writes the frames before it, later. Nothing is lost. */
static void test_overlap(void)
{
    ContTrack t;

    cont_track_init(&t);
    for (int i = 0; i < 170; i++)                  /* the old one, behind */
        cont_track_written(&t, (int64_t)i * F, FR);
    for (int i = 210; i < 260; i++)                /* the new one, from 210 */
        cont_track_written(&t, (int64_t)i * F, FR);
    for (int i = 170; i < 215; i++)                /* the old one drains to it */
        cont_track_written(&t, (int64_t)i * F, FR);
    CU_ASSERT_EQUAL(cont_track_close(&t), 0);
    CU_ASSERT_EQUAL(t.frames, 260);
}

/* Time bases that cannot hold a frame exactly (90 kHz at 30000/1001,
 * milliseconds at 30 fps) jitter by a tick: never a loss. */
static void test_jitter(void)
{
    ContTrack t;

    cont_track_init(&t);
    for (int i = 0; i < 300; i++)
        cont_track_written(&t, (int64_t)i * 1001000 / 30 + (i % 3 == 0) * 1000, FR_NTSC);
    CU_ASSERT_EQUAL(cont_track_close(&t), 0);
    CU_ASSERT_EQUAL(t.frames, 300);
    cont_track_init(&t);
    for (int i = 0; i < 300; i++)
        cont_track_written(&t, (int64_t)i * 100000 / 3 / 1000 * 1000, FR_30);
    CU_ASSERT_EQUAL(cont_track_close(&t), 0);
    CU_ASSERT_EQUAL(t.frames, 300);
}

/* Hours of frames at rates whose frame is no whole number of microseconds
 * (59.94, 29.97, 23.976) in a 90 kHz time base: not one frame lost. A
 * frame duration rounded to microseconds would drift a frame every 25,000
 * frames. */
static void test_long_run(void)
{
    static const AVRational rates[] = { { 60000, 1001 }, { 30000, 1001 }, { 24000, 1001 } };
    ContTrack t;

    for (int r = 0; r < 3; r++) {
        cont_track_init(&t);
        for (int64_t i = 0; i < 400000; i++) {
            int64_t ts90k = av_rescale_q(i, av_inv_q(rates[r]), (AVRational){ 1, 90000 });
            cont_track_written(&t, av_rescale_q(ts90k, (AVRational){ 1, 90000 }, AV_TIME_BASE_Q),
                               rates[r]);
        }
        CU_ASSERT_EQUAL(cont_track_close(&t), 0);
        CU_ASSERT_EQUAL(t.frames, 400000);
    }
    /* unknown rate, millisecond time base (FLV): the mean step of one frame */
    cont_track_init(&t);
    for (int64_t i = 0; i < 100000; i++)
        cont_track_written(&t, av_rescale(i, 1000, 30) * 1000, FR_UNKNOWN);
    CU_ASSERT_EQUAL(cont_track_close(&t), 0);
    CU_ASSERT_EQUAL(t.frames, 100000);
}

/* Without a frame rate the smallest step seen is the frame. */
static void test_learned_step(void)
{
    ContTrack t;

    cont_track_init(&t);
    cont_track_written(&t, 0, FR_UNKNOWN);
    cont_track_written(&t, F, FR_UNKNOWN);
    cont_track_written(&t, 4 * F, FR_UNKNOWN);
    cont_track_written(&t, 5 * F, FR_UNKNOWN);
    CU_ASSERT_EQUAL(t.step_min_us, F);
    CU_ASSERT_EQUAL(cont_track_close(&t), 2);
}

/* The output ends: what it was given past what was written was never
 * written (a destination failed while draining, nothing to go on with). */
static void test_tail(void)
{
    ContTrack t;

    cont_track_init(&t);
    for (int i = 0; i < 300; i++)
        cont_track_received(&t, (int64_t)i * F, FR);
    for (int i = 0; i < 118; i++)
        cont_track_written(&t, (int64_t)i * F, FR);
    CU_ASSERT_EQUAL(cont_track_close(&t), 182);
    CU_ASSERT_EQUAL(t.lost, 182);
    CU_ASSERT_EQUAL(cont_track_close(&t), 0);                /* once */
    /* all written: nothing */
    cont_track_init(&t);
    for (int i = 0; i < 10; i++) {
        cont_track_received(&t, (int64_t)i * F, FR);
        cont_track_written(&t, (int64_t)i * F, FR);
    }
    CU_ASSERT_EQUAL(cont_track_close(&t), 0);
    /* nothing written at all: every frame given */
    cont_track_init(&t);
    for (int i = 0; i < 7; i++)
        cont_track_received(&t, (int64_t)i * F, FR);
    CU_ASSERT_EQUAL(cont_track_close(&t), 7);
    /* nothing given: nothing */
    cont_track_init(&t);
    CU_ASSERT_EQUAL(cont_track_close(&t), 0);
}

typedef struct Writer {
    Continuity *c;
    int from, to;
} Writer;

static void *writer(void *arg)
{
    Writer *w = arg;

    for (int i = w->from; i < w->to; i++)
        continuity_written(w->c, 0, (int64_t)i * F, FR);
    return NULL;
}

/* Two destinations write overlapping stretches from their own threads; the
 * counts stay exact. Index out of range and audio are not counted. */
static void test_threads(void)
{
    Continuity *c = NULL;
    pthread_t th[2];
    Writer w[2];
    int64_t frames, lost;

    CU_ASSERT_EQUAL(continuity_alloc(&c, 2), 0);
    continuity_written(c, 0, 0, FR);
    w[0] = (Writer){ c, 1, 20000 };
    w[1] = (Writer){ c, 1, 20000 };
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, writer, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    continuity_written(c, 5, 0, FR);
    continuity_written(c, -1, 0, FR);
    continuity_totals(c, &frames, &lost);
    /* racing writers: the front moves on each frame once; a writer that
     * comes second finds its frame written */
    CU_ASSERT_EQUAL(lost, 0);
    CU_ASSERT_EQUAL(frames, 20000);      /* each frame once, whoever wrote it */
    continuity_written(c, 1, 0, FR);
    continuity_written(c, 1, 3 * F, FR);
    continuity_close(c);
    continuity_totals(c, &frames, &lost);
    CU_ASSERT_EQUAL(lost, 2);
    continuity_free(&c);
    continuity_free(&c);         /* NULL-safe */
    CU_ASSERT_PTR_NULL(c);
}

int main(void)
{
    CU_pSuite s;
    int failures;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("continuity", NULL, NULL);
    if (!s ||
        !CU_add_test(s, "steady", test_steady) ||
        !CU_add_test(s, "gaps", test_gaps) ||
        !CU_add_test(s, "replay", test_replay) ||
        !CU_add_test(s, "overlap", test_overlap) ||
        !CU_add_test(s, "jitter", test_jitter) ||
        !CU_add_test(s, "learned step", test_learned_step) ||
        !CU_add_test(s, "long run", test_long_run) ||
        !CU_add_test(s, "tail", test_tail) ||
        !CU_add_test(s, "threads", test_threads)) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures;
}
