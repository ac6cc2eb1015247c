/*
 * pathway_test.c: Content Steering rewrites and the synthetic viewer's
 * readers (plane/pathway.h) on what libav 5.1 really writes.
 *
 * tests/data/pathway/ holds the inputs (*.in, made with the ffmpeg CLI;
 * README says how) and the expected outputs (*.golden), compared byte for
 * byte. Beyond the goldens: the grammar of every output (CONTENT-STEERING
 * once and before the variants, every STREAM-INF followed by its URI, every
 * pathway with every variant and the groups it references, the MPD
 * well-formed for xmllint when it is installed), bad inputs and plans
 * (a clear AVERROR, never a crash, every prefix of every input), and the
 * newest segment of live and ended playlists and MPDs.
 *
 * PATHWAY_WRITE_GOLDEN=1 tests/unit/pathway_test rewrites the goldens from
 * the current code: review the diff before committing it.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>

#include "plane/pathway.h"

static char data_dir[PATH_MAX / 2];

/* The job's pathways: cdn-b carries credentials and a CDN token, which go
 * into the documents verbatim (and '&' must come out as &amp; in XML). */
static const Pathway two[] = {
    { "cdn-a", "https://a.cdn.example/live/news/" },
    { "cdn-b", "https://viewer:s3cret@b.cdn.example/edge/news/?token=abc&exp=99" },
};
static const SteeringPlan plan = {
    two, 2, "https://steer.example/news/main.json?session=1&v=2", NULL,
};

static char *read_data(const char *name, size_t *len)
{
    char path[PATH_MAX];
    char *b = NULL;
    long n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", data_dir, name);
    f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc(n + 1);
    CU_ASSERT_FATAL(b && fread(b, 1, n, f) == (size_t)n);
    b[n] = 0;
    fclose(f);
    *len = n;
    return b;
}

static void write_data(const char *name, const char *s, size_t n)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", data_dir, name);
    f = fopen(path, "wb");
    CU_ASSERT_FATAL(f && fwrite(s, 1, n, f) == n);
    fclose(f);
}

typedef int (*Rewrite)(const char *, size_t, const SteeringPlan *, AVBPrint *);

/* Rewrites NAME.in with plan and compares with NAME.golden; returns the
 * output (the caller finalizes it). */
static void golden(const char *name, Rewrite fn, AVBPrint *out)
{
    char in_name[128], gold_name[128];
    size_t len, glen;
    char *in, *gold;

    snprintf(in_name, sizeof(in_name), "%s.in", name);
    snprintf(gold_name, sizeof(gold_name), "%s.golden", name);
    in = read_data(in_name, &len);
    av_bprint_init(out, 0, AV_BPRINT_SIZE_UNLIMITED);
    CU_ASSERT_EQUAL_FATAL(fn(in, len, &plan, out), 0);
    if (getenv("PATHWAY_WRITE_GOLDEN"))
        write_data(gold_name, out->str, out->len);
    gold = read_data(gold_name, &glen);
    CU_ASSERT_EQUAL(out->len, glen);
    CU_ASSERT(out->len == glen && !memcmp(out->str, gold, glen));
    free(in);
    free(gold);
}

/* ---- HLS grammar ------------------------------------------------------ */

static int count(const char *s, const char *what)
{
    int n = 0;

    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* Checks a rewritten multivariant playlist line by line. */
static void hls_grammar(const char *text, int nb_variants_in)
{
    char *copy = strdup(text), *save = NULL, *line;
    int steering_at = -1, first_item = -1, i = 0, want_uri = 0;
    int per[2] = { 0, 0 };

    CU_ASSERT_FATAL(copy != NULL);
    CU_ASSERT(!strncmp(text, "#EXTM3U\n", 8));
    CU_ASSERT_EQUAL(count(text, "#EXT-X-CONTENT-STEERING:"), 1);
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        int variant = !strncmp(line, "#EXT-X-STREAM-INF:", 18);
        if (!strncmp(line, "#EXT-X-CONTENT-STEERING:", 24))
            steering_at = i;
        if ((variant || !strncmp(line, "#EXT-X-MEDIA:", 13)) && first_item < 0)
            first_item = i;
        if (!strncmp(line, "#EXT-X-MEDIA:", 13)) {
            CU_ASSERT_PTR_NULL(strstr(line, "PATHWAY-ID"));  /* defined for variants only */
        }
        if (want_uri) {
            /* the URI line of a cdn-b variant carries cdn-b's base and token */
            CU_ASSERT(line[0] != '#');
            if (want_uri == 2) {
                CU_ASSERT(strstr(line, "b.cdn.example/edge/news/") && strstr(line, "token=abc&exp=99"));
            } else {
                CU_ASSERT(!strncmp(line, "https://a.cdn.example/live/news/", 32));
            }
        }
        want_uri = 0;
        if (variant) {
            int b = strstr(line, ",PATHWAY-ID=\"cdn-b\"") != NULL;
            CU_ASSERT(b || strstr(line, ",PATHWAY-ID=\"cdn-a\"") != NULL);
            per[b]++;
            want_uri = 1 + b;
            /* a variant's groups are its pathway's */
            if (strstr(line, "AUDIO=\"")) {
                CU_ASSERT_PTR_NOT_NULL(strstr(line, b ? "@cdn-b\"" : "@cdn-a\""));
            }
        }
    }
    CU_ASSERT(!want_uri);
    CU_ASSERT(steering_at >= 0 && steering_at < first_item);
    CU_ASSERT_EQUAL(per[0], nb_variants_in);
    CU_ASSERT_EQUAL(per[1], nb_variants_in);
    free(copy);
}

