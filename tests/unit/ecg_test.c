/*
 * ecg_test.c: the encoding chain graph (src/ecg/ecg.c) on jobs parsed from
 * YAML: the nodes in their documented order with the job's instance
 * counts, who feeds whom, how requests are routed and refused, and that
 * the DOT and JSON descriptions name components and never a URL, a
 * credential or a stream key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include <libavutil/bprint.h>
#include <libavutil/error.h>

#include "ecg/ecg.h"
#include "plane/stage.h"

static char tmpdir[64];
static int nb_written;

/* Two streams: "news" with audio, an input backup, a rendition with a
 * standby, an output with two backups carrying one rendition, another
 * carrying both; "sport" without audio, one rendition, one output. The
 * URLs hold credentials and keys that must never show. */
static const char *const two_streams =
    "version: 1\n"
    "streams:\n"
    "  - name: news\n"
    "    input:\n"
    "      url: \"testsrc2=size=320x180:rate=30[out0];sine=frequency=1000:sample_rate=48000[out1]\"\n"
    "      format: lavfi\n"
    "      backup: { url: \"rtmp://ingest:hunter22secret@127.0.0.1:1935/live/INKEY12345\" }\n"
    "    renditions:\n"
    "      - { name: 720p, width: 320, height: 180, backup: { encoder: libx264 } }\n"
    "      - { name: 360p, width: 160, height: 90 }\n"
    "    outputs:\n"
    "      - name: youtube\n"
    "        format: flv\n"
    "        url: rtmp://a.example.com/live/STREAMKEY9876\n"
    "        renditions: [720p]\n"
    "        backup:\n"
    "          - { url: \"rtmp://b.example.com/live/STREAMKEY9876\" }\n"
    "          - { url: \"rtmp://user:p4ssw0rd99@c.example.com/live/STREAMKEY9876\" }\n"
    "      - { name: hls, format: hls, url: OUTDIR/news/index.m3u8 }\n"
    "  - name: sport\n"
    "    input: { url: \"testsrc2=size=320x180:rate=30\", format: lavfi }\n"
    "    audio: false\n"
    "    renditions: [ { name: 720p, width: 320, height: 180 } ]\n"
    "    outputs: [ { name: hls, format: hls, url: \"http://u:pw123456789@origin.example/x.m3u8?token=TOKEN4242\" } ]\n";

/* Writes yaml (OUTDIR replaced by the temp dir) and loads it. */
static Job *load(const char *yaml)
{
    char path[128];
    JobDiag d = { 0 };
    Job *job = NULL;
    AVBPrint bp;
    FILE *f;
    int ret;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    for (const char *p = yaml; *p; p++) {
        if (!strncmp(p, "OUTDIR", 6)) {
            av_bprintf(&bp, "%s", tmpdir);
            p += 5;
        } else {
            av_bprint_chars(&bp, *p, 1);
        }
    }
    snprintf(path, sizeof(path), "%s/job%d.yaml", tmpdir, ++nb_written);
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(bp.str, f);
    fclose(f);
    av_bprint_finalize(&bp, NULL);
    ret = job_load(path, &job, &d);
    for (int i = 0; i < d.nb_msgs; i++)
        fprintf(stderr, "    %s\n", d.msgs[i]);
    job_diag_free(&d);
    CU_ASSERT_EQUAL_FATAL(ret, 0);
    return job;
}

static int find(const Ecg *g, const char *text)
{
    char err[256];
    CompId id;
    int i = ecg_lookup(g, text, &id, err, sizeof(err));

    if (i < 0)
        fprintf(stderr, "    %s\n", err);
    return i;
}

