/*
 * train.c: the failure model's training loop; see train.h.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "pfm/predictor.h"
#include "pfm/train.h"

void train_config_default(TrainConfig *c)
{
    memset(c, 0, sizeof(*c));
    c->horizon_us = 60 * 1000000LL;
    c->seed = 1;
    c->max_epochs = 40;
    c->patience = 10;
    c->window = 32;
    c->burn_in = 32;
    c->batch = 32;
    c->lr = 2e-3f;
    c->val_fraction = 0.25;
    c->max_fa_per_hour = 1.0;
    c->confirm = TRAIN_CONFIRM;
}

/* xorshift64*: the sampling order, reproducible */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ull;
}

typedef struct Split {
    int *k;                      /* per series: first validation tick */
    size_t *off;                 /* per series: offset of its ticks in flat arrays */
    signed char *label;          /* every tick: the training part labelled as
                                    if the data ended at the split, the
                                    validation part as the dataset says */
} Split;

static int make_split(const Dataset *ds, double val_fraction, int64_t horizon_us, Split *sp)
{
    size_t off = 0;

    sp->k = av_calloc(ds->nb ? ds->nb : 1, sizeof(*sp->k));
    sp->off = av_calloc(ds->nb ? ds->nb : 1, sizeof(*sp->off));
    sp->label = av_malloc(ds->ticks ? ds->ticks : 1);
    if (!sp->k || !sp->off || !sp->label)
        return AVERROR(ENOMEM);
    for (int i = 0; i < ds->nb; i++) {
        const DsSeries *s = &ds->s[i];
        const DsFile *f = &ds->files[s->file];
        int64_t t_split = f->last_us - (int64_t)((f->last_us - f->first_us) * val_fraction);
        int k = 0;
        while (k < s->n && s->time_us[k] < t_split)
            k++;
        sp->k[i] = k;
        sp->off[i] = off;
        /* a training tick must not learn of a failure validation scores */
        dataset_label_series(s, horizon_us, t_split - 1, sp->label + off);
        memcpy(sp->label + off + k, s->label + k, s->n - k);
        off += s->n;
    }
    return 0;
}

/* Mean and deviation of each feature over the training ticks. */
static void normalisation(const Dataset *ds, const Split *sp, Model *m)
{
    for (int f = 0; f < FEAT_NB; f++) {
        double sum = 0, sq = 0;
        int64_t n = 0;
        for (int i = 0; i < ds->nb; i++) {
            const DsSeries *s = &ds->s[i];
            for (int k = 0; k < sp->k[i]; k++) {
                float v = s->x[(size_t)k * FEAT_NB + f];
                if (isnan(v))
                    continue;
                sum += v;
                sq += (double)v * v;
                n++;
            }
        }
        if (n) {
            double mean = sum / n, var = sq / n - mean * mean;
            m->mean[f] = (float)mean;
            m->std[f] = var > 1e-6 ? (float)sqrt(var) : 1.0f;
        } else {
            m->mean[f] = 0;
            m->std[f] = 1;
        }
    }
}

void train_score(const Model *m, const Dataset *ds, float *p_fail, float *anomaly, float *risk)
{
    size_t off = 0;

    for (int i = 0; i < ds->nb; i++) {
        const DsSeries *s = &ds->s[i];
        PredState st;
        predictor_state_reset(&st);
        for (int k = 0; k < s->n; k++, off++) {
            PredOut o;
            predictor_step(m, &st, s->x + (size_t)k * FEAT_NB, &o);
            if (p_fail)
                p_fail[off] = o.p_fail;
            if (anomaly)
                anomaly[off] = o.anomaly;
            if (risk)
                risk[off] = o.risk;
        }
    }
}

/* Validation figures of the failure head: PR-AUC, ROC-AUC and the mean
 * weighted cross-entropy over the validation ticks. */
typedef struct ValFig {
    double pr_auc, roc_auc, loss;
} ValFig;

static int validate(const Model *m, const Dataset *ds, const Split *sp, double pos_weight,
                    float *p, ValFig *vf)
{
    size_t n = 0, total = 0;
    float *score;
    signed char *label;
    double loss = 0;
    int64_t nl = 0;

    train_score(m, ds, p, NULL, NULL);
    for (int i = 0; i < ds->nb; i++)
        total += ds->s[i].n - sp->k[i];
    score = av_malloc_array(total ? total : 1, sizeof(*score));
    label = av_malloc(total ? total : 1);
    if (!score || !label) {
        av_free(score);
        av_free(label);
        return AVERROR(ENOMEM);
    }
    for (int i = 0; i < ds->nb; i++) {
        const DsSeries *s = &ds->s[i];
        for (int k = sp->k[i]; k < s->n; k++) {
            float q = p[sp->off[i] + k];
            score[n] = q;
            label[n] = s->label[k];
            if (s->label[k] == 1) {
                loss -= pos_weight * log(fmax(q, 1e-7));
                nl++;
            } else if (s->label[k] == 0) {
                loss -= log(fmax(1 - q, 1e-7));
                nl++;
            }
            n++;
        }
    }
    vf->pr_auc = eval_pr_auc(score, label, n);
    vf->roc_auc = eval_roc_auc(score, label, n);
    vf->loss = nl ? loss / nl : NAN;
    av_free(score);
    av_free(label);
    return 0;
}

