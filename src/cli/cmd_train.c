/*
 * cmd_train.c: "hotspare train --hds FILE --out models/NAME.hsm": trains
 * the failure model (train.h) on one or more data stores and writes a
 * model file (model.h), with a progress bar on a terminal.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "cli/cmd.h"
#include "pfm/dataset.h"
#include "pfm/model.h"
#include "pfm/train.h"
#include "core/units.h"

#define MAX_STORES 64

typedef struct Bar {
    int tty;
} Bar;

static void progress(void *opaque, int epoch, int max_epochs, double done, double loss, double val)
{
    Bar *b = opaque;

    if (b->tty) {
        char bar[31];
        int n = (int)(done * 30 + 0.5);
        for (int i = 0; i < 30; i++)
            bar[i] = i < n ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\rtraining: epoch %2d/%d [%s] loss %.4f", epoch, max_epochs, bar, loss);
        if (!isnan(val))
            fprintf(stderr, "  validation %.4f\n", val);
        fflush(stderr);
    } else if (!isnan(val)) {
        fprintf(stderr, "training: epoch %d/%d loss %.4f validation %.4f\n", epoch, max_epochs,
                loss, val);
    }
}

static int parse_int(const char *s, int lo, int hi, int *v)
{
    char *end;
    long x = strtol(s, &end, 10);
    if (!*s || *end || x < lo || x > hi)
        return -1;
    *v = (int)x;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *v)
{
    char *end;
    double x = strtod(s, &end);
    if (!*s || *end || !(x >= lo && x <= hi))
        return -1;
    *v = x;
    return 0;
}

static int train_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        { "hds",              required_argument, 0, 'H' },
        { "out",              required_argument, 0, 'o' },
        { "horizon",          required_argument, 0, 'z' },
        { "seed",             required_argument, 0, 's' },
        { "epochs",           required_argument, 0, 'e' },
        { "patience",         required_argument, 0, 'p' },
        { "validation",       required_argument, 0, 'V' },
        { "max-false-alarms", required_argument, 0, 'f' },
        { "faults",           required_argument, 0, 'F' },
        CMD_COMMON_LONGOPTS,
        { 0 },
    };
    const char *stores[MAX_STORES], *out = NULL;
    int nb_stores = 0, c, ret, status = HS_EXIT_USAGE, nb_faults = 0, nb_schedules = 0;
    EvalFault *faults = NULL;
    TrainConfig cfg;
    TrainReport rep;
    Dataset ds = { 0 };
    Model *m = NULL;
    Bar bar = { .tty = isatty(STDERR_FILENO) };
    char err[512];

    train_config_default(&cfg);
    optind = 1;
    while ((c = getopt_long(argc, argv, "H:o:" CMD_COMMON_SHORTOPTS, opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(&cmd_train_entry);
            return HS_EXIT_OK;
        case 'H':
            if (nb_stores == MAX_STORES)
                return cmd_usage_error(&cmd_train_entry, "at most %d data stores", MAX_STORES);
            stores[nb_stores++] = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'z':
            if (units_parse_duration(optarg, &cfg.horizon_us, err, sizeof(err)) < 0 ||
                cfg.horizon_us < 1000000 || cfg.horizon_us > 3600 * 1000000LL)
                return cmd_usage_error(&cmd_train_entry, "--horizon wants a duration from 1s to 1h, "
                                       "got '%s'", optarg);
            break;
        case 's': {
            char *end;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (!*optarg || *end)
                return cmd_usage_error(&cmd_train_entry, "--seed wants a number, got '%s'", optarg);
            cfg.seed = s;
            break;
        }
        case 'e':
            if (parse_int(optarg, 1, 10000, &cfg.max_epochs) < 0)
                return cmd_usage_error(&cmd_train_entry, "--epochs wants 1..10000, got '%s'", optarg);
            break;
        case 'p':
            if (parse_int(optarg, 1, 10000, &cfg.patience) < 0)
                return cmd_usage_error(&cmd_train_entry, "--patience wants 1..10000, got '%s'", optarg);
            break;
        case 'V':
            if (parse_double(optarg, 0.05, 0.95, &cfg.val_fraction) < 0)
                return cmd_usage_error(&cmd_train_entry, "--validation wants a fraction from 0.05 "
                                       "to 0.95, got '%s'", optarg);
            break;
        case 'f':
            if (parse_double(optarg, 0, 1000, &cfg.max_fa_per_hour) < 0)
                return cmd_usage_error(&cmd_train_entry, "--max-false-alarms wants a number of "
                                       "false alarms per stream-hour, got '%s'", optarg);
            break;
        case 'F':
            nb_schedules++;
            if ((ret = eval_faults_load(optarg, &faults, &nb_faults, err, sizeof(err))) < 0) {
                av_free(faults);
                return cmd_usage_error(&cmd_train_entry, "%s", err);
            }
            break;
        default:
            if (cmd_common_option(c, optarg) <= 0)
                return cmd_usage_error(&cmd_train_entry, "bad option");
        }
    }
    if (optind < argc)
        return cmd_usage_error(&cmd_train_entry, "unexpected argument '%s'", argv[optind]);
    if (!nb_stores)
        return cmd_usage_error(&cmd_train_entry, "no data store given (--hds FILE)");
    if (!out)
        return cmd_usage_error(&cmd_train_entry, "no model file given (--out models/NAME.hsm)");

    for (int i = 0; i < nb_stores; i++) {
        if ((ret = dataset_load(&ds, stores[i], err, sizeof(err))) < 0) {
            fprintf(stderr, "hotspare train: %s\n", err);
            /* not there, or not a data store: the command line's fault */
            status = ret == AVERROR(ENOENT) || ret == AVERROR(EINVAL) || ret == AVERROR(ENOSYS) ?
                     HS_EXIT_USAGE : HS_EXIT_FAILED;
            goto end;
        }
    }
    /* a schedule: the ticks before failures that came without warning by
     * construction are censored, not positives */
    if (nb_schedules && (ret = dataset_classify(&ds, faults, nb_faults, 1)) < 0) {
        fprintf(stderr, "hotspare train: %s\n", av_err2str(ret));
        status = HS_EXIT_FAILED;
        goto end;
    }
    if ((ret = dataset_label(&ds, cfg.horizon_us)) < 0) {
        fprintf(stderr, "hotspare train: %s\n", av_err2str(ret));
        status = HS_EXIT_FAILED;
        goto end;
    }
    {
        int failures = 0, confirmed, censored;
        for (int i = 0; i < ds.nb; i++)
            failures += ds.s[i].nb_failures;
        fprintf(stderr, "training on %d store%s: %d component series, %" PRId64 " ticks, %d failures\n",
                ds.nb_files, ds.nb_files == 1 ? "" : "s", ds.nb, ds.ticks, failures);
        if (nb_schedules) {
            int n[EVAL_CLASSES] = { 0 };
            for (int i = 0; i < ds.nb; i++)
                for (int k = 0; k < ds.s[i].nb_failures; k++)
                    n[ds.s[i].failure_class[k]]++;
            fprintf(stderr, "by the schedules: %d degradation-led, %d abrupt (their ticks censored), "
                    "%d other\n", n[EVAL_CLASS_LED], n[EVAL_CLASS_ABRUPT], n[EVAL_CLASS_OTHER]);
        }
        /* label feedback: what the orchestrator's own switches did to the labels */
        dataset_averted_count(&ds, cfg.horizon_us, &confirmed, &censored);
        if (confirmed + censored)
            fprintf(stderr, "switches away at high risk: %d; %d confirmed by the instance's own "
                    "failure (positives), %d censored (never negatives)\n",
                    confirmed + censored, confirmed, censored);
        if (!failures)
            fprintf(stderr, "hotspare train: warning: no failure in the data: the failure head "
                    "learns nothing; the risk will come from the anomaly head alone\n");
    }
    cfg.progress = progress;
    cfg.opaque = &bar;
    if ((ret = train_model(&ds, &cfg, &m, &rep, err, sizeof(err))) < 0) {
        fprintf(stderr, "hotspare train: %s\n", err);
        status = ret == AVERROR(EINVAL) ? HS_EXIT_USAGE : HS_EXIT_FAILED;
        goto end;
    }
    if ((ret = model_save(m, out, NULL)) < 0) {
        fprintf(stderr, "hotspare train: cannot write %s: %s\n", out, av_err2str(ret));
        status = HS_EXIT_FAILED;
        goto end;
    }
    printf("model written to %s\n"
           "  data:        %" PRId64 " training ticks (%" PRId64 " positive, %d failures), "
           "%" PRId64 " validation ticks (%" PRId64 " positive, %d failures)\n"
           "  training:    %d epochs, best %d; pos_weight %.1f\n"
           "  validation:  failure head PR-AUC %.3f, ROC-AUC %.3f\n"
           "  thresholds:  risk >= %.3f provisions, < %.3f releases; anomaly weight %.2f\n"
           "  at them:     caught %d of %d failures (median lead %.0f s), %d false alarms "
           "(%.2f per stream-hour)\n"
           "               degradation-led: caught %d of %d (median lead %.0f s); abrupt: %d of %d\n",
           out, rep.train_ticks, rep.train_positives, rep.train_failures, rep.val_ticks,
           rep.val_positives, rep.val_failures, rep.epochs, rep.best_epoch, rep.pos_weight,
           rep.val_pr_auc, rep.val_roc_auc, rep.threshold, rep.release, rep.anomaly_weight,
           rep.val.caught, rep.val.failures, rep.val.lead_median_s, rep.val.false_alarms,
           rep.val.false_alarms_per_hour, rep.val.class_caught[EVAL_CLASS_LED],
           rep.val.class_failures[EVAL_CLASS_LED], rep.val.class_lead_median_s[EVAL_CLASS_LED],
           rep.val.class_caught[EVAL_CLASS_ABRUPT], rep.val.class_failures[EVAL_CLASS_ABRUPT]);
    status = HS_EXIT_OK;

