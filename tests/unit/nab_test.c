/*
 * nab_test.c: the NAB corpus reader and scorer (src/nab.c).
 *
 * Checks the scorer against hand-computed scores on a tiny corpus, the
 * perfect and null detectors on the real corpus (100 and 0), and NAB's
 * Windowed Gaussian baseline against its published scores.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "pfm/nab.h"

#define NAB_ROOT "tests/data/nab"

static NabCorpus *corpus;

static void test_time(void)
{
    int64_t t;
    char buf[NAB_TIME_SIZE];

    CU_ASSERT_EQUAL(nab_parse_time("1970-01-01 00:00:00", 19, &t), 0);
    CU_ASSERT_EQUAL(t, 0);
    CU_ASSERT_EQUAL(nab_parse_time("2014-04-10 07:15:00.000000", 26, &t), 0);
    CU_ASSERT_EQUAL(t, 1397114100);    /* date -u -d '2014-04-10 07:15:00' +%s */
    nab_format_time(t, buf);
    CU_ASSERT_STRING_EQUAL(buf, "2014-04-10 07:15:00");
    CU_ASSERT_EQUAL(nab_parse_time("2000-02-29 23:59:59", 19, &t), 0);
    nab_format_time(t, buf);
    CU_ASSERT_STRING_EQUAL(buf, "2000-02-29 23:59:59");
    CU_ASSERT(nab_parse_time("2014-04-10 07:15:00.000001", 26, &t) < 0);
    CU_ASSERT(nab_parse_time("2014-04-10 07:15:00.", 20, &t) < 0);
    CU_ASSERT(nab_parse_time("2014-04-10T07:15:00", 19, &t) < 0);
    CU_ASSERT(nab_parse_time("2014-13-10 07:15:00", 19, &t) < 0);
    CU_ASSERT(nab_parse_time("2014-04-10 07:15", 16, &t) < 0);
    CU_ASSERT(nab_parse_time("2014-04-1x 07:15:00", 19, &t) < 0);
}

static void test_json(void)
{
    static const char *bad[] = {
        "",
        "[]",
        "{\"a.csv\": [[\"2014-04-10 07:15:00\"]]}",
        "{\"a.csv\": [[\"2014-04-10 07:15:00\", 3]]}",
        "{\"a.csv\": [[\"2014-04-10 07:15:00\", \"2014-04-10 07:10:00\"]]}",
        "{\"a.csv\": [], \"a.csv\": []}",
        "{\"a.csv\": []",
        "{\"a.csv\": []} x",
        "{\"a.csv\": [[\"2014-04-10 07:15:00\", \"2014-04-10 08:15:00\"],"
        " [\"2014-04-10 08:00:00\", \"2014-04-10 09:15:00\"]]}",
        "{\"a\\q.csv\": []}",
        "{\"a.csv: []}",
        "{\"a.csv\": [[\"2014-04-10 07:15:00\", \"not a time\"]]}",
    };
    NabJsonWindows w;
    char err[256];
    int ret;

    ret = nab_windows_json_parse(" {\n \"x/a.csv\": [],\n \"x/b\\u002ecsv\" : [\n"
                                 "  [\"2014-04-10 07:15:00.000000\", \"2014-04-10 08:15:00\"],\n"
                                 "  [\"2014-04-11 00:00:00\", \"2014-04-11 00:00:00\"] ]\n}\n",
                                 &w, err, sizeof(err));
    CU_ASSERT_EQUAL_FATAL(ret, 0);
    CU_ASSERT_EQUAL_FATAL(w.nb_files, 2);
    CU_ASSERT_STRING_EQUAL(w.names[0], "x/a.csv");
    CU_ASSERT_STRING_EQUAL(w.names[1], "x/b.csv");
    CU_ASSERT_EQUAL(w.nb_windows[0], 0);
    CU_ASSERT_EQUAL_FATAL(w.nb_windows[1], 2);
    CU_ASSERT_EQUAL(w.end[1][0] - w.start[1][0], 3600);
    CU_ASSERT_EQUAL(w.start[1][1], w.end[1][1]);
    nab_windows_json_free(&w);
    CU_ASSERT_EQUAL(w.nb_files, 0);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        ret = nab_windows_json_parse(bad[i], &w, err, sizeof(err));
        CU_ASSERT(ret == AVERROR_INVALIDDATA);
        /* every error says where */
        CU_ASSERT(!strncmp(err, "line ", 5));
        if (ret >= 0)
            nab_windows_json_free(&w);
    }
}