static void test_nodes(void)
{
    static const char *const want[] = {
        "news/input", "news/vdec", "news/adec", "news/ladder", "news/enc:720p",
        "news/enc:360p", "news/enc:audio", "news/out:youtube", "news/out:hls",
        "news/edge:youtube", "news/edge:hls",
        "sport/input", "sport/vdec", "sport/ladder", "sport/enc:720p", "sport/out:hls",
        "sport/edge:hls",
    };
    static const char *const kinds[] = {
        "ingest", "decoder", "decoder", "ladder", "encoder", "encoder", "encoder", "output",
        "output", "edge", "edge", "ingest", "decoder", "ladder", "encoder", "output", "edge",
    };
    static const int instances[] = { 2, 1, 1, 1, 2, 1, 1, 3, 1, 3, 1, 1, 1, 1, 1, 1, 1 };
    Job *job = load(two_streams);
    Ecg *g = NULL;
    char name[128];

    CU_ASSERT_EQUAL_FATAL(ecg_alloc_static(&g, job), 0);
    CU_ASSERT_EQUAL(ecg_nb_streams(g), 2);
    CU_ASSERT_PTR_NULL(ecg_pipeline(g, 0));
    CU_ASSERT_PTR_NULL(ecg_pipelines(g));
    CU_ASSERT_EQUAL_FATAL(ecg_nb_nodes(g), 17);
    for (int i = 0; i < 17; i++) {
        CU_ASSERT(ecg_node_name(g, i, 1, name, sizeof(name)) > 0);
        CU_ASSERT_STRING_EQUAL(name, want[i]);
        CU_ASSERT_STRING_EQUAL(ecg_node_kind(g, i), kinds[i]);
        CU_ASSERT_EQUAL(ecg_node_instances(g, i), instances[i]);
        CU_ASSERT_EQUAL(ecg_node(g, i)->instance, COMP_WHOLE);
        CU_ASSERT_EQUAL(find(g, want[i]), i);
    }
    CU_ASSERT_EQUAL(ecg_node_role(g, 1), ECG_ROLE_DECODER);
    CU_ASSERT_EQUAL(ecg_node_role(g, 3), ECG_ROLE_LADDER);
    CU_ASSERT_EQUAL(ecg_node_role(g, 4), ECG_ROLE_COMPONENT);
    ecg_node_name(g, 4, 0, name, sizeof(name));
    CU_ASSERT_STRING_EQUAL(name, "enc:720p");
    CU_ASSERT_PTR_NULL(ecg_node(g, 17));
    CU_ASSERT_TRUE(ecg_finished(g));
    CU_ASSERT_EQUAL(ecg_start(g), AVERROR(ENODEV));
    CU_ASSERT_EQUAL(ecg_join(g), 0);
    ecg_free(&g);
    CU_ASSERT_PTR_NULL(g);
    ecg_free(&g);                       /* NULL-safe */
    job_free(&job);
}

