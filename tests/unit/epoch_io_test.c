/*
 * epoch_io_test.c: an epoch-locked DASH output's segment names and MPD
 * (plane/epoch_io.h), on the MPD libav 5.1's DASH muxer writes (its
 * dynamic MPD as t_fleet_dash captured it, with the $Time$ names
 * hotspare asks for, plus an audio set), and on the static one it writes
 * at its end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>

#include "plane/epoch_io.h"

static const char live_mpd[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<MPD xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"\n"
    "\txmlns=\"urn:mpeg:dash:schema:mpd:2011\"\n"
    "\tprofiles=\"urn:mpeg:dash:profile:isoff-live:2011\"\n"
    "\ttype=\"dynamic\"\n"
    "\tminimumUpdatePeriod=\"PT1S\"\n"
    "\tsuggestedPresentationDelay=\"PT1S\"\n"
    "\tavailabilityStartTime=\"2026-12-06T08:39:39.748Z\"\n"
    "\tpublishTime=\"2026-12-06T08:39:43.182Z\"\n"
    "\ttimeShiftBufferDepth=\"PT5.0S\"\n"
    "\tmaxSegmentDuration=\"PT1.0S\"\n"
    "\tminBufferTime=\"PT2.0S\">\n"
    "\t<Period id=\"0\" start=\"PT0.0S\">\n"
    "\t\t<AdaptationSet id=\"0\" contentType=\"video\" startWithSAP=\"1\" segmentAlignment=\"true\">\n"
    "\t\t\t<Representation id=\"0\" mimeType=\"video/mp4\" codecs=\"avc1.42c00c\" bandwidth=\"100000\">\n"
    "\t\t\t\t<SegmentTemplate timescale=\"90000\" initialization=\"init-stream$RepresentationID$.m4s\" "
    "media=\"chunk-stream$RepresentationID$-$Time$.m4s\" startNumber=\"1\">\n"
    "\t\t\t\t\t<SegmentTimeline>\n"
    "\t\t\t\t\t\t<S t=\"161689174170000\" d=\"90000\" r=\"2\" />\n"
    "\t\t\t\t\t</SegmentTimeline>\n"
    "\t\t\t\t</SegmentTemplate>\n"
    "\t\t\t</Representation>\n"
    "\t\t</AdaptationSet>\n"
    "\t\t<AdaptationSet id=\"1\" contentType=\"audio\" startWithSAP=\"1\" segmentAlignment=\"true\">\n"
    "\t\t\t<Representation id=\"1\" mimeType=\"audio/mp4\" codecs=\"mp4a.40.2\" bandwidth=\"64000\" "
    "audioSamplingRate=\"48000\">\n"
    "\t\t\t\t<SegmentTemplate timescale=\"48000\" initialization=\"init-stream$RepresentationID$.m4s\" "
    "media=\"chunk-stream$RepresentationID$-$Time$.m4s\" startNumber=\"1\">\n"
    "\t\t\t\t\t<SegmentTimeline>\n"
    "\t\t\t\t\t\t<S t=\"86234227776000\" d=\"48128\" />\n"
    "\t\t\t\t\t</SegmentTimeline>\n"
    "\t\t\t\t</SegmentTemplate>\n"
    "\t\t\t</Representation>\n"
    "\t\t</AdaptationSet>\n"
    "\t</Period>\n"
    "</MPD>\n";

static char *rewrite(const char *in, int64_t seg_us, int *ret)
{
    AVBPrint out;
    char *s;

    av_bprint_init(&out, 0, AV_BPRINT_SIZE_UNLIMITED);
    *ret = epoch_dash_mpd(in, strlen(in), seg_us, &out);
    av_bprint_finalize(&out, &s);
    return s;
}

/* The live MPD as the number template from 1970, every set. */
static void test_mpd_live(void)
{
    int ret;
    char *s = rewrite(live_mpd, 1000000, &ret);

    CU_ASSERT_EQUAL_FATAL(ret, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "availabilityStartTime=\"1970-01-01T00:00:00Z\""));
    CU_ASSERT_PTR_NULL(strstr(s, "2026-12-06T08:39:39"));
    CU_ASSERT_PTR_NULL(strstr(s, "SegmentTimeline"));
    CU_ASSERT_PTR_NULL(strstr(s, "<S "));
    CU_ASSERT_PTR_NULL(strstr(s, "$Time$"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "<SegmentTemplate timescale=\"90000\" initialization=\"init-stream"
                                     "$RepresentationID$.m4s\" media=\"chunk-stream$RepresentationID$-"
                                     "$Number$.m4s\" startNumber=\"0\" duration=\"90000\">\n"
                                     "\t\t\t\t</SegmentTemplate>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "timescale=\"48000\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "startNumber=\"0\" duration=\"48000\">"));
    /* dash.js plays 3 segments behind the edge (pathway_mpd_live_delay) */
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "suggestedPresentationDelay=\"PT3.0S\""));
    /* everything else as libav wrote it */
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "publishTime=\"2026-12-06T08:39:43.182Z\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "codecs=\"mp4a.40.2\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "</Period>\n</MPD>\n"));
    av_free(s);

    /* 2 s segments: the duration in each timescale */
    s = rewrite(live_mpd, 2000000, &ret);
    CU_ASSERT_EQUAL(ret, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "duration=\"180000\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "duration=\"96000\""));
    av_free(s);
}