end:
    av_free(faults);
    model_free(&m);
    dataset_free(&ds);
    return status;
}

const CmdEntry cmd_train_entry = {
    .name    = "train",
    .usage   = "--hds FILE [--hds FILE ...] --out models/NAME.hsm [--horizon 60s] [--seed N] [--faults FILE ...]",
    .summary = "train the failure model on data stores and write a model file",
    .help    =
        "Reads every component's samples and failure events from the data stores,\n"
        "labels each tick (does this component fail within the horizon?), trains the\n"
        "LSTM's two heads (the failure probability and the forecast behind the anomaly\n"
        "score), stops early on the validation part (the last part of each store's\n"
        "time span), chooses the thresholds there, and writes the model file with its\n"
        "provenance. The same stores, options and seed give the same file.\n\n"
        "Options:\n"
        "  -H, --hds FILE            a data store written by 'hotspare run' (repeatable)\n"
        "  -o, --out FILE            the model file to write (e.g. models/default.hsm)\n"
        "      --horizon DURATION    predict failures this far ahead [60s]\n"
        "      --seed N              initialisation and sampling [1]\n"
        "      --epochs N            at most this many passes over the data [40]\n"
        "      --patience N          stop after N epochs without improvement [10]\n"
        "      --validation F        fraction of each store's span that validates [0.25]\n"
        "      --max-false-alarms N  per stream-hour, when choosing the threshold [1]\n"
        "      --faults FILE         the schedule of the faults injected while the stores\n"
        "                            recorded (repeatable; models/corpus/gen.awk's faults.tsv):\n"
        "                            the ticks before the failures it calls abrupt (no\n"
        "                            warning by construction) are left out, not positives\n",
    .exec    = train_exec,
};
