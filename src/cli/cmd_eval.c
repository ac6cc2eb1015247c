/*
 * cmd_eval.c: "hotspare eval --model M --hds FILE": how well a model
 * predicts the failures recorded in data stores, next to the two
 * baselines an operator would otherwise set up, on the same ticks:
 *
 *   static threshold: alarm when any of a component's own figures is more
 *     than 3 deviations from its usual value, usual and deviation being
 *     fixed numbers (the model's normalisation, i.e. the training data's):
 *     the Nagios rule. Score z / (z + 3), so 0.5 is z = 3.
 *   EWMA z-score: the same rule against each component's own moving mean
 *     and deviation (EWMA, weight 0.05, about 20 ticks; scored from the
 *     30th tick): the Prometheus "deviation from the recent average" rule.
 *
 * Both read the component's own figures (health.h slots up to cpu_cores,
 * not on_backup); both alarm at 0.5. The model alarms at its own
 * threshold. Every detector's alarm needs --confirm ticks in a row above
 * its threshold (eval_confirm), as the orchestrator's does. Printed as a table; --json and --svg write the same figures
 * and a plot of the risk over time with the failures marked.
 *
 * With --faults (the schedules the corpus generator wrote), each failure
 * is put down to the scenario that made it: degradation-led (the fault
 * came on gradually), abrupt, or other (no scenario explains it), and the
 * figures are also given by kind: what a predictor can be asked to catch
 * is the first kind.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "cli/cmd.h"
#include "pfm/dataset.h"
#include "pfm/evaluate.h"
#include "pfm/health.h"
#include "pfm/model.h"
#include "pfm/predictor.h"
#include "pfm/train.h"

#define MAX_STORES 64
#define MAX_SCHEDULES 16
#define EWMA_W     0.05
#define EWMA_WARM  30
#define Z_ALARM    3.0

static int own_figure(int k)
{
    return k != FEAT_ON_BACKUP && k <= FEAT_CPU;
}

static float z_score(double z)
{
    return (float)(z / (z + Z_ALARM));
}

static void score_static(const Model *m, const Dataset *ds, float *out)
{
    size_t off = 0;

    for (int i = 0; i < ds->nb; i++) {
        const DsSeries *s = &ds->s[i];
        for (int t = 0; t < s->n; t++, off++) {
            const float *x = s->x + (size_t)t * FEAT_NB;
            double z = 0;
            for (int k = 0; k < FEAT_NB; k++)
                if (own_figure(k) && !isnan(x[k]))
                    z = fmax(z, fabs(x[k] - m->mean[k]) / m->std[k]);
            out[off] = z_score(z);
        }
    }
}

static void score_ewma(const Dataset *ds, float *out)
{
    size_t off = 0;

    for (int i = 0; i < ds->nb; i++) {
        const DsSeries *s = &ds->s[i];
        double mu[FEAT_NB] = { 0 }, var[FEAT_NB] = { 0 };
        int n[FEAT_NB] = { 0 };
        for (int t = 0; t < s->n; t++, off++) {
            const float *x = s->x + (size_t)t * FEAT_NB;
            double z = 0;
            for (int k = 0; k < FEAT_NB; k++) {
                double d, w;
                if (!own_figure(k) || isnan(x[k]))
                    continue;
                d = x[k] - mu[k];
                if (n[k] >= EWMA_WARM)
                    z = fmax(z, fabs(d) / (sqrt(var[k]) + 1e-6 * (1 + fabs(mu[k]))));
                w = n[k] < 1.0 / EWMA_W ? 1.0 / (n[k] + 1) : EWMA_W;
                mu[k] += w * d;
                var[k] = (1 - w) * (var[k] + w * d * d);
                n[k]++;
            }
            out[off] = z_score(z);
        }
    }
}

static EvalSeries *series_of(const Dataset *ds, const float *score)
{
    EvalSeries *es = av_calloc(ds->nb ? ds->nb : 1, sizeof(*es));
    size_t off = 0;

    if (!es)
        return NULL;
    for (int i = 0; i < ds->nb; i++) {
        const DsSeries *s = &ds->s[i];
        es[i] = (EvalSeries){
            .stream = s->stream, .name = s->label_name, .n = s->n, .time_us = s->time_us,
            .score = score + off, .label = s->label, .nb_failures = s->nb_failures,
            .failure_us = s->failure_us, .failure_class = s->failure_class,
        };
        off += s->n;
    }
    return es;
}

/* --alarms: each alarm onset of the model, a line: "SERIES SECONDS true|false|unjudged"
 * (seconds from its stream's first tick), to tell what the false ones were. */