/* The validation part of every series with a score, for evaluate.h. */
static int val_series(const Dataset *ds, const Split *sp, const float *score, EvalSeries **pes,
                      int *pnb)
{
    EvalSeries *es = av_calloc(ds->nb ? ds->nb : 1, sizeof(*es));
    int nb = 0;

    if (!es)
        return AVERROR(ENOMEM);
    for (int i = 0; i < ds->nb; i++) {
        const DsSeries *s = &ds->s[i];
        int k = sp->k[i], f = 0;
        if (k >= s->n)
            continue;
        while (f < s->nb_failures && s->failure_us[f] < s->time_us[k])
            f++;
        es[nb++] = (EvalSeries){
            .stream = s->stream, .name = s->label_name, .n = s->n - k,
            .time_us = s->time_us + k, .score = score + sp->off[i] + k, .label = s->label + k,
            .nb_failures = s->nb_failures - f, .failure_us = s->failure_us + f,
            .failure_class = s->failure_class ? s->failure_class + f : NULL,
        };
    }
    *pes = es;
    *pnb = nb;
    return 0;
}

static void add_prov(Model *m, const char *key, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (char *c = buf; *c; c++)
        if (*c == '\n' || (unsigned char)*c < 0x20)
            *c = ' ';
    model_add_provenance(m, key, buf);
}

