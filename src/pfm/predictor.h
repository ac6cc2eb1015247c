/*
 * predictor.h: the failure model at work: every predicted component,
 * every tick, one LSTM step, and the risk the orchestrator reads.
 *
 * Per component and tick:
 *   1. its health vector (health.h), normalised with the model's means
 *      and deviations (absent -> 0, the usual value);
 *   2. one LSTM step from the component's own state (lstm.h): the failure
 *      head's p_fail, P(this component fails within the model's horizon),
 *      and the forecast head's guess of the next normalised vector;
 *   3. the unsupervised score (anomaly.h): one detector per input of the
 *      raw health vector, stepped on that input's own values (an absent
 *      figure is skipped) with anomaly_config_default(), the configuration
 *      `hotspare nab` scores; the component's anomaly is the highest of its
 *      inputs' scores. It needs no failure ever seen and no model: only the
 *      component's own past. Cost: FEAT_NB detector steps per component and
 *      tick (one hash probe and about 60 flops each), FEAT_NB x
 *      sizeof(AnomalyState) (about 6.3 KB) of state per component;
 *   4. risk = 1 - (1 - p_fail)(1 - w * anomaly), w the model's anomaly
 *      weight: either head can raise it, both together raise it more. The
 *      model's thresholds (thr_high to provision, thr_low to release)
 *      apply to the risk; a thr_high of 1 never fires (training found no
 *      threshold within its false-alarm budget).
 *
 * The trainer and `hotspare eval` step series one component at a time
 * through predictor_step(); the run steps a whole Sample with
 * predictor_tick(), which keeps one PredState per component identity
 * (stream, kind, name, source for inputs) and writes the risk into the
 * sample as the kind's failure_risk metric, so that the data store and
 * the Prometheus endpoint carry it like any other figure.
 */
#ifndef HS_PREDICTOR_H
#define HS_PREDICTOR_H

#include "pfm/anomaly.h"
#include "pfm/health.h"
#include "pfm/lstm.h"
#include "pfm/model.h"
#include "hma/sample.h"

#define PRED_INPUT_MAX  10.0f    /* normalised inputs are clamped to +-this */

typedef struct PredState {
    HealthState feat;
    LstmState lstm;
    AnomalyState anom[FEAT_NB];  /* one detector per input */
    int ticks;                   /* stepped so far */
} PredState;

typedef struct PredOut {
    float p_fail;                /* failure head */
    float anomaly;               /* unsupervised head, [0,1] */
    float risk;                  /* combined, [0,1] */
} PredOut;

/* Zeroes a component's state (the start of its life). */
void predictor_state_reset(PredState *st);

/* Normalises a raw health vector with the model's statistics (NAN -> 0,
 * clamped to +-PRED_INPUT_MAX). */
void predictor_normalise(const Model *m, const float *raw, float *xn);

/* One tick of one component from its raw health vector. */
void predictor_step(const Model *m, PredState *st, const float *raw, PredOut *out);

/* Was m trained on this build's health vector (health.h: the same feature
 * names in the same order)? Returns 0, or AVERROR(EINVAL) with the reason
 * and a hint in why. */
int predictor_model_fits(const Model *m, char *why, size_t size);

typedef struct Predictor Predictor;

/* Takes the model (consumed on success: *pm is set NULL). Returns 0 or
 * AVERROR(ENOMEM) (the model stays the caller's). */
int predictor_alloc(Predictor **pp, Model **pm);
void predictor_free(Predictor **pp);

const Model *predictor_model(const Predictor *p);

/*
 * Steps every predicted component of s and sets its kind's failure_risk
 * metric in s: numbers only; what a risk means (its crossings, what to
 * open) is the orchestrator's (fo/fo.h). Returns the number of components
 * stepped, or AVERROR(ENOMEM).
 */
int predictor_tick(Predictor *p, Sample *s);

/*
 * Finds the model a run uses when its job names none: default.hsm in
 * models/ beside the executable (a build tree), in ../share/hotspare/models
 * from it (an install moved as a whole), then in the configured data
 * directory. Writes the path into buf and returns 0, or AVERROR(ENOENT).
 */
int predictor_default_model(char *buf, size_t size);

#endif