/* Every group a variant references is defined, per pathway. */
static void hls_groups_defined(const char *text)
{
    for (const char *p = text; (p = strstr(p, "AUDIO=\"")); p++) {
        char def[160];
        const char *e = strchr(p + 7, '"');
        CU_ASSERT_FATAL(e && e - p < 100);
        snprintf(def, sizeof(def), "GROUP-ID=\"%.*s\"", (int)(e - p - 7), p + 7);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, def));
    }
}

static void test_hls_ts(void)
{
    AVBPrint out;

    golden("hls_ts", pathway_hls_multivariant, &out);
    hls_grammar(out.str, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.str, "#EXT-X-CONTENT-STEERING:SERVER-URI=\""
                                  "https://steer.example/news/main.json?session=1&v=2\","
                                  "PATHWAY-ID=\"cdn-a\"\n"));
    CU_ASSERT_EQUAL(count(out.str, "#EXT-X-VERSION:"), 1);
    av_bprint_finalize(&out, NULL);
}

static void test_hls_agroup(void)
{
    AVBPrint out;

    golden("hls_agroup", pathway_hls_multivariant, &out);
    hls_grammar(out.str, 3);       /* libav adds an audio-only variant */
    hls_groups_defined(out.str);
    CU_ASSERT_EQUAL(count(out.str, "#EXT-X-MEDIA:"), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.str, "GROUP-ID=\"group_aud@cdn-a\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.str, "URI=\"https://viewer:s3cret@b.cdn.example/edge/news/"
                                  "audio.m3u8?token=abc&exp=99\""));
    av_bprint_finalize(&out, NULL);
}

static void test_hls_fmp4(void)
{
    AVBPrint out;

    golden("hls_fmp4", pathway_hls_multivariant, &out);
    hls_grammar(out.str, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.str, "#EXT-X-VERSION:7\n"));
    av_bprint_finalize(&out, NULL);
}

/* Rewrites one playlist line by line with a one-pathway plan. */
static int rewrite1(const char *in, const char *base, AVBPrint *out)
{
    const Pathway w = { "p", base };
    const SteeringPlan p = { &w, 1, "http://s/x.json", NULL };

    av_bprint_init(out, 0, AV_BPRINT_SIZE_UNLIMITED);
    return pathway_hls_multivariant(in, strlen(in), &p, out);
}

static void test_hls_uris(void)
{
    AVBPrint out;
    const char *in = "#EXTM3U\n"
                     "#EXT-X-INDEPENDENT-SEGMENTS\n"
                     "#EXT-X-STREAM-INF:BANDWIDTH=1,CLOSED-CAPTIONS=NONE\n"
                     "https://elsewhere.example/a.m3u8\n"
                     "#EXT-X-STREAM-INF:BANDWIDTH=2\r\n"
                     "/abs/b.m3u8\r\n"
                     "#EXT-X-STREAM-INF:BANDWIDTH=3\n"
                     "c.m3u8?x=1\n"
                     "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=4,URI=\"i.m3u8\"\n"
                     "#EXT-X-SESSION-DATA:DATA-ID=\"com.example\",VALUE=\"v\"\n"
                     "#EXT-X-STREAM-INF:\n"
                     "//cdn.example/d.m3u8";

    CU_ASSERT_EQUAL(rewrite1(in, "http://h.example:8080/live/?t=1", &out), 0);
    CU_ASSERT_STRING_EQUAL(out.str,
        "#EXTM3U\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-CONTENT-STEERING:SERVER-URI=\"http://s/x.json\",PATHWAY-ID=\"p\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,CLOSED-CAPTIONS=NONE,PATHWAY-ID=\"p\"\n"
        "https://elsewhere.example/a.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2,PATHWAY-ID=\"p\"\n"
        "http://h.example:8080/abs/b.m3u8?t=1\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=3,PATHWAY-ID=\"p\"\n"
        "http://h.example:8080/live/c.m3u8?x=1&t=1\n"
        "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=4,URI=\"http://h.example:8080/live/i.m3u8?t=1\",PATHWAY-ID=\"p\"\n"
        "#EXT-X-STREAM-INF:PATHWAY-ID=\"p\"\n"
        "//cdn.example/d.m3u8\n"
        "#EXT-X-SESSION-DATA:DATA-ID=\"com.example\",VALUE=\"v\"\n");
    av_bprint_finalize(&out, NULL);
}