typedef struct AlarmLog {
    FILE *f;
    const Dataset *ds;
} AlarmLog;

static void log_alarm(void *opaque, int series, int64_t t_us, int judged)
{
    AlarmLog *al = opaque;
    const DsSeries *s = &al->ds->s[series];
    int64_t t0 = INT64_MAX;

    for (int j = 0; j < al->ds->nb; j++)
        if (al->ds->s[j].file == s->file && al->ds->s[j].n && !strcmp(al->ds->s[j].stream, s->stream))
            t0 = FFMIN(t0, al->ds->s[j].time_us[0]);
    fprintf(al->f, "%s %.0f %s\n", s->label_name, (t_us - t0) / 1e6,
            judged == 0 ? "true" : judged == 1 ? "false" : "unjudged");
}

static int write_file(const char *path, const char *text)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
    int ok;

    if (!f)
        return AVERROR(errno);
    ok = fputs(text, f) >= 0;
    if (f != stdout)
        ok = !fclose(f) && ok;
    else
        fflush(stdout);
    return ok ? 0 : AVERROR(EIO);
}

static int eval_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        { "model",      required_argument, 0, 'm' },
        { "hds",        required_argument, 0, 'H' },
        { "json",       required_argument, 0, 'j' },
        { "svg",        required_argument, 0, 'g' },
        { "panels",     required_argument, 0, 'P' },
        { "faults",     required_argument, 0, 'F' },
        { "confirm",    required_argument, 0, 'C' },
        { "threshold",  required_argument, 0, 'T' },
        { "alarms",     required_argument, 0, 'A' },
        CMD_COMMON_LONGOPTS,
        { 0 },
    };
    const char *stores[MAX_STORES], *model_path = NULL, *json = NULL, *svg = NULL;
    const char *schedules[MAX_SCHEDULES], *alarms = NULL;
    int nb_schedules = 0, nb_faults = 0, confirm = TRAIN_CONFIRM;
    double threshold = NAN;
    EvalFault *faults = NULL;
    int nb_stores = 0, c, ret, status = HS_EXIT_USAGE, panels = 12;
    Dataset ds = { 0 };
    Model *m = NULL;
    float *risk = NULL, *stat = NULL, *ewma = NULL;
    EvalSeries *es[3] = { 0 };
    EvalReportRow rows[3];
    int64_t horizon;
    char err[512], *buf = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "m:H:" CMD_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(&cmd_eval_entry);
            return HS_EXIT_OK;
        case 'm':
            model_path = optarg;
            break;
        case 'H':
            if (nb_stores == MAX_STORES)
                return cmd_usage_error(&cmd_eval_entry, "at most %d data stores", MAX_STORES);
            stores[nb_stores++] = optarg;
            break;
        case 'F':
            if (nb_schedules == MAX_SCHEDULES)
                return cmd_usage_error(&cmd_eval_entry, "at most %d schedules", MAX_SCHEDULES);
            schedules[nb_schedules++] = optarg;
            break;
        case 'C':
            confirm = atoi(optarg);
            if (confirm < 1 || confirm > 60)
                return cmd_usage_error(&cmd_eval_entry, "--confirm wants 1..60 ticks, got '%s'", optarg);
            break;
        case 'T': {
            char *end;
            threshold = strtod(optarg, &end);
            if (*end || !(threshold > 0 && threshold <= 1))
                return cmd_usage_error(&cmd_eval_entry, "--threshold wants a risk in (0, 1], got '%s'",
                                       optarg);
            break;
        }
        case 'A':
            alarms = optarg;
            break;
        case 'j':
            json = optarg;
            break;
        case 'g':
            svg = optarg;
            break;
        case 'P':
            panels = atoi(optarg);
            if (panels < 1 || panels > 200)
                return cmd_usage_error(&cmd_eval_entry, "--panels wants 1..200");
            break;
        default:
            if (cmd_common_option(c, optarg) <= 0)
                return cmd_usage_error(&cmd_eval_entry, "bad option");
        }
    }
    if (optind < argc)
        return cmd_usage_error(&cmd_eval_entry, "unexpected argument '%s'", argv[optind]);
    if (!model_path)
        return cmd_usage_error(&cmd_eval_entry, "no model given (--model FILE)");
    if (!nb_stores)
        return cmd_usage_error(&cmd_eval_entry, "no data store given (--hds FILE)");

    for (int i = 0; i < nb_schedules; i++)
        if (eval_faults_load(schedules[i], &faults, &nb_faults, err, sizeof(err)) < 0) {
            fprintf(stderr, "hotspare eval: %s\n", err);
            av_free(faults);
            return HS_EXIT_USAGE;
        }
    if (model_load(model_path, &m, NULL) < 0) {
        av_free(faults);
        return HS_EXIT_USAGE;          /* the loader said why */
    }
    if (predictor_model_fits(m, err, sizeof(err)) < 0) {
        fprintf(stderr, "hotspare eval: %s: %s\n", model_path, err);
        model_free(&m);
        av_free(faults);
        return HS_EXIT_USAGE;
    }
    for (int i = 0; i < nb_stores; i++)
        if ((ret = dataset_load(&ds, stores[i], err, sizeof(err))) < 0) {
            fprintf(stderr, "hotspare eval: %s\n", err);
            goto end;
        }
    if (!ds.ticks) {
        fprintf(stderr, "hotspare eval: the data stores hold no samples of any stream component\n");
        goto end;
    }
    horizon = m->horizon_s * 1000000LL;
    status = HS_EXIT_FAILED;
    if (dataset_label(&ds, horizon) < 0)
        goto end;
    risk = av_malloc_array(ds.ticks, sizeof(*risk));
    stat = av_malloc_array(ds.ticks, sizeof(*stat));
    ewma = av_malloc_array(ds.ticks, sizeof(*ewma));
    if (!risk || !stat || !ewma)
        goto end;
    train_score(m, &ds, NULL, NULL, risk);
    score_static(m, &ds, stat);
    score_ewma(&ds, ewma);
    /* every detector read as the orchestrator reads the risk: above its
     * threshold for confirm ticks in a row */
    for (size_t i = 0, off = 0; i < (size_t)ds.nb; off += ds.s[i++].n) {
        eval_confirm(risk + off, ds.s[i].n, confirm);
        eval_confirm(stat + off, ds.s[i].n, confirm);
        eval_confirm(ewma + off, ds.s[i].n, confirm);
    }
    /* after the labels: the per-tick figures keep every failure's ticks */
    if (nb_schedules && dataset_classify(&ds, faults, nb_faults, 0) < 0)
        goto end;
    if (!(es[0] = series_of(&ds, risk)) || !(es[1] = series_of(&ds, stat)) ||
        !(es[2] = series_of(&ds, ewma)))
        goto end;

    /* a threshold of 1 never fires (model.h) */
    rows[0] = (EvalReportRow){ .detector = "model", .release = m->thr_low,
                               .threshold = m->thr_high < 1 ? m->thr_high : 1 + 1e-6 };
    if (!isnan(threshold)) {
        rows[0].threshold = threshold;
        rows[0].release = threshold * TRAIN_RELEASE_RATIO;
    }
    rows[1] = (EvalReportRow){ .detector = "static threshold", .threshold = 0.5, .release = 0.5 };
    rows[2] = (EvalReportRow){ .detector = "ewma z-score", .threshold = 0.5, .release = 0.5 };
    for (int d = 0; d < 3; d++) {
        AlarmLog al = { .ds = &ds };
        if (!d && alarms && !(al.f = fopen(alarms, "w"))) {
            fprintf(stderr, "hotspare eval: cannot write %s: %s\n", alarms, av_err2str(AVERROR(errno)));
            goto end;
        }
        ret = eval_run_alarms(es[d], ds.nb, rows[d].threshold, rows[d].release, horizon, &rows[d].r,
                              al.f ? log_alarm : NULL, &al);
        if (al.f)
            fclose(al.f);
        if (ret < 0) {
            fprintf(stderr, "hotspare eval: %s\n", av_err2str(ret));
            goto end;
        }
    }

    {
        int n = eval_report_table(rows, 3, horizon, NULL, 0);
        if (!(buf = av_malloc(n + 1)))
            goto end;
        eval_report_table(rows, 3, horizon, buf, n + 1);
        printf("%s: %d component series from %d store%s, %" PRId64 " ticks; alarms after %d tick%s "
               "above the threshold\n%s", model_path, ds.nb, ds.nb_files, ds.nb_files == 1 ? "" : "s",
               ds.ticks, confirm, confirm == 1 ? "" : "s in a row", buf);
        av_freep(&buf);
    }
    if (json) {
        int n = eval_report_json(rows, 3, horizon, NULL, 0);
        if (!(buf = av_malloc(n + 2)))
            goto end;
        eval_report_json(rows, 3, horizon, buf, n + 1);
        strcat(buf, "\n");
        if ((ret = write_file(json, buf)) < 0) {
            fprintf(stderr, "hotspare eval: cannot write %s: %s\n", json, av_err2str(ret));
            goto end;
        }
    }
    if (svg) {
        char title[256];
        snprintf(title, sizeof(title), "%s: failure risk over time", model_path);
        if ((ret = eval_plot_svg(svg, es[0], ds.nb, m->thr_high, panels, title)) < 0) {
            fprintf(stderr, "hotspare eval: cannot write %s: %s\n", svg, av_err2str(ret));
            goto end;
        }
    }
    status = HS_EXIT_OK;

