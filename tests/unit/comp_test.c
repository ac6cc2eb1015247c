/*
 * comp_test.c: the component grammar (src/core/comp.c): format -> parse
 * round trips for every kind and instance, with and without the stream,
 * COMP_WHOLE; each malformed name refused with its reason; comp_match.
 */
#include <string.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>

#include "core/comp.h"

static CompId id_of(const char *stream, CompKind kind, const char *name, int instance)
{
    CompId id;

    memset(&id, 0, sizeof(id));
    snprintf(id.stream, sizeof(id.stream), "%s", stream);
    id.kind = kind;
    snprintf(id.name, sizeof(id.name), "%s", name);
    id.instance = instance;
    return id;
}

static int same_id(const CompId *a, const CompId *b)
{
    return !strcmp(a->stream, b->stream) && a->kind == b->kind &&
           !strcmp(a->name, b->name) && a->instance == b->instance;
}

/* Formats id (with its stream or not), checks the text, parses it back and
 * checks that the same id comes out (less the stream when not written). */
static void round_trip(CompId id, int with_stream, int whole_default, const char *want)
{
    char buf[COMP_NAME_SIZE * 2 + 16], err[160] = "";
    CompId back, expect = id;
    int n = comp_format(&id, with_stream, buf, sizeof(buf));

    CU_ASSERT_EQUAL(n, (int)strlen(want));
    CU_ASSERT_STRING_EQUAL(buf, want);
    if (strcmp(buf, want))
        fprintf(stderr, "formatted \"%s\", expected \"%s\"\n", buf, want);
    if (!with_stream)
        expect.stream[0] = 0;
    CU_ASSERT_EQUAL(comp_parse(buf, whole_default, &back, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT(same_id(&back, &expect));
    if (!same_id(&back, &expect))
        fprintf(stderr, "'%s' read back as %s/%d:%s.%d\n", buf, back.stream, back.kind,
                back.name, back.instance);
}

/* Asserts that text is refused with EINVAL and the reason why. */
static void refused(const char *text, const char *why)
{
    char err[200] = "", want[300];
    CompId id;

    snprintf(want, sizeof(want), "'%s': %s", text, why);
    CU_ASSERT_EQUAL(comp_parse(text, 0, &id, err, sizeof(err)), AVERROR(EINVAL));
    CU_ASSERT_STRING_EQUAL(err, want);
    if (strcmp(err, want))
        fprintf(stderr, "'%s': got \"%s\", expected \"%s\"\n", text, err, want);
}

static void test_round_trip_kinds(void)
{
    round_trip(id_of("news", COMP_INGEST, "input", 0), 1, 0, "news/input");
    round_trip(id_of("news", COMP_ENCODER, "720p", 0), 1, 0, "news/enc:720p");
    round_trip(id_of("news", COMP_ENCODER, "audio", 0), 1, 0, "news/enc:audio");
    round_trip(id_of("news", COMP_OUTPUT, "main", 0), 1, 0, "news/out:main");
    round_trip(id_of("news", COMP_EDGE, "main", 0), 1, 0, "news/edge:main");
    round_trip(id_of("", COMP_HOST, "host", 0), 1, 0, "host");
    round_trip(id_of("", COMP_GPU, "gpu0", 0), 1, 0, "gpu:gpu0");
    /* names as the job and the agents give them */
    round_trip(id_of("s-1_b", COMP_OUTPUT, "HD.main", 0), 1, 0, "s-1_b/out:HD.main");
    round_trip(id_of("s", COMP_ENCODER, "ok.v-1_A", 0), 1, 0, "s/enc:ok.v-1_A");
    round_trip(id_of("", COMP_GPU, "dri:0000:03:00.0:vcs0", 0), 0, 0, "gpu:dri:0000:03:00.0:vcs0");
    /* without the stream */
    round_trip(id_of("news", COMP_INGEST, "input", 0), 0, 0, "input");
    round_trip(id_of("news", COMP_ENCODER, "720p", 0), 0, 0, "enc:720p");
    round_trip(id_of("news", COMP_OUTPUT, "main", 0), 0, 0, "out:main");
    round_trip(id_of("news", COMP_EDGE, "main", 0), 0, 0, "edge:main");
    round_trip(id_of("news", COMP_EDGE, "main:cdn-a", 0), 1, 0, "news/edge:main:cdn-a");
}

static void test_round_trip_instances(void)
{
    static const CompKind kinds[] = { COMP_INGEST, COMP_ENCODER, COMP_OUTPUT, COMP_EDGE };
    static const char *const written[] = { "input", "enc:a.b", "out:a.b", "edge:a.b" };

    for (int k = 0; k < 4; k++)
        for (int i = 0; i < COMP_MAX_INSTANCES; i++)
            for (int ws = 0; ws < 2; ws++) {
                char want[96], word[16];
                const char *name = kinds[k] == COMP_INGEST ? "input" : "a.b";
                snprintf(want, sizeof(want), "%s%s%s%s", ws ? "news/" : "", written[k],
                         i ? "." : "", i ? comp_instance_name(i, word, sizeof(word)) : "");
                round_trip(id_of("news", kinds[k], name, i), ws, 0, want);
                /* with whole_default, no suffix is the whole (test_whole) */
                if (i)
                    round_trip(id_of("news", kinds[k], name, i), ws, 1, want);
            }
    round_trip(id_of("news", COMP_OUTPUT, "main", 1), 1, 0, "news/out:main.backup");
    round_trip(id_of("news", COMP_OUTPUT, "main", 2), 1, 0, "news/out:main.backup2");
    round_trip(id_of("news", COMP_INGEST, "input", 7), 0, 0, "input.backup7");
}

static void test_whole(void)
{
    CompId id;
    char err[160];

    /* the whole is written without a suffix, and read so with whole_default */
    round_trip(id_of("news", COMP_ENCODER, "720p", COMP_WHOLE), 1, 1, "news/enc:720p");
    round_trip(id_of("", COMP_HOST, "host", COMP_WHOLE), 0, 1, "host");
    round_trip(id_of("", COMP_GPU, "gpu1", COMP_WHOLE), 0, 1, "gpu:gpu1");
    CU_ASSERT_EQUAL(comp_parse("news/out:main", 0, &id, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(id.instance, 0);
    CU_ASSERT_EQUAL(comp_parse("news/out:main", 1, &id, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(id.instance, COMP_WHOLE);
    /* a suffix names its instance either way */
    CU_ASSERT_EQUAL(comp_parse("out:main.backup3", 1, &id, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(id.instance, 3);
}

static void test_format_errors(void)
{
    char buf[64];
    CompId id = id_of("news", COMP_OUTPUT, "main", 0);

    id.kind = COMP_NB_KINDS;
    CU_ASSERT_EQUAL(comp_format(&id, 1, buf, sizeof(buf)), AVERROR(EINVAL));
    id = id_of("news", COMP_OUTPUT, "main", COMP_MAX_INSTANCES);
    CU_ASSERT_EQUAL(comp_format(&id, 1, buf, sizeof(buf)), AVERROR(EINVAL));
    id = id_of("news", COMP_OUTPUT, "", 0);
    CU_ASSERT_EQUAL(comp_format(&id, 1, buf, sizeof(buf)), AVERROR(EINVAL));
    id = id_of("", COMP_HOST, "host", 1);
    CU_ASSERT_EQUAL(comp_format(&id, 1, buf, sizeof(buf)), AVERROR(EINVAL));
    id = id_of("news", COMP_GPU, "gpu0", 0);
    CU_ASSERT_EQUAL(comp_format(&id, 1, buf, sizeof(buf)), AVERROR(EINVAL));
    /* too small: ENOSPC, and still a terminated string */
    id = id_of("news", COMP_OUTPUT, "main", 2);
    CU_ASSERT_EQUAL(comp_format(&id, 1, buf, 8), AVERROR(ENOSPC));
    CU_ASSERT_STRING_EQUAL(buf, "news/ou");
    CU_ASSERT_EQUAL(comp_format(&id, 1, buf, 22), 21);
}

static void test_refused(void)
{
    const char *kinds = "a component is input, enc:NAME, out:NAME, edge:NAME, host or gpu:NAME";
    const char *inst = "an instance is written .backup or .backupN";
    const char *name = "the name after ':' must be 1-47 characters of [A-Za-z0-9_.-]";
    CompId id;

    refused("", "is empty");
    CU_ASSERT_EQUAL(comp_parse(NULL, 0, &id, NULL, 0), AVERROR(EINVAL));
    refused("enc:", name);
    refused("out:", name);
    refused("out:.backup", name);
    refused("out:a b", name);
    refused("out:a/b", "the stream name before '/' must be 1-47 characters of [a-z0-9_-]");
    refused("out:main$", name);
    refused("out:main:cdn-a", name);   /* only an edge has a pathway */
    {
        const char *edge = "an edge is edge:OUTPUT or edge:OUTPUT:PATHWAY, 1-47 characters "
                           "of [A-Za-z0-9_.-] and that ':'";
        refused("edge::cdn-a", edge);
        refused("edge:main:", edge);
        refused("edge:main:a:b", edge);
        refused("edge:main:a b", edge);
    }
    refused("out:abcdefghijabcdefghijabcdefghijabcdefghijabcdefgh", name);
    refused("out:a.backup1", "the first backup is written .backup, the next ones .backup2, "
            ".backup3, ...");
    refused("out:a.backup0", inst);
    refused("out:a.backup02", inst);
    refused("out:a.backup+2", inst);
    refused("out:a.backup 2", inst);
    refused("out:a.backupX", inst);
    refused("out:a.backup8", "at most 7 backups per component (.backup7)");
    refused("input.backup99999999999999999999", "at most 7 backups per component (.backup7)");
    refused("input.bak", inst);
    refused("input.backup.backup", inst);
    refused("x:y", kinds);
    refused("inputs", kinds);
    refused("Input", kinds);
    refused("news/", kinds);
    refused("a/b/c", "one '/' at most (STREAM/COMPONENT)");
    refused("/input", "the stream name before '/' must be 1-47 characters of [a-z0-9_-]");
    refused("News/input", "the stream name before '/' must be 1-47 characters of [a-z0-9_-]");
    refused("ne.ws/input", "the stream name before '/' must be 1-47 characters of [a-z0-9_-]");
    refused("host.backup", "the host belongs to no stream and has no backups");
    refused("news/host", "the host belongs to no stream and has no backups");
    refused("gpu:gpu0.backup", "a GPU belongs to no stream and has no backups");
    refused("news/gpu:gpu0", "a GPU belongs to no stream and has no backups");
    refused("gpu:", "the name after 'gpu:' must be 1-47 characters of [A-Za-z0-9_.:-]");
    refused("gpu:a b", "the name after 'gpu:' must be 1-47 characters of [A-Za-z0-9_.:-]");
}

/* A '.' inside a rendition or output name is part of the name (the job
 * accepts "HD.main"): only a last segment that begins with "backup" is an
 * instance. */
static void test_dotted_names(void)
{
    CompId id;
    char err[160] = "";

    CU_ASSERT_EQUAL(comp_parse("out:a.bak", 0, &id, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(id.name, "a.bak");
    CU_ASSERT_EQUAL(id.instance, 0);
    CU_ASSERT_EQUAL(comp_parse("news/out:HD.main.backup2", 0, &id, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(id.stream, "news");
    CU_ASSERT_EQUAL(id.kind, COMP_OUTPUT);
    CU_ASSERT_STRING_EQUAL(id.name, "HD.main");
    CU_ASSERT_EQUAL(id.instance, 2);
}

static void test_err_optional(void)
{
    CompId id;
    char err[8];

    /* no room for the reason: still refused, and err stays terminated */
    CU_ASSERT_EQUAL(comp_parse("x:y", 0, &id, NULL, 0), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(comp_parse("x:y", 0, &id, err, sizeof(err)), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(strlen(err), sizeof(err) - 1);
}

static void test_instance_name(void)
{
    char buf[16];

    CU_ASSERT_STRING_EQUAL(comp_instance_name(0, buf, sizeof(buf)), "primary");
    CU_ASSERT_STRING_EQUAL(comp_instance_name(1, buf, sizeof(buf)), "backup");
    CU_ASSERT_STRING_EQUAL(comp_instance_name(2, buf, sizeof(buf)), "backup2");
    CU_ASSERT_STRING_EQUAL(comp_instance_name(7, buf, sizeof(buf)), "backup7");
    CU_ASSERT_STRING_EQUAL(comp_instance_name(COMP_WHOLE, buf, sizeof(buf)), "");
}

static void test_match(void)
{
    CompId a = id_of("news", COMP_OUTPUT, "main", 1);
    CompId b = a;

    CU_ASSERT(comp_match(&a, &b));
    b.instance = 2;
    CU_ASSERT(!comp_match(&a, &b));
    b.instance = COMP_WHOLE;                  /* the whole matches each instance */
    CU_ASSERT(comp_match(&a, &b));
    CU_ASSERT(comp_match(&b, &a));
    b = a;
    b.stream[0] = 0;                          /* no stream matches any stream */
    CU_ASSERT(comp_match(&a, &b));
    CU_ASSERT(comp_match(&b, &a));
    snprintf(b.stream, sizeof(b.stream), "sport");
    CU_ASSERT(!comp_match(&a, &b));
    b = a;
    b.kind = COMP_EDGE;                       /* an output's edge is another component */
    CU_ASSERT(!comp_match(&a, &b));
    b = a;
    snprintf(b.name, sizeof(b.name), "main2");
    CU_ASSERT(!comp_match(&a, &b));
    /* parsed and built by hand alike */
    {
        CompId p, q = id_of("", COMP_HOST, "host", 0);
        char err[160];
        CU_ASSERT_EQUAL(comp_parse("host", 1, &p, err, sizeof(err)), 0);
        CU_ASSERT(comp_match(&p, &q));
        CU_ASSERT_EQUAL(comp_parse("input.backup", 0, &p, err, sizeof(err)), 0);
        q = id_of("news", COMP_INGEST, "input", 1);
        CU_ASSERT(comp_match(&p, &q));
        q.instance = 0;
        CU_ASSERT(!comp_match(&p, &q));
    }
}

static void test_kind_names(void)
{
    CU_ASSERT_STRING_EQUAL(comp_kind_name(COMP_HOST), "host");
    CU_ASSERT_STRING_EQUAL(comp_kind_name(COMP_GPU), "gpu");
    CU_ASSERT_STRING_EQUAL(comp_kind_name(COMP_INGEST), "ingest");
    CU_ASSERT_STRING_EQUAL(comp_kind_name(COMP_ENCODER), "encoder");
    CU_ASSERT_STRING_EQUAL(comp_kind_name(COMP_OUTPUT), "output");
    CU_ASSERT_STRING_EQUAL(comp_kind_name(COMP_EDGE), "edge");
    CU_ASSERT_PTR_NULL(comp_kind_name(COMP_NB_KINDS));
    CU_ASSERT_PTR_NULL(comp_kind_name((CompKind)-1));
}

static void test_next_seq(void)
{
    uint32_t a = comp_next_seq(), b = comp_next_seq();

    CU_ASSERT(a != 0);
    CU_ASSERT(b != 0 && b != a);
}

int main(void)
{
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("comp", NULL, NULL);
    CU_add_test(s, "round_trip_kinds", test_round_trip_kinds);
    CU_add_test(s, "round_trip_instances", test_round_trip_instances);
    CU_add_test(s, "whole", test_whole);
    CU_add_test(s, "format_errors", test_format_errors);
    CU_add_test(s, "refused", test_refused);
    CU_add_test(s, "dotted_names", test_dotted_names);
    CU_add_test(s, "err_optional", test_err_optional);
    CU_add_test(s, "instance_name", test_instance_name);
    CU_add_test(s, "match", test_match);
    CU_add_test(s, "kind_names", test_kind_names);
    CU_add_test(s, "next_seq", test_next_seq);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return (int)fails;
}