static void test_sigmoid(void)
{
    CU_ASSERT_DOUBLE_EQUAL(nab_scaled_sigmoid(-1.0), 0.98661, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(nab_scaled_sigmoid(-0.5), 0.84828, 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(nab_scaled_sigmoid(0.0), 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(nab_scaled_sigmoid(1.0), -0.98661, 1e-5);
    CU_ASSERT_EQUAL(nab_scaled_sigmoid(3.0), -1.0);
}

/* A tiny corpus written to a temporary directory: 100 rows (probation 15),
 * one window [40, 49] (10 rows). */
static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void test_tiny_corpus(void)
{
    char dir[] = "/tmp/nab_test_XXXXXX", path[512], row[128];
    char *csv = NULL;
    NabCorpus *c = NULL;
    NabResult r;
    double score[100];
    const double *scores[1] = { score };
    const NabProfile *std = &nab_profiles[0];
    double expect;
    int64_t t0;
    size_t len = 0;

    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/data", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/data/cat", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/labels", dir);
    mkdir(path, 0700);
    nab_parse_time("2020-01-01 00:00:00", 19, &t0);
    csv = av_malloc(100 * 64 + 32);
    CU_ASSERT_FATAL(csv != NULL);
    len = sprintf(csv, "timestamp,value\n");
    for (int i = 0; i < 100; i++) {
        char ts[NAB_TIME_SIZE];
        nab_format_time(t0 + 300 * i, ts);
        snprintf(row, sizeof(row), "%s,%d.5\n", ts, i % 7);
        memcpy(csv + len, row, strlen(row) + 1);
        len += strlen(row);
    }
    snprintf(path, sizeof(path), "%s/data/cat/f.csv", dir);
    CU_ASSERT_FATAL(write_file(path, csv) == 0);
    snprintf(path, sizeof(path), "%s/labels/combined_windows.json", dir);
    /* rows 40 and 49: t0 + 12000 s = 03:20, t0 + 14700 s = 04:05 */
    CU_ASSERT_FATAL(write_file(path, "{\"cat/f.csv\": [[\"2020-01-01 03:20:00.000000\","
                                     " \"2020-01-01 04:05:00.000000\"]]}") == 0);
    CU_ASSERT_FATAL(nab_corpus_load(dir, &c, NULL) == 0);
    CU_ASSERT_EQUAL(c->nb_files, 1);
    CU_ASSERT_EQUAL(c->nb_windows, 1);
    CU_ASSERT_EQUAL(c->files[0].nb_rows, 100);
    CU_ASSERT_EQUAL(c->files[0].probation, 15);
    CU_ASSERT_EQUAL(c->files[0].windows[0].start, 40);
    CU_ASSERT_EQUAL(c->files[0].windows[0].end, 49);
    CU_ASSERT_DOUBLE_EQUAL(c->files[0].value[3], 3.5, 1e-12);

    /* a detection at row 44 (6th row of 10) and a false positive at row 55,
     * 6 rows after the window's end (width 10: position 6/9) */
    memset(score, 0, sizeof(score));
    score[44] = 0.9;
    score[55] = 0.8;
    score[5] = 1.0;           /* inside probation: ignored */
    CU_ASSERT_FATAL(nab_score(c, scores, std, &r) == 0);
    /* at 0.8: tp(44) + fp(55); at 0.9: tp(44) alone, which is better */
    expect = nab_scaled_sigmoid(-(49 - 44 + 1) / 10.0) / nab_scaled_sigmoid(-1.0);
    CU_ASSERT_DOUBLE_EQUAL(r.threshold, 0.9, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.raw, expect, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.score, 100.0 * (expect + 1.0) / 2.0, 1e-9);
    CU_ASSERT_EQUAL(r.tp, 1);
    CU_ASSERT_EQUAL(r.fp, 0);
    CU_ASSERT_EQUAL(nab_file_raw(&c->files[0], score, std, 0.8, NULL, NULL, NULL) ==
                    expect + 0.11 * nab_scaled_sigmoid(6.0 / 9.0), 1);

    /* a false positive before any window costs the full fp weight, and one
     * far after the window too; the sweep then prefers nothing at all */
    memset(score, 0, sizeof(score));
    score[20] = 0.7;
    score[99] = 0.6;
    CU_ASSERT_FATAL(nab_score(c, scores, std, &r) == 0);
    CU_ASSERT_DOUBLE_EQUAL(r.raw, -1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.threshold, 1.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(nab_file_raw(&c->files[0], score, std, 0.6, NULL, NULL, NULL),
                           -1.0 - 0.11 + 0.11 * nab_scaled_sigmoid((99 - 49) / 9.0), 1e-12);

    /* scores outside [0,1] are refused */
    score[50] = 1.5;
    CU_ASSERT_EQUAL(nab_score(c, scores, std, &r), AVERROR(EINVAL));
    score[50] = NAN;
    CU_ASSERT_EQUAL(nab_score(c, scores, std, &r), AVERROR(EINVAL));

    nab_corpus_free(&c);
    CU_ASSERT_PTR_NULL(c);
    nab_corpus_free(&c);

    /* broken corpora: a window on a missing time stamp, a bad row */
    snprintf(path, sizeof(path), "%s/labels/combined_windows.json", dir);
    write_file(path, "{\"cat/f.csv\": [[\"2020-01-01 03:21:00\", \"2020-01-01 04:05:00\"]]}");
    CU_ASSERT(nab_corpus_load(dir, &c, NULL) == AVERROR_INVALIDDATA);
    CU_ASSERT_PTR_NULL(c);
    write_file(path, "{\"cat/f.csv\": [[\"2020-01-01 00:05:00\", \"2020-01-01 04:05:00\"]]}");
    CU_ASSERT(nab_corpus_load(dir, &c, NULL) == AVERROR_INVALIDDATA);   /* in probation */
    write_file(path, "{\"cat/missing.csv\": []}");
    CU_ASSERT(nab_corpus_load(dir, &c, NULL) < 0);
    write_file(path, "{\"cat/f.csv\": []}");
    snprintf(path, sizeof(path), "%s/data/cat/f.csv", dir);
    write_file(path, "timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,x\n");
    CU_ASSERT(nab_corpus_load(dir, &c, NULL) == AVERROR_INVALIDDATA);
    write_file(path, "time,value\n2020-01-01 00:05:00,1\n");
    CU_ASSERT(nab_corpus_load(dir, &c, NULL) == AVERROR_INVALIDDATA);
    write_file(path, "timestamp,value\r\n2020-01-01 00:05:00,1\r\n\r\n");
    CU_ASSERT(nab_corpus_load(dir, &c, NULL) == 0);
    nab_corpus_free(&c);

    unlink(path);
    snprintf(path, sizeof(path), "%s/labels/combined_windows.json", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/labels", dir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/data/cat", dir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/data", dir);
    rmdir(path);
    rmdir(dir);
    av_free(csv);
}

static void test_corpus(void)
{
    CU_ASSERT_EQUAL(corpus->nb_files, 58);
    CU_ASSERT_EQUAL(corpus->nb_windows, 116);
    CU_ASSERT_EQUAL(corpus->nb_rows, 365558);
}

static double **alloc_scores(void)
{
    double **s = av_calloc(corpus->nb_files, sizeof(*s));

    for (int f = 0; s && f < corpus->nb_files; f++)
        s[f] = av_calloc(corpus->files[f].nb_rows, sizeof(double));
    return s;
}

static void free_scores(double **s)
{
    for (int f = 0; s && f < corpus->nb_files; f++)
        av_free(s[f]);
    av_free(s);
}

static void test_perfect_and_null(void)
{
    double **s = alloc_scores();
    NabResult r;

    CU_ASSERT_FATAL(s != NULL);
    /* fires exactly at each window's start */
    for (int f = 0; f < corpus->nb_files; f++)
        for (int w = 0; w < corpus->files[f].nb_windows; w++)
            s[f][corpus->files[f].windows[w].start] = 1.0;
    for (int p = 0; p < NAB_NB_PROFILES; p++) {
        CU_ASSERT_FATAL(nab_score(corpus, (const double *const *)s, &nab_profiles[p], &r) == 0);
        CU_ASSERT_DOUBLE_EQUAL(r.score, 100.0, 1e-9);
        CU_ASSERT_EQUAL(r.tp, 116);
        CU_ASSERT_EQUAL(r.fp, 0);
    }
    /* one row late in every window: a little less than 100 */
    for (int f = 0; f < corpus->nb_files; f++)
        for (int w = 0; w < corpus->files[f].nb_windows; w++) {
            s[f][corpus->files[f].windows[w].start] = 0.0;
            s[f][corpus->files[f].windows[w].start + 1] = 1.0;
        }
    CU_ASSERT_FATAL(nab_score(corpus, (const double *const *)s, &nab_profiles[0], &r) == 0);
    CU_ASSERT(r.score < 100.0 && r.score > 99.0);
    /* the null detector: a constant 0.5 */
    for (int f = 0; f < corpus->nb_files; f++)
        for (int i = 0; i < corpus->files[f].nb_rows; i++)
            s[f][i] = 0.5;
    for (int p = 0; p < NAB_NB_PROFILES; p++) {
        CU_ASSERT_FATAL(nab_score(corpus, (const double *const *)s, &nab_profiles[p], &r) == 0);
        CU_ASSERT_DOUBLE_EQUAL(r.score, 0.0, 1e-9);
    }
    free_scores(s);
}

static void test_windowed_gaussian(void)
{
    /* published: 39.6 / 20.9 / 47.4 */
    static const double published[NAB_NB_PROFILES] = { 39.6, 20.9, 47.4 };
    double **s = alloc_scores();
    NabGauss *g = NULL;
    NabResult r;

    CU_ASSERT_FATAL(s != NULL);
    for (int f = 0; f < corpus->nb_files; f++) {
        CU_ASSERT_FATAL(nab_gauss_alloc(&g) == 0);
        for (int i = 0; i < corpus->files[f].nb_rows; i++)
            s[f][i] = nab_round_score(nab_gauss_update(g, corpus->files[f].value[i]));
        nab_gauss_free(&g);
        CU_ASSERT_PTR_NULL(g);
    }
    for (int p = 0; p < NAB_NB_PROFILES; p++) {
        CU_ASSERT_FATAL(nab_score(corpus, (const double *const *)s, &nab_profiles[p], &r) == 0);
        printf("\n  windowedGaussian %-18s %6.2f (published %.1f) threshold %.6f raw %.3f "
               "tp %d fp %d fn %d", nab_profiles[p].name, r.score, published[p], r.threshold,
               r.raw, r.tp, r.fp, r.fn);
        CU_ASSERT(fabs(r.score - published[p]) <= 0.1);
    }
    free_scores(s);
}

/*
 * The shipped command on the corpus with NAB's baseline: its table, and its
 * result CSVs read back and re-scored give the same numbers (what is written
 * is what was scored). Skipped when ./hotspare is not built.
 */
static void test_command(void)
{
    char dir[] = "/tmp/nab_cmd_XXXXXX", cmd[512], line[1024];
    double **s = NULL;
    NabResult r;
    FILE *p;
    int found = 0, ok = 1;

    if (access("./hotspare", X_OK)) {
        printf("\n  ./hotspare not built: skipped");
        return;
    }
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof(cmd), "./hotspare -v error nab " NAB_ROOT " --detector windowedGaussian "
             "--out %s 2>&1", dir);
    p = popen(cmd, "r");
    CU_ASSERT_FATAL(p != NULL);
    while (fgets(line, sizeof(line), p)) {
        double v;
        if (sscanf(line, "standard %lf", &v) == 1) {
            found = 1;
            CU_ASSERT(fabs(v - 39.65) < 0.005);
        }
    }
    CU_ASSERT(pclose(p) == 0);
    CU_ASSERT(found);

    s = alloc_scores();
    CU_ASSERT_FATAL(s != NULL);
    for (int f = 0; f < corpus->nb_files && ok; f++) {
        const NabFile *nf = &corpus->files[f];
        const char *slash = strrchr(nf->name, '/');
        char path[1024];
        int n = 0, labels = 0, want_labels = 0;
        FILE *in;

        snprintf(path, sizeof(path), "%s/windowedGaussian/%.*s/windowedGaussian_%s", dir,
                 (int)(slash - nf->name), nf->name, slash + 1);
        in = fopen(path, "r");
        CU_ASSERT(in != NULL);
        if (!in) {
            ok = 0;
            break;
        }
        CU_ASSERT(fgets(line, sizeof(line), in) && !strcmp(line, "timestamp,value,anomaly_score,"
                  "label,S(t)_reward_low_FP_rate,S(t)_reward_low_FN_rate,S(t)_standard\n"));
        while (fgets(line, sizeof(line), in) && n < nf->nb_rows) {
            char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
            if (!c2) {
                ok = 0;
                break;
            }
            s[f][n] = strtod(c2 + 1, NULL);
            labels += c2[1] && strchr(c2 + 1, ',') && strchr(c2 + 1, ',')[1] == '1';
            n++;
        }
        fclose(in);
        for (int w = 0; w < nf->nb_windows; w++)
            want_labels += nf->windows[w].end - nf->windows[w].start + 1;
        CU_ASSERT_EQUAL(n, nf->nb_rows);
        CU_ASSERT_EQUAL(labels, want_labels);
    }
    CU_ASSERT(ok);
    for (int p2 = 0; ok && p2 < NAB_NB_PROFILES; p2++) {
        CU_ASSERT_FATAL(nab_score(corpus, (const double *const *)s, &nab_profiles[p2], &r) == 0);
        CU_ASSERT(fabs(r.score - (p2 == 0 ? 39.65 : p2 == 1 ? 20.87 : 47.41)) < 0.005);
    }
    free_scores(s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CU_ASSERT(system(cmd) == 0);
}

static int suite_init(void)
{
    return nab_corpus_load(NAB_ROOT, &corpus, NULL) < 0;
}

static int suite_clean(void)
{
    nab_corpus_free(&corpus);
    return 0;
}

int main(void)
{
    CU_pSuite s;

    av_log_set_level(AV_LOG_QUIET);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("nab_parse", NULL, NULL);
    CU_add_test(s, "time stamps", test_time);
    CU_add_test(s, "combined_windows.json reader", test_json);
    CU_add_test(s, "scaled sigmoid", test_sigmoid);
    CU_add_test(s, "tiny corpus, hand-computed scores", test_tiny_corpus);
    s = CU_add_suite("nab_corpus", suite_init, suite_clean);
    CU_add_test(s, "58 files, 116 windows", test_corpus);
    CU_add_test(s, "perfect 100, null 0", test_perfect_and_null);
    CU_add_test(s, "windowed gaussian vs published", test_windowed_gaussian);
    CU_add_test(s, "hotspare nab: table and result CSVs", test_command);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    {
        int failures = CU_get_number_of_failures();
        CU_cleanup_registry();
        return failures;
    }
}