static void test_lookup(void)
{
    Job *job = load(two_streams);
    Ecg *g = NULL;
    CompId id;
    char err[256];

    CU_ASSERT_EQUAL_FATAL(ecg_alloc_static(&g, job), 0);
    /* a stream is needed only where the name is in several */
    CU_ASSERT_EQUAL(find(g, "out:youtube"), 7);
    CU_ASSERT_EQUAL(find(g, "enc:360p"), 5);
    CU_ASSERT_EQUAL(ecg_lookup(g, "enc:720p", &id, err, sizeof(err)), AVERROR(EINVAL));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "several streams"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "news, sport"));
    CU_ASSERT_EQUAL(ecg_lookup(g, "vdec", &id, err, sizeof(err)), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(find(g, "sport/vdec"), 12);
    CU_ASSERT_EQUAL(find(g, "news/adec"), 2);
    CU_ASSERT_EQUAL(ecg_lookup(g, "sport/adec", &id, err, sizeof(err)), AVERROR(ENOENT));
    CU_ASSERT_EQUAL(ecg_lookup(g, "news/out:nope", &id, err, sizeof(err)), AVERROR(ENOENT));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no such component"));
    /* '.' may be part of an output's name: "youtube.bkp" is a name, not an
     * instance, and no output has it */
    CU_ASSERT_EQUAL(ecg_lookup(g, "news/out:youtube.bkp", &id, err, sizeof(err)), AVERROR(ENOENT));
    CU_ASSERT_EQUAL(ecg_lookup(g, "news/out:youtube.backup01", &id, err, sizeof(err)), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ecg_lookup(g, "host", &id, err, sizeof(err)), AVERROR(ENOENT));
    /* the instance written comes back with the node's id */
    CU_ASSERT_EQUAL(ecg_lookup(g, "news/out:youtube.backup2", &id, err, sizeof(err)), 7);
    CU_ASSERT_EQUAL(id.instance, 2);
    CU_ASSERT_STRING_EQUAL(id.stream, "news");
    CU_ASSERT_EQUAL(ecg_lookup(g, "out:youtube", &id, err, sizeof(err)), 7);
    CU_ASSERT_EQUAL(id.instance, COMP_WHOLE);
    CU_ASSERT_STRING_EQUAL(id.stream, "news");

    CU_ASSERT_EQUAL(ecg_parse_instance("primary"), 0);
    CU_ASSERT_EQUAL(ecg_parse_instance("backup"), 1);
    CU_ASSERT_EQUAL(ecg_parse_instance("backup3"), 3);
    CU_ASSERT_EQUAL(ecg_parse_instance("2"), 2);
    CU_ASSERT_EQUAL(ecg_parse_instance("backupx"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ecg_parse_instance("-1"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ecg_parse_instance("99"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ecg_parse_instance(""), AVERROR(EINVAL));
    ecg_free(&g);
    job_free(&job);
}

/* The downstream nodes of text, as names, space-separated. */
static const char *down(const Ecg *g, const char *text)
{
    static char buf[512];
    int out[16], n = ecg_downstream(g, find(g, text), out, 16);
    size_t len = 0;

    buf[0] = 0;
    for (int k = 0; k < n; k++) {
        char name[128];
        ecg_node_name(g, out[k], 1, name, sizeof(name));
        len += snprintf(buf + len, sizeof(buf) - len, "%s%s", k ? " " : "", name);
    }
    return buf;
}

static void test_downstream(void)
{
    Job *job = load(two_streams);
    Ecg *g = NULL;
    int out[2];

    CU_ASSERT_EQUAL_FATAL(ecg_alloc_static(&g, job), 0);
    CU_ASSERT_STRING_EQUAL(down(g, "news/input"), "news/vdec news/adec");
    CU_ASSERT_STRING_EQUAL(down(g, "news/vdec"), "news/ladder");
    CU_ASSERT_STRING_EQUAL(down(g, "news/adec"), "news/enc:audio");
    CU_ASSERT_STRING_EQUAL(down(g, "news/ladder"), "news/enc:720p news/enc:360p");
    /* an encoder feeds the outputs that carry its rendition; audio every one */
    CU_ASSERT_STRING_EQUAL(down(g, "news/enc:720p"), "news/out:youtube news/out:hls");
    CU_ASSERT_STRING_EQUAL(down(g, "news/enc:360p"), "news/out:hls");
    CU_ASSERT_STRING_EQUAL(down(g, "news/enc:audio"), "news/out:youtube news/out:hls");
    CU_ASSERT_STRING_EQUAL(down(g, "news/out:youtube"), "news/edge:youtube");
    CU_ASSERT_STRING_EQUAL(down(g, "news/edge:youtube"), "");
    CU_ASSERT_STRING_EQUAL(down(g, "sport/input"), "sport/vdec");
    CU_ASSERT_STRING_EQUAL(down(g, "sport/enc:720p"), "sport/out:hls");
    /* max is honoured */
    CU_ASSERT_EQUAL(ecg_downstream(g, find(g, "news/ladder"), out, 1), 1);
    ecg_free(&g);
    job_free(&job);
}

/* ecg_request on id (text) with op and instance; returns its result. */
static int ask(Ecg *g, const char *text, CompOp op, int instance, uint32_t *seq)
{
    CompRequest req = { .op = op, .instance = instance };
    char err[256], why[256] = "";
    CompId id;
    int ret;

    if (ecg_lookup(g, text, &id, err, sizeof(err)) < 0)
        comp_parse(text, 1, &id, err, sizeof(err));  /* a component the job lacks */
    ret = ecg_request(g, &id, &req, why, sizeof(why));
    CU_ASSERT(ret >= 0 || why[0]);               /* every refusal says why */
    if (seq)
        *seq = req.seq;
    return ret;
}

/* COMP_OP_ADD of url as instance of the component named text. */
static int ask_add(Ecg *g, const char *text, int instance, const char *url)
{
    CompRequest req = { .op = COMP_OP_ADD, .instance = instance };
    char err[256], why[256] = "";
    CompId id;
    int ret;

    snprintf(req.url, sizeof(req.url), "%s", url);
    CU_ASSERT_FATAL(ecg_lookup(g, text, &id, err, sizeof(err)) >= 0);
    ret = ecg_request(g, &id, &req, why, sizeof(why));
    CU_ASSERT(ret >= 0 || why[0]);
    CU_ASSERT_PTR_NULL(strstr(why, "s3cret"));   /* a refusal never shows the URL */
    return ret;
}

static void test_requests_static(void)
{
    Job *job = load(two_streams);
    Ecg *g = NULL;
    CompRequest req = { .op = COMP_OP_PROVISION, .instance = 1 };
    CompId id;
    char why[256];

    CU_ASSERT_EQUAL_FATAL(ecg_alloc_static(&g, job), 0);
    /* no such component */
    CU_ASSERT_EQUAL(ask(g, "news/out:nope", COMP_OP_SWITCH, 1, NULL), AVERROR(ENOENT));
    CU_ASSERT_EQUAL(ask(g, "tv/input", COMP_OP_SWITCH, 1, NULL), AVERROR(ENOENT));
    /* not for this kind */
    CU_ASSERT_EQUAL(ask(g, "news/input", COMP_OP_PROVISION, 1, NULL), AVERROR(ENOTSUP));
    CU_ASSERT_EQUAL(ask(g, "news/input", COMP_OP_RELEASE, 1, NULL), AVERROR(ENOTSUP));
    CU_ASSERT_EQUAL(ask(g, "news/vdec", COMP_OP_SWITCH, 0, NULL), AVERROR(ENOTSUP));
    CU_ASSERT_EQUAL(ask(g, "news/ladder", COMP_OP_SWITCH, 0, NULL), AVERROR(ENOTSUP));
    CU_ASSERT_EQUAL(ask(g, "news/edge:youtube", COMP_OP_SWITCH, 1, NULL), AVERROR(ENOTSUP));
    /* no such instance; the primary is never provisioned or released */
    CU_ASSERT_EQUAL(ask(g, "news/out:youtube", COMP_OP_PROVISION, 0, NULL), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask(g, "news/out:youtube", COMP_OP_RELEASE, 0, NULL), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask(g, "news/out:youtube", COMP_OP_PROVISION, 3, NULL), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask(g, "news/out:youtube", COMP_OP_SWITCH, -5, NULL), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask(g, "news/enc:360p", COMP_OP_SWITCH, COMP_ANY, NULL), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask(g, "news/enc:720p", COMP_OP_PROVISION, 2, NULL), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask(g, "news/input", COMP_OP_SWITCH, 2, NULL), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask(g, "news/out:youtube", (CompOp)9, 1, NULL), AVERROR(EINVAL));
    /* the instance in the name and the request's must agree */
    CU_ASSERT_EQUAL(ask(g, "news/out:youtube.backup", COMP_OP_PROVISION, 2, NULL), AVERROR(EINVAL));
    /* valid, but nothing runs */
    CU_ASSERT_EQUAL(ask(g, "news/out:youtube.backup2", COMP_OP_PROVISION, COMP_ANY, NULL),
                    AVERROR(ENODEV));
    CU_ASSERT_EQUAL(ask(g, "news/input", COMP_OP_SWITCH, 1, NULL), AVERROR(ENODEV));
    CU_ASSERT_EQUAL(ask(g, "news/enc:720p", COMP_OP_SWITCH, 0, NULL), AVERROR(ENODEV));
    /* a URL from outside: outputs only, never over the job's instances */
    CU_ASSERT_EQUAL(ask_add(g, "news/enc:720p", 2, "srt://u:s3cret@e.example:9000"), AVERROR(ENOTSUP));
    CU_ASSERT_EQUAL(ask_add(g, "news/input", 2, "rtmp://e.example/live/s3cret"), AVERROR(ENOTSUP));
    CU_ASSERT_EQUAL(ask_add(g, "news/out:youtube", 2, "rtmp://e.example/live/s3cret"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask_add(g, "news/out:youtube", 0, "rtmp://e.example/live/s3cret"), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask_add(g, "news/out:youtube", COMP_MAX_INSTANCES, "rtmp://e.example/live/s3cret"),
                    AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask_add(g, "news/out:youtube", 3, ""), AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask_add(g, "news/out:youtube.backup3", 4, "rtmp://e.example/live/s3cret"),
                    AVERROR(EINVAL));
    CU_ASSERT_EQUAL(ask_add(g, "news/out:youtube", 3, "rtmp://e.example/live/s3cret"), AVERROR(ENODEV));
    /* where the stream is ambiguous */
    comp_parse("enc:720p", 1, &id, why, sizeof(why));
    CU_ASSERT_EQUAL(ecg_request(g, &id, &req, NULL, 0), AVERROR(EINVAL));
    /* a static graph's status: the job's instances, all idle, nothing in use */
    {
        CompStatus st;
        CU_ASSERT_EQUAL(ecg_status(g, find(g, "news/out:youtube"), &st), 0);
        CU_ASSERT_EQUAL(st.nb_instances, 3);
        CU_ASSERT_EQUAL(st.active, -1);
        CU_ASSERT_EQUAL(st.inst[2].state, INST_IDLE);
        CU_ASSERT_STRING_EQUAL(ecg_thread(g, 0), "static");
        CU_ASSERT_EQUAL(ecg_status(g, 99, &st), AVERROR(ENOENT));
    }
    ecg_free(&g);
    job_free(&job);
}

/* With pipelines (not started): requests reach the stage's mailbox with a
 * seq; the mailbox bounds them. */
static void test_requests_posted(void)
{
    Job *job = load(two_streams);
    Ecg *g = NULL;
    _Atomic int stop = 0;
    uint32_t seq1 = 0, seq2 = 0;
    CompStatus st;
    int i, full = 0;

    CU_ASSERT_EQUAL_FATAL(ecg_alloc(&g, job, NULL, &stop), 0);
    CU_ASSERT_PTR_NOT_NULL(ecg_pipeline(g, 1));
    CU_ASSERT_PTR_NOT_NULL(ecg_pipelines(g));
    CU_ASSERT_STRING_EQUAL(ecg_thread(g, 0), "idle");
    CU_ASSERT_EQUAL(ask(g, "news/out:youtube", COMP_OP_PROVISION, COMP_ANY, &seq1), 0);
    CU_ASSERT_EQUAL(ask(g, "news/out:youtube.backup2", COMP_OP_SWITCH, COMP_ANY, &seq2), 0);
    CU_ASSERT_NOT_EQUAL(seq1, 0);
    CU_ASSERT(seq2 > seq1);
    i = find(g, "news/out:youtube");
    CU_ASSERT_EQUAL(ecg_status(g, i, &st), 0);
    CU_ASSERT_EQUAL(st.pending, 2);
    CU_ASSERT_EQUAL(st.nb_instances, 3);          /* the job's, though nothing was published */
    CU_ASSERT_EQUAL(st.active, -1);               /* not started */
    /* an edge shows its output's */
    CU_ASSERT_EQUAL(ecg_status(g, find(g, "news/edge:youtube"), &st), 0);
    CU_ASSERT_EQUAL(st.pending, 2);
    CU_ASSERT_STRING_EQUAL(ecg_thread(g, find(g, "news/edge:youtube")), "idle");
    /* a seq given by the caller is kept */
    {
        CompRequest req = { .op = COMP_OP_SWITCH, .instance = 1, .seq = 4242 };
        CompId id;
        char err[128];
        ecg_lookup(g, "news/enc:720p", &id, err, sizeof(err));
        CU_ASSERT_EQUAL(ecg_request(g, &id, &req, NULL, 0), 0);
        CU_ASSERT_EQUAL(req.seq, 4242);
        CU_ASSERT_EQUAL(req.instance, 1);
    }
    /* an ADD reaches the output's mailbox (the stage says whether it fits) */
    CU_ASSERT_EQUAL(ask_add(g, "news/out:youtube", 3, "rtmp://e.example/live/s3cret"), 0);
    CU_ASSERT_EQUAL(ecg_status(g, i, &st), 0);
    CU_ASSERT_EQUAL(st.pending, 3);
    for (int k = 0; k < STAGE_MAILBOX + 2; k++)
        if (ask(g, "news/input", COMP_OP_SWITCH, 1, NULL) == AVERROR(EAGAIN))
            full++;
    CU_ASSERT_EQUAL(full, 2);
    ecg_free(&g);
    job_free(&job);
}

static void test_figures(void)
{
    Job *job = load(two_streams);
    Ecg *g = NULL;
    EcgFigures f = { .risk = 0.25f, .rate = 29.5, .queue = 3, .at_us = 1 }, got;

    CU_ASSERT_EQUAL_FATAL(ecg_alloc_static(&g, job), 0);
    ecg_figures(g, 4, &got);
    CU_ASSERT(got.risk < 0 && got.rate < 0 && got.queue < 0 && !got.at_us);
    ecg_note(g, 4, &f);
    ecg_figures(g, 4, &got);
    CU_ASSERT_DOUBLE_EQUAL(got.risk, 0.25, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(got.rate, 29.5, 1e-9);
    CU_ASSERT_EQUAL(got.queue, 3);
    ecg_note(g, 1000, &f);                       /* ignored */
    ecg_figures(g, -1, &got);
    CU_ASSERT(got.risk < 0);
    ecg_free(&g);
    job_free(&job);
}

/* Nothing of a URL: no scheme, no host, no credential, no key. */
static void assert_no_url(const char *text)
{
    static const char *const banned[] = {
        "://", "rtmp", "http", "example", "127.0.0.1", "hunter22secret", "INKEY12345",
        "STREAMKEY9876", "p4ssw0rd99", "pw123456789", "TOKEN4242", "index.m3u8", "lavfi",
        "testsrc2", "/tmp",
    };
    for (size_t k = 0; k < sizeof(banned) / sizeof(banned[0]); k++) {
        if (strstr(text, banned[k]))
            fprintf(stderr, "\n    '%s' in:\n%s\n", banned[k], text);
        CU_ASSERT_PTR_NULL(strstr(text, banned[k]));
    }
}

static void test_describe(void)
{
    Job *job = load(two_streams);
    Ecg *g = NULL;
    EcgFigures f = { .risk = 0.9f, .rate = 30, .queue = 1, .at_us = 1 };
    AVBPrint bp;
    json_t *root, *nodes, *edges, *n;
    json_error_t jerr;

    CU_ASSERT_EQUAL_FATAL(ecg_alloc_static(&g, job), 0);
    ecg_note(g, 4, &f);

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    CU_ASSERT_EQUAL(ecg_describe(g, 0, &bp), 0);
    CU_ASSERT(!strncmp(bp.str, "digraph ", 8));
    CU_ASSERT_PTR_NOT_NULL(strstr(bp.str, "\"news/input\" -> \"news/vdec\";"));
    CU_ASSERT_PTR_NOT_NULL(strstr(bp.str, "\"news/enc:720p\" -> \"news/out:youtube\";"));
    CU_ASSERT_PTR_NOT_NULL(strstr(bp.str, "\"news/out:youtube\" -> \"news/edge:youtube\";"));
    CU_ASSERT_PTR_NOT_NULL(strstr(bp.str, "subgraph \"cluster_1\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(bp.str, "primary, backup, backup2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(bp.str, "risk 0.90"));
    CU_ASSERT_PTR_NULL(strchr(bp.str, '\t'));
    assert_no_url(bp.str);
    av_bprint_finalize(&bp, NULL);

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    CU_ASSERT_EQUAL(ecg_describe(g, 1, &bp), 0);
    assert_no_url(bp.str);
    root = json_loads(bp.str, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    nodes = json_object_get(root, "nodes");
    edges = json_object_get(root, "edges");
    CU_ASSERT_EQUAL(json_array_size(nodes), 17);
    /* news: 2 + 1 + 1 + 2 + 3 output-rendition links + 2 audio + 2 edges;
     * sport: 1 + 1 + 1 + 1 + 1 */
    CU_ASSERT_EQUAL(json_array_size(edges), 18);
    n = json_array_get(nodes, 7);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(n, "id")), "news/out:youtube");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(n, "component")), "out:youtube");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(n, "stream")), "news");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(n, "kind")), "output");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(n, "thread")), "static");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(n, "instances")), 3);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
        json_array_get(json_object_get(n, "instances"), 2), "name")), "backup2");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
        json_array_get(json_object_get(n, "instances"), 2), "state")), "idle");
    CU_ASSERT_TRUE(json_is_null(json_object_get(n, "active")));
    CU_ASSERT_TRUE(json_is_null(json_object_get(n, "risk")));
    n = json_array_get(nodes, 4);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(n, "risk")), 0.9, 1e-6);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(n, "rate_unit")), "fps");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(n, "queue")), 1);
    n = json_array_get(edges, 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(n, "from")), "news/input");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(n, "to")), "news/vdec");
    json_decref(root);
    av_bprint_finalize(&bp, NULL);
    ecg_free(&g);
    job_free(&job);
}

int main(int argc, char **argv)
{
    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        { "nodes in order, kinds, instances", test_nodes },
        { "lookup and instance names", test_lookup },
        { "downstream", test_downstream },
        { "requests refused (static graph)", test_requests_static },
        { "requests posted to the mailbox", test_requests_posted },
        { "figures", test_figures },
        { "DOT and JSON, without URLs", test_describe },
    };
    char cmd[128];
    CU_pSuite s;
    int failures;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hs-ecg-test-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    av_log_set_level(argc > 1 && !strcmp(argv[1], "-v") ? AV_LOG_INFO : AV_LOG_QUIET);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("ecg", NULL, NULL);
    if (!s)
        return 1;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return 1;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return failures;
}
