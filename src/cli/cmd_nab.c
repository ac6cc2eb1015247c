/*
 * cmd_nab.c: "hotspare nab DIR": runs the unsupervised detector (anomaly.h)
 * over every file of an NAB corpus, online and with one configuration for
 * the whole corpus, writes NAB-format result CSVs and scores them with our
 * scorer (nab.h) on NAB's three profiles, next to the published scoreboard.
 *
 * Files are independent, so they are spread over threads; each file's
 * scores are the same whatever the thread count (the detector is
 * deterministic). The detector and its defaults are the ones the run steps
 * on every component (predictor.h): what this command scores is what runs.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "pfm/anomaly.h"
#include "cli/cmd.h"
#include "core/log.h"
#include "pfm/nab.h"

#define DEFAULT_OUT "out/nab"

enum { DET_HOTSPARE, DET_GAUSS };
static const char *const det_names[] = { "hotspare", "windowedGaussian" };

/* The published scoreboard (NAB README, v1.0 table; Numenta HTM's upper end). */
static const struct { const char *name; double s[NAB_NB_PROFILES]; } scoreboard[] = {
    { "Perfect",           { 100.0, 100.0, 100.0 } },
    { "ARTime",            { 74.9, 65.1, 80.4 } },
    { "Numenta HTM",       { 70.5, 62.6, 75.2 } },
    { "CAD OSE",           { 69.9, 67.0, 73.2 } },
    { "earthgecko Skyline", { 58.2, 46.2, 63.9 } },
    { "KNN CAD",           { 58.0, 43.4, 64.8 } },
    { "Relative Entropy",  { 54.6, 47.6, 58.8 } },
    { "Random Cut Forest", { 51.7, 38.4, 59.7 } },
    { "Twitter ADVec",     { 47.1, 33.6, 53.5 } },
    { "Windowed Gaussian", { 39.6, 20.9, 47.4 } },
    { "Etsy Skyline",      { 35.7, 27.1, 44.5 } },
    { "Null",              { 0.0, 0.0, 0.0 } },
};
#define NB_BOARD (int)(sizeof(scoreboard) / sizeof(scoreboard[0]))

typedef struct NabRun {
    LogCtx log;
    const NabCorpus *corpus;
    int detector;
    AnomalyConfig cfg;
    const char *out;             /* NULL: no CSVs */
    double **scores;             /* per file */

    pthread_mutex_t lock;        /* protects everything below */
    int next, done, err;
    double t0;
} NabRun;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* mkdir -p of the directory part of path */
static int mkdirs(const char *path)
{
    char buf[4096];

    if (av_strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
        return AVERROR(ENAMETOOLONG);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return AVERROR(errno);
        *p = '/';
    }
    return 0;
}

/* RESULTS/<det>/<category>/<det>_<file>.csv, with NAB's columns */
static int write_csv(NabRun *r, const NabFile *f, const double *score)
{
    const char *det = det_names[r->detector], *slash = strrchr(f->name, '/');
    double *rs[NAB_NB_PROFILES] = { NULL };
    char *path = NULL;
    FILE *out = NULL;
    int ret = 0, next = 0;

    if (!(path = slash ? av_asprintf("%s/%s/%.*s/%s_%s", r->out, det, (int)(slash - f->name),
                                     f->name, det, slash + 1)
                       : av_asprintf("%s/%s/%s_%s", r->out, det, det, f->name)))
        return AVERROR(ENOMEM);
    for (int p = 0; p < NAB_NB_PROFILES; p++)
        if (!(rs[p] = av_malloc_array(f->nb_rows, sizeof(double)))) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
    for (int p = 0; p < NAB_NB_PROFILES; p++)
        nab_row_scores(f, &nab_profiles[p], rs[p]);
    if ((ret = mkdirs(path)) < 0 || !(out = fopen(path, "w"))) {
        ret = ret < 0 ? ret : AVERROR(errno);
        av_log(&r->log, AV_LOG_ERROR, "%s: cannot create: %s\n", path, av_err2str(ret));
        goto end;
    }
    /* NAB's column order: the profiles sorted by name */
    fprintf(out, "timestamp,value,anomaly_score,label,S(t)_reward_low_FP_rate,"
            "S(t)_reward_low_FN_rate,S(t)_standard\n");
    for (int i = 0; i < f->nb_rows; i++) {
        char ts[NAB_TIME_SIZE];
        int label;
        while (next < f->nb_windows && i > f->windows[next].end)
            next++;
        label = next < f->nb_windows && i >= f->windows[next].start;
        nab_format_time(f->ts[i], ts);
        fprintf(out, "%s,%.12g,%.12g,%d,%.12g,%.12g,%.12g\n", ts, f->value[i], score[i], label,
                rs[1][i], rs[2][i], rs[0][i]);
    }
    if (fclose(out)) {
        ret = AVERROR(errno);
        av_log(&r->log, AV_LOG_ERROR, "%s: write error: %s\n", path, av_err2str(ret));
    }
end:
    for (int p = 0; p < NAB_NB_PROFILES; p++)
        av_free(rs[p]);
    av_free(path);
    return ret;
}