end:
    av_free(buf);
    for (int d = 0; d < 3; d++)
        av_free(es[d]);
    av_free(risk);
    av_free(stat);
    av_free(ewma);
    av_free(faults);
    model_free(&m);
    dataset_free(&ds);
    return status;
}

const CmdEntry cmd_eval_entry = {
    .name    = "eval",
    .usage   = "--model FILE --hds FILE [--hds FILE ...] [--faults FILE ...] [--json FILE] [--svg FILE]",
    .summary = "measure how well a model predicts the failures recorded in data stores",
    .help    =
        "Steps every component of the data stores through the model as a run would,\n"
        "and compares its risk with the failures the data plane recorded: ROC-AUC and\n"
        "PR-AUC per tick, precision and recall at the model's threshold, the lead time\n"
        "before each failure, false alarms per stream-hour; next to a static threshold\n"
        "and an EWMA z-score computed on the same ticks.\n\n"
        "Options:\n"
        "  -m, --model FILE   the model file (models/default.hsm)\n"
        "  -H, --hds FILE     a data store (repeatable); evaluate on data the model\n"
        "                     was not trained on\n"
        "      --confirm N    an alarm needs N ticks in a row above the threshold, as\n"
        "                     the orchestrator's confirm (its default) [3]\n"
        "      --threshold R  the model's alarm threshold instead of its own\n"
        "      --alarms FILE  the model's alarms, one a line: component, seconds from\n"
        "                     its stream's start, true, false or unjudged\n"
        "      --faults FILE  the schedule of the faults injected while the stores\n"
        "                     recorded (repeatable; models/corpus/gen.awk's faults.tsv):\n"
        "                     the figures are also given for the failures that came on\n"
        "                     gradually (led), those that came without warning (abrupt)\n"
        "                     and the others\n"
        "      --json FILE    the figures as JSON ('-': standard output)\n"
        "      --svg FILE     a plot of the risk over time, failures marked\n"
        "      --panels N     components plotted, those with failures first [12]\n",
    .exec    = eval_exec,
};
