/*
 * job_test.c: the job file loader (src/job/job*.c). Every class of problem
 * gets a small job and the exact "file:line:col: message" lines it must
 * produce, all of them in one run; valid jobs must load with the values and
 * the defaults the schema documents. job_libav.c is included to reach its
 * helpers (the filter-name scan).
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "core/comp.h"
#include "job/job_libav.c"

static char tmpdir[64];           /* jobs written by the tests, presets */
static char datadir[PATH_MAX];    /* tests/data/jobs */
static char path[PATH_MAX + 64];  /* the job the last load() read */
static int nb_written;

/* Writes yaml to a new file under tmpdir and loads it. */
static int load(const char *yaml, Job **job, JobDiag *diag)
{
    FILE *f;

    snprintf(path, sizeof(path), "%s/job%d.yaml", tmpdir, ++nb_written);
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(yaml, f);
    fclose(f);
    return job_load(path, job, diag);
}

static int load_fixture(const char *name, Job **job, JobDiag *diag)
{
    snprintf(path, sizeof(path), "%s/%s", datadir, name);
    return job_load(path, job, diag);
}

static void dump(const JobDiag *d)
{
    for (int i = 0; i < d->nb_msgs; i++)
        fprintf(stderr, "    got: %s\n", d->msgs[i]);
}

/*
 * Asserts that d holds exactly the n messages given, in order, each
 * "LINE:COL: message" after "path:".
 */
static void expect(const JobDiag *d, int n, ...)
{
    va_list ap;
    size_t plen = strlen(path);
    int ok = d->nb_msgs == n;

    CU_ASSERT_EQUAL(d->nb_msgs, n);
    va_start(ap, n);
    for (int i = 0; i < n && i < d->nb_msgs; i++) {
        const char *want = va_arg(ap, const char *);
        const char *got = d->msgs[i];
        int same = !strncmp(got, path, plen) && got[plen] == ':' &&
                   !strcmp(got + plen + 1, want);
        CU_ASSERT(same);
        if (!same) {
            fprintf(stderr, "\n    want: %s:%s\n    got:  %s\n", path, want, got);
            ok = 0;
        }
    }
    va_end(ap);
    if (!ok)
        dump(d);
}

/* Loads yaml, which must fail as invalid with exactly the n messages. */
#define EXPECT_BAD(yaml, n, ...) do {                              \
        Job *job_ = NULL;                                          \
        JobDiag d_ = { 0 };                                        \
        CU_ASSERT_EQUAL(load(yaml, &job_, &d_), AVERROR_INVALIDDATA); \
        CU_ASSERT_PTR_NULL(job_);                                  \
        expect(&d_, n, __VA_ARGS__);                               \
        job_diag_free(&d_);                                        \
    } while (0)

/* Loads yaml, which must be valid; returns the job. */
static Job *load_ok(const char *yaml)
{
    Job *job = NULL;
    JobDiag d = { 0 };
    int ret = load(yaml, &job, &d);

    CU_ASSERT_EQUAL(ret, 0);
    CU_ASSERT_EQUAL(d.nb_msgs, 0);
    if (ret < 0 || d.nb_msgs)
        dump(&d);
    job_diag_free(&d);
    CU_ASSERT_FATAL(job != NULL);
    return job;
}

/* A stream head that is valid: lines 1-5. Tests add renditions and
 * outputs from line 6 on. */
#define HEAD \
    "version: 1\n" \
    "streams:\n" \
    "  - name: a\n" \
    "    input: { url: in.ts }\n" \
    "    audio: false\n"

/* ---- YAML itself ------------------------------------------------------ */

static void test_syntax_error(void)
{
    Job *job = (Job *)&job;                 /* must come back NULL */
    JobDiag d = { 0 };

    CU_ASSERT_EQUAL(load("version: 1\n"
                         "streams:\n"
                         "  - name: a\n"
                         "    input: { url: x\n"
                         "  - name: b\n", &job, &d), AVERROR_INVALIDDATA);
    CU_ASSERT_PTR_NULL(job);
    /* one message, the problem and its context, nothing after it */
    expect(&d, 1, "5:9: YAML syntax error: did not find expected ',' or '}' "
                  "while parsing a flow mapping");
    job_diag_free(&d);

    EXPECT_BAD("version: 1\n"
               "streams:\n"
               "  - name: a\n"
               "   oops: 1\n", 1,
               "4:4: YAML syntax error: did not find expected '-' indicator "
               "while parsing a block collection");
    EXPECT_BAD("version: 1\nstreams: *nowhere\n", 1,
               "2:10: YAML syntax error: found undefined alias");
    /* bytes that are not UTF-8 are found before libyaml reads them */
    EXPECT_BAD("version: 1\nname: ab\xff\n", 1,
               "2:9: the job file is not text: a byte that is not UTF-8 (0xff) at byte 19; "
               "a job file is YAML in UTF-8");
}

/* Writes n bytes of buf as a job file and loads it (buf may hold NULs). */
static int load_bytes(const void *buf, size_t n, Job **job, JobDiag *diag)
{
    FILE *f;

    snprintf(path, sizeof(path), "%s/job%d.yaml", tmpdir, ++nb_written);
    f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fwrite(buf, 1, n, f) == n);
    fclose(f);
    return job_load(path, job, diag);
}

/* The limits of job.h: each refused at its place with its own message,
 * before a tree is built. */