static int run_file(NabRun *r, int fi)
{
    const NabFile *f = &r->corpus->files[fi];
    double *s = r->scores[fi];
    int ret = 0;

    if (r->detector == DET_GAUSS) {
        NabGauss *g = NULL;
        if ((ret = nab_gauss_alloc(&g)) < 0)
            return ret;
        for (int i = 0; i < f->nb_rows; i++)
            s[i] = nab_round_score(nab_gauss_update(g, f->value[i]));
        nab_gauss_free(&g);
    } else {
        /* the state the run embeds in each component, here one per file */
        AnomalyState *st = av_malloc(sizeof(*st));
        if (!st)
            return AVERROR(ENOMEM);
        anomaly_state_reset(st);
        for (int i = 0; i < f->nb_rows; i++)
            s[i] = nab_round_score(anomaly_step(&r->cfg, st, f->value[i], NULL));
        av_free(st);
    }
    if (r->out)
        ret = write_csv(r, f, s);
    return ret;
}

static void progress(NabRun *r, int fi)
{
    const NabCorpus *c = r->corpus;
    char line[256], bar[31];
    int width = 30, fill = r->done * width / c->nb_files;

    if (isatty(STDERR_FILENO)) {
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        bar[width] = 0;
        snprintf(line, sizeof(line), "nab [%s] %d/%d files %.0f s  %s", bar, r->done,
                 c->nb_files, now() - r->t0, c->files[fi].name);
        log_status(r->done == c->nb_files ? NULL : line);
    } else {
        av_log(&r->log, AV_LOG_INFO, "%d/%d %s (%d rows) %.1f s\n", r->done, c->nb_files,
               c->files[fi].name, c->files[fi].nb_rows, now() - r->t0);
    }
}

static void *worker(void *arg)
{
    NabRun *r = arg;

    for (;;) {
        int fi, ret;

        pthread_mutex_lock(&r->lock);
        fi = r->err < 0 ? r->corpus->nb_files : r->next++;
        pthread_mutex_unlock(&r->lock);
        if (fi >= r->corpus->nb_files)
            return NULL;
        ret = run_file(r, fi);
        pthread_mutex_lock(&r->lock);
        if (ret < 0 && r->err >= 0)
            r->err = ret;
        r->done++;
        progress(r, fi);
        pthread_mutex_unlock(&r->lock);
    }
}

/* row counts as NAB's *_scores.csv has them (probation left out) */
static void row_counts(const NabFile *f, const double *s, double thr, int n[4])
{
    int next = 0;

    n[0] = n[1] = n[2] = n[3] = 0;   /* TP TN FP FN */
    for (int i = 0; i < f->nb_rows; i++) {
        int in, det;
        while (next < f->nb_windows && i > f->windows[next].end)
            next++;
        if (i < f->probation)
            continue;
        in = next < f->nb_windows && i >= f->windows[next].start;
        det = s[i] >= thr;
        n[in ? (det ? 0 : 3) : (det ? 2 : 1)]++;
    }
}

static int write_summary(NabRun *r, const NabProfile *p, const NabResult *res)
{
    const char *det = det_names[r->detector];
    char *path = av_asprintf("%s/%s/%s_%s_scores.csv", r->out, det, det, p->name);
    int tot[4] = { 0 }, ret = 0;
    double raw = 0;
    FILE *f;

    if (!path)
        return AVERROR(ENOMEM);
    if (!(f = fopen(path, "w"))) {
        ret = AVERROR(errno);
        av_log(&r->log, AV_LOG_ERROR, "%s: cannot create: %s\n", path, av_err2str(ret));
        av_free(path);
        return ret;
    }
    fprintf(f, "Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count\n");
    for (int i = 0; i < r->corpus->nb_files; i++) {
        const NabFile *nf = &r->corpus->files[i];
        double fr = nab_file_raw(nf, r->scores[i], p, res->threshold, NULL, NULL, NULL);
        int n[4];
        row_counts(nf, r->scores[i], res->threshold, n);
        fprintf(f, "%s,%s,%s,%.12g,%.12g,%d,%d,%d,%d,%d\n", det, p->name, nf->name,
                res->threshold, fr, n[0], n[1], n[2], n[3], nf->nb_rows);
        for (int k = 0; k < 4; k++)
            tot[k] += n[k];
        raw += fr;
    }
    fprintf(f, "Totals,,,,%.12g,%d,%d,%d,%d,%ld\n", raw, tot[0], tot[1], tot[2], tot[3],
            r->corpus->nb_rows);
    if (fclose(f))
        ret = AVERROR(errno);
    av_free(path);
    return ret;
}

