/*
 * dataset.h: data stores (hds.h) as the failure model's data: one series
 * of health vectors per component, the component's failures, and a label
 * per tick.
 *
 * A series is one component of one run: (run, stream, kind, name, source
 * for inputs). Encoders and outputs are one series whatever instance is in
 * use (the on_backup feature says which): the model predicts the failure
 * of the component the stream depends on, not of one process inside it.
 *
 * Failures come from the data plane's failure events: "input",
 * "input.backupN" (that source's series), "enc:NAME[.backupN]" (the
 * rendition's encoder series), "out:NAME[.backupN]" (the output's series). A failure counts when the component was up at its last
 * tick before it (a component already down that fails again on a retry is
 * the same incident) and no counted failure of the same series came within
 * DS_INCIDENT_US before it.
 *
 * An input source that is not the stream's source in use (a backup before
 * it took over, the primary after: inputs do not switch back) is read, but
 * nothing of it fails: the data plane reports failures of the source in
 * use. Its ticks have no label: which one is in use comes from the
 * switch events ("input.backup takes over ...").
 *
 * Label of the tick at time t, horizon H:
 *   -1 when the component is down at t (up = 0), or not in use (an input
 *      source above), or a counted failure
 *      happened in [t - DS_COOLDOWN_US, t] (the switch and its turbulence),
 *      or no failure follows within H and the series ends before t + H (its
 *      future is unknown);
 *    1 when a counted failure follows in (t, t + H] (-1 when that failure
 *      is an abrupt one and the series censors those: dataset_classify);
 *   when the orchestrator switched the component away at high risk in
 *      (t, t + H] (an "averted" event), what would have followed is not
 *      known, and calling it healthy would teach the model that high risk
 *      is harmless (the mitigation erases the label that would have
 *      confirmed the prediction): such ticks are never negatives. They are
 *       1 when the instance switched away from failed on its own within H
 *         of the switch (its failure event came after it: the switch only
 *         came first; the prediction is confirmed),
 *      -1 (censored) otherwise: left out of training and of the per-tick
 *         figures, as the ticks whose future the data does not hold;
 *    0 otherwise.
 * models/README.md ("Label feedback") argues for censoring over calling
 * every averted failure a positive.
 */
#ifndef HS_DATASET_H
#define HS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "pfm/evaluate.h"
#include "pfm/health.h"
#include "hma/sample.h"

#define DS_INCIDENT_US  (10 * 1000000LL)
#define DS_COOLDOWN_US  (10 * 1000000LL)

typedef struct DsSeries {
    int file;                    /* index of the store it came from */
    int64_t run;
    CompKind kind;
    char stream[40];
    char name[48];               /* the sample's component name */
    int source;                  /* inputs: which source */
    char label_name[112];        /* "news/enc:720p": for reports */
    int n, n_alloc;
    int64_t *time_us;            /* n */
    float *x;                    /* n x FEAT_NB raw health vectors */
    signed char *label;          /* n, after dataset_label() */
    int nb_failures, nb_failures_alloc;
    int64_t *failure_us;         /* counted failures, increasing */
    int nb_averted, nb_averted_alloc;
    int64_t *averted_us;         /* switched away at high risk, increasing */
    float *averted_risk;         /* nb_averted: the risk the switch was made
                                  * at (NAN: the event does not say) */
    int nb_idle;                 /* inputs: spans [idle_from, idle_to) the */
    int nb_idle_alloc;
    int64_t *idle_from_us;       /* source was not the one in use */
    int64_t *idle_to_us;
    signed char *failure_class;  /* nb_failures EVAL_CLASS_*, after
                                  * dataset_classify(); NULL before */
    int censor_abrupt;           /* label the ticks before an abrupt failure -1 */
    int64_t *averted_fail_us;    /* nb_averted: the first failure event of
                                  * the instance switched away from after the
                                  * switch; INT64_MAX: none */
} DsSeries;

typedef struct DsFile {
    char *path;
    int64_t first_us, last_us;   /* the span of its ticks */
    int64_t failure_events;      /* failure events read (counted or not) */
    int64_t averted_events;      /* switches away at high risk */
} DsFile;

typedef struct Dataset {
    DsSeries *s;
    int nb, nb_alloc;
    DsFile *files;
    int nb_files;
    int64_t ticks;               /* component ticks in all series */
} Dataset;

/* Appends the samples and failures of the store at path. Returns 0 or a
 * negative AVERROR with the reason in err (the file named). */
int dataset_load(Dataset *ds, const char *path, char *err, size_t err_size);

/* Labels every tick for a horizon (see above). Returns 0 or
 * AVERROR(ENOMEM). */
int dataset_label(Dataset *ds, int64_t horizon_us);

/* The labels of s's ticks up to end_us (label: one per such tick), as if
 * the series ended there: failures after end_us are not known, and the
 * future of a tick within the horizon of end_us is unknown. What training
 * uses for the ticks before its validation part, so that no label leaks
 * what happens in it. */
void dataset_label_series(const DsSeries *s, int64_t horizon_us, int64_t end_us, signed char *label);

/*
 * Puts each failure down to the scenario of a fault schedule that made it
 * (eval_fault_class: the failure's time counts from its stream's first tick
 * in its store) into each series' failure_class. With censor, the ticks
 * within the horizon before an abrupt failure are labelled -1 from then on
 * (dataset_label): a failure that came without warning by construction
 * teaches the failure head nothing but noise. Call after dataset_load
 * (failures are final) and before dataset_label. Returns 0 or
 * AVERROR(ENOMEM).
 */
int dataset_classify(Dataset *ds, const EvalFault *f, int nb, int censor);

/* The switches away at high risk of the dataset, for a horizon: how many
 * were confirmed (the instance failed on its own within the horizon after
 * the switch: those ticks are positives) and how many are censored. */
void dataset_averted_count(const Dataset *ds, int64_t horizon_us, int *confirmed, int *censored);

/* Frees everything the dataset holds (the struct itself is the caller's)
 * and zeroes it. */
void dataset_free(Dataset *ds);

#endif