/* ---- DASH ------------------------------------------------------------- */

/* xmllint --noout, when libxml2-utils is installed: 1 well-formed, 0 not,
 * -1 no xmllint (the check is skipped). */
static int xmllint_ok(const char *s, size_t n)
{
    char path[] = "/tmp/pathway_test_XXXXXX", cmd[128];
    int fd, ret;

    if (access("/usr/bin/xmllint", X_OK))
        return -1;
    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, s, n) == (ssize_t)n);
    close(fd);
    snprintf(cmd, sizeof(cmd), "/usr/bin/xmllint --noout %s 2>/dev/null", path);
    ret = system(cmd);
    unlink(path);
    return ret == 0;
}

static void dash_grammar(const char *mpd, size_t len)
{
    const char *a = strstr(mpd, "<BaseURL serviceLocation=\"cdn-a\">https://a.cdn.example/live/news/</BaseURL>");
    const char *b = strstr(mpd, "<BaseURL serviceLocation=\"cdn-b\">https://viewer:s3cret@b.cdn.example/"
                                "edge/news/?token=abc&amp;exp=99</BaseURL>");
    const char *cs = strstr(mpd, "<ContentSteering defaultServiceLocation=\"cdn-a\" queryBeforeStart=\"true\">"
                                 "https://steer.example/news/main.json?session=1&amp;v=2</ContentSteering>");
    const char *info = strstr(mpd, "</ProgramInformation>"), *period = strstr(mpd, "<Period");
    int lint = xmllint_ok(mpd, len);

    CU_ASSERT(a && b && cs && info && period);
    if (!(a && b && cs && info && period))
        return;
    /* schema order: ProgramInformation, BaseURL, ..., Period, ..., and
     * ContentSteering last */
    CU_ASSERT(info < a && a < b && b < period);
    CU_ASSERT(cs > strstr(mpd, "</Period>") && !strcmp(strstr(cs, "</ContentSteering>"),
                                                       "</ContentSteering>\n</MPD>\n"));
    CU_ASSERT_EQUAL(count(mpd, "<ContentSteering"), 1);
    CU_ASSERT_EQUAL(count(mpd, "<BaseURL"), 2);
    CU_ASSERT(lint != 0);
}

static void test_dash_live(void)
{
    PlaylistNewest before, after;
    AVBPrint out;
    size_t len;
    char *in = read_data("dash_live.in", &len);

    golden("dash_live", pathway_dash_mpd, &out);
    dash_grammar(out.str, out.len);
    /* the viewer reads the rewritten MPD as it read libav's */
    CU_ASSERT_EQUAL(pathway_mpd_newest(in, len, &before), 0);
    CU_ASSERT_EQUAL(pathway_mpd_newest(out.str, out.len, &after), 0);
    CU_ASSERT(before.seq == after.seq && !strcmp(before.uri, after.uri));
    av_bprint_finalize(&out, NULL);
    free(in);
}

static void test_dash_static(void)
{
    AVBPrint out;

    golden("dash_static", pathway_dash_mpd, &out);
    dash_grammar(out.str, out.len);
    av_bprint_finalize(&out, NULL);
}

/* Without ProgramInformation the BaseURLs open the MPD; `first` picks the
 * default service location. */
