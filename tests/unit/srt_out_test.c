/*
 * srt_out_test.c: an SRT output's send buffer, write timeout and options,
 * on synthetic jobs.
 */
#include <string.h>

#include <CUnit/Basic.h>

#include "plane/srt_out.c"

static void test_is_srt(void)
{
    CU_ASSERT(srt_out_is_srt("srt://h:9000?mode=caller"));
    CU_ASSERT(srt_out_is_srt("SRT://h:9000"));
    CU_ASSERT(!srt_out_is_srt("srtp://h:9000"));
    CU_ASSERT(!srt_out_is_srt("udp://h:9000"));
    CU_ASSERT(!srt_out_is_srt(NULL));
}

static void test_plan(void)
{
    SrtOutPlan p;

    /* bit rate unknown: the cap, half the deadline */
    p = srt_out_plan(1000000, 262144, 0);
    CU_ASSERT_EQUAL(p.sndbuf, 262144);
    CU_ASSERT_EQUAL(p.write_timeout_us, 500000);

    /* 4 Mbit/s: half a second is 250000 bytes, under the cap; it fills in
     * 0.5 s, the write waits what is left of the second but libsrt's poll */
    p = srt_out_plan(1000000, 262144, 4000000);
    CU_ASSERT_EQUAL(p.sndbuf, 250000);
    CU_ASSERT_EQUAL(p.write_timeout_us, 400000);

    /* 20 Mbit/s: the cap holds (0.1 s), the write waits longer */
    p = srt_out_plan(1000000, 262144, 20000000);
    CU_ASSERT_EQUAL(p.sndbuf, 262144);
    CU_ASSERT(p.write_timeout_us > 700000 && p.write_timeout_us < 900000);

    /* a trickle: never below SRT_OUT_MIN_PACKETS packets, and the write
     * never waits less than a quarter of the deadline */
    p = srt_out_plan(1000000, 262144, 64000);
    CU_ASSERT_EQUAL(p.sndbuf, SRT_OUT_MIN_PACKETS * SRT_OUT_PACKET);
    CU_ASSERT_EQUAL(p.write_timeout_us, 250000);

    /* no cap given: the default one */
    p = srt_out_plan(2000000, 0, 0);
    CU_ASSERT_EQUAL(p.sndbuf, SRT_OUT_SEND_BUFFER);
    CU_ASSERT_EQUAL(p.write_timeout_us, 1000000);
}

static void test_bitrate(void)
{
    JobRendition r[2] = { { .bitrate = 3000000 }, { .bitrate = 1000000 } };
    int idx[2] = { 0, 1 };
    JobStream js = { .renditions = r, .nb_renditions = 2,
                     .audio = { .enabled = 1, .bitrate = 128000 } };
    JobOutput jo = { .renditions = idx, .nb_renditions = 1 };
    AVDictionary *opts = NULL;

    /* one rendition and the audio, plus 10 % */
    CU_ASSERT_EQUAL(srt_out_bitrate(&js, &jo, NULL), 3128000 + 312800);
    jo.renditions = &idx[1];
    js.audio.enabled = 0;
    CU_ASSERT_EQUAL(srt_out_bitrate(&js, &jo, NULL), 1100000);
    /* the muxer's own rate wins */
    av_dict_set(&opts, "muxrate", "6000000", 0);
    CU_ASSERT_EQUAL(srt_out_bitrate(&js, &jo, opts), 6000000);
    av_dict_free(&opts);
    /* a rendition at the encoder's default: unknown */
    r[1].bitrate = 0;
    CU_ASSERT_EQUAL(srt_out_bitrate(&js, &jo, NULL), 0);
}

static const char *get(const AVDictionary *d, const char *key)
{
    const AVDictionaryEntry *e = av_dict_get(d, key, NULL, 0);
    return e ? e->value : NULL;
}

static void test_options(void)
{
    SrtOutPlan p = { 29400, 400000 };
    AVDictionary *opts = NULL;

    CU_ASSERT_EQUAL(srt_out_options(&opts, "srt://h:9000?mode=caller", &p), 0);
    CU_ASSERT_STRING_EQUAL(get(opts, "tlpktdrop"), "0");
    CU_ASSERT_STRING_EQUAL(get(opts, "sndbuf"), "29400");
    CU_ASSERT_STRING_EQUAL(get(opts, "linger"), "1");
    av_dict_free(&opts);

    /* what the job sets wins: in the query, or in options */
    av_dict_set(&opts, "sndbuf", "1000000", 0);
    CU_ASSERT_EQUAL(srt_out_options(&opts, "srt://h:9000?tlpktdrop=1&linger=0", &p), 0);
    CU_ASSERT_PTR_NULL(get(opts, "tlpktdrop"));
    CU_ASSERT_PTR_NULL(get(opts, "linger"));
    CU_ASSERT_STRING_EQUAL(get(opts, "sndbuf"), "1000000");
    av_dict_free(&opts);

    /* the write timeout is the job's when it names SRT's own */
    CU_ASSERT(job_sets("srt://h:9000?timeout=2000000", NULL, "timeout"));
    CU_ASSERT(!job_sets("srt://h:9000?mode=caller", NULL, "timeout"));
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("srt_out", NULL, NULL);
    CU_add_test(s, "is_srt", test_is_srt);
    CU_add_test(s, "plan", test_plan);
    CU_add_test(s, "bitrate", test_bitrate);
    CU_add_test(s, "options", test_options);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