static void print_table(NabRun *r, const int *sel, const NabResult *res, double secs)
{
    const NabCorpus *c = r->corpus;
    char cfg[512] = "NAB's own Windowed Gaussian";
    char ours[64];
    int printed = 0;

    if (r->detector == DET_HOTSPARE)
        anomaly_config_print(&r->cfg, cfg, sizeof(cfg));
    printf("NAB: %d files, %ld rows, %d windows; detector %s, %.1f s\n",
           c->nb_files, c->nb_rows, c->nb_windows, det_names[r->detector], secs);
    printf("config: %s\n\n", cfg);
    printf("%-20s %9s %12s %9s %9s %8s\n", "profile", "score", "threshold", "windows", "missed", "FP rows");
    for (int p = 0; p < NAB_NB_PROFILES; p++)
        if (sel[p])
            printf("%-20s %9.2f %12.6g %5d/%-3d %9d %8d\n", nab_profiles[p].name, res[p].score,
                   res[p].threshold, res[p].tp, c->nb_windows, res[p].fn, res[p].fp);

    snprintf(ours, sizeof(ours), "> %s (this run)", det_names[r->detector]);
    printf("\n%-26s %9s %9s %9s\n", "scoreboard (NAB v1.1)", "standard", "low FP", "low FN");
    for (int i = 0; i <= NB_BOARD; i++) {
        /* our row goes above the first published one it beats on standard */
        if (!printed && sel[0] && (i == NB_BOARD || res[0].score > scoreboard[i].s[0])) {
            printf("%-26s", ours);
            for (int p = 0; p < NAB_NB_PROFILES; p++)
                if (sel[p])
                    printf(" %9.1f", res[p].score);
                else
                    printf(" %9s", "-");
            printf("\n");
            printed = 1;
        }
        if (i < NB_BOARD)
            printf("%-26s %9.1f %9.1f %9.1f\n", scoreboard[i].name, scoreboard[i].s[0],
                   scoreboard[i].s[1], scoreboard[i].s[2]);
    }
    if (!printed) {
        printf("%-26s", ours);
        for (int p = 0; p < NAB_NB_PROFILES; p++)
            if (sel[p])
                printf(" %9.1f", res[p].score);
            else
                printf(" %9s", "-");
        printf("\n");
    }
    if (r->out)
        printf("\nresults: %s/%s/\n", r->out, det_names[r->detector]);
}