static void test_limits(void)
{
    char *big = malloc(JOB_MAX_FILE_SIZE + 2);
    char want[sizeof(path) + 128];
    AVBPrint bp;
    Job *job = NULL;
    JobDiag d = { 0 };

    /* 64 levels load as far as the schema goes; 65 do not */
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    for (int depth = JOB_MAX_DEPTH - 1; depth <= JOB_MAX_DEPTH; depth++) {
        av_bprint_clear(&bp);
        av_bprintf(&bp, "version: 1\nx: ");
        av_bprint_chars(&bp, '[', depth);
        av_bprint_chars(&bp, ']', depth);
        av_bprintf(&bp, "\n");
        if (depth < JOB_MAX_DEPTH)
            EXPECT_BAD(bp.str, 2, "1:1: job is missing 'streams'",
                       "2:1: unknown key 'x' in job (expected one of: version, rw_timeout, "
                       "supervisor, streams, expect)");
        else
            EXPECT_BAD(bp.str, 1, "2:67: nested deeper than 64 levels (mappings and lists "
                       "inside one another)");
    }

    /* binary */
    CU_ASSERT_EQUAL(load_bytes("version: 1\n\0\1", 14, &job, &d), AVERROR_INVALIDDATA);
    expect(&d, 1, "2:1: the job file is not text: a NUL byte (0x00) at byte 11; a job file "
           "is YAML in UTF-8");
    job_diag_free(&d);
    EXPECT_BAD("version: 1\x01\n", 1, "1:11: the job file is not text: a control character "
               "(0x01) at byte 10; a job file is YAML in UTF-8");

    /* wide, and a few lines of aliases that stand for a billion values */
    av_bprint_clear(&bp);
    av_bprintf(&bp, "version: 1\nx: [");
    for (int i = 0; i <= JOB_MAX_ENTRIES; i++)
        av_bprintf(&bp, "%s1", i ? "," : "");
    av_bprintf(&bp, "]\n");
    EXPECT_BAD(bp.str, 1, "2:4: a list with more than 1000 items");
    av_bprint_clear(&bp);
    av_bprintf(&bp, "version: 1\na0: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
    for (int i = 1; i < 9; i++)
        av_bprintf(&bp, "a%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d]\n",
                   i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    EXPECT_BAD(bp.str, 1, "6:22: more than 50000 values in the job file (an alias counts "
               "its anchor's values each time it is used)");
    av_bprint_clear(&bp);
    av_bprintf(&bp, "version: 1\nx: [");
    for (int i = 0; i <= JOB_MAX_ANCHORS; i++)
        av_bprintf(&bp, "%s&a%d 1", i ? "," : "", i);
    av_bprintf(&bp, "]\n");
    EXPECT_BAD(bp.str, 1, "2:1943: more than 256 anchors in the job file");
    av_bprint_finalize(&bp, NULL);

    /* size: one byte past the limit, a comment that would be valid */
    CU_ASSERT_FATAL(big != NULL);
    memset(big, '#', JOB_MAX_FILE_SIZE + 1);
    CU_ASSERT_EQUAL(load_bytes(big, JOB_MAX_FILE_SIZE + 1, &job, &d), AVERROR_INVALIDDATA);
    snprintf(want, sizeof(want), "%s: the job file is larger than 4194304 bytes (4 MiB), "
             "the most hotspare reads", path);
    CU_ASSERT_EQUAL_FATAL(d.nb_msgs, 1);
    CU_ASSERT_STRING_EQUAL(d.msgs[0], want);
    job_diag_free(&d);
    /* the same from memory */
    CU_ASSERT_EQUAL(job_load_buffer("mem.yaml", (const uint8_t *)big, JOB_MAX_FILE_SIZE + 1,
                                    &job, NULL), AVERROR_INVALIDDATA);
    CU_ASSERT_PTR_NULL(job);
    free(big);
}

static void test_empty_and_shape(void)
{
    EXPECT_BAD("", 1, "1:1: the job file is empty");
    EXPECT_BAD("# nothing but a comment\n", 1, "1:1: the job file is empty");
    EXPECT_BAD("- version: 1\n", 1,
               "1:1: the job must be a mapping (version:, streams:), not a list");
    EXPECT_BAD("version: 1\n"
               "streams:\n"
               "  - name: a\n"
               "    input: { url: in.ts }\n"
               "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: o.ts } ]\n"
               "---\n"
               "version: 1\n", 1,
               "8:1: a job file holds one YAML document; this is a second one");
}

static void test_missing_file(void)
{
    Job *job = NULL;
    JobDiag d = { 0 };
    char want[sizeof(path) + 64];

    snprintf(path, sizeof(path), "%s/no-such-job.yaml", tmpdir);
    CU_ASSERT_EQUAL(job_load(path, &job, &d), AVERROR(ENOENT));
    CU_ASSERT_PTR_NULL(job);
    snprintf(want, sizeof(want), "%s: cannot read the job file: No such file or directory", path);
    CU_ASSERT_EQUAL_FATAL(d.nb_msgs, 1);
    CU_ASSERT_STRING_EQUAL(d.msgs[0], want);
    job_diag_free(&d);
    /* and without a diag */
    CU_ASSERT_EQUAL(job_load(path, &job, NULL), AVERROR(ENOENT));
}

/* ---- the classes of problems ----------------------------------------- */

static void test_unknown_keys(void)
{
    EXPECT_BAD("version: 1\n"
               "streems: []\n"
               "streams:\n"
               "  - name: a\n"
               "    input: { url: in.ts, fromat: mpegts }\n"
               "    renditions:\n"
               "      - name: r\n"
               "        widht: 1280\n"
               "    outputs: [ { name: o, url: o.ts, rendition: r } ]\n"
               "    audio: { codec: aac }\n"
               "    durattion: 5s\n", 6,
               "2:1: unknown key 'streems' in job (expected one of: version, rw_timeout, supervisor, streams, expect)",
               "5:26: unknown key 'fromat' in input (expected one of: url, format, options, "
               "realtime, filter, rw_timeout, backup, loss_timeout, probes, prefetch)",
               "8:9: unknown key 'widht' in rendition (expected one of: name, width, height, "
               "fps, encoder, bitrate, gop, options, device, backup)",
               "9:38: unknown key 'rendition' in output (expected one of: name, format, url, "
               "renditions, options, rw_timeout, stall_timeout, send_buffer_size, backup, "
               "pathways, steering, epoch_lock)",
               "10:14: unknown key 'codec' in audio (expected one of: encoder, bitrate, "
               "sample_rate, channels, options)",
               "11:5: unknown key 'durattion' in stream (expected one of: name, input, audio, "
               "renditions, outputs, duration, standby, standby_mode, switch_back, latency_budget, "
               "faults, orchestrator, expect)");
}

static void test_wrong_types(void)
{
    EXPECT_BAD(HEAD
               "    renditions:\n"
               "      - name: 720\n"
               "        width: \"1280\"\n"
               "        height: 7.5\n"
               "        fps: true\n"
               "        options: [preset, fast]\n"
               "        encoder: 264\n"
               "      - name: b\n"
               "        options: { preset: [fast], tune: ~ }\n"
               "        bitrate: yes\n"
               "    outputs: { name: o }\n"
               "    duration: ~\n", 11,
               "7:15: 'name' must be a string, not an integer",
               "8:16: 'width' must be an integer, not a string",
               "9:17: 'height' must be an integer, not a decimal number",
               "10:14: 'fps' must be a frame rate such as 30 or 30000/1001, not a boolean",
               "11:18: 'options' must be a mapping of scalar values",
               "12:18: 'encoder' must be a string, not an integer",
               "14:28: 'options' must be a mapping of scalar values",
               "14:42: option 'tune' needs a value",
               "15:18: 'bitrate' must be a size such as 3M, not a boolean",
               "16:14: 'outputs' must be a list, not a mapping",
               "17:15: 'duration' must be a duration such as 5s, not null");
    EXPECT_BAD("version: \"1\"\n"
               "streams:\n"
               "  - just a string\n"
               "  - name: b\n"
               "    input: rtmp://host/app/key\n"
               "    audio: aac\n"
               "    realtime: true\n"
               "    renditions: [ [720p] ]\n"
               "    outputs: [ { name: o, url: 5 } ]\n", 7,
               "1:10: 'version' must be an integer, not a string",
               "3:5: a stream must be a mapping, not a string",
               "5:12: 'input' must be a mapping, not a string",
               "6:12: 'audio' must be a mapping or false, not a string",
               "7:5: unknown key 'realtime' in stream (expected one of: name, input, audio, "
               "renditions, outputs, duration, standby, standby_mode, switch_back, latency_budget, "
               "faults, orchestrator, expect)",
               "8:19: a rendition must be a mapping, not a list",
               "9:32: 'url' must be a string, not an integer");
}

static void test_missing_keys(void)
{
    EXPECT_BAD("version: 1\n"
               "streams:\n"
               "  - name: a\n"
               "    renditions:\n"
               "      - width: 640\n"
               "    outputs:\n"
               "      - name: o\n"
               "  - input: {}\n"
               "    audio: { bitrate: 64k }\n", 7,
               "3:5: stream is missing 'input'",
               "5:9: rendition is missing 'name'",
               "7:9: output is missing 'url'",
               "8:5: stream is missing 'name'",
               "8:5: stream is missing 'renditions'",
               "8:5: stream is missing 'outputs'",
               "8:12: input is missing 'url'");
    EXPECT_BAD("streams: []\n", 2,
               "1:1: job is missing 'version'",
               "1:10: 'streams' must not be empty");
    EXPECT_BAD("version: 1\n", 1, "1:1: job is missing 'streams'");
}

static int mentions(const JobDiag *d, const char *s)
{
    for (int i = 0; i < d->nb_msgs; i++)
        if (strstr(d->msgs[i], s))
            return 1;
    return 0;
}

static void test_duplicates(void)
{
    Job *job = NULL;
    JobDiag d = { 0 };

    CU_ASSERT_EQUAL(load("version: 1\n"
                         "streams:\n"
                         "  - name: news\n"
                         "    input: { url: in.ts, url: other.ts }\n"
                         "    audio: false\n"
                         "    renditions:\n"
                         "      - name: hd\n"
                         "      - name: sd\n"
                         "      - name: hd\n"
                         "    outputs:\n"
                         "      - name: o\n"
                         "        url: out/a.m3u8\n"
                         "        renditions: [hd, sd, hd]\n"
                         "      - name: o\n"
                         "        url: rtmp://live.example.com/app/SECRET-STREAM-KEY\n"
                         "        renditions: [sd]\n"
                         "  - name: news\n"
                         "    input: { url: in2.ts }\n"
                         "    audio: false\n"
                         "    renditions: [ { name: hd } ]\n"
                         "    outputs:\n"
                         "      - name: p\n"
                         "        url: rtmp://live.example.com/app/SECRET-STREAM-KEY\n"
                         "      - name: q\n"
                         "        url: out/a.m3u8\n", &job, &d), AVERROR_INVALIDDATA);
    expect(&d, 7,
           "4:26: duplicate key 'url' (first at line 4)",
           "9:15: duplicate rendition name 'hd' (first at line 7)",
           "13:30: rendition 'hd' is listed twice (first at line 13)",
           "14:15: duplicate output name 'o' (first at line 11)",
           "17:11: duplicate stream name 'news' (first at line 3)",
           "23:14: duplicate output url 'rtmp://live.example.com/app/***' (first at line 15)",
           "25:14: duplicate output url 'out/a.m3u8' (first at line 12)");
    CU_ASSERT_FALSE(mentions(&d, "SECRET-STREAM-KEY"));
    job_diag_free(&d);
}

static void test_references(void)
{
    /* the second stream lists outputs before renditions: the messages still
     * come in file order */
    EXPECT_BAD(HEAD
               "    renditions:\n"
               "      - name: 720p\n"
               "      - name: 360p\n"
               "    outputs:\n"
               "      - name: main\n"
               "        url: out/x.m3u8\n"
               "        renditions: [1080p, 360p, { name: x }]\n"
               "  - name: b\n"
               "    input: { url: in.ts }\n"
               "    audio: false\n"
               "    outputs:\n"
               "      - name: o\n"
               "        url: out/y.m3u8\n"
               "        renditions: [hd]\n"
               "    renditions:\n"
               "      - name: sd\n"
               "        width: 7\n", 4,
               "12:22: output 'main' names unknown rendition '1080p' (renditions: 720p, 360p)",
               "12:35: a rendition name must be a string, not a mapping",
               "19:22: output 'o' names unknown rendition 'hd' (renditions: sd)",
               "22:16: 'width' must be between 16 and 16384, got 7");
    EXPECT_BAD(HEAD
               "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: o.ts, renditions: [] } ]\n", 1,
               "7:50: 'renditions' must not be empty (leave it out for all)");
}

static void test_ranges(void)
{
    EXPECT_BAD(HEAD
               "    renditions:\n"
               "      - name: a\n"
               "        width: 8\n"
               "        height: 721\n"
               "        fps: 2000\n"
               "        bitrate: 500\n"
               "        gop: 0\n"
               "      - name: b\n"
               "        width: 1279\n"
               "        height: 16386\n"
               "        fps: 0\n"
               "        bitrate: 3G\n"
               "        gop: 61s\n"
               "      - name: c\n"
               "        gop: 100001\n"
               "        fps: 30000/1001\n"
               "        width: -2\n"
               "    outputs: [ { name: o, url: o.m3u8 } ]\n"
               "    duration: 0s\n", 13,
               "8:16: 'width' must be between 16 and 16384, got 8",
               "9:17: 'height' must be even (4:2:0 video), got 721",
               "10:14: 'fps' must be a frame rate above 0 and at most 1000 "
               "(30, 29.97 or 30000/1001), got '2000'",
               "11:18: 'bitrate' must be between 1000 and 2000000000, got 500",
               "12:14: 'gop' must be between 1 and 100000, got 0",
               "14:16: 'width' must be even (4:2:0 video), got 1279",
               "15:17: 'height' must be between 16 and 16384, got 16386",
               "16:14: 'fps' must be a frame rate above 0 and at most 1000 "
               "(30, 29.97 or 30000/1001), got '0'",
               "17:18: 'bitrate' must be between 1000 and 2000000000, got 3000000000",
               "18:14: 'gop' must be more than 0 and at most 1m, got 61s",
               "20:14: 'gop' must be between 1 and 100000, got 100001",
               "22:16: 'width' must be between 16 and 16384, got -2",
               "24:15: 'duration' must be more than 0");
    /* another version: its keys would only be noise, so nothing else */
    EXPECT_BAD("version: 2\nstreams: nope\nfoo: 1\n", 1,
               "1:10: unsupported version 2 (this hotspare reads version 1)");
}

static void test_units(void)
{
    EXPECT_BAD("version: 1\n"
               "rw_timeout: 5\n"
               "streams:\n"
               "  - name: a\n"
               "    input: { url: in.ts, rw_timeout: 0s }\n"
               "    audio: false\n"
               "    renditions: [ { name: r, gop: 2x } ]\n"
               "    outputs: [ { name: o, url: o.ts, rw_timeout: -1s } ]\n"
               "    duration: 20\n", 5,
               "2:13: 'rw_timeout' needs a unit, e.g. 20s",
               "5:38: 'rw_timeout' must be more than 0",
               "7:35: 'gop' has an unknown unit 'x' (expected us, ms, s, m, h or d)",
               "8:50: 'rw_timeout' must not be negative, got '-1s'",
               "9:15: 'duration' needs a unit, e.g. 20s");
}

/* stall_timeout and send_buffer_size: an output's, inherited by its
 * backups unless a backup says otherwise; out of range named. */
static void test_stall_keys(void)
{
    Job *job = load_ok("version: 1\n"
                       "streams:\n"
                       "  - name: a\n"
                       "    input: { url: in.ts }\n"
                       "    renditions: [ { name: r } ]\n"
                       "    outputs:\n"
                       "      - name: o\n"
                       "        url: rtmp://127.0.0.1/live/k\n"
                       "        stall_timeout: 2500ms\n"
                       "        send_buffer_size: 64k\n"
                       "        backup: [ { url: rtmp://127.0.0.2/live/k },\n"
                       "                  { url: rtmp://127.0.0.3/live/k, send_buffer_size: 0, stall_timeout: 3s } ]\n");
    const JobOutput *o = &job->streams[0].outputs[0];

    CU_ASSERT_EQUAL(o->stall_timeout_us, 2500000);
    CU_ASSERT_EQUAL(o->send_buffer_size, 64000);
    CU_ASSERT_EQUAL(o->backups[0].stall_timeout_us, 2500000);
    CU_ASSERT_EQUAL(o->backups[0].send_buffer_size, 64000);
    CU_ASSERT_EQUAL(o->backups[1].stall_timeout_us, 3000000);
    CU_ASSERT_EQUAL(o->backups[1].send_buffer_size, 0);
    job_free(&job);
    EXPECT_BAD("version: 1\n"
               "streams:\n"
               "  - name: a\n"
               "    input: { url: in.ts }\n"
               "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: o.ts, stall_timeout: 2m, send_buffer_size: 100M } ]\n", 2,
               "6:53: 'stall_timeout' must be more than 0 and at most 1m, got 2m",
               "6:75: 'send_buffer_size' must be between 0 and 67108864, got 100000000");
}

/* pathways and steering: ids, bases and the manifest's path as players
 * need them; the endpoint that serves it must be on. */
static void test_pathways(void)
{
    Job *job = load_ok("version: 1\n"
                       "supervisor: { metrics: 127.0.0.1:9464 }\n"
                       "streams:\n"
                       "  - name: a\n"
                       "    input: { url: in.ts }\n"
                       "    renditions: [ { name: r, bitrate: 1M } ]\n"
                       "    outputs:\n"
                       "      - name: main\n"
                       "        url: http://127.0.0.1:8080/live/a/index.m3u8\n"
                       "        pathways:\n"
                       "          - { id: cdn-a, base: \"https://a.cdn.example/live/a/\" }\n"
                       "          - { id: cdn.b_2, base: \"http://b.cdn.example/live/a\" }\n"
                       "        steering: { uri: \"https://steer.example/a/main.json?asset=7\", demote_on: failure }\n");
    const JobOutput *o = &job->streams[0].outputs[0];

    CU_ASSERT_EQUAL(o->nb_pathways, 2);
    CU_ASSERT_STRING_EQUAL(o->pathways[0].id, "cdn-a");
    CU_ASSERT_STRING_EQUAL(o->pathways[1].base, "http://b.cdn.example/live/a/");
    CU_ASSERT_STRING_EQUAL(o->steering.path, "/a/main.json");
    CU_ASSERT_EQUAL(o->steering.ttl_us, 10000000);
    CU_ASSERT_EQUAL(o->steering.on_failure_only, 1);
    job_free(&job);
    EXPECT_BAD("version: 1\n"
               "supervisor: { metrics: 127.0.0.1:9464 }\n"
               "streams:\n"
               "  - name: a\n"
               "    input: { url: in.ts }\n"
               "    renditions: [ { name: r } ]\n"
               "    outputs:\n"
               "      - name: main\n"
               "        url: o/index.m3u8\n"
               "        pathways: [ { id: \"cdn a\", base: /live/ }, { id: b, base: \"http://b/\" },\n"
               "                    { id: b, base: \"http://c/\", weight: 2 } ]\n"
               "        steering: { uri: \"http://s/x.json\", ttl: 1.5s }\n"
               "      - { name: r, url: rtmp://127.0.0.1/live/k, pathways: [ { id: a, base: \"http://a/\" } ] }\n"
               "      - { name: t, url: t/i.m3u8, steering: { uri: \"http://s/y.json\" } }\n"
               "      - { name: u, url: u/i.mpd, pathways: [ { id: a, base: \"http://a/\" } ], steering: { uri: \"http://s/x.json\" } }\n"
               "      - { name: v, url: v/i.mpd, pathways: [ { id: a, base: \"http://a/\" } ] }\n", 10,
               "10:19: pathways: rendition 'r' needs a bitrate (the multivariant playlist's "
               "BANDWIDTH comes from it)",
               "10:27: pathway id 'cdn a' may hold only [A-Za-z0-9._-] (HLS PATHWAY-ID)",
               "10:42: base must be an absolute http:// or https:// URL (players resolve against it)",
               "11:27: duplicate pathway name 'b' (first at line 10)",
               "11:49: unknown key 'weight' in pathway (expected one of: id, base)",
               "12:50: steering ttl is told to players in whole seconds: write 10s, not a fraction",
               "13:60: pathways are for hls and dash outputs (Content Steering), not flv",
               "14:45: steering without pathways: list the CDN paths under pathways:",
               "15:88: steering uri path '/x.json' is already the manifest of another output "
               "(line 12): each output needs its own",
               "16:9: an output with pathways is missing 'steering'");
    EXPECT_BAD("version: 1\n"
               "streams:\n"
               "  - name: a\n"
               "    input: { url: in.ts }\n"
               "    renditions: [ { name: r, bitrate: 1M } ]\n"
               "    outputs: [ { name: o, url: o/i.m3u8, pathways: [ { id: a, base: \"http://a/\" } ],\n"
               "                 steering: { uri: \"http://s/x.json\" } } ]\n", 1,
               "1:1: an output steers viewers, and the steering manifest is served by the "
               "supervisor's HTTP endpoint: set supervisor: metrics: { listen: ADDR } (with "
               "allow_remote: true where players reach it from outside)");
}

static void test_names(void)
{
    EXPECT_BAD("version: 1\n"
               "streams:\n"
               "  - name: News\n"
               "    input: { url: in.ts }\n"
               "    audio: false\n"
               "    renditions: [ { name: \"720p HD\" }, { name: ok.v-1_A } ]\n"
               "    outputs: [ { name: \"\", url: o.mkv } ]\n"
               "  - { name: abcdefghijabcdefghijabcdefghijabc, input: { url: in.ts }, "
               "renditions: [ { name: r } ], outputs: [ { name: o, url: p.ts } ] }\n", 4,
               "3:11: stream name must be 1 to 32 characters of a-z, 0-9, '_' and '-', "
               "got 'News'",
               "6:27: rendition name must be 1 to 32 characters of A-Z, a-z, 0-9, '_', '.' "
               "and '-', got '720p HD'",
               "7:24: output name must be 1 to 32 characters of A-Z, a-z, 0-9, '_', '.' "
               "and '-', got ''",
               "8:13: stream name must be 1 to 32 characters of a-z, 0-9, '_' and '-', "
               "got 'abcdefghijabcdefghijabcdefghijabc'");
}

static void test_audio(void)
{
    EXPECT_BAD("version: 1\n"
               "streams:\n"
               "  - name: a\n"
               "    input: { url: in.ts }\n"
               "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: o.m3u8 } ]\n"
               "    audio: { encoder: libx264, bitrate: 128x, sample_rate: 4000, channels: 9 }\n"
               "  - name: b\n"
               "    input: { url: in.ts }\n"
               "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: p.m3u8 } ]\n"
               "    audio: { encoder: libopus, sample_rate: 44100, options: { vbr: maybe, crf: 3 } }\n"
               "  - name: c\n"
               "    input: { url: in.ts }\n"
               "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: q.m3u8 } ]\n"
               "    audio: { encoder: libmp3lame, channels: 6, bitrate: 999 }\n", 9,
               "7:23: 'libx264' is a video encoder, audio needs an audio encoder",
               "7:41: 'bitrate' has an unknown unit 'x' (expected k, M, G, Ki, Mi or Gi)",
               "7:60: 'sample_rate' must be between 8000 and 192000, got 4000",
               "7:76: 'channels' must be between 1 and 8, got 9",
               "12:45: encoder 'libopus' cannot encode at 44100 Hz "
               "(it takes: 48000, 24000, 16000, 12000, 8000)",
               "12:68: invalid value 'maybe' for option 'vbr' of encoder 'libopus': "
               "Invalid argument",
               "12:75: encoder 'libopus' has no option 'crf'",
               "17:45: encoder 'libmp3lame' cannot encode 6 channels (it takes: 1, 2)",
               "17:57: 'bitrate' must be between 1000 and 2000000000, got 999");
}

static void test_encoders_and_formats(void)
{
    EXPECT_BAD("version: 1\n"
               "streams:\n"
               "  - name: a\n"
               "    input: { url: in.ts, format: mpegtsx }\n"
               "    audio: false\n"
               "    renditions:\n"
               "      - name: r\n"
               "        encoder: libx999\n"
               "      - name: s\n"
               "        encoder: aac\n"
               "      - name: t\n"
               "        encoder: h264_nvenc\n"
               "      - name: u\n"
               "        encoder: h264_vaapi\n"
               "        device: /dev/dri/renderD128\n"
               "    outputs:\n"
               "      - name: o\n"
               "        url: out/x.m3u8\n"
               "        format: hlsx\n"
               "      - name: p\n"
               "        url: out/noext\n"
               "      - name: q\n"
               "        url: foo://host/app?key=SECRETQUERY\n"
               "        format: mpegts\n", 7,
               "4:34: unknown input format 'mpegtsx' (see ffmpeg -demuxers)",
               "8:18: unknown encoder 'libx999' (see ffmpeg -encoders)",
               "10:18: 'aac' is an audio encoder, a rendition needs a video encoder",
               "19:17: unknown output format 'hlsx' (see ffmpeg -muxers)",
               "21:14: cannot guess the format of 'out/noext'; set format:",
               "22:9: mpegts output 'q' carries one video rendition, 4 selected; "
               "list one under renditions:",
               "23:14: unknown protocol 'foo' in 'foo://host/app?key=***' (see ffmpeg -protocols)");
}

static void test_options(void)
{
    EXPECT_BAD(HEAD
               "    renditions:\n"
               "      - name: r\n"
               "        options: { presett: fast, preset: veryfast, crf: abc, skip_frame: nokey }\n"
               "    outputs:\n"
               "      - name: o\n"
               "        url: out/x.m3u8\n"
               "        options: { hls_time: 2, hls_tme: 2, hls_playlist_type: evnt, method: PUT, probesize: 5 }\n"
               "      - name: y\n"
               "        url: rtmp://live.example.com/app/KEYKEYKEY\n"
               "        renditions: [r]\n"
               "        options: { rtmp_live: live, rtmp_lve: 1, flvflags: no_duration_filesize, rw_timeout: 1000 }\n"
               "  - name: b\n"
               "    input: { url: in.ts, options: { probesize: 5M, nosuchopt: 1, analyzeduration: abc, protocol_whitelist: file } }\n"
               "    audio: false\n"
               "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: o.ts } ]\n"
               "  - name: c\n"
               "    input: { url: \"testsrc=size=320x240\", format: lavfi, options: { graph: x, truncate: 1 } }\n"
               "    audio: false\n"
               "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: o2.ts } ]\n"
               "  - name: d\n"
               "    input: { url: \"rtmp://live.example.com/app/in\", format: flv, options: { rtmp_buffer: 100, listen: 1, nosuch: 1 } }\n"
               "    audio: false\n"
               "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: o3.ts } ]\n", 11,
               "8:20: encoder 'libx264' has no option 'presett'",
               "8:58: invalid value 'abc' for option 'crf' of encoder 'libx264': Invalid argument",
               "8:63: encoder 'libx264' has no option 'skip_frame'",
               "12:33: muxer 'hls' and protocol 'file' have no option 'hls_tme'",
               "12:64: invalid value 'evnt' for option 'hls_playlist_type' of muxer 'hls': "
               "Invalid argument",
               "12:83: muxer 'hls' and protocol 'file' have no option 'probesize'",
               "16:37: muxer 'flv' and protocol 'rtmp' have no option 'rtmp_lve'",
               "18:52: unknown input option 'nosuchopt' (no demuxer or protocol 'file' has it)",
               "18:83: invalid value 'abc' for option 'analyzeduration' of the input: "
               "Invalid argument",
               "23:79: demuxer 'lavfi' has no option 'truncate'",
               "28:106: demuxer 'flv' and protocol 'rtmp' have no option 'nosuch'");
}

static void test_max_video(void)
{
    EXPECT_BAD(HEAD
               "    renditions: [ { name: hd }, { name: sd } ]\n"
               "    outputs:\n"
               "      - name: yt\n"
               "        url: rtmp://a.rtmp.youtube.com/live2/YTKEY-1234\n"
               "      - name: ts\n"
               "        url: srt://host:9000\n"
               "        renditions: [hd, sd]\n"
               "      - name: ok\n"
               "        url: udp://239.0.0.1:1234\n"
               "        renditions: [sd]\n"
               "      - name: hls\n"
               "        url: out/x.m3u8\n", 2,
               "8:9: flv output 'yt' carries one video rendition, 2 selected; "
               "list one under renditions:",
               "12:21: mpegts output 'ts' carries one video rendition, 2 selected; "
               "list one under renditions:");
    CU_ASSERT_EQUAL(job_format_max_video("flv"), 1);
    CU_ASSERT_EQUAL(job_format_max_video("mpegts"), 1);
    CU_ASSERT_EQUAL(job_format_max_video("hls"), INT_MAX);
    CU_ASSERT_EQUAL(job_format_max_video("mp4"), INT_MAX);
    CU_ASSERT_EQUAL(job_format_max_video("dash"), INT_MAX);
}

/* ---- filters ----------------------------------------------------------- */

static char filters_dir[96];

/* Called from main(), before CUnit runs: no asserts here. */
static int write_preset(const char *name, const char *text)
{
    char p[160];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s.graph", filters_dir, name);
    f = fopen(p, "w");
    if (!f) {
        perror(p);
        return -1;
    }
    fputs(text, f);
    return fclose(f);
}

/* One stream on one line, with the input filter written as given (its
 * value starts at column 45). */
#define FSTREAM(n, filter) \
    "  - { name: " n ", input: { url: in.ts, filter: " filter " }, audio: false, " \
    "renditions: [ { name: r } ], outputs: [ { name: o, url: " n ".ts } ] }\n"

static void test_filter_errors(void)
{
    EXPECT_BAD("version: 1\n"
               "streams:\n"
               FSTREAM("a", "nosuchpreset")
               FSTREAM("b", "empty")
               FSTREAM("c", "two")
               FSTREAM("d", "\"scalex=1280:720\"")
               FSTREAM("e", "\"hflip, [x]vflipx=1[y]\"")
               FSTREAM("f", "\"scale=w=abc\"")
               FSTREAM("g", "testsrc")
               FSTREAM("h", "\"volume=2\"")
               FSTREAM("i", "audio"), 9,
               "3:45: unknown filter preset 'nosuchpreset' (no nosuchpreset.graph in the "
               "preset directories, and no libavfilter filter of that name)",
               "4:45: filter preset 'empty' is empty",
               "5:45: filter preset 'two' must have exactly one unconnected input and one "
               "unconnected output, it has 1 and 2",
               "6:45: filter graph 'scalex=1280:720' names an unknown filter 'scalex' "
               "(see ffmpeg -filters)",
               "7:45: filter graph 'hflip, [x]vflipx=1[y]' names an unknown filter 'vflipx' "
               "(see ffmpeg -filters)",
               "8:45: filter graph 'scale=w=abc' does not parse: Invalid argument",
               "9:45: filter graph 'testsrc' must have exactly one unconnected input and one "
               "unconnected output, it has 0 and 1",
               "10:45: filter graph 'volume=2' must take and give video",
               "11:45: filter preset 'audio' must take and give video");
}

static void test_filters_ok(void)
{
    Job *job = load_ok("version: 1\n"
                       "streams:\n"
                       FSTREAM("a", "deint")
                       FSTREAM("b", "hflip")
                       FSTREAM("c", "\"scale=640:-2,format=yuv420p\"")
                       FSTREAM("d", "\"[in]scale@main=640:-2[mid];[mid]hflip[out]\"")
                       FSTREAM("e", "\"drawtext=text='a,b;c':x=1, null\""));
    JobInput *in = &job->streams[0].input;

    CU_ASSERT_STRING_EQUAL(in->filter_name, "deint");
    CU_ASSERT_STRING_EQUAL(in->filter, "yadif=mode=send_frame");
    /* a filter's name is a graph of one filter, not a preset */
    CU_ASSERT_PTR_NULL(job->streams[1].input.filter_name);
    CU_ASSERT_STRING_EQUAL(job->streams[1].input.filter, "hflip");
    CU_ASSERT_PTR_NULL(job->streams[2].input.filter_name);
    CU_ASSERT_STRING_EQUAL(job->streams[2].input.filter, "scale=640:-2,format=yuv420p");
    CU_ASSERT_STRING_EQUAL(job->streams[3].input.filter,
                           "[in]scale@main=640:-2[mid];[mid]hflip[out]");
    job_free(&job);
}

static void test_unknown_filter_scan(void)
{
    static const struct { const char *graph, *unknown; } cases[] = {
        { "scale=1:2,nosuch", "nosuch" },
        { "[a]scale@x=1:2[b];[b]nope@y[c]", "nope" },
        { "drawtext=text='x,nosuch':x=1,hflip", NULL },
        { "drawtext=text=a\\,nosuch,hflip", NULL },
        { "sws_flags=bicubic;scale=1:2", NULL },
        { " hflip , vflip ", NULL },
        { "", NULL },
        { "[unclosed", NULL },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = unknown_filter_in(cases[i].graph);
        if (cases[i].unknown) {
            CU_ASSERT_PTR_NOT_NULL(got);
            if (got)
                CU_ASSERT_STRING_EQUAL(got, cases[i].unknown);
        } else {
            CU_ASSERT_PTR_NULL(got);
        }
        av_free(got);
    }
}

/* ---- secrets ----------------------------------------------------------- */

static void test_redaction(void)
{
    static const char *const secrets[] = {
        "SECRETKEY-111", "PASSWORD-222", "PASSWORD-333", "INKEY-444",
    };
    Job *job = NULL;
    JobDiag d = { 0 };
    char masked[256];

    CU_ASSERT_EQUAL(load("version: 1\n"
                         "streams:\n"
                         "  - name: a\n"
                         "    input: { url: \"rtmp://in.example.com/live/INKEY-444\", realtime: 3 }\n"
                         "    audio: false\n"
                         "    renditions: [ { name: r } ]\n"
                         "    outputs:\n"
                         "      - name: x\n"
                         "        url: rtmp://live.example.com/app/SECRETKEY-111\n"
                         "      - name: y\n"
                         "        url: rtmp://live.example.com/app/SECRETKEY-111\n"
                         "      - name: z\n"
                         "        url: \"srt://host:9000?passphrase=PASSWORD-222&latency=200\"\n"
                         "        format: nosuch\n"
                         "      - name: w\n"
                         "        url: \"http://user:PASSWORD-333@origin.example.com/live\"\n",
                         &job, &d), AVERROR_INVALIDDATA);
    expect(&d, 4,
           "4:69: 'realtime' must be true or false, not an integer",
           "11:14: duplicate output url 'rtmp://live.example.com/app/***' (first at line 9)",
           "14:17: unknown output format 'nosuch' (see ffmpeg -muxers)",
           "16:14: cannot guess the format of 'http://***@origin.example.com/live'; set format:");
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        CU_ASSERT_FALSE(mentions(&d, secrets[i]));
    job_diag_free(&d);

    /* job_load registered them: the log masks them wherever they show up */
    log_mask("key SECRETKEY-111 pass PASSWORD-222 PASSWORD-333 in INKEY-444",
             masked, sizeof(masked));
    CU_ASSERT_STRING_EQUAL(masked, "key **** pass **** **** in ****");
}

/* ---- valid jobs -------------------------------------------------------- */

static const char *dict(const AVDictionary *d, const char *key)
{
    const AVDictionaryEntry *e = av_dict_get(d, key, NULL, 0);
    return e ? e->value : "(absent)";
}

static void test_full_job(void)
{
    Job *job = NULL;
    JobDiag d = { 0 };
    JobStream *st;
    JobRendition *r;
    JobOutput *o;

    CU_ASSERT_EQUAL_FATAL(load_fixture("full.yaml", &job, &d), 0);
    CU_ASSERT_EQUAL(d.nb_msgs, 0);
    CU_ASSERT_STRING_EQUAL(job->path, path);
    CU_ASSERT_EQUAL(job->version, 1);
    CU_ASSERT_EQUAL_FATAL(job->nb_streams, 2);

    st = &job->streams[0];
    CU_ASSERT_STRING_EQUAL(st->name, "news");
    CU_ASSERT_EQUAL(st->loc.line, 6);
    CU_ASSERT_EQUAL(st->loc.col, 5);
    CU_ASSERT_STRING_EQUAL(st->input.url, "testsrc2=size=1280x720:rate=30");
    CU_ASSERT_STRING_EQUAL(st->input.format, "lavfi");
    CU_ASSERT_EQUAL(st->input.realtime, 1);
    CU_ASSERT_STRING_EQUAL(st->input.filter, "scale=1280:720,format=yuv420p");
    CU_ASSERT_PTR_NULL(st->input.filter_name);
    CU_ASSERT_EQUAL(st->input.rw_timeout_us, 3000000);      /* the job's */
    CU_ASSERT_PTR_NULL(st->input.options);
    CU_ASSERT_EQUAL(st->input.loc.line, 8);
    CU_ASSERT_EQUAL(st->audio.enabled, 1);
    CU_ASSERT_STRING_EQUAL(st->audio.encoder, "aac");
    CU_ASSERT_EQUAL(st->audio.bitrate, 96000);
    CU_ASSERT_EQUAL(st->audio.sample_rate, 48000);
    CU_ASSERT_EQUAL(st->audio.channels, 2);
    CU_ASSERT_EQUAL(st->duration_us, 20000000);

    CU_ASSERT_EQUAL_FATAL(st->nb_renditions, 2);
    r = &st->renditions[0];
    CU_ASSERT_STRING_EQUAL(r->name, "720p");
    CU_ASSERT_EQUAL(r->width, 1280);
    CU_ASSERT_EQUAL(r->height, 720);
    CU_ASSERT_EQUAL(r->fps.num, 30000);
    CU_ASSERT_EQUAL(r->fps.den, 1001);
    CU_ASSERT_STRING_EQUAL(r->encoder, "libx264");
    CU_ASSERT_EQUAL(r->bitrate, 3000000);
    CU_ASSERT_EQUAL(r->gop_us, 2000000);
    CU_ASSERT_EQUAL(r->gop_frames, 0);
    CU_ASSERT_STRING_EQUAL(dict(r->options, "preset"), "veryfast");
    CU_ASSERT_STRING_EQUAL(dict(r->options, "tune"), "zerolatency");
    CU_ASSERT_STRING_EQUAL(dict(r->options, "g"), "60");
    CU_ASSERT_EQUAL(av_dict_count(r->options), 3);
    CU_ASSERT_PTR_NULL(r->device);
    CU_ASSERT_EQUAL(r->loc.line, 13);
    CU_ASSERT_EQUAL(r->loc.col, 9);
    r = &st->renditions[1];
    CU_ASSERT_STRING_EQUAL(r->name, "360p");
    CU_ASSERT_EQUAL(r->width, 0);
    CU_ASSERT_EQUAL(r->height, 360);
    CU_ASSERT_EQUAL(r->fps.num, 15);
    CU_ASSERT_EQUAL(r->fps.den, 1);
    CU_ASSERT_STRING_EQUAL(r->encoder, "libx264");
    CU_ASSERT_EQUAL(r->bitrate, 800000);
    CU_ASSERT_EQUAL(r->gop_frames, 48);
    CU_ASSERT_EQUAL(r->gop_us, 0);

    CU_ASSERT_EQUAL_FATAL(st->nb_outputs, 2);
    o = &st->outputs[0];
    CU_ASSERT_STRING_EQUAL(o->name, "hls");
    CU_ASSERT_STRING_EQUAL(o->format, "hls");                /* guessed */
    CU_ASSERT_STRING_EQUAL(o->url, "out/news/index.m3u8");
    CU_ASSERT_EQUAL_FATAL(o->nb_renditions, 2);              /* all */
    CU_ASSERT_EQUAL(o->renditions[0], 0);
    CU_ASSERT_EQUAL(o->renditions[1], 1);
    CU_ASSERT_STRING_EQUAL(dict(o->options, "hls_time"), "2");
    CU_ASSERT_STRING_EQUAL(dict(o->options, "hls_flags"), "delete_segments");
    CU_ASSERT_EQUAL(o->rw_timeout_us, 3000000);
    o = &st->outputs[1];
    CU_ASSERT_STRING_EQUAL(o->name, "yt");
    CU_ASSERT_STRING_EQUAL(o->format, "flv");                /* rtmp:// */
    CU_ASSERT_EQUAL_FATAL(o->nb_renditions, 1);
    CU_ASSERT_EQUAL(o->renditions[0], 0);
    CU_ASSERT_EQUAL(o->rw_timeout_us, 10000000);

    st = &job->streams[1];
    CU_ASSERT_STRING_EQUAL(st->name, "sport");
    CU_ASSERT_EQUAL(st->input.realtime, 0);                  /* srt:// */
    CU_ASSERT_PTR_NULL(st->input.format);
    CU_ASSERT_EQUAL(st->input.rw_timeout_us, 2000000);
    CU_ASSERT_EQUAL(st->audio.enabled, 0);
    CU_ASSERT_PTR_NULL(st->audio.encoder);
    CU_ASSERT_EQUAL(st->duration_us, 0);
    CU_ASSERT_EQUAL_FATAL(st->nb_renditions, 1);
    r = &st->renditions[0];
    CU_ASSERT_STRING_EQUAL(r->encoder, "h264_nvenc");
    CU_ASSERT_STRING_EQUAL(r->device, "0");
    CU_ASSERT_EQUAL(r->gop_us, JOB_DEFAULT_GOP_US);
    CU_ASSERT_EQUAL(r->fps.num, 0);
    CU_ASSERT_EQUAL(r->bitrate, 0);
    CU_ASSERT_EQUAL_FATAL(st->nb_outputs, 2);
    CU_ASSERT_STRING_EQUAL(st->outputs[0].format, "mpegts");
    CU_ASSERT_EQUAL(st->outputs[0].nb_renditions, 1);
    CU_ASSERT_STRING_EQUAL(st->outputs[1].format, "mp4");    /* .mp4 */
    CU_ASSERT_STRING_EQUAL(dict(st->outputs[1].options, "movflags"), "+faststart");
    CU_ASSERT_EQUAL(st->outputs[1].rw_timeout_us, 3000000);

    job_free(&job);
    CU_ASSERT_PTR_NULL(job);
    job_diag_free(&d);
}

static void test_defaults(void)
{
    char masked[64];
    Job *job = load_ok("version: 1\n"
                       "streams:\n"
                       "  - name: a\n"
                       "    input: { url: rtmp://in.example.com/live/INKEY-555 }\n"
                       "    renditions: [ { name: r } ]\n"
                       "    outputs: [ { name: o, url: out/a.m3u8 } ]\n");
    JobStream *st = &job->streams[0];

    CU_ASSERT_EQUAL(st->input.rw_timeout_us, JOB_DEFAULT_RW_TIMEOUT_US);
    CU_ASSERT_EQUAL(st->input.realtime, 0);
    CU_ASSERT_PTR_NULL(st->input.filter);
    CU_ASSERT_EQUAL(st->audio.enabled, 1);
    CU_ASSERT_STRING_EQUAL(st->audio.encoder, JOB_DEFAULT_AUDIO_ENCODER);
    CU_ASSERT_EQUAL(st->audio.bitrate, JOB_DEFAULT_AUDIO_BITRATE);
    CU_ASSERT_EQUAL(st->audio.sample_rate, 0);
    CU_ASSERT_EQUAL(st->audio.channels, 0);
    CU_ASSERT_STRING_EQUAL(st->renditions[0].encoder, JOB_DEFAULT_VIDEO_ENCODER);
    CU_ASSERT_EQUAL(st->renditions[0].gop_us, JOB_DEFAULT_GOP_US);
    CU_ASSERT_EQUAL(st->renditions[0].gop_frames, 0);
    CU_ASSERT_EQUAL(st->renditions[0].width, 0);
    CU_ASSERT_EQUAL(st->outputs[0].rw_timeout_us, JOB_DEFAULT_RW_TIMEOUT_US);
    CU_ASSERT_EQUAL(st->outputs[0].stall_timeout_us, JOB_DEFAULT_STALL_TIMEOUT_US);
    CU_ASSERT_EQUAL(st->outputs[0].send_buffer_size, JOB_DEFAULT_SEND_BUFFER);
    CU_ASSERT_STRING_EQUAL(st->outputs[0].format, "hls");
    CU_ASSERT_EQUAL(st->outputs[0].nb_renditions, 1);
    CU_ASSERT_EQUAL(st->duration_us, 0);
    log_mask("INKEY-555", masked, sizeof(masked));
    CU_ASSERT_STRING_EQUAL(masked, "****");
    job_free(&job);
}

static void test_realtime_and_audio(void)
{
    static const struct { const char *input; int realtime; } cases[] = {
        { "{ url: in.ts }", 1 },
        { "{ url: \"testsrc=size=320x240\", format: lavfi }", 1 },
        { "{ url: \"udp://239.0.0.1:1234\" }", 0 },
        { "{ url: \"http://origin.example.com/live.m3u8\" }", 0 },
        { "{ url: \"rtmps://in.example.com/live/k\" }", 0 },
        { "{ url: \"srt://in.example.com:9000\", realtime: yes }", 1 },
        { "{ url: in.ts, realtime: Off }", 0 },
    };
    char yaml[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Job *job;
        snprintf(yaml, sizeof(yaml),
                 "version: 1\n"
                 "streams:\n"
                 "  - name: a\n"
                 "    input: %s\n"
                 "    audio: %s\n"
                 "    renditions: [ { name: r } ]\n"
                 "    outputs: [ { name: o, url: o.mkv } ]\n",
                 cases[i].input, i & 1 ? "true" : "{ bitrate: 64k }");
        job = load_ok(yaml);
        CU_ASSERT_EQUAL(job->streams[0].input.realtime, cases[i].realtime);
        CU_ASSERT_EQUAL(job->streams[0].audio.enabled, 1);
        CU_ASSERT_STRING_EQUAL(job->streams[0].audio.encoder, "aac");
        CU_ASSERT_EQUAL(job->streams[0].audio.bitrate, i & 1 ? 128000 : 64000);
        job_free(&job);
    }
}

static void test_yaml_features(void)
{
    /* anchors and aliases, booleans and nulls as option values, quoted
     * names that look like numbers, a block-literal URL */
    Job *job = load_ok("version: 1\n"
                       "streams:\n"
                       "  - name: \"2024\"\n"
                       "    input:\n"
                       "      url: in.ts\n"
                       "      options: { fflags: +genpts }\n"
                       "    audio: { encoder: aac, options: &aopts { aac_coder: fast } }\n"
                       "    renditions:\n"
                       "      - name: \"720\"\n"
                       "        options: &x264 { preset: veryfast, forced-idr: true, "
                       "intra-refresh: no }\n"
                       "      - name: sd\n"
                       "        options: *x264\n"
                       "        gop: \"1.5s\"\n"
                       "    outputs:\n"
                       "      - name: o\n"
                       "        url: |-\n"
                       "          out/a.mkv\n");
    JobStream *st = &job->streams[0];

    CU_ASSERT_STRING_EQUAL(st->name, "2024");
    CU_ASSERT_STRING_EQUAL(dict(st->input.options, "fflags"), "+genpts");
    CU_ASSERT_STRING_EQUAL(dict(st->audio.options, "aac_coder"), "fast");
    CU_ASSERT_STRING_EQUAL(st->renditions[0].name, "720");
    CU_ASSERT_STRING_EQUAL(dict(st->renditions[0].options, "forced-idr"), "1");
    CU_ASSERT_STRING_EQUAL(dict(st->renditions[0].options, "intra-refresh"), "0");
    CU_ASSERT_STRING_EQUAL(dict(st->renditions[1].options, "preset"), "veryfast");
    CU_ASSERT_EQUAL(st->renditions[1].gop_us, 1500000);
    CU_ASSERT_STRING_EQUAL(st->outputs[0].url, "out/a.mkv");
    CU_ASSERT_STRING_EQUAL(st->outputs[0].format, "matroska");
    job_free(&job);
}

/* ---- one job, many problems ------------------------------------------- */

/* Backups, loss detection, probes, standby and switch-back: values and
 * defaults. */
static void test_switching(void)
{
    Job *job = load_ok(
        "version: 1\n"
        "streams:\n"
        "  - name: a\n"
        "    input:\n"
        "      url: rtmp://h/live/primary-key-123\n"
        "      backup: [ { url: rtmp://h/live/backup-key-456 }, { url: slate.mp4, realtime: false } ]\n"
        "      loss_timeout: 250ms\n"
        "      prefetch: on_risk\n"
        "      probes: { black: 2s, silence: 5s }\n"
        "    audio: false\n"
        "    renditions:\n"
        "      - { name: r, encoder: h264_nvenc, backup: { options: { preset: ultrafast } } }\n"
        "    outputs:\n"
        "      - name: o\n"
        "        url: rtmp://a/live/key\n"
        "        options: { flvflags: no_duration_filesize }\n"
        "        rw_timeout: 3s\n"
        "        backup: { url: rtmp://b/live/key, options: { rtmp_live: live } }\n"
        "    standby: always\n"
        "    switch_back: never\n"
        "    latency_budget: 1500ms\n");
    const JobStream *st = &job->streams[0];
    const JobInput *in = &st->input;

    CU_ASSERT_EQUAL(in->nb_backups, 2);
    CU_ASSERT_STRING_EQUAL(in->backups[0].url, "rtmp://h/live/backup-key-456");
    CU_ASSERT_FALSE(in->backups[0].realtime);     /* network: paces itself */
    CU_ASSERT_FALSE(in->backups[1].realtime);     /* as written */
    CU_ASSERT_EQUAL(in->backups[1].rw_timeout_us, JOB_DEFAULT_RW_TIMEOUT_US);
    CU_ASSERT_EQUAL(in->loss_timeout_us, 250000);
    CU_ASSERT_EQUAL(in->prefetch, JOB_PREFETCH_ON_RISK);
    CU_ASSERT_EQUAL(in->black_us, 2000000);
    CU_ASSERT_EQUAL(in->freeze_us, 0);
    CU_ASSERT_EQUAL(in->silence_us, 5000000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st->renditions[0].backup);
    CU_ASSERT_STRING_EQUAL(st->renditions[0].backup->encoder, "libx264");
    CU_ASSERT_PTR_NOT_NULL(av_dict_get(st->renditions[0].backup->options, "preset", NULL, 0));
    CU_ASSERT_EQUAL(st->outputs[0].nb_backups, 1);
    /* a backup destination takes the output's options and deadline, its
     * own options on top */
    CU_ASSERT_PTR_NOT_NULL(av_dict_get(st->outputs[0].backups[0].options, "flvflags", NULL, 0));
    CU_ASSERT_PTR_NOT_NULL(av_dict_get(st->outputs[0].backups[0].options, "rtmp_live", NULL, 0));
    CU_ASSERT_EQUAL(st->outputs[0].backups[0].rw_timeout_us, 3000000);
    CU_ASSERT_EQUAL(st->standby, JOB_STANDBY_ALWAYS);
    CU_ASSERT_EQUAL(st->switch_back_us, 0);
    CU_ASSERT_EQUAL(st->latency_budget_us, 1500000);
    job_free(&job);

    job = load_ok(HEAD
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n");
    st = &job->streams[0];
    CU_ASSERT_EQUAL(st->input.loss_timeout_us, JOB_DEFAULT_LOSS_TIMEOUT_US);
    CU_ASSERT_EQUAL(st->standby, JOB_STANDBY_ON_RISK);
    CU_ASSERT_EQUAL(st->switch_back_us, JOB_DEFAULT_SWITCH_BACK_US);
    CU_ASSERT_EQUAL(st->latency_budget_us, JOB_DEFAULT_LATENCY_BUDGET_US);
    CU_ASSERT_PTR_NULL(st->renditions[0].backup);
    CU_ASSERT_EQUAL(st->nb_faults, 0);
    job_free(&job);
}

static void test_prefetch(void)
{
    Job *job = load_ok(HEAD
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n");

    /* the default reads every backup all the time, as before the key */
    CU_ASSERT_EQUAL(job->streams[0].input.prefetch, JOB_PREFETCH_ALWAYS);
    job_free(&job);
    EXPECT_BAD("version: 1\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts, backup: { url: b.ts }, prefetch: sometimes }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n", 1,
        "4:59: 'prefetch' must be always or on_risk");
}

static void test_switching_errors(void)
{
    EXPECT_BAD(HEAD
        "    renditions: [ { name: r, backup: { encoder: aac, bogus: 1 } } ]\n"
        "    outputs:\n"
        "      - { name: o, url: o.ts, backup: [ { url: o.ts }, { options: {} } ] }\n"
        "    standby: sometimes\n"
        "    probes: {}\n", 6,
        "6:49: 'aac' is an audio encoder, a rendition's backup needs a video encoder",
        "6:54: unknown key 'bogus' in encoder backup (expected one of: encoder, bitrate, options, device)",
        "8:48: duplicate output url 'o.ts' (first at line 8)",
        "8:56: output backup is missing 'url'",
        "9:14: 'standby' must be on_risk, always or never",
        "10:5: unknown key 'probes' in stream (expected one of: name, input, audio, renditions, outputs, "
        "duration, standby, standby_mode, switch_back, latency_budget, faults, orchestrator, expect)");
}

/* faults: a schedule of faults and drills, each on a component that
 * exists and can take it. */
static void test_faults(void)
{
    Job *job = load_ok(HEAD
        "    renditions: [ { name: r, backup: {} } ]\n"
        "    outputs: [ { name: o, url: o.ts, backup: { url: p.ts } } ]\n"
        "    faults:\n"
        "      - { at: 0s, component: out:o, fault: error }\n"
        "      - { at: 2s, component: enc:r, fault: slow, duration: 10s, ramp: 40ms }\n"
        "      - { at: 1s, every: 500ms, count: 20, component: out:o, action: switch }\n"
        "      - { at: 3s, component: input, fault: drop, duration: 1s, ratio: 0.25 }\n"
        "      - { at: 4s, component: out:o.backup, fault: stall, duration: 2s }\n");
    const JobStream *st = &job->streams[0];

    CU_ASSERT_EQUAL_FATAL(st->nb_faults, 5);
    CU_ASSERT_EQUAL(st->faults[0].at_us, 0);
    CU_ASSERT_EQUAL(st->faults[0].kind, JOB_FAULT_ERROR);
    CU_ASSERT_EQUAL(st->faults[1].kind, JOB_FAULT_SLOW);
    CU_ASSERT_EQUAL(st->faults[1].ramp_us, 40000);
    CU_ASSERT_EQUAL(st->faults[2].kind, JOB_ACTION_SWITCH);
    CU_ASSERT_EQUAL(st->faults[2].count, 20);
    CU_ASSERT_EQUAL(st->faults[2].every_us, 500000);
    CU_ASSERT_DOUBLE_EQUAL(st->faults[3].ratio, 0.25, 1e-9);
    CU_ASSERT_STRING_EQUAL(st->faults[4].component, "out:o.backup");
    job_free(&job);

    EXPECT_BAD(HEAD
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n"
        "    faults:\n"
        "      - { at: 1s, component: out:x, fault: error }\n"
        "      - { at: 1s, component: out:o.backup, fault: error }\n"
        "      - { at: 1s, component: out:o, action: switch }\n"
        "      - { at: 1s, component: enc:r, fault: drop, duration: 1s }\n"
        "      - { at: 1s, component: input, fault: stall }\n"
        "      - { at: 1s, component: input, fault: error, count: 3 }\n"
        "      - { at: 1s, component: input, fault: melt }\n", 7,
        "9:30: unknown component 'out:x' (input, input.backup, enc:RENDITION, enc:RENDITION.backup, "
        "enc:audio, out:OUTPUT, out:OUTPUT.backup, ...)",
        "10:30: 'out:o.backup': the output has 0 backups",
        "11:30: 'out:o' names a component without a backup: an action applies to a component "
        "with a backup, named without .backup",
        "12:44: an encoder cannot have a 'drop' fault (error, stall, slow or hang)",
        "13:9: fault is missing 'duration'",
        "14:58: 'count' above 1 needs 'every'",
        "15:44: 'fault' must be error, stall, slow, drop, close or hang");
}

/* A fault's component is read with the one grammar (core/comp.h): a name
 * it refuses is refused here with its reason, as are the stream prefix
 * (the data plane looks faults up without it) and kinds with no faults. */
static void test_fault_names(void)
{
    Job *job = load_ok(HEAD
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: HD.main, url: o.ts, backup: { url: p.ts } } ]\n"
        "    faults:\n"
        "      - { at: 0s, component: out:HD.main, fault: error }\n"
        "      - { at: 1s, component: out:HD.main.backup, fault: error }\n");
    const JobStream *st = &job->streams[0];

    CU_ASSERT_EQUAL_FATAL(st->nb_faults, 2);
    CU_ASSERT_STRING_EQUAL(st->faults[1].component, "out:HD.main.backup");
    job_free(&job);

    EXPECT_BAD(HEAD
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n"
        "    faults:\n"
        "      - { at: 1s, component: input.backup1, fault: error }\n"
        "      - { at: 1s, component: a/input, fault: error }\n"
        "      - { at: 1s, component: host, fault: error }\n"
        "      - { at: 1s, component: edge:o, fault: error }\n"
        "      - { at: 1s, component: \"enc:\", fault: error }\n", 5,
        "9:30: 'input.backup1': the first backup is written .backup, the next ones "
        ".backup2, .backup3, ...",
        "10:30: 'a/input': a fault names a component of its own stream, without 'a/'",
        "11:30: unknown component 'host' (input, input.backup, enc:RENDITION, "
        "enc:RENDITION.backup, enc:audio, out:OUTPUT, out:OUTPUT.backup, ...)",
        "12:30: unknown component 'edge:o' (input, input.backup, enc:RENDITION, "
        "enc:RENDITION.backup, enc:audio, out:OUTPUT, out:OUTPUT.backup, ...)",
        "13:30: 'enc:': the name after ':' must be 1-47 characters of [A-Za-z0-9_.-]");
}

/* The job refuses what the data plane cannot hold: more than
 * COMP_MAX_INSTANCES - 1 backups of an input or an output, a second
 * standby encoder, a fault on a backup that is not there. */
static void test_backup_limits(void)
{
    Job *job = load_ok(
        "version: 1\n"
        "streams:\n"
        "  - name: a\n"
        "    input:\n"
        "      url: in.ts\n"
        "      backup: [ {url: b1.ts}, {url: b2.ts}, {url: b3.ts}, {url: b4.ts}, {url: b5.ts},\n"
        "                {url: b6.ts}, {url: b7.ts} ]\n"
        "    audio: false\n"
        "    renditions: [ { name: r, backup: {} } ]\n"
        "    outputs: [ { name: o, url: o.ts, backup: [ {url: p1.ts}, {url: p2.ts} ] } ]\n"
        "    faults:\n"
        "      - { at: 1s, component: input.backup7, fault: error }\n"
        "      - { at: 1s, component: out:o.backup2, fault: error }\n"
        "      - { at: 1s, component: enc:r.backup, fault: error }\n");

    CU_ASSERT_EQUAL(job->streams[0].input.nb_backups, COMP_MAX_INSTANCES - 1);
    CU_ASSERT_EQUAL(job->streams[0].nb_faults, 3);
    job_free(&job);

    EXPECT_BAD(
        "version: 1\n"
        "streams:\n"
        "  - name: a\n"
        "    input:\n"
        "      url: in.ts\n"
        "      backup: [ {url: b1.ts}, {url: b2.ts}, {url: b3.ts}, {url: b4.ts}, {url: b5.ts},\n"
        "                {url: b6.ts}, {url: b7.ts}, {url: b8.ts}, {url: b9.ts} ]\n"
        "    audio: false\n"
        "    renditions: [ { name: r, backup: [ {}, {} ] }, { name: s, backup: {} } ]\n"
        "    outputs:\n"
        "      - name: o\n"
        "        url: o.mkv\n"
        "        backup: [ {url: p1.ts}, {url: p2.ts}, {url: p3.ts}, {url: p4.ts}, {url: p5.ts},\n"
        "                  {url: p6.ts}, {url: p7.ts}, {url: p8.ts} ]\n"
        "      - { name: q, url: q.mkv, backup: [ {url: q1.ts}, {url: q2.ts} ] }\n"
        "    faults:\n"
        "      - { at: 1s, component: out:q.backup9, fault: error }\n"
        "      - { at: 1s, component: out:q.backup3, fault: error }\n"
        "      - { at: 1s, component: enc:s.backup2, fault: error }\n"
        "      - { at: 1s, component: input.backup8, fault: error }\n", 7,
        "7:45: an input has at most 7 backups (the data plane holds the primary and 7 more); "
        "this is backup 8 of 9",
        "9:38: 'backup' must be a mapping, not a list",
        "14:47: an output has at most 7 backups (the data plane holds the primary and 7 more); "
        "this is backup 8 of 8",
        "17:30: 'out:q.backup9': at most 7 backups per component (.backup7)",
        "18:30: 'out:q.backup3': the output has 2 backups",
        "19:30: 'enc:s.backup2': the rendition has 1 backup",
        "20:30: 'input.backup8': at most 7 backups per component (.backup7)");
}

/* supervisor: the tick, the data store, the metrics endpoint. */
static void test_supervisor(void)
{
    Job *job = load_ok(
        "version: 1\n"
        "supervisor:\n"
        "  tick: 500ms\n"
        "  hds: { path: run.hds, retention: 2d }\n"
        "  metrics: 127.0.0.1:9464\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n");

    CU_ASSERT_EQUAL(job->supervisor.tick_us, 500000);
    CU_ASSERT_STRING_EQUAL(job->supervisor.hds_path, "run.hds");
    CU_ASSERT_EQUAL(job->supervisor.hds_retention_us, 2 * 24 * 3600 * 1000000LL);
    CU_ASSERT_EQUAL(job->supervisor.hds_raw_window_us, 24 * 3600 * 1000000LL);
    CU_ASSERT_STRING_EQUAL(job->supervisor.metrics_addr, "127.0.0.1:9464");
    CU_ASSERT_PTR_NULL(job->supervisor.model_path);      /* the default model */
    CU_ASSERT_FALSE(job->supervisor.prediction_off);
    job_free(&job);

    job = load_ok("version: 1\nsupervisor: { model: models/mine.hsm }\nstreams:\n"
                  "  - name: a\n    input: { url: in.ts }\n"
                  "    renditions: [ { name: r } ]\n    outputs: [ { name: o, url: o.ts } ]\n");
    CU_ASSERT_STRING_EQUAL(job->supervisor.model_path, "models/mine.hsm");
    job_free(&job);
    job = load_ok("version: 1\nsupervisor: { model: none }\nstreams:\n"
                  "  - name: a\n    input: { url: in.ts }\n"
                  "    renditions: [ { name: r } ]\n    outputs: [ { name: o, url: o.ts } ]\n");
    CU_ASSERT_PTR_NULL(job->supervisor.model_path);
    CU_ASSERT_TRUE(job->supervisor.prediction_off);
    job_free(&job);

    job = load_ok(HEAD
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n");
    CU_ASSERT_EQUAL(job->supervisor.tick_us, JOB_DEFAULT_TICK_US);
    CU_ASSERT_PTR_NULL(job->supervisor.hds_path);
    CU_ASSERT_PTR_NULL(job->supervisor.metrics_addr);
    job_free(&job);

    EXPECT_BAD(
        "version: 1\n"
        "supervisor:\n"
        "  tick: 10ms\n"
        "  hds: { retention: 1d }\n"
        "  metrics: 0.0.0.0:9464\n"
        "  prometheus: yes\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n", 4,
        "3:9: 'tick' must be at least 100ms",
        "4:8: hds is missing 'path'",
        "5:12: '0.0.0.0:9464' is not a loopback address: metrics show the job's topology; "
        "set allow_remote: true to listen there",
        "6:3: unknown key 'prometheus' in supervisor (expected one of: tick, hds, metrics, model, "
        "control, hooks, orchestrator, standby_mode, fleet)");
    job = load_ok(
        "version: 1\n"
        "supervisor: { metrics: { listen: \"0.0.0.0:9464\", allow_remote: true } }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n");
    CU_ASSERT_TRUE(job->supervisor.metrics_allow_remote);
    CU_ASSERT_PTR_NULL(job->supervisor.control_path);    /* the run's default */
    job_free(&job);

    /* the control socket: a path, at most what sockaddr_un holds */
    job = load_ok("version: 1\nsupervisor: { control: /run/hs/news.sock }\nstreams:\n"
                  "  - name: a\n    input: { url: in.ts }\n"
                  "    renditions: [ { name: r } ]\n    outputs: [ { name: o, url: o.ts } ]\n");
    CU_ASSERT_STRING_EQUAL(job->supervisor.control_path, "/run/hs/news.sock");
    job_free(&job);
    EXPECT_BAD(
        "version: 1\n"
        "supervisor: { control: [ a ] }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n", 1,
        "2:24: 'control' must be a string, not a list");
    EXPECT_BAD(
        "version: 1\n"
        "supervisor: { control: /run/hotspare/a-very-long-directory-name-that-goes-on/"
        "and-on-and-on-and-on-past-what-a-unix-socket-address-can-hold.sock }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n", 1,
        "2:24: 'control' must be at most 107 bytes (a Unix socket's path), got 120");
}

/* orchestrator: job-wide defaults under supervisor:, a stream's own over
 * them; ranges and consistency checked. */
static void test_orchestrator(void)
{
    Job *job = load_ok(
        "version: 1\n"
        "supervisor:\n"
        "  orchestrator: { provision_above: 0.8, release_below: 0.3, keep: 2m, confirm: 5,\n"
        "                  max_provisioned: 4 }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n"
        "    orchestrator: { provision_above: 0.9, switch_above: 0.97 }\n"
        "  - name: b\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: p.ts } ]\n"
        "    orchestrator: { switch_above: off }\n");
    const JobOrchestrator *a = &job->streams[0].orchestrator, *b = &job->streams[1].orchestrator;

    CU_ASSERT_EQUAL(job->supervisor.orchestrator.max_provisioned, 4);
    CU_ASSERT_DOUBLE_EQUAL(a->provision_above, 0.9, 1e-6);     /* its own */
    CU_ASSERT_DOUBLE_EQUAL(a->release_below, 0.3, 1e-6);       /* the supervisor's */
    CU_ASSERT_DOUBLE_EQUAL(a->switch_above, 0.97, 1e-6);
    CU_ASSERT_EQUAL(a->confirm, 5);
    CU_ASSERT_EQUAL(a->keep_us, 120000000);
    CU_ASSERT_DOUBLE_EQUAL(b->provision_above, 0.8, 1e-6);
    CU_ASSERT(b->switch_above > 1);                            /* off */
    job_free(&job);

    /* nothing said: every field unset, for the model's and the defaults */
    job = load_ok(HEAD
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n");
    a = &job->streams[0].orchestrator;
    CU_ASSERT(a->provision_above < 0 && a->release_below < 0 && a->switch_above < 0);
    CU_ASSERT(a->confirm == 0 && a->keep_us == 0);
    CU_ASSERT_EQUAL(job->supervisor.orchestrator.max_provisioned, 0);
    job_free(&job);
    /* max_provisioned: 0 written means none ahead, not the default */
    job = load_ok("version: 1\nsupervisor: { orchestrator: { max_provisioned: 0 } }\nstreams:\n"
                  "  - name: a\n    input: { url: in.ts }\n"
                  "    renditions: [ { name: r } ]\n    outputs: [ { name: o, url: o.ts } ]\n");
    CU_ASSERT_EQUAL(job->supervisor.orchestrator.max_provisioned, -1);
    job_free(&job);

    EXPECT_BAD(HEAD
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n"
        "    orchestrator: { provision_above: 1.5, release_below: high, switch_above: -1,\n"
        "                    confirm: 0, keep: 5, max_provisioned: 2, watch: yes }\n", 7,
        "8:38: 'provision_above' must be a risk from 0 to 1, got 1.5",
        "8:58: 'release_below' must be a risk from 0 to 1, got high",
        "8:78: 'switch_above' must be a risk from 0 to 1 or off, got -1",
        "9:30: 'confirm' must be between 1 and 3600, got 0",
        "9:39: 'keep' needs a unit, e.g. 20s",
        "9:59: 'max_provisioned' is job-wide: set it under supervisor: orchestrator:",
        "9:62: unknown key 'watch' in orchestrator (expected one of: provision_above, "
        "release_below, switch_above, confirm, keep, max_provisioned, max_sessions_per_device, "
        "hot_above)");
    EXPECT_BAD(HEAD
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n"
        "    orchestrator: { provision_above: 0.5, release_below: 0.6 }\n", 1,
        "8:19: 'release_below' (0.6) must be below 'provision_above' (0.5)");
}

/* A standby encoder may list the devices the allocator picks from; the
 * per-device session budget is job-wide. */
static void test_devices(void)
{
    Job *job = load_ok(
        "version: 1\n"
        "supervisor: { orchestrator: { max_sessions_per_device: 3 } }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions:\n"
        "      - { name: r, encoder: h264_nvenc, device: \"0\",\n"
        "          backup: { encoder: h264_nvenc, device: [1, \"0\", cuda:2] } }\n"
        "      - { name: s, backup: { device: /dev/dri/renderD129 } }\n"
        "      - { name: t, backup: {} }\n"
        "    outputs: [ { name: o, url: o.m3u8 } ]\n");
    const JobRendition *r = job->streams[0].renditions;

    CU_ASSERT_EQUAL(job->supervisor.orchestrator.max_sessions_per_device, 3);
    CU_ASSERT_EQUAL_FATAL(r[0].backup->nb_devices, 3);
    CU_ASSERT_STRING_EQUAL(r[0].backup->device, "1");           /* the first listed */
    CU_ASSERT_STRING_EQUAL(r[0].backup->devices[1], "0");
    CU_ASSERT_STRING_EQUAL(r[0].backup->devices[2], "cuda:2");
    CU_ASSERT_EQUAL_FATAL(r[1].backup->nb_devices, 1);
    CU_ASSERT_STRING_EQUAL(r[1].backup->devices[0], "/dev/dri/renderD129");
    CU_ASSERT_EQUAL(r[2].backup->nb_devices, 0);
    CU_ASSERT_PTR_NULL(r[2].backup->device);
    job_free(&job);

    EXPECT_BAD(HEAD
        "    renditions:\n"
        "      - { name: r, backup: { device: [] } }\n"
        "      - { name: s, backup: { device: [0, 0, { a: 1 }] } }\n"
        "    outputs: [ { name: o, url: o.m3u8 } ]\n"
        "    orchestrator: { max_sessions_per_device: 2 }\n", 4,
        "7:38: 'device' must list 1 to 16 devices, got 0",
        "8:42: device '0' is listed twice",
        "8:45: 'device' must be a device: a CUDA index or a render node, not a mapping",
        "10:46: 'max_sessions_per_device' is job-wide: set it under supervisor: orchestrator:");
}

/* standby_mode: warm | hot, per stream over the supervisor's default;
 * hot only with a latency budget of at least 2 GOPs; hot_above read like
 * switch_above. */
static void test_standby_mode(void)
{
    Job *job = load_ok(
        "version: 1\n"
        "supervisor: { standby_mode: hot, orchestrator: { hot_above: 0.9 } }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r, gop: 1s, backup: { encoder: libx264 } } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n"
        "  - name: b\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r, backup: { encoder: libx264 } } ]\n"
        "    outputs: [ { name: o, url: p.ts } ]\n"
        "    standby_mode: warm\n"
        "    orchestrator: { hot_above: off }\n"
        "  - name: c\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r, gop: 60, fps: 30, backup: { encoder: libx264 } } ]\n"
        "    outputs: [ { name: o, url: q.ts } ]\n"
        "    latency_budget: 4s\n");

    CU_ASSERT_EQUAL(job->supervisor.standby_mode, JOB_STANDBY_HOT);
    CU_ASSERT_EQUAL(job->streams[0].standby_mode, JOB_STANDBY_HOT);     /* the supervisor's */
    CU_ASSERT_EQUAL(job->streams[1].standby_mode, JOB_STANDBY_WARM);    /* its own */
    CU_ASSERT_EQUAL(job->streams[2].standby_mode, JOB_STANDBY_HOT);     /* 2 s GOP, 4 s budget */
    CU_ASSERT_DOUBLE_EQUAL(job->streams[0].orchestrator.hot_above, 0.9, 1e-6);
    CU_ASSERT(job->streams[1].orchestrator.hot_above > 1);              /* off */
    job_free(&job);

    /* nothing said: warm, and no hot_above */
    job = load_ok(HEAD
        "    renditions: [ { name: r, backup: { encoder: libx264 } } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n");
    CU_ASSERT_EQUAL(job->streams[0].standby_mode, JOB_STANDBY_WARM);
    CU_ASSERT(job->streams[0].orchestrator.hot_above < 0);
    job_free(&job);

    /* no budget: hot holds back as much as it likes */
    job = load_ok(HEAD
        "    renditions: [ { name: r, gop: 10s, backup: { encoder: libx264 } } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n"
        "    standby_mode: hot\n"
        "    latency_budget: none\n");
    CU_ASSERT_EQUAL(job->streams[0].standby_mode, JOB_STANDBY_HOT);
    job_free(&job);

    /* a word it does not know; a risk out of range */
    EXPECT_BAD(HEAD
        "    renditions: [ { name: r, backup: { encoder: libx264 } } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n"
        "    standby_mode: lukewarm\n"
        "    orchestrator: { hot_above: 2 }\n", 2,
        "8:19: 'standby_mode' must be warm or hot",
        "9:32: 'hot_above' must be a risk from 0 to 1 or off, got 2");
    EXPECT_BAD("version: 1\nsupervisor: { standby_mode: [hot] }\nstreams:\n"
               "  - name: a\n    input: { url: in.ts }\n"
               "    renditions: [ { name: r } ]\n    outputs: [ { name: o, url: o.ts } ]\n", 1,
               "2:29: 'standby_mode' must be warm or hot");

    /* hot with a budget below 2 GOPs: at the stream's latency_budget, or
     * at the standby_mode it has (its own, else the supervisor's); only
     * renditions with a standby count */
    EXPECT_BAD(HEAD
        "    renditions:\n"
        "      - { name: r, gop: 2s, backup: { encoder: libx264 } }\n"
        "      - { name: s, gop: 5s }\n"
        "    outputs: [ { name: o, url: o.m3u8 } ]\n"
        "    standby_mode: hot\n"
        "    latency_budget: 3s\n", 1,
        "11:21: 'standby_mode: hot' holds rendition 'r' back a GOP at a time: with a GOP "
        "of 2s its latency_budget must be at least 2 GOPs (4s), got 3s");
    EXPECT_BAD(HEAD
        "    renditions: [ { name: r, backup: { encoder: libx264 } } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n"
        "    standby_mode: hot\n", 1,
        "8:19: 'standby_mode: hot' holds rendition 'r' back a GOP at a time: with a GOP "
        "of 2s its latency_budget must be at least 2 GOPs (4s), got 3s");
    EXPECT_BAD("version: 1\nsupervisor: { standby_mode: hot }\nstreams:\n"
               "  - name: a\n    input: { url: in.ts }\n"
               "    renditions: [ { name: r, gop: 90, fps: 30, backup: { encoder: libx264 } } ]\n"
               "    outputs: [ { name: o, url: o.ts } ]\n", 1,
               "2:29: 'standby_mode: hot' holds rendition 'r' back a GOP at a time: with a GOP "
               "of 3s its latency_budget must be at least 2 GOPs (6s), got 3s");
}

/* supervisor: hooks: argv lists with placeholders, and a deadline. */
/* supervisor.fleet: endpoints (one or a list), node, lease in whole
 * seconds, prefix; problems at their file:line:col, and a refused
 * endpoint not repeated (it may hold credentials); job_keep_streams. */
static int keep_b(void *opaque, const char *name)
{
    return !strcmp(name, "b");
}

static void test_fleet(void)
{
    Job *job = load_ok(
        "version: 1\n"
        "supervisor:\n"
        "  fleet: { etcd: [ \"http://127.0.0.1:2379\", \"http://127.0.0.1:2380\" ], node: enc-a,\n"
        "           lease: 1500ms, pair: on_risk }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n"
        "  - name: b\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o/index.m3u8, format: hls, epoch_lock: true } ]\n");

    CU_ASSERT_EQUAL(job->supervisor.fleet.nb_etcd, 2);
    CU_ASSERT_STRING_EQUAL(job->supervisor.fleet.etcd[1], "http://127.0.0.1:2380");
    CU_ASSERT_STRING_EQUAL(job->supervisor.fleet.node, "enc-a");
    CU_ASSERT_EQUAL(job->supervisor.fleet.lease_us, 2000000);
    CU_ASSERT_STRING_EQUAL(job->supervisor.fleet.prefix, "/hotspare");
    CU_ASSERT_EQUAL(job->supervisor.fleet.pair, JOB_PAIR_ON_RISK);
    CU_ASSERT_EQUAL(job->streams[1].outputs[0].epoch_lock, 1);
    CU_ASSERT_EQUAL(job->streams[0].outputs[0].epoch_lock, 0);
    job_keep_streams(job, keep_b, NULL);
    CU_ASSERT_EQUAL_FATAL(job->nb_streams, 1);
    CU_ASSERT_STRING_EQUAL(job->streams[0].name, "b");
    job_free(&job);

    EXPECT_BAD(
        "version: 1\n"
        "supervisor:\n"
        "  fleet: { etcd: \"http://u:secret@h:2379\", node: \"a b\", prefix: x, colour: red }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n",
        4,
        "3:18: an etcd endpoint must not carry credentials",
        "3:50: 'node' may hold letters, digits, '-', '_' and '.' only",
        "3:65: 'prefix' must start with '/' (at most 200 bytes)",
        "3:68: unknown key 'colour' in fleet (expected one of: etcd, node, lease, prefix, pair, "
        "max_streams)");
    EXPECT_BAD(
        "version: 1\n"
        "supervisor:\n"
        "  fleet: { etcd: \"http://h:2379\", node: a, pair: sometimes }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n",
        1,
        "3:50: 'pair' is always, on_risk or off");
    EXPECT_BAD(
        "version: 1\n"
        "supervisor:\n"
        "  fleet: { etcd: [] }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n",
        2,
        "3:10: fleet is missing 'node'",
        "3:18: 'etcd' must list at least one endpoint");
    EXPECT_BAD(
        "version: 1\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: /srv/d/index.mpd, format: dash, epoch_lock: true } ]\n",
        1,
        "6:76: epoch_lock on a DASH output needs an HTTP destination: libav renames its local "
        "segment files itself, under the names it chose");
    EXPECT_BAD(
        "version: 1\n"
        "supervisor:\n"
        "  fleet: { etcd: \"http://h:2379\", node: a, max_streams: 0 }\n",
        1,
        "3:57: 'max_streams' must be between 1 and 64, got 0");
}

/* A fleet node's own job may have no stream (they are placed on the
 * fleet); any other job must have one. job_adopt_streams adds a placed
 * job's streams but for the names the node's job has. */
static void test_fleet_node_job(void)
{
    Job *node = load_ok(
        "version: 1\n"
        "supervisor:\n"
        "  fleet: { etcd: \"http://h:2379\", node: a, max_streams: 4 }\n");
    Job *placed = load_ok(
        "version: 1\n"
        "streams:\n"
        "  - { name: a, input: { url: in.ts }, renditions: [ { name: r } ], outputs: [ { name: o, url: o.ts } ] }\n"
        "  - { name: b, input: { url: in2.ts }, renditions: [ { name: r } ], outputs: [ { name: o, url: o2.ts } ] }\n");
    Job *again = load_ok(
        "version: 1\n"
        "streams:\n"
        "  - { name: b, input: { url: x.ts }, renditions: [ { name: r } ], outputs: [ { name: o, url: o3.ts } ] }\n");

    CU_ASSERT_EQUAL(node->nb_streams, 0);
    CU_ASSERT_EQUAL(node->supervisor.fleet.max_streams, 4);
    CU_ASSERT_EQUAL(job_adopt_streams(node, &placed), 2);
    CU_ASSERT_PTR_NULL(placed);
    CU_ASSERT_EQUAL(job_adopt_streams(node, &again), 0);   /* b is there */
    CU_ASSERT_PTR_NULL(again);
    CU_ASSERT_EQUAL_FATAL(node->nb_streams, 2);
    CU_ASSERT_STRING_EQUAL(node->streams[1].name, "b");
    CU_ASSERT_STRING_EQUAL(node->streams[1].input.url, "in2.ts");
    CU_ASSERT_EQUAL(node->supervisor.fleet.max_streams, 4);  /* the node's settings */
    job_free(&node);
    EXPECT_BAD("version: 1\nsupervisor: { tick: 1s }\n", 1, "1:1: job is missing 'streams'");
    EXPECT_BAD("version: 1\nsupervisor: { fleet: { etcd: \"http://h:1\", node: a } }\n"
               "streams: {}\n", 1, "3:10: 'streams' must be a list, not a mapping");
}

static void test_hooks(void)
{
    Job *job = load_ok(
        "version: 1\n"
        "supervisor:\n"
        "  hooks:\n"
        "    provision: [kubectl, create, job, \"hs-{stream}-{instance}\", \"--risk={risk}\"]\n"
        "    release:\n"
        "      - /usr/local/bin/release-backup\n"
        "      - \"{component}\"\n"
        "      - \"{{literal}}\"\n"
        "      - \"\"\n"
        "    timeout: 45s\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n");
    char **p = job->supervisor.hook_provision, **r = job->supervisor.hook_release;

    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_STRING_EQUAL(p[0], "kubectl");
    CU_ASSERT_STRING_EQUAL(p[3], "hs-{stream}-{instance}");   /* expanded when run */
    CU_ASSERT_STRING_EQUAL(p[4], "--risk={risk}");
    CU_ASSERT_PTR_NULL(p[5]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(r[0], "/usr/local/bin/release-backup");
    CU_ASSERT_STRING_EQUAL(r[2], "{{literal}}");
    CU_ASSERT_STRING_EQUAL(r[3], "");
    CU_ASSERT_PTR_NULL(r[4]);
    CU_ASSERT_EQUAL(job->supervisor.hook_timeout_us, 45000000);
    job_free(&job);

    /* none: no hooks, the default deadline */
    job = load_ok(HEAD
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n");
    CU_ASSERT_PTR_NULL(job->supervisor.hook_provision);
    CU_ASSERT_PTR_NULL(job->supervisor.hook_release);
    CU_ASSERT_EQUAL(job->supervisor.hook_timeout_us, JOB_DEFAULT_HOOK_TIMEOUT_US);
    job_free(&job);
    job = load_ok("version: 1\nsupervisor: { hooks: { release: [\"true\"] } }\nstreams:\n"
                  "  - name: a\n    input: { url: in.ts }\n"
                  "    renditions: [ { name: r } ]\n    outputs: [ { name: o, url: o.ts } ]\n");
    CU_ASSERT_PTR_NULL(job->supervisor.hook_provision);
    CU_ASSERT_EQUAL(job->supervisor.hook_timeout_us, JOB_DEFAULT_HOOK_TIMEOUT_US);
    job_free(&job);

    EXPECT_BAD(
        "version: 1\n"
        "supervisor:\n"
        "  hooks:\n"
        "    provision: []\n"
        "    release: [notify, {stream}, 8080, \"--to={strem}\", [a], \"{x\"]\n"
        "    timeout: 2h\n"
        "    on_failure: [notify]\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n", 8,
        "4:16: 'provision' must not be empty: a command, then its arguments",
        "5:23: argument 2 of 'release' must be a string, not a mapping (quote it: \"{stream}\")",
        "5:33: argument 3 of 'release' must be a string, not an integer (quote it)",
        "5:39: argument 4 of 'release': unknown placeholder '{strem}' (expected {stream}, "
        "{component}, {instance}, {risk}, or {{ and }} for braces)",
        "5:55: argument 5 of 'release' must be a string, not a list (quote it)",
        "5:60: argument 6 of 'release': '{x' is not closed (write '{{' for a brace)",
        "6:14: 'timeout' must be more than 0 and at most 1h, got 2h",
        "7:5: unknown key 'on_failure' in hooks (expected one of: provision, release, timeout)");
    EXPECT_BAD(
        "version: 1\n"
        "supervisor:\n"
        "  hooks:\n"
        "    provision: kubectl apply -f backup.yaml\n"
        "    release: [\"\", \"a}\"]\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n", 3,
        "4:16: 'provision' must be a list, not a string",
        "5:15: the command of 'release' must not be empty",
        "5:19: argument 2 of 'release': a '}' alone (write '}}' for a brace)");
    EXPECT_BAD(
        "version: 1\n"
        "supervisor: { hooks: [kubectl] }\n"
        "streams:\n"
        "  - name: a\n"
        "    input: { url: in.ts }\n"
        "    renditions: [ { name: r } ]\n"
        "    outputs: [ { name: o, url: o.ts } ]\n", 1,
        "2:22: 'hooks' must be a mapping, not a list");
}

static void test_many_problems(void)
{
    Job *job = NULL;
    JobDiag d = { 0 };

    CU_ASSERT_EQUAL(load_fixture("many-problems.yaml", &job, &d), AVERROR_INVALIDDATA);
    CU_ASSERT_PTR_NULL(job);
    expect(&d, 12,
           "5:1: unknown key 'rw_timout' in job (expected one of: version, rw_timeout, supervisor, streams, expect)",
           "10:15: unknown input format 'lavfx' (see ffmpeg -demuxers)",
           "13:9: unknown key 'widht' in rendition (expected one of: name, width, height, fps, "
           "encoder, bitrate, gop, options, device, backup)",
           "14:16: 'width' must be even (4:2:0 video), got 1279",
           "15:20: encoder 'libx264' has no option 'presett'",
           "18:16: 'width' must be between 16 and 16384, got 8",
           "19:14: 'gop' needs a unit, e.g. 20s",
           "21:9: output is missing 'url'",
           "25:22: output 'main' names unknown rendition '1080p' (renditions: 720p, 360p)",
           "26:9: flv output 'push' carries one video rendition, 2 selected; "
           "list one under renditions:",
           "28:15: 'duration' needs a unit, e.g. 20s",
           "29:11: duplicate stream name 'news' (first at line 7)");
    CU_ASSERT_FALSE(mentions(&d, "abcd-efgh-ijkl"));
    job_diag_free(&d);
}

/* ---- lifetimes ---------------------------------------------------------- */

static void test_free_and_append(void)
{
    Job *job = NULL;
    JobDiag d = { 0 };

    job_free(&job);                       /* NULL is fine */
    CU_ASSERT_PTR_NULL(job);
    job_diag_free(&d);                    /* so is an empty diag */
    job_diag_free(NULL);

    /* diag collects the problems of several loads, in load order */
    CU_ASSERT_EQUAL(load("version: 1\n", &job, &d), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL(load("version: 2\n", &job, &d), AVERROR_INVALIDDATA);
    CU_ASSERT_EQUAL_FATAL(d.nb_msgs, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msgs[0], ": job is missing 'streams'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msgs[1], ": unsupported version 2"));
    job_diag_free(&d);
    CU_ASSERT_EQUAL(d.nb_msgs, 0);
    CU_ASSERT_PTR_NULL(d.msgs);

    /* a bad load with no diag still fails */
    CU_ASSERT_EQUAL(load("version: 2\n", &job, NULL), AVERROR_INVALIDDATA);
    CU_ASSERT_PTR_NULL(job);
}

/* ---- main --------------------------------------------------------------- */

static void cleanup(void)
{
    static const char *const presets[] = { "deint", "empty", "two", "audio" };
    char p[160];

    for (int i = 1; i <= nb_written; i++) {
        snprintf(p, sizeof(p), "%s/job%d.yaml", tmpdir, i);
        unlink(p);
    }
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s.graph", filters_dir, presets[i]);
        unlink(p);
    }
    rmdir(filters_dir);
    rmdir(tmpdir);
}

/* A reload keeps a stream whose digest is the same: what it says counts,
 * not how (comments, spacing, flow or block style, quoting); a value
 * changed in it, or a job-wide key that flows into every stream, makes
 * another digest; another stream's change does not. */
static void test_digest(void)
{
    static const char *const a =
        "version: 1\n"
        "streams:\n"
        "  - name: a   # the first\n"
        "    input: { url: \"testsrc2\", format: lavfi }\n"
        "    renditions: [ { name: v, bitrate: 100k } ]\n"
        "    outputs: [ { name: o, format: mpegts, url: /tmp/a.ts } ]\n"
        "  - name: b\n"
        "    input: { url: testsrc2, format: lavfi }\n"
        "    renditions: [ { name: v } ]\n"
        "    outputs: [ { name: o, format: mpegts, url: /tmp/b.ts } ]\n";
    static const char *const a_layout =
        "version: 1\n"
        "streams:\n"
        "  - name: 'a'\n"
        "    input:\n"
        "      url: testsrc2\n"
        "      format: \"lavfi\"\n"
        "    renditions:\n"
        "      - name: v\n"
        "        bitrate: 100k\n"
        "    outputs: [ { name: o, format: mpegts, url: /tmp/a.ts } ]\n"
        "  - name: b\n"
        "    input: { url: testsrc2, format: lavfi }\n"
        "    renditions: [ { name: v, bitrate: 200k } ]\n"
        "    outputs: [ { name: o, format: mpegts, url: /tmp/b.ts } ]\n";
    Job *j1 = load_ok(a), *j2 = load_ok(a_layout), *j3;
    char *changed = av_strdup(a), *global;

    CU_ASSERT_EQUAL(j1->streams[0].digest, j2->streams[0].digest);
    CU_ASSERT_NOT_EQUAL(j1->streams[1].digest, j2->streams[1].digest);   /* b's bitrate */
    CU_ASSERT_NOT_EQUAL(j1->streams[0].digest, j1->streams[1].digest);
    /* a's bitrate */
    memcpy(strstr(changed, "100k"), "150k", 4);
    j3 = load_ok(changed);
    CU_ASSERT_NOT_EQUAL(j1->streams[0].digest, j3->streams[0].digest);
    CU_ASSERT_EQUAL(j1->streams[1].digest, j3->streams[1].digest);
    job_free(&j3);
    /* rw_timeout is every stream's */
    global = av_asprintf("version: 1\nrw_timeout: 3s\n%s", a + strlen("version: 1\n"));
    j3 = load_ok(global);
    CU_ASSERT_NOT_EQUAL(j1->streams[0].digest, j3->streams[0].digest);
    CU_ASSERT_NOT_EQUAL(j1->streams[1].digest, j3->streams[1].digest);
    job_free(&j3);
    av_free(global);
    /* a stream's expect: is a drill's verdict, not how it runs */
    global = av_asprintf("%s    expect: { frames_lost: 0 }\n", a);
    j3 = load_ok(global);
    CU_ASSERT_EQUAL(j1->streams[1].digest, j3->streams[1].digest);
    job_free(&j3);
    av_free(global);
    av_free(changed);
    job_free(&j1);
    job_free(&j2);
}

/* expect: (drills): the job's are every stream's defaults, a stream's own
 * replace them key by key; exit is the job's only. */
static void test_expect(void)
{
    Job *job = load_ok("version: 1\n"
                       "expect: { frames_lost: 0, switch_within: 50ms, exit: 1 }\n"
                       "streams:\n"
                       "  - name: a\n"
                       "    input: { url: in.ts }\n"
                       "    audio: false\n"
                       "    renditions: [ { name: r } ]\n"
                       "    outputs: [ { name: o, url: o.ts } ]\n"
                       "    expect: { switch_within: 1s, detect_within: 2s }\n"
                       "  - name: b\n"
                       "    input: { url: in.ts }\n"
                       "    audio: false\n"
                       "    renditions: [ { name: r } ]\n"
                       "    outputs: [ { name: o, url: o2.ts } ]\n");
    CU_ASSERT_EQUAL(job->expect.exit, 1);
    CU_ASSERT_EQUAL(job->streams[0].expect.frames_lost, 0);
    CU_ASSERT_EQUAL(job->streams[0].expect.switch_within_us, 1000000);
    CU_ASSERT_EQUAL(job->streams[0].expect.detect_within_us, 2000000);
    CU_ASSERT_EQUAL(job->streams[1].expect.frames_lost, 0);
    CU_ASSERT_EQUAL(job->streams[1].expect.switch_within_us, 50000);
    CU_ASSERT_EQUAL(job->streams[1].expect.detect_within_us, 0);
    job_free(&job);

    job = load_ok(HEAD "    renditions: [ { name: r } ]\n"
                  "    outputs: [ { name: o, url: o.ts } ]\n");
    CU_ASSERT_EQUAL(job->expect.exit, -1);
    CU_ASSERT_EQUAL(job->streams[0].expect.frames_lost, -1);
    CU_ASSERT_EQUAL(job->streams[0].expect.switch_within_us, 0);
    job_free(&job);

    EXPECT_BAD("version: 1\n"
               "expect: { frames_lost: -1, exit: 3, what: 1 }\n"
               "streams:\n"
               "  - name: a\n"
               "    input: { url: in.ts }\n"
               "    audio: false\n"
               "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: o.ts } ]\n"
               "    expect: { exit: 0, switch_within: 50 }\n", 5,
               "2:24: 'frames_lost' must be between 0 and 2147483647, got -1",
               "2:34: 'exit' must be 0, 1, 2 or 255 (README \"Exit status\"), got 3",
               "2:37: unknown key 'what' in expect (expected one of: frames_lost, switch_within, "
               "detect_within, exit)",
               "9:21: 'exit' is the run's: write it in the job's expect:, not a stream's",
               "9:39: 'switch_within' needs a unit, e.g. 20s");
    EXPECT_BAD(HEAD "    renditions: [ { name: r } ]\n"
               "    outputs: [ { name: o, url: o.ts } ]\n"
               "    expect: [ 1 ]\n", 1,
               "8:13: 'expect' must be a mapping (frames_lost, switch_within, detect_within, "
               "exit), not a list");
}

int main(int argc, char **argv)
{
    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        { "syntax error", test_syntax_error },
        { "empty file, wrong shape, two documents", test_empty_and_shape },
        { "missing file", test_missing_file },
        { "limits", test_limits },
        { "unknown keys", test_unknown_keys },
        { "wrong types", test_wrong_types },
        { "missing keys", test_missing_keys },
        { "duplicates", test_duplicates },
        { "references", test_references },
        { "ranges", test_ranges },
        { "units", test_units },
        { "pathways", test_pathways },
    { "names", test_names },
        { "audio", test_audio },
        { "encoders and formats", test_encoders_and_formats },
        { "options", test_options },
        { "one video rendition for flv/mpegts", test_max_video },
        { "filter errors", test_filter_errors },
        { "filters ok", test_filters_ok },
        { "unknown filter scan", test_unknown_filter_scan },
        { "redaction", test_redaction },
        { "full job", test_full_job },
        { "defaults", test_defaults },
        { "stall_timeout and send_buffer_size", test_stall_keys },
        { "realtime and audio defaults", test_realtime_and_audio },
        { "yaml features", test_yaml_features },
        { "many problems", test_many_problems },
        { "free and append", test_free_and_append },
        { "switching", test_switching },
        { "prefetch", test_prefetch },
        { "standby devices", test_devices },
        { "switching errors", test_switching_errors },
        { "faults", test_faults },
        { "expect", test_expect },
        { "fault names", test_fault_names },
        { "backup limits", test_backup_limits },
        { "supervisor", test_supervisor },
        { "hooks", test_hooks },
        { "fleet", test_fleet },
        { "a fleet node's job, placed streams", test_fleet_node_job },
        { "orchestrator", test_orchestrator },
        { "standby_mode", test_standby_mode },
        { "stream digest", test_digest },
    };
    char exe[PATH_MAX];
    CU_pSuite s;
    int failures;

    /* the fixtures live next to this program: tests/unit/../data/jobs */
    snprintf(exe, sizeof(exe), "%s", argv[0]);
    snprintf(datadir, sizeof(datadir), "%s/../data/jobs", dirname(exe));
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hs-job-test-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(filters_dir, sizeof(filters_dir), "%s/filters", tmpdir);
    if (mkdir(filters_dir, 0700) < 0) {
        perror("mkdir");
        return 1;
    }
    setenv("HOTSPARE_FILTERS", filters_dir, 1);
    if (write_preset("deint", "# deinterlace, for the test\nyadif=mode=send_frame\n") < 0 ||
        write_preset("empty", "# nothing but comments\n\n") < 0 ||
        write_preset("two", "split[a][b]\n") < 0 ||
        write_preset("audio", "volume=2\n") < 0)
        return 1;
    /* libav's own complaints about the bad graphs and values would only
     * clutter the test log: the messages under test are job_load's */
    av_log_set_level(argc > 1 && !strcmp(argv[1], "-v") ? AV_LOG_INFO : AV_LOG_QUIET);

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("job", NULL, NULL);
    if (!s)
        return 1;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return 1;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    cleanup();
    return failures;
}