static void test_dash_minimal(void)
{
    const Pathway w[2] = { { "x", "http://x.example/d/" }, { "y", "http://y.example/d/" } };
    const SteeringPlan p = { w, 2, "http://s.example/s.json", "y" };
    const char *in = "<?xml version=\"1.0\"?>\n<MPD type=\"static\">\n\t<Period>\n\t</Period>\n</MPD>\n";
    AVBPrint out;

    av_bprint_init(&out, 0, AV_BPRINT_SIZE_UNLIMITED);
    CU_ASSERT_EQUAL(pathway_dash_mpd(in, strlen(in), &p, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.str,
        "<?xml version=\"1.0\"?>\n<MPD type=\"static\">\n"
        "\t<BaseURL serviceLocation=\"x\">http://x.example/d/</BaseURL>\n"
        "\t<BaseURL serviceLocation=\"y\">http://y.example/d/</BaseURL>\n"
        "\t<Period>\n\t</Period>\n"
        "\t<ContentSteering defaultServiceLocation=\"y\" queryBeforeStart=\"true\">"
        "http://s.example/s.json</ContentSteering>\n</MPD>\n");
    av_bprint_finalize(&out, NULL);
}

/* ---- refusals ---------------------------------------------------------- */

/* What a rewrite answers (its text dropped). */
static int answer(Rewrite fn, const char *s, size_t n, const SteeringPlan *p)
{
    AVBPrint out;
    int ret;

    av_bprint_init(&out, 0, AV_BPRINT_SIZE_UNLIMITED);
    ret = fn(s, n, p, &out);
    av_bprint_finalize(&out, NULL);
    return ret;
}

#define hls(...) answer(pathway_hls_multivariant, __VA_ARGS__)
#define dash(...) answer(pathway_dash_mpd, __VA_ARGS__)

#define LIT(s) s, sizeof(s) - 1
#define MV "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n"
#define MPD "<?xml version=\"1.0\"?>\n<MPD type=\"static\">\n\t<Period>\n\t</Period>\n</MPD>\n"

static void test_bad_inputs(void)
{
    char *huge = malloc(PATHWAY_MAX_LINE + 64);
    PlaylistNewest nw;

    CU_ASSERT_FATAL(huge != NULL);
    CU_ASSERT_EQUAL(hls(MV, strlen(MV), &plan), 0);
    CU_ASSERT_EQUAL(hls(LIT(""), &plan), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(hls(NULL, 5, &plan), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(hls(LIT("hello\n"), &plan), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(hls(LIT("#EXTM3U\n"), &plan), AVERROR_INVALIDDATA);             /* no variant */
    CU_ASSERT_EQUAL(hls(MV, strlen(MV) - 7, &plan), AVERROR_INVALIDDATA);         /* no URI */
    CU_ASSERT_EQUAL(hls(LIT("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n\na.m3u8\n"), &plan),
                    AVERROR_INVALIDDATA);                                        /* blank before it */
    CU_ASSERT_EQUAL(hls(LIT("#EXTM3U\na.m3u8\n"), &plan), AVERROR_INVALIDDATA);     /* stray URI */
    CU_ASSERT_EQUAL(hls(LIT("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"x\n/a\n"), &plan),
                    AVERROR_INVALIDDATA);                                        /* open quote */
    CU_ASSERT_EQUAL(hls(LIT("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH\na\n"), &plan), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(hls(LIT("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n"), &plan),
                    AVERROR_INVALIDDATA);                                        /* a media playlist */
    CU_ASSERT_EQUAL(hls(LIT("#EXTM3U\n\0#EXT-X-STREAM-INF:BANDWIDTH=1\na\n"), &plan), AVERROR_INVALIDDATA);
    memset(huge, 'a', PATHWAY_MAX_LINE + 1);
    memcpy(huge, MV, strlen(MV));
    CU_ASSERT_EQUAL(hls(huge, PATHWAY_MAX_LINE + 1, &plan), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(pathway_hls_newest(huge, PATHWAY_MAX_LINE + 1, &nw), AVERROR_INVALIDDATA);

    CU_ASSERT_EQUAL(dash(MPD, strlen(MPD), &plan), 0);
    CU_ASSERT_EQUAL(dash(LIT(""), &plan), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(dash(LIT("not xml"), &plan), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(dash(LIT("<html><body/></html>"), &plan), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(dash(LIT("<MPD><Period></MPD>"), &plan), AVERROR_INVALIDDATA);  /* mismatched */
    CU_ASSERT_EQUAL(dash(LIT("<MPD/><MPD/>"), &plan), AVERROR_INVALIDDATA);         /* two roots */
    CU_ASSERT_EQUAL(dash(LIT("<MPD a=\"1>\"></MPD>"), &plan), 0);                  /* '>' in a value */
    memset(huge, 'a', PATHWAY_MAX_LINE + 10);
    memcpy(huge, "<MPD x=\"", 8);
    memcpy(huge + PATHWAY_MAX_LINE + 2, "\"></MPD>", 8);
    CU_ASSERT_EQUAL(dash(huge, PATHWAY_MAX_LINE + 10, &plan), AVERROR_INVALIDDATA);
    {
        char deep[40 * 5 + 40 * 6 + 1] = "";
        for (int i = 0; i < 40; i++)
            strcat(deep, "<a>");
        for (int i = 0; i < 40; i++)
            strcat(deep, "</a>");
        CU_ASSERT_EQUAL(dash(deep, strlen(deep), &plan), AVERROR_INVALIDDATA);
    }
    free(huge);
}

/* Every prefix of every input: an answer, never a crash; a prefix of an MPD
 * is always refused (its root is not closed). */
static void test_truncated(void)
{
    static const char *const names[] = {
        "hls_ts.in", "hls_agroup.in", "dash_live.in", "dash_static.in",
        "media_live.in", "media_ended.in",
    };
    PlaylistNewest nw;

    for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
        size_t len;
        char *in = read_data(names[f], &len);
        int mpd = strstr(names[f], "dash") != NULL, refused = 0;
        for (size_t n = 0; n + 1 < len; n++) {
            char *cut = malloc(n ? n : 1);       /* exactly n bytes: no terminator to lean on */
            CU_ASSERT_FATAL(cut != NULL);
            memcpy(cut, in, n);
            if (mpd) {
                refused += dash(cut, n, &plan) < 0;
                pathway_mpd_newest(cut, n, &nw);
            } else {
                hls(cut, n, &plan);
                pathway_hls_newest(cut, n, &nw);
            }
            free(cut);
        }
        if (mpd) {
            CU_ASSERT_EQUAL(refused, (int)len - 1);
        }
        free(in);
    }
}

/* Bytes flipped at random (a fixed seed): an answer, never a crash. */
static void test_mutations(void)
{
    static const char *const names[] = { "hls_agroup.in", "dash_live.in", "media_live.in" };
    unsigned seed = 12345;
    PlaylistNewest nw;

    for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
        size_t len;
        char *in = read_data(names[f], &len);
        for (int i = 0; i < 3000; i++) {
            char *m = malloc(len);
            CU_ASSERT_FATAL(m != NULL);
            memcpy(m, in, len);
            for (int k = 0; k < 3; k++) {
                seed = seed * 1103515245u + 12345u;
                m[(seed >> 8) % len] = "<>\"'/=,:#\n\r$%@ax0"[(seed >> 20) % 17];
            }
            hls(m, len, &plan);
            dash(m, len, &plan);
            pathway_hls_newest(m, len, &nw);
            pathway_mpd_newest(m, len, &nw);
            free(m);
        }
        free(in);
    }
}

static void test_already_steered(void)
{
    AVBPrint out;
    size_t len;
    char *in = read_data("hls_ts.golden", &len);

    CU_ASSERT_EQUAL(hls(in, len, &plan), AVERROR(EEXIST));
    free(in);
    in = read_data("dash_live.golden", &len);
    CU_ASSERT_EQUAL(dash(in, len, &plan), AVERROR(EEXIST));
    free(in);
    CU_ASSERT_EQUAL(rewrite1("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,PATHWAY-ID=\"x\"\na\n", "http://h/", &out),
                    AVERROR(EEXIST));
    av_bprint_finalize(&out, NULL);
}

static void test_bad_plans(void)
{
    Pathway w[2] = { { "cdn-a", "https://a.example/x/" }, { "cdn-b", "https://b.example/x/" } };
    SteeringPlan p = { w, 2, "https://s.example/steer.json", NULL };
    const size_t n = strlen(MV);

    CU_ASSERT_EQUAL(hls(MV, n, &p), 0);
    CU_ASSERT_EQUAL(hls(MV, n, NULL), AVERROR(EINVAL));
    p.first = "cdn-b";
    CU_ASSERT_EQUAL(hls(MV, n, &p), 0);
    p.first = "cdn-c";
    CU_ASSERT_EQUAL(hls(MV, n, &p), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(dash(MPD, strlen(MPD), &p), AVERROR(EINVAL));
    p.first = NULL;
    p.nb_pathways = 0;
    CU_ASSERT_EQUAL(hls(MV, n, &p), AVERROR(EINVAL));
    p.nb_pathways = 2;
    w[1].id = "cdn-a";                                  /* twice */
    CU_ASSERT_EQUAL(hls(MV, n, &p), AVERROR(EINVAL));
    w[1].id = "cdn b";
    CU_ASSERT_EQUAL(hls(MV, n, &p), AVERROR(EINVAL));
    w[1].id = "cdn-b";
    w[1].base = "https://b.example/x";                   /* not a directory */
    CU_ASSERT_EQUAL(hls(MV, n, &p), AVERROR(EINVAL));
    w[1].base = "https://b.example/x/";
    p.server_uri = "steer.json";                         /* players need where, absolutely */
    CU_ASSERT_EQUAL(hls(MV, n, &p), AVERROR(EINVAL));
    p.server_uri = NULL;
    CU_ASSERT_EQUAL(dash(MPD, strlen(MPD), &p), AVERROR(EINVAL));
}

static void test_validators(void)
{
    CU_ASSERT_TRUE(pathway_id_valid("cdn-a"));
    CU_ASSERT_TRUE(pathway_id_valid("A.b_C-9"));
    CU_ASSERT_TRUE(pathway_id_valid("."));               /* legal, though hls.js calls "." "no pathway" */
    CU_ASSERT_FALSE(pathway_id_valid(""));
    CU_ASSERT_FALSE(pathway_id_valid(NULL));
    CU_ASSERT_FALSE(pathway_id_valid("cdn a"));
    CU_ASSERT_FALSE(pathway_id_valid("cdn/a"));
    CU_ASSERT_FALSE(pathway_id_valid("cdn\"a"));
    CU_ASSERT_FALSE(pathway_id_valid("cdn@a"));
    CU_ASSERT_FALSE(pathway_id_valid("caf\xc3\xa9"));
    CU_ASSERT_TRUE(pathway_id_valid("0123456789012345678901234567890123456789012345678901234567890123"));
    CU_ASSERT_FALSE(pathway_id_valid("01234567890123456789012345678901234567890123456789012345678901234"));

    CU_ASSERT_TRUE(pathway_base_valid("https://a.cdn.example/live/news/"));
    CU_ASSERT_TRUE(pathway_base_valid("http://u:p@127.0.0.2:8080/"));
    CU_ASSERT_TRUE(pathway_base_valid("https://a.example/live/?token=x&e=1"));
    CU_ASSERT_FALSE(pathway_base_valid("https://a.example/live"));
    CU_ASSERT_FALSE(pathway_base_valid("https://a.example"));
    CU_ASSERT_FALSE(pathway_base_valid("https:///live/"));
    CU_ASSERT_FALSE(pathway_base_valid("ftp://a.example/live/"));
    CU_ASSERT_FALSE(pathway_base_valid("/live/"));
    CU_ASSERT_FALSE(pathway_base_valid("https://a.example/li ve/"));
    CU_ASSERT_FALSE(pathway_base_valid("https://a.example/\"live/"));
    CU_ASSERT_FALSE(pathway_base_valid("https://a.example/<live>/"));
    CU_ASSERT_FALSE(pathway_base_valid("https://a.example/live/#x"));
    CU_ASSERT_FALSE(pathway_base_valid("https://a.example?x=/"));
    CU_ASSERT_FALSE(pathway_base_valid(NULL));
    CU_ASSERT_TRUE(pathway_uri_valid("https://steer.example/news/main.json"));
    CU_ASSERT_FALSE(pathway_uri_valid("main.json"));
}

/* ---- the synthetic viewer's readers ---------------------------------- */

static void expect_newest(const PlaylistNewest *nw, const PlaylistNewest *want)
{
    CU_ASSERT_EQUAL(nw->seq, want->seq);
    CU_ASSERT_EQUAL(nw->nb_segments, want->nb_segments);
    CU_ASSERT_DOUBLE_EQUAL(nw->target_s, want->target_s, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(nw->newest_dur_s, want->newest_dur_s, 1e-9);
    CU_ASSERT_STRING_EQUAL(nw->uri, want->uri);
    CU_ASSERT_EQUAL(nw->ended, want->ended);
}

/* Reads the file name with fn and compares with want. */
static void newest(const char *name, int (*fn)(const char *, size_t, PlaylistNewest *),
                   const PlaylistNewest *want)
{
    PlaylistNewest nw;
    size_t len;
    char *in = read_data(name, &len);

    CU_ASSERT_EQUAL(fn(in, len, &nw), 0);
    expect_newest(&nw, want);
    free(in);
}

static void test_hls_newest(void)
{
    PlaylistNewest nw;
    size_t len;
    char *mv;

    /* live, sliding window of 4 from 1202, PROGRAM-DATE-TIME between
     * EXTINF and URI */
    newest("media_live.in", pathway_hls_newest,
           &(PlaylistNewest){ 1205, 4, 1, 1, "live1205.ts", 0 });
    /* ended, two discontinuities */
    newest("media_ended.in", pathway_hls_newest,
           &(PlaylistNewest){ 4, 5, 2, 0.333333, "ended4.ts", 1 });
    /* fmp4, EXT-X-MAP */
    newest("media_fmp4.in", pathway_hls_newest,
           &(PlaylistNewest){ 3, 4, 1, 1, "720p_00003.m4s", 1 });
    /* a live playlist with no segment yet */
    CU_ASSERT_EQUAL(pathway_hls_newest(LIT("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"), &nw), 0);
    CU_ASSERT_EQUAL(nw.nb_segments, 0);
    CU_ASSERT_EQUAL(nw.seq, -1);
    /* not media playlists, or broken ones */
    mv = read_data("hls_ts.in", &len);
    CU_ASSERT_EQUAL(pathway_hls_newest(mv, len, &nw), AVERROR_INVALIDDATA);
    free(mv);
    CU_ASSERT_EQUAL(pathway_hls_newest(LIT(""), &nw), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(pathway_hls_newest(LIT("#EXTM3U\n#EXTINF:1,\na.ts\n"), &nw), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(pathway_hls_newest(LIT("#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n"), &nw),
                    AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(pathway_hls_newest(LIT("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\n"), &nw),
                    AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(pathway_hls_newest(LIT("#EXTM3U\n#EXT-X-TARGETDURATION:x\n"), &nw), AVERROR_INVALIDDATA);
    {
        char big[1200 + 64];
        int n = snprintf(big, sizeof(big), "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\n");
        memset(big + n, 'u', 1100);
        big[n + 1100] = '\n';
        CU_ASSERT_EQUAL(pathway_hls_newest(big, n + 1101, &nw), AVERROR(ENAMETOOLONG));
    }
}

static void test_mpd_newest(void)
{
    PlaylistNewest nw;
    const char *tpl =
        "<MPD type=\"dynamic\"><Period><AdaptationSet mimeType=\"audio/mp4\"><Representation id=\"a\">"
        "<SegmentTemplate media=\"a$Number$.m4s\"><SegmentTimeline><S d=\"1\"/></SegmentTimeline>"
        "</SegmentTemplate></Representation></AdaptationSet>"
        "<AdaptationSet contentType=\"video\"><SegmentTemplate x=' media=\"no\"' timescale = \"1000\" startNumber=\"10\" "
        "media=\"v_$RepresentationID$_$Time%08d$_$Bandwidth$_$$.m4s\"><SegmentTimeline>"
        "<S t=\"5000\" d=\"2000\" r=\"2\"/><S d=\"1500\"/></SegmentTimeline></SegmentTemplate>"
        "<Representation id=\"hi&amp;q\" bandwidth=\"800000\"/><Representation id=\"lo\"/>"
        "</AdaptationSet></Period></MPD>";

    /* live: window of 4 from $Number$ 5 */
    newest("dash_live.in", pathway_mpd_newest,
           &(PlaylistNewest){ 8, 4, 1, 1, "chunk-stream0-00008.m4s", 0 });
    newest("dash_static.in", pathway_mpd_newest,
           &(PlaylistNewest){ 3, 3, 1, 1, "chunk-stream0-00003.m4s", 1 });
    /* a template at AdaptationSet level, the other identifiers, an
     * attribute name inside another's value */
    CU_ASSERT_EQUAL(pathway_mpd_newest(tpl, strlen(tpl), &nw), 0);
    expect_newest(&nw, &(PlaylistNewest){ 13, 4, 2, 1.5, "v_hi&q_00011000_800000_$.m4s", 0 });
    /* what libav does not write */
    CU_ASSERT_EQUAL(pathway_mpd_newest(LIT("<MPD><Period><AdaptationSet contentType=\"video\"><Representation "
                                       "id=\"1\"><SegmentTemplate media=\"$Number$\" duration=\"2\"/>"
                                       "</Representation></AdaptationSet></Period></MPD>"), &nw),
                    AVERROR_PATCHWELCOME);
    CU_ASSERT_EQUAL(pathway_mpd_newest(LIT("<MPD><Period><AdaptationSet contentType=\"video\"><Representation "
                                       "id=\"1\"><SegmentTemplate media=\"$Number$\"><SegmentTimeline>"
                                       "<S d=\"2\" r=\"-1\"/></SegmentTimeline></SegmentTemplate>"
                                       "</Representation></AdaptationSet></Period></MPD>"), &nw),
                    AVERROR_PATCHWELCOME);
    CU_ASSERT_EQUAL(pathway_mpd_newest(MPD, strlen(MPD), &nw), AVERROR_INVALIDDATA);  /* no video */
    CU_ASSERT_EQUAL(pathway_mpd_newest(LIT("<MPD><Period><AdaptationSet contentType=\"video\"><Representation "
                                       "id=\"1\"><SegmentTemplate media=\"$Nope$\"><SegmentTimeline>"
                                       "<S d=\"2\"/></SegmentTimeline></SegmentTemplate>"
                                       "</Representation></AdaptationSet></Period></MPD>"), &nw),
                    AVERROR_INVALIDDATA);
}

/* libav's one-segment suggestedPresentationDelay made three segments;
 * one long enough, or none, left alone. */
static void test_mpd_live_delay(void)
{
    static const char *const in =
        "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"\n"
        "\ttype=\"dynamic\"\n\tsuggestedPresentationDelay=\"PT2S\"\n"
        "\tmaxSegmentDuration=\"PT2.0S\">\n<Period/></MPD>\n";
    AVBPrint bp;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    CU_ASSERT_EQUAL(pathway_mpd_live_delay(in, strlen(in), 3, &bp), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(bp.str, "suggestedPresentationDelay=\"PT6.0S\"\n"));
    CU_ASSERT_EQUAL(bp.len, strlen(in) + 2);
    av_bprint_clear(&bp);
    CU_ASSERT_EQUAL(pathway_mpd_live_delay(in, strlen(in), 1, &bp), 0);
    CU_ASSERT_STRING_EQUAL(bp.str, in);
    av_bprint_clear(&bp);
    {
        const char *hms = "<MPD a=\"1\" suggestedPresentationDelay=\"PT0H0M1.0S\" maxSegmentDuration=\"PT0H1M0.0S\">";
        CU_ASSERT_EQUAL(pathway_mpd_live_delay(hms, strlen(hms), 3, &bp), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(bp.str, "\"PT180.0S\""));
        av_bprint_clear(&bp);
    }
    CU_ASSERT_EQUAL(pathway_mpd_live_delay("<MPD>", 5, 3, &bp), 0);   /* nothing to go by */
    CU_ASSERT_STRING_EQUAL(bp.str, "<MPD>");
    av_bprint_clear(&bp);
    CU_ASSERT_EQUAL(pathway_mpd_live_delay("<html>", 6, 3, &bp), AVERROR_INVALIDDATA);
    av_bprint_finalize(&bp, NULL);
}

int main(void)
{
    char exe[PATH_MAX];
    ssize_t len;
    CU_pSuite s;
    int failed;

    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0)
        return 1;
    exe[len] = 0;
    snprintf(data_dir, sizeof(data_dir), "%s/../data/pathway", dirname(exe));

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("pathway", NULL, NULL);
    CU_add_test(s, "HLS multivariant, TS variants (golden)", test_hls_ts);
    CU_add_test(s, "HLS multivariant, audio rendition group (golden)", test_hls_agroup);
    CU_add_test(s, "HLS multivariant, fMP4 (golden)", test_hls_fmp4);
    CU_add_test(s, "HLS URIs: absolute kept, relative resolved, token carried", test_hls_uris);
    CU_add_test(s, "DASH live MPD (golden, schema order, xmllint)", test_dash_live);
    CU_add_test(s, "DASH static MPD (golden)", test_dash_static);
    CU_add_test(s, "DASH minimal MPD, first pathway chosen", test_dash_minimal);
    CU_add_test(s, "bad inputs get a clear error", test_bad_inputs);
    CU_add_test(s, "every prefix of every input", test_truncated);
    CU_add_test(s, "random mutations", test_mutations);
    CU_add_test(s, "a steered document is not steered twice", test_already_steered);
    CU_add_test(s, "bad plans", test_bad_plans);
    CU_add_test(s, "pathway id and base validators", test_validators);
    CU_add_test(s, "HLS media playlist: newest segment", test_hls_newest);
    CU_add_test(s, "MPD: newest segment", test_mpd_newest);
    CU_add_test(s, "MPD: live delay of three segments", test_mpd_live_delay);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