static int nab_exec(int argc, char **argv)
{
    static const struct option longopts[] = {
        CMD_COMMON_LONGOPTS,
        { "out",      required_argument, 0, 'o' },
        { "no-out",   no_argument,       0, 'O' },
        { "profile",  required_argument, 0, 'p' },
        { "detector", required_argument, 0, 'd' },
        { "param",    required_argument, 0, 'P' },
        { "threads",  required_argument, 0, 'j' },
        { 0, 0, 0, 0 },
    };
    NabRun r = { .detector = DET_HOTSPARE, .out = DEFAULT_OUT };
    NabCorpus *c = NULL;
    NabResult res[NAB_NB_PROFILES];
    pthread_t th[64];
    int sel[NAB_NB_PROFILES] = { 0 }, any_sel = 0, nth = 0, status = HS_EXIT_FAILED, ret, c_;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    anomaly_config_default(&r.cfg);
    logctx_init(&r.log, "nab");
    while ((c_ = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS "o:p:d:P:j:", longopts, NULL)) != -1) {
        switch (c_) {
        case 'h':
            cmd_print_help(&cmd_nab_entry);
            return HS_EXIT_OK;
        case 'o':
            r.out = optarg;
            break;
        case 'O':
            r.out = NULL;
            break;
        case 'p': {
            int p;
            for (p = 0; p < NAB_NB_PROFILES; p++)
                if (!strcmp(optarg, nab_profiles[p].name))
                    break;
            if (p == NAB_NB_PROFILES)
                return cmd_usage_error(&cmd_nab_entry, "unknown profile '%s' (standard, "
                                       "reward_low_FP_rate, reward_low_FN_rate)", optarg);
            sel[p] = any_sel = 1;
            break;
        }
        case 'd':
            if (!strcmp(optarg, det_names[DET_HOTSPARE]))
                r.detector = DET_HOTSPARE;
            else if (!strcmp(optarg, det_names[DET_GAUSS]))
                r.detector = DET_GAUSS;
            else
                return cmd_usage_error(&cmd_nab_entry, "unknown detector '%s' (hotspare, "
                                       "windowedGaussian)", optarg);
            break;
        case 'P': {
            char key[64];
            const char *eq = strchr(optarg, '=');
            if (!eq || eq - optarg >= (int)sizeof(key))
                return cmd_usage_error(&cmd_nab_entry, "--param wants KEY=VALUE, got '%s'", optarg);
            snprintf(key, sizeof(key), "%.*s", (int)(eq - optarg), optarg);
            if (anomaly_config_set(&r.cfg, key, eq + 1) < 0)
                return cmd_usage_error(&cmd_nab_entry, "bad --param '%s'", optarg);
            break;
        }
        case 'j':
            nth = atoi(optarg);
            if (nth < 1 || nth > 64)
                return cmd_usage_error(&cmd_nab_entry, "--threads wants 1..64");
            break;
        default:
            if (cmd_common_option(c_, optarg) <= 0)
                return cmd_usage_error(&cmd_nab_entry, "bad option");
        }
    }
    if (anomaly_config_check(&r.cfg) < 0)
        return cmd_usage_error(&cmd_nab_entry, "a --param is out of the detector's limits");
    if (optind != argc - 1)
        return cmd_usage_error(&cmd_nab_entry, optind >= argc ? "no NAB directory given"
                                                              : "one NAB directory only");
    if (!any_sel)
        for (int p = 0; p < NAB_NB_PROFILES; p++)
            sel[p] = 1;
    if (!nth)
        nth = ncpu > 0 ? (int)FFMIN(ncpu, 64) : 1;

    if ((ret = nab_corpus_load(argv[optind], &c, &r.log)) < 0)
        return HS_EXIT_USAGE;
    r.corpus = c;
    if (!(r.scores = av_calloc(c->nb_files, sizeof(*r.scores))))
        goto end;
    for (int i = 0; i < c->nb_files; i++)
        if (!(r.scores[i] = av_calloc(c->files[i].nb_rows, sizeof(double))))
            goto end;
    pthread_mutex_init(&r.lock, NULL);
    r.t0 = now();
    nth = FFMIN(nth, c->nb_files);
    for (int i = 0; i < nth; i++)
        if (pthread_create(&th[i], NULL, worker, &r)) {
            nth = i;
            r.err = AVERROR(EAGAIN);
            break;
        }
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&r.lock);
    if (r.err < 0) {
        av_log(&r.log, AV_LOG_ERROR, "stopped: %s\n", av_err2str(r.err));
        goto end;
    }
    for (int p = 0; p < NAB_NB_PROFILES; p++) {
        if (!sel[p])
            continue;
        if ((ret = nab_score(c, (const double *const *)r.scores, &nab_profiles[p], &res[p])) < 0) {
            av_log(&r.log, AV_LOG_ERROR, "scoring %s: %s\n", nab_profiles[p].name, av_err2str(ret));
            goto end;
        }
        if (r.out && write_summary(&r, &nab_profiles[p], &res[p]) < 0)
            goto end;
    }
    print_table(&r, sel, res, now() - r.t0);
    status = HS_EXIT_OK;
end:
    for (int i = 0; r.scores && i < c->nb_files; i++)
        av_free(r.scores[i]);
    av_free(r.scores);
    nab_corpus_free(&c);
    return status;
}

const CmdEntry cmd_nab_entry = {
    .name    = "nab",
    .usage   = "DIR [--out RESULTS] [--profile NAME] [--detector NAME]",
    .summary = "score the unsupervised detector on the NAB benchmark (DIR: an NAB root)",
    .help    =
        "Runs the detector over every file of DIR/data listed in\n"
        "DIR/labels/combined_windows.json, online (each row scored from that row and\n"
        "earlier ones) with one configuration for the whole corpus, writes NAB-format\n"
        "result CSVs and scores them on NAB's profiles, next to the published scoreboard.\n\n"
        "Options:\n"
        "  -o, --out RESULTS      result CSVs under RESULTS/<detector>/ [" DEFAULT_OUT "]\n"
        "      --no-out           write no CSVs\n"
        "  -p, --profile NAME     standard, reward_low_FP_rate, reward_low_FN_rate\n"
        "                         (repeatable; all three by default)\n"
        "  -d, --detector NAME    hotspare (the detector every component runs,\n"
        "                         default; anomaly.h) or\n"
        "                         windowedGaussian (NAB's baseline)\n"
        "  -P, --param KEY=VALUE  change one setting of the detector, for experiments\n"
        "                         (the table prints them all); the defaults are the\n"
        "                         shipped configuration\n"
        "  -j, --threads N        files scored in parallel [number of CPUs]\n",
    .exec    = nab_exec,
};
