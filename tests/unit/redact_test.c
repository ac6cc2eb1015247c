/*
 * redact_test.c: URLs as they may be shown, and secrets masked in log text.
 */
#include <string.h>

#include <CUnit/Basic.h>

#include "core/log.h"
#include "core/redact.h"

static const struct { const char *in, *out; } cases[] = {
    { "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl", "rtmp://a.rtmp.youtube.com/live2/***" },
    { "rtmps://live.example:443/app/key/extra",         "rtmps://live.example:443/app/***" },
    { "rtmp://host/app",                                 "rtmp://host/app" },
    { "http://user:pass@origin:8080/up/index.m3u8",      "http://***@origin:8080/up/index.m3u8" },
    { "https://cdn/x.m3u8?token=abc&exp=1",              "https://cdn/x.m3u8?token=***&exp=***" },
    { "srt://1.2.3.4:9000?mode=caller&passphrase=xyz",   "srt://1.2.3.4:9000?mode=***&passphrase=***" },
    { "out/news/index.m3u8",                             "out/news/index.m3u8" },
    { "testsrc2=size=1280x720:rate=30",                  "testsrc2=size=1280x720:rate=30" },
    { "udp://239.0.0.1:5000",                            "udp://239.0.0.1:5000" },
    { "http://h/p#frag",                                 "http://h/p#***" },
    /* an SRT streamid (access control syntax) holds '#', ',' and '=' */
    { "srt://h:9000?streamid=#!::r=live/feed,m=publish&latency=200000",
      "srt://h:9000?streamid=***&latency=***" },
    { "SRT://h:9000?passphrase=0123456789ab#x",          "SRT://h:9000?passphrase=***" },
};

static void test_redact_url(void)
{
    char buf[256];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        redact_url(cases[i].in, buf, sizeof(buf));
        if (strcmp(buf, cases[i].out))
            fprintf(stderr, "\n  %s -> %s (want %s)", cases[i].in, buf, cases[i].out);
        CU_ASSERT_STRING_EQUAL(buf, cases[i].out);
    }
    /* truncation keeps a terminated string */
    redact_url("rtmp://host/app/key", buf, 8);
    CU_ASSERT(strlen(buf) == 7);
    redact_url(NULL, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "");
}

static void collect(void *opaque, const char *s, size_t len)
{
    char *acc = opaque;
    strncat(acc, s, len);
    strcat(acc, "|");
}

static void test_secrets(void)
{
    char acc[256] = "";

    redact_url_secrets("rtmp://u:pw@h/app/KEY?a=1&b=2", collect, acc);
    CU_ASSERT_STRING_EQUAL(acc, "u:pw|pw|KEY|1|2|");
    acc[0] = 0;
    redact_url_secrets("srt://h:9000?mode=caller&passphrase=0123456789ab&streamid=#!::u=bob,r=k1",
                       collect, acc);
    CU_ASSERT_STRING_EQUAL(acc, "caller|0123456789ab|#!::u=bob,r=k1|");
}

static void test_redact_text(void)
{
    char buf[512];

    redact_text("Cannot open connection rtmp://h:1935/live/KEY: Connection refused", buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "Cannot open connection rtmp://h:1935/live/***: Connection refused");
    redact_text("Opening 'http://u:p@h/x.ts' for writing", buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "Opening 'http://***@h/x.ts' for writing");
    /* libsrt names the URL it could not reach: a streamid's commas are
     * part of it, a comma and a space after it are not */
    redact_text("Connection to srt://h:9000?streamid=#!::u=bob,r=live/k1 failed: timed out",
                buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "Connection to srt://h:9000?streamid=*** failed: timed out");
    redact_text("tried srt://h:9000?passphrase=abcdefghij, then gave up", buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "tried srt://h:9000?passphrase=***, then gave up");
    redact_text("no url here:// at all", buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "no url here:// at all");
}

static void test_log_mask(void)
{
    char buf[256];

    log_add_secret("sup3r-s3cret");
    log_add_secret("backup");     /* too short to mask in free text */
    log_mask("key sup3r-s3cret and backup, again sup3r-s3cret", buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "key **** and backup, again ****");
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("redact", NULL, NULL);
    CU_add_test(s, "redact_url", test_redact_url);
    CU_add_test(s, "redact_url_secrets", test_secrets);
    CU_add_test(s, "redact_text", test_redact_text);
    CU_add_test(s, "log_mask", test_log_mask);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
