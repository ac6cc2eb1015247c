/*
 * train.h: trains the failure model on labelled data stores (dataset.h)
 * and chooses the thresholds it ships with.
 *
 * The split is by time, per store: the last val_fraction of each store's
 * span validates, the rest trains, so that validation is always the
 * future of what was learned from (as the model will meet it).
 *
 * Training: windows of `window` ticks of one component, each started from
 * the state the current model reaches over the `burn_in` ticks before it
 * (so a window sees what a component that has been running sees); batches
 * of `batch` windows drawn with a seeded generator; the failure head's
 * loss weighs positive ticks by negatives/positives (capped at
 * TRAIN_POS_WEIGHT_MAX), the forecast head learns on every tick; Adam
 * with gradient clipping (lstm.h). After each epoch the whole validation
 * part is stepped as a run would step it; training stops when the
 * validation PR-AUC (the loss, when validation has no failure) has not
 * improved for `patience` epochs, and the best epoch's weights are kept.
 *
 * Thresholds: on the validation part, for each anomaly weight in a small
 * set, the threshold on the risk that catches the most failures with at
 * most max_fa_per_hour false alarms per stream-hour (evaluate.h; abrupt
 * ones, when the schedules say which, do not count), an alarm
 * being `confirm` ticks in a row above it (eval_confirm); the
 * weight that catches most wins (then fewer false alarms, then the
 * smaller weight). The release threshold is TRAIN_RELEASE_RATIO of it.
 *
 * Single-threaded and seeded: the same data, configuration and seed give
 * the same model, bit for bit.
 */
#ifndef HS_TRAIN_H
#define HS_TRAIN_H

#include <stdint.h>

#include "pfm/dataset.h"
#include "pfm/evaluate.h"
#include "pfm/model.h"

#define TRAIN_POS_WEIGHT_MAX 100.0
#define TRAIN_RELEASE_RATIO  0.7
/* ticks in a row above the threshold before an alarm, when thresholds are
 * chosen and evaluated: the orchestrator's default confirm */
#define TRAIN_CONFIRM        3

typedef struct TrainConfig {
    int64_t horizon_us;          /* the failure head's horizon (60 s) */
    uint64_t seed;               /* initialisation and sampling (1) */
    int max_epochs;              /* (40) */
    int patience;                /* epochs without improvement (10) */
    int window;                  /* BPTT window, ticks (32) */
    int burn_in;                 /* ticks stepped before a window (32) */
    int batch;                   /* windows per Adam step (32) */
    float lr;                    /* Adam step size (2e-3) */
    double val_fraction;         /* of each store's span (0.25) */
    double max_fa_per_hour;      /* false alarms per stream-hour (1) */
    int confirm;                 /* ticks above the threshold for an alarm (TRAIN_CONFIRM) */
    /* called after every batch and epoch (may be NULL) */
    void (*progress)(void *opaque, int epoch, int max_epochs, double epoch_done,
                     double train_loss, double val_metric);
    void *opaque;
} TrainConfig;

void train_config_default(TrainConfig *c);

typedef struct TrainReport {
    int64_t train_ticks, val_ticks;          /* labelled 0 or 1 */
    int64_t train_positives, val_positives;
    int train_failures, val_failures;
    double pos_weight;
    int epochs, best_epoch;
    double train_loss;                       /* of the best epoch */
    double val_pr_auc, val_roc_auc;          /* failure head, best epoch */
    double threshold, release;
    float anomaly_weight;
    EvalResult val;                          /* the risk at the threshold */
} TrainReport;

/*
 * Trains a model on ds (labelled with dataset_label() for cfg->horizon_us).
 * On success *pm is a new model (the caller's) with its normalisation,
 * thresholds and provenance (data, date, seed, figures) filled in. Returns
 * 0, AVERROR(EINVAL) with a reason in err (no data, no validation part,
 * bad configuration) or AVERROR(ENOMEM).
 */
int train_model(const Dataset *ds, const TrainConfig *cfg, Model **pm, TrainReport *rep,
                char *err, size_t err_size);

/*
 * Steps every series of ds through model m from its start as a run would,
 * writing per tick p_fail, anomaly and risk (each ds->ticks floats, in
 * series order; any may be NULL). For evaluation and threshold choice.
 */
void train_score(const Model *m, const Dataset *ds, float *p_fail, float *anomaly, float *risk);

#endif