/* The MPD libav writes at its end (static) is not uploaded: the next node
 * goes on in the live one. Bad ones get an error, never a crash. */
static void test_mpd_static_and_bad(void)
{
    char *stat = av_strdup(live_mpd), *p, *s;
    int ret;

    p = strstr(stat, "type=\"dynamic\"");
    memcpy(p, "type=\"static\" ", 14);
    s = rewrite(stat, 1000000, &ret);
    CU_ASSERT_EQUAL(ret, 1);
    CU_ASSERT_STRING_EQUAL(s, "");
    av_free(s);
    av_free(stat);

    s = rewrite("<html></html>", 1000000, &ret);
    CU_ASSERT_EQUAL(ret, AVERROR_INVALIDDATA);
    av_free(s);
    s = rewrite("<MPD type=\"dynamic\"><SegmentTemplate media=\"x\"/></MPD>", 1000000, &ret);
    CU_ASSERT_EQUAL(ret, AVERROR_INVALIDDATA);
    av_free(s);
    /* a self-closing template gets its attributes inside the tag */
    s = rewrite("<MPD type=\"dynamic\"><SegmentTemplate timescale=\"1000\" "
                "media=\"c-$Time$.m4s\"/></MPD>", 1000000, &ret);
    CU_ASSERT_EQUAL(ret, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "<SegmentTemplate timescale=\"1000\" media=\"c-$Number$.m4s\" "
                                     "startNumber=\"0\" duration=\"1000\"/></MPD>"));
    av_free(s);
    /* every prefix: an answer, never a crash */
    for (size_t n = 0; n < sizeof(live_mpd) - 1; n++) {
        AVBPrint out;
        av_bprint_init(&out, 0, AV_BPRINT_SIZE_UNLIMITED);
        ret = epoch_dash_mpd(live_mpd, n, 1000000, &out);
        CU_ASSERT(ret == 0 || ret == AVERROR_INVALIDDATA);
        av_bprint_finalize(&out, NULL);
    }
}

/* libav's $Time$ names to the grid's numbers; other names untouched. */
static void test_segment_url(void)
{
    const AVRational tbs[2] = { { 1, 90000 }, { 1, 48000 } };
    char out[256];

    CU_ASSERT_EQUAL(epoch_dash_segment_url("http://h:1/up/s1/chunk-stream0-161689174110000.m4s",
                                           tbs, 2, 1000000, out, sizeof(out)), 1);
    CU_ASSERT_STRING_EQUAL(out, "http://h:1/up/s1/chunk-stream0-1796546379.m4s");
    /* an audio segment starts within a frame of the grid: the same N */
    CU_ASSERT_EQUAL(epoch_dash_segment_url("/d/chunk-stream1-86234227776000.m4s", tbs, 2, 1000000,
                                           out, sizeof(out)), 1);
    CU_ASSERT_STRING_EQUAL(out, "/d/chunk-stream1-1796546412.m4s");
    CU_ASSERT_EQUAL(epoch_dash_segment_url("/d/chunk-stream1-86234227776500.m4s", tbs, 2, 1000000,
                                           out, sizeof(out)), 1);
    CU_ASSERT_STRING_EQUAL(out, "/d/chunk-stream1-1796546412.m4s");
    /* 2 s segments; libav's temporary name keeps its suffix */
    CU_ASSERT_EQUAL(epoch_dash_segment_url("chunk-stream0-161689174200000.m4s.tmp", tbs, 2,
                                           2000000, out, sizeof(out)), 1);
    CU_ASSERT_STRING_EQUAL(out, "chunk-stream0-898273190.m4s.tmp");
    /* not a media segment of this muxer: as it is */
    CU_ASSERT_EQUAL(epoch_dash_segment_url("/d/init-stream0.m4s", tbs, 2, 1000000, out,
                                           sizeof(out)), 0);
    CU_ASSERT_STRING_EQUAL(out, "/d/init-stream0.m4s");
    CU_ASSERT_EQUAL(epoch_dash_segment_url("/d/index.mpd", tbs, 2, 1000000, out, sizeof(out)), 0);
    CU_ASSERT_EQUAL(epoch_dash_segment_url("/d/chunk-stream2-900.m4s", tbs, 2, 1000000, out,
                                           sizeof(out)), 0);
    CU_ASSERT_EQUAL(epoch_dash_segment_url("/d/chunk-stream0-x.m4s", tbs, 2, 1000000, out,
                                           sizeof(out)), 0);
    CU_ASSERT_EQUAL(epoch_dash_segment_url("/d/chunk-stream0-900", tbs, 2, 1000000, out,
                                           sizeof(out)), 0);
    /* too long for out: an error, not a cut name */
    CU_ASSERT(epoch_dash_segment_url("/d/chunk-stream0-900.m4s", tbs, 2, 1000000, out, 8) < 0);
}

int main(void)
{
    CU_pSuite s;
    int failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("epoch_io", NULL, NULL);
    CU_add_test(s, "live MPD as the number template from 1970", test_mpd_live);
    CU_add_test(s, "static and bad MPDs", test_mpd_static_and_bad);
    CU_add_test(s, "segment names on the grid", test_segment_url);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