int train_model(const Dataset *ds, const TrainConfig *cfg, Model **pm, TrainReport *rep,
                char *err, size_t err_size)
{
    static const float weights[] = { 0.0f, 0.25f, 0.5f, 1.0f };
    const int T = cfg->window, B = cfg->batch, W = cfg->burn_in;
    Model *m = NULL;
    Split sp = { 0 };
    LstmHyper hp;
    int64_t *cand = NULL, nb_cand = 0, neg = 0;
    float *x = NULL, *lab = NULL, *best = NULL, *p = NULL, *an = NULL, *risk = NULL;
    LstmState *s0 = NULL;
    EvalSeries *es = NULL;
    int nb_es = 0, ret, since_best = 0;
    uint64_t rng = cfg->seed * 0x9E3779B97F4A7C15ull + 1;
    double best_metric = -INFINITY;

    memset(rep, 0, sizeof(*rep));
    *pm = NULL;
    if (err_size)
        *err = 0;
    if (T < 1 || T > LSTM_T_MAX || B < 1 || W < 0 || cfg->horizon_us <= 0 ||
        cfg->max_epochs < 1 || !(cfg->val_fraction > 0 && cfg->val_fraction < 1)) {
        snprintf(err, err_size, "bad training configuration (window 1..%d, batch >= 1, "
                 "horizon > 0, 0 < validation fraction < 1)", LSTM_T_MAX);
        return AVERROR(EINVAL);
    }
    if (!ds->ticks) {
        snprintf(err, err_size, "the data stores hold no samples of any stream component");
        return AVERROR(EINVAL);
    }
    if ((ret = make_split(ds, cfg->val_fraction, cfg->horizon_us, &sp)) < 0)
        goto end;

    /* counts, and the windows training can draw (all in the training part) */
    for (int i = 0; i < ds->nb; i++) {
        const DsSeries *s = &ds->s[i];
        int f;
        const signed char *l = sp.label + sp.off[i];
        for (int k = 0; k < s->n; k++) {
            if (l[k] < 0)
                continue;
            if (k < sp.k[i]) {
                rep->train_ticks++;
                rep->train_positives += l[k];
            } else {
                rep->val_ticks++;
                rep->val_positives += l[k];
            }
        }
        for (f = 0; f < s->nb_failures; f++) {
            if (sp.k[i] < s->n && s->failure_us[f] >= s->time_us[sp.k[i]])
                rep->val_failures++;
            else
                rep->train_failures++;
        }
        if (sp.k[i] > T)
            nb_cand += sp.k[i] - T;
    }
    if (!nb_cand || !rep->val_ticks) {
        snprintf(err, err_size, "too little data: %" PRId64 " training windows of %d ticks and %"
                 PRId64 " labelled validation ticks (record longer runs)", nb_cand, T, rep->val_ticks);
        ret = AVERROR(EINVAL);
        goto end;
    }
    if (!(cand = av_malloc_array(nb_cand, sizeof(*cand)))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    nb_cand = 0;
    for (int i = 0; i < ds->nb; i++)
        for (int k = 0; k + T < sp.k[i]; k++)
            cand[nb_cand++] = (int64_t)i << 32 | k;
    neg = rep->train_ticks - rep->train_positives;
    rep->pos_weight = rep->train_positives ?
        av_clipd((double)neg / rep->train_positives, 1, TRAIN_POS_WEIGHT_MAX) : 1;

    if ((ret = model_alloc(&m, cfg->seed)) < 0)
        goto end;
    for (int f = 0; f < FEAT_NB; f++)
        snprintf(m->feature[f], MODEL_NAME_SIZE, "%s", health_feature_names[f]);
    m->horizon_s = (int)(cfg->horizon_us / 1000000);
    normalisation(ds, &sp, m);

    lstm_hyper_default(&hp);
    hp.lr = cfg->lr;
    hp.pos_weight = (float)rep->pos_weight;
    hp.w_fail = rep->train_positives ? 1.0f : 0.0f;
    hp.w_fc = 0.2f;
    hp.fc_mask[FEAT_KIND] = 0;       /* constant per component */
    hp.fc_mask[FEAT_ON_BACKUP] = 0;  /* the switch is the data plane's decision */

    x = av_malloc_array((size_t)B * (T + 1) * FEAT_NB, sizeof(*x));
    lab = av_malloc_array((size_t)B * T, sizeof(*lab));
    s0 = av_malloc_array(B, sizeof(*s0));
    best = av_malloc_array(LSTM_NUM_PARAMS, sizeof(*best));
    p = av_malloc_array(ds->ticks, sizeof(*p));
    an = av_malloc_array(ds->ticks, sizeof(*an));
    risk = av_malloc_array(ds->ticks, sizeof(*risk));
    if (!x || !lab || !s0 || !best || !p || !an || !risk) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    memcpy(best, lstm_params(m->lstm), LSTM_NUM_PARAMS * sizeof(*best));

    for (int epoch = 1; epoch <= cfg->max_epochs; epoch++) {
        /* about every training tick once per epoch, in windows */
        int64_t batches = FFMAX(1, FFMIN(nb_cand, rep->train_ticks + T) / T / B);
        double loss_sum = 0;
        ValFig vf;
        double metric;

        for (int64_t b = 0; b < batches; b++) {
            LstmLoss L;
            for (int w = 0; w < B; w++) {
                int64_t c = cand[rng_next(&rng) % nb_cand];
                const DsSeries *s = &ds->s[c >> 32];
                int k0 = (int)(c & 0xffffffff);
                PredState st;
                predictor_state_reset(&st);
                for (int k = FFMAX(0, k0 - W); k < k0; k++) {
                    float xn[FEAT_NB];
                    predictor_normalise(m, s->x + (size_t)k * FEAT_NB, xn);
                    lstm_step(m->lstm, &st.lstm, xn, NULL, NULL);
                }
                s0[w] = st.lstm;
                for (int t = 0; t <= T; t++)
                    predictor_normalise(m, s->x + (size_t)(k0 + t) * FEAT_NB,
                                        x + ((size_t)w * (T + 1) + t) * FEAT_NB);
                for (int t = 0; t < T; t++)
                    lab[w * T + t] = sp.label[sp.off[c >> 32] + k0 + t];
            }
            if ((ret = lstm_train(m->lstm, &hp, x, lab, s0, B, T, &L)) < 0)
                goto end;
            loss_sum += L.total;
            if (cfg->progress && (b % 16 == 15 || b == batches - 1))
                cfg->progress(cfg->opaque, epoch, cfg->max_epochs, (b + 1.0) / batches,
                              loss_sum / (b + 1), NAN);
        }

        if ((ret = validate(m, ds, &sp, rep->pos_weight, p, &vf)) < 0)
            goto end;
        metric = rep->val_positives && !isnan(vf.pr_auc) ? vf.pr_auc : -vf.loss;
        rep->epochs = epoch;
        if (metric > best_metric + 1e-6) {
            best_metric = metric;
            since_best = 0;
            rep->best_epoch = epoch;
            rep->train_loss = loss_sum / batches;
            rep->val_pr_auc = vf.pr_auc;
            rep->val_roc_auc = vf.roc_auc;
            memcpy(best, lstm_params(m->lstm), LSTM_NUM_PARAMS * sizeof(*best));
        } else {
            since_best++;
        }
        if (cfg->progress)
            cfg->progress(cfg->opaque, epoch, cfg->max_epochs, 1.0, loss_sum / batches, metric);
        if (since_best >= cfg->patience)
            break;
    }
    memcpy(lstm_params(m->lstm), best, LSTM_NUM_PARAMS * sizeof(*best));
    lstm_reset_optimizer(m->lstm);

    /* thresholds on the validation part */
    train_score(m, ds, p, an, NULL);
    rep->threshold = 1.0;
    for (size_t w = 0; w < FF_ARRAY_ELEMS(weights); w++) {
        EvalResult r;
        double thr;
        int better, c, c_best;
        for (int64_t i = 0; i < ds->ticks; i++)
            risk[i] = 1.0f - (1.0f - p[i]) * (1.0f - weights[w] * an[i]);
        for (int i = 0; i < ds->nb; i++)
            eval_confirm(risk + sp.off[i], ds->s[i].n, cfg->confirm);
        av_freep(&es);
        if ((ret = val_series(ds, &sp, risk, &es, &nb_es)) < 0)
            goto end;
        ret = eval_choose_threshold(es, nb_es, cfg->horizon_us, cfg->max_fa_per_hour,
                                    TRAIN_RELEASE_RATIO, &thr, &r);
        if (ret < 0 && ret != AVERROR(ENOENT))
            goto end;
        /* as the threshold: the failures that could be predicted */
        c = r.caught - r.class_caught[EVAL_CLASS_ABRUPT];
        c_best = rep->val.caught - rep->val.class_caught[EVAL_CLASS_ABRUPT];
        better = w == 0 || c > c_best || (c == c_best && r.false_alarms < rep->val.false_alarms);
        if (better) {
            rep->val = r;
            rep->threshold = thr;
            rep->anomaly_weight = weights[w];
        }
    }
    ret = 0;
    rep->release = rep->threshold * TRAIN_RELEASE_RATIO;
    m->thr_high = (float)av_clipd(rep->threshold, 0, 1);
    m->thr_low = (float)av_clipd(rep->release, 0, m->thr_high);
    m->anomaly_weight = rep->anomaly_weight;

    {
        char date[32];
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        /* reproducible builds' convention: the same inputs, the same file */
        time_t now = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
        add_prov(m, "trained", "%s", date);
        for (int i = 0; i < ds->nb_files; i++)
            add_prov(m, "data", "%s (%.1f h, %" PRId64 " failure events)", ds->files[i].path,
                     (ds->files[i].last_us - ds->files[i].first_us) / 3.6e9,
                     ds->files[i].failure_events);
        add_prov(m, "split", "by time: the last %.0f%% of each store validates", cfg->val_fraction * 100);
        add_prov(m, "train", "%" PRId64 " labelled ticks, %" PRId64 " positive, %d failures; "
                 "pos_weight %.1f", rep->train_ticks, rep->train_positives, rep->train_failures,
                 rep->pos_weight);
        add_prov(m, "validation", "%" PRId64 " labelled ticks, %" PRId64 " positive, %d failures",
                 rep->val_ticks, rep->val_positives, rep->val_failures);
        add_prov(m, "settings", "seed %" PRIu64 ", window %d, burn-in %d, batch %d, lr %g, "
                 "epochs %d (best %d, patience %d)", cfg->seed, T, W, B, cfg->lr,
                 rep->epochs, rep->best_epoch, cfg->patience);
        add_prov(m, "val_failure_head", "PR-AUC %.3f, ROC-AUC %.3f", rep->val_pr_auc, rep->val_roc_auc);
        add_prov(m, "val_risk", "on the part that chose them (optimistic; see hotspare eval on "
                 "held-out data): threshold %.3f (release %.3f) for %d ticks in a row, anomaly weight "
                 "%.2f: caught %d of %d failures, %d false alarms, %.2f per stream-hour, median lead "
                 "%.0f s", rep->threshold, rep->release, cfg->confirm, rep->anomaly_weight, rep->val.caught,
                 rep->val.failures, rep->val.false_alarms, rep->val.false_alarms_per_hour,
                 rep->val.lead_median_s);
    }
    *pm = m;
    m = NULL;

end:
    if (ret < 0 && !*err)
        snprintf(err, err_size, "training failed: %s", av_err2str(ret));
    model_free(&m);
    av_free(sp.k);
    av_free(sp.off);
    av_free(sp.label);
    av_free(cand);
    av_free(x);
    av_free(lab);
    av_free(s0);
    av_free(best);
    av_free(p);
    av_free(an);
    av_free(risk);
    av_free(es);
    return ret;
}
