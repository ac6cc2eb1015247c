/*
 * evaluate.c: the failure predictor's evaluation, its figures and reports;
 * see evaluate.h for the rules. The plot is eval_plot.c's.
 *
 * The per-tick areas need the scores in order: the scored ticks of all
 * series are sorted once (a radix sort on the float's bits, so the order
 * and hence every figure is the same on every machine), and both areas come
 * from one walk over groups of equal scores. The per-event figures need no
 * order beyond the series' own, so they are one pass over the ticks with a
 * pointer into each series' failures: O(N) per threshold, which is what
 * lets the threshold search try every candidate.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/bprint.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "pfm/evaluate.h"
#include "pfm/evaluate_int.h"

const double eval_lead_bucket_s[EVAL_LEAD_BUCKETS] = { 0, 1, 5, 10, 20, 30, 45 };

#define MAX_CANDIDATES 200

/* ---- the sort ------------------------------------------------------------- */

/* A scored example: the score's bits made to sort as unsigned integers in
 * the upper 32 bits, the label's class in the lower ones. */
enum { CLASS_NEG = 0, CLASS_POS = 1, CLASS_UNKNOWN = 2 };

static uint64_t example_key(float score, int label)
{
    uint32_t bits;
    int cls = label == 1 ? CLASS_POS : label == 0 ? CLASS_NEG : CLASS_UNKNOWN;

    if (score == 0)
        score = 0;               /* -0 and +0 are one score: one group */
    memcpy(&bits, &score, sizeof(bits));
    /* IEEE order as unsigned: flip negatives whole, set the sign of others */
    bits = bits & 0x80000000u ? ~bits : bits | 0x80000000u;
    return (uint64_t)bits << 32 | (uint32_t)cls;
}

static float key_score(uint64_t key)
{
    uint32_t bits = key >> 32;
    float f;

    bits = bits & 0x80000000u ? bits & 0x7fffffffu : ~bits;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

#define KEY_GROUP(k) ((k) >> 32)
#define KEY_CLASS(k) ((int)((k) & 3))

/* Sorts v[n] by the upper 32 bits, stable: LSD radix, a byte a pass, tmp[n]
 * as the other buffer. Passes where every key has the same byte are skipped
 * (scores in [0,1] share their top byte). */
static void radix_sort(uint64_t *v, uint64_t *tmp, size_t n)
{
    uint64_t *src = v, *dst = tmp;

    for (int shift = 32; shift < 64; shift += 8) {
        size_t count[256] = { 0 }, pos = 0;
        int trivial = 0;

        for (size_t i = 0; i < n; i++)
            count[(src[i] >> shift) & 255]++;
        for (int d = 0; d < 256; d++) {
            size_t c = count[d];
            trivial |= c == n;
            count[d] = pos;
            pos += c;
        }
        if (trivial)
            continue;
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 255]++] = src[i];
        FFSWAP(uint64_t *, src, dst);
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
}

/* ---- per tick ------------------------------------------------------------- */

typedef struct Areas {
    int64_t positives, negatives;
    double roc_auc, pr_auc;
} Areas;

/* Both areas from the sorted keys (unknown labels among them are passed
 * over): ROC-AUC as Mann-Whitney's U / (P N), a positive tied with a
 * negative counting half; average precision as scikit-learn's
 * sum_k (R_k - R_k-1) P_k over the distinct scores, highest first. */
static void areas(const uint64_t *v, size_t n, Areas *a)
{
    double u = 0, ap = 0;
    int64_t pos = 0, neg = 0, neg_below = 0, tp = 0, fp = 0;

    for (size_t i = 0; i < n; i++) {
        pos += KEY_CLASS(v[i]) == CLASS_POS;
        neg += KEY_CLASS(v[i]) == CLASS_NEG;
    }
    /* ascending for U, descending for AP: one walk each over the groups */
    for (size_t i = 0, j; i < n; i = j) {
        int64_t pg = 0, ng = 0;
        for (j = i; j < n && KEY_GROUP(v[j]) == KEY_GROUP(v[i]); j++) {
            pg += KEY_CLASS(v[j]) == CLASS_POS;
            ng += KEY_CLASS(v[j]) == CLASS_NEG;
        }
        u += pg * (neg_below + 0.5 * ng);
        neg_below += ng;
    }
    for (size_t j = n, i; j > 0; j = i) {
        int64_t pg = 0, ng = 0;
        for (i = j; i > 0 && KEY_GROUP(v[i - 1]) == KEY_GROUP(v[j - 1]); i--) {
            pg += KEY_CLASS(v[i - 1]) == CLASS_POS;
            ng += KEY_CLASS(v[i - 1]) == CLASS_NEG;
        }
        tp += pg;
        fp += ng;
        if (pg)
            ap += (double)pg * tp / (tp + fp);
    }
    a->positives = pos;
    a->negatives = neg;
    a->roc_auc = pos && neg ? u / ((double)pos * neg) : NAN;
    a->pr_auc = pos ? ap / pos : NAN;
}

/* The sorted keys of the examples with label 0/1 and a score; NULL when out
 * of memory. */
static uint64_t *sorted_examples(const float *score, const signed char *label, size_t n,
                                 size_t *m)
{
    uint64_t *v, *tmp;

    *m = 0;
    if (!(v = av_malloc_array(n ? n : 1, sizeof(*v))))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!isnan(score[i]) && (label[i] == 0 || label[i] == 1))
            v[(*m)++] = example_key(score[i], label[i]);
    if (!(tmp = av_malloc_array(*m ? *m : 1, sizeof(*tmp)))) {
        av_free(v);
        return NULL;
    }
    radix_sort(v, tmp, *m);
    av_free(tmp);
    return v;
}

/* NAN also when out of memory: these two have no error code to return. */
static Areas example_areas(const float *score, const signed char *label, size_t n)
{
    Areas a = { 0, 0, NAN, NAN };
    uint64_t *v;
    size_t m;

    if ((n && (!score || !label)) || !(v = sorted_examples(score, label, n, &m)))
        return a;
    areas(v, m, &a);
    av_free(v);
    return a;
}

double eval_roc_auc(const float *score, const signed char *label, size_t n)
{
    return example_areas(score, label, n).roc_auc;
}

double eval_pr_auc(const float *score, const signed char *label, size_t n)
{
    return example_areas(score, label, n).pr_auc;
}

/* ---- what does not depend on the threshold -------------------------------- */

typedef struct Prep {
    uint64_t *keys;              /* every scored tick (all labels), sorted */
    size_t nb_keys;
    Areas areas;
    int failures;
    double stream_hours;
    int64_t *leads;              /* scratch: one per failure */
    signed char *lead_class;     /* the class of each of leads */
    int64_t *class_leads;        /* scratch: one per failure */
} Prep;

static void prep_free(Prep *p)
{
    av_freep(&p->keys);
    av_freep(&p->leads);
    av_freep(&p->lead_class);
    av_freep(&p->class_leads);
}

int eval_check_series(const EvalSeries *s, int nb)
{
    if (nb < 0 || (nb && !s))
        return AVERROR(EINVAL);
    for (int k = 0; k < nb; k++) {
        const EvalSeries *e = &s[k];

        if (e->n < 0 || e->nb_failures < 0 || (e->n && (!e->time_us || !e->score || !e->label)) ||
            (e->nb_failures && !e->failure_us))
            return AVERROR(EINVAL);
        for (int i = 1; i < e->n; i++)
            if (e->time_us[i] <= e->time_us[i - 1])
                return AVERROR(EINVAL);
        for (int i = 1; i < e->nb_failures; i++)
            if (e->failure_us[i] <= e->failure_us[i - 1])
                return AVERROR(EINVAL);
    }
    return 0;
}

/* Orders series by stream name, those without one last (each its own). */
static int cmp_stream(const void *a, const void *b)
{
    const EvalSeries *x = *(const EvalSeries *const *)a, *y = *(const EvalSeries *const *)b;

    if (!x->stream || !y->stream)
        return !x->stream - !y->stream;
    return strcmp(x->stream, y->stream);
}

/* Hours covered by the streams: per stream, from its earliest tick to its
 * latest, over all its series; a stream with five components is still one
 * stream-hour an hour. */
static int stream_hours(const EvalSeries *s, int nb, double *hours)
{
    const EvalSeries **ord;
    int m = 0;
    int64_t us = 0;

    *hours = 0;
    if (!(ord = av_malloc_array(FFMAX(nb, 1), sizeof(*ord))))
        return AVERROR(ENOMEM);
    for (int k = 0; k < nb; k++)
        if (s[k].n > 0)
            ord[m++] = &s[k];
    qsort(ord, m, sizeof(*ord), cmp_stream);
    for (int i = 0, j; i < m; i = j) {
        int64_t first = ord[i]->time_us[0], last = ord[i]->time_us[ord[i]->n - 1];
        for (j = i + 1; j < m && ord[i]->stream && ord[j]->stream &&
                        !strcmp(ord[i]->stream, ord[j]->stream); j++) {
            first = FFMIN(first, ord[j]->time_us[0]);
            last = FFMAX(last, ord[j]->time_us[ord[j]->n - 1]);
        }
        us += last - first;
    }
    av_free(ord);
    *hours = us / 3600e6;
    return 0;
}

static int prep_init(Prep *p, const EvalSeries *s, int nb)
{
    size_t n = 0, nf = 0;
    uint64_t *tmp;
    int ret;

    memset(p, 0, sizeof(*p));
    for (int k = 0; k < nb; k++) {
        n += s[k].n;
        nf += s[k].nb_failures;
    }
    if (nf > INT_MAX)
        return AVERROR(EINVAL);  /* EvalResult counts failures in an int */
    p->failures = (int)nf;
    if ((ret = stream_hours(s, nb, &p->stream_hours)) < 0)
        return ret;
    if (!(p->keys = av_malloc_array(n ? n : 1, sizeof(*p->keys))) ||
        !(p->leads = av_malloc_array(nf ? nf : 1, sizeof(*p->leads))) ||
        !(p->lead_class = av_malloc(nf ? nf : 1)) ||
        !(p->class_leads = av_malloc_array(nf ? nf : 1, sizeof(*p->class_leads))) ||
        !(tmp = av_malloc_array(n ? n : 1, sizeof(*tmp)))) {
        prep_free(p);
        return AVERROR(ENOMEM);
    }
    for (int k = 0; k < nb; k++)
        for (int i = 0; i < s[k].n; i++)
            if (!isnan(s[k].score[i]))
                p->keys[p->nb_keys++] = example_key(s[k].score[i], s[k].label[i]);
    radix_sort(p->keys, tmp, p->nb_keys);
    av_free(tmp);
    areas(p->keys, p->nb_keys, &p->areas);
    return 0;
}

/* ---- per event ------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The value of nearest rank ceil(pct/100 n) among sorted v[n], n > 0. */
static int64_t nearest_rank(const int64_t *v, int n, int pct)
{
    int rank = (int)(((int64_t)pct * n + 99) / 100);

    return v[FFMAX(rank, 1) - 1];
}

/* The median of sorted v[n], n > 0 (the mean of the middle two for even n). */
static double median_s(const int64_t *v, int n)
{
    return (n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0) / 1e6;
}

static int failure_class(const EvalSeries *e, int i)
{
    int c = e->failure_class ? e->failure_class[i] : EVAL_CLASS_OTHER;

    return c > EVAL_CLASS_OTHER && c < EVAL_CLASSES ? c : EVAL_CLASS_OTHER;
}

/* The whole event view at one threshold, plus the per-tick precision and
 * recall (which need the same pass over the ticks). */
static void event_pass(const Prep *p, const EvalSeries *s, int nb, double threshold,
                       double release, int64_t horizon_us, EvalResult *r,
                       EvalAlarmFn on_alarm, void *opaque)
{
    int64_t tp = 0, fp = 0;
    int caught = 0;

    memset(r, 0, sizeof(*r));
    for (int k = 0; k < nb; k++) {
        const EvalSeries *e = &s[k];
        const int64_t *f = e->failure_us;
        int nf = e->nb_failures;
        int fi = 0;              /* first failure after the latest onset */
        int fa = 0;              /* first failure not yet caught or missed */
        int on = 0, armed = 1;

        for (int i = 0; i < nf; i++)
            r->class_failures[failure_class(e, i)]++;
        /* Branch-free but for onsets and catches: with scores near the
         * threshold, as the search's middle candidates have them, a branch
         * on each tick's score costs more than the rest of the pass. */
        for (int i = 0; i < e->n; i++) {
            float x = e->score[i];
            int lab = e->label[i];
            int above = x >= threshold;          /* NAN: not above */
            int onset = above & !on & armed;

            tp += above & (lab == 1);
            fp += above & (lab == 0);
            /* re-armed below release; NAN is as if the tick were not there */
            armed = (armed | (x < release)) & !onset;
            on = above | (on & isnan(x));
            if (onset) {
                int64_t t = e->time_us[i];
                r->alarms++;
                while (fi < nf && f[fi] <= t)
                    fi++;
                /* no failure follows: false, unless the tick's future is
                 * unknown (label -1: down, just failed, the data ends) */
                int judged = fi == nf || f[fi] - t > horizon_us ? (lab < 0 ? 2 : 1) : 0;
                r->false_alarms += judged == 1;
                r->unjudged_alarms += judged == 2;
                if (on_alarm)
                    on_alarm(opaque, k, t, judged);
            }
            if (above & (fa < nf)) {
                /* the failures in (t, t + horizon] not caught yet are caught
                 * now, by their earliest alarmed tick since ticks increase;
                 * those at or before t can no longer be */
                int64_t t = e->time_us[i];
                while (fa < nf && f[fa] <= t)
                    fa++;
                while (fa < nf && f[fa] - t <= horizon_us) {
                    p->lead_class[caught] = failure_class(e, fa);
                    p->leads[caught++] = f[fa] - t;
                    fa++;
                }
            }
        }
    }

    r->positives = p->areas.positives;
    r->negatives = p->areas.negatives;
    r->roc_auc = p->areas.roc_auc;
    r->pr_auc = p->areas.pr_auc;
    r->precision = tp + fp ? (double)tp / (tp + fp) : NAN;
    r->recall = r->positives ? (double)tp / r->positives : NAN;
    r->failures = p->failures;
    r->caught = caught;
    r->stream_hours = p->stream_hours;
    r->false_alarms_per_hour = p->stream_hours > 0 ? r->false_alarms / p->stream_hours : NAN;
    r->false_alarms_per_day = r->false_alarms_per_hour * 24;
    r->lead_median_s = r->lead_p10_s = r->lead_p90_s = NAN;
    for (int c = 0; c < EVAL_CLASSES; c++) {
        int m = 0;
        for (int i = 0; i < caught; i++)
            if (p->lead_class[i] == c)
                p->class_leads[m++] = p->leads[i];
        r->class_caught[c] = m;
        qsort(p->class_leads, m, sizeof(*p->class_leads), cmp_i64);
        r->class_lead_median_s[c] = m ? median_s(p->class_leads, m) : NAN;
    }
    if (caught) {
        int64_t *l = p->leads;
        qsort(l, caught, sizeof(*l), cmp_i64);
        r->lead_median_s = median_s(l, caught);
        r->lead_p10_s = nearest_rank(l, caught, 10) / 1e6;
        r->lead_p90_s = nearest_rank(l, caught, 90) / 1e6;
        for (int i = 0; i < caught; i++) {
            int b = EVAL_LEAD_BUCKETS - 1;
            while (b > 0 && l[i] / 1e6 < eval_lead_bucket_s[b])
                b--;
            r->lead_hist[b]++;
        }
    }
}

int eval_run(const EvalSeries *s, int nb, double threshold, double release,
             int64_t horizon_us, EvalResult *r)
{
    return eval_run_alarms(s, nb, threshold, release, horizon_us, r, NULL, NULL);
}

/* ---- what an orchestrator acts on -------------------------------------- */

void eval_confirm(float *score, int n, int confirm)
{
    /* the last confirm - 1 scored values before the tick, oldest first */
    float prev[64];
    int np = 0;

    confirm = FFMIN(confirm, (int)FF_ARRAY_ELEMS(prev) + 1);
    if (confirm <= 1)
        return;
    for (int i = 0; i < n; i++) {
        float v = score[i], m = v;
        int full = np == confirm - 1;
        if (isnan(v))
            continue;
        for (int k = 0; k < np; k++)
            m = fminf(m, prev[k]);
        if (full)
            memmove(prev, prev + 1, (--np) * sizeof(*prev));
        prev[np++] = v;
        /* too few ticks yet for confirm in a row: nothing to act on */
        score[i] = full ? m : 0.0f;
    }
}

/* ---- the kinds of failure ------------------------------------------------ */

int eval_fault_parse(const char *line, EvalFault *f, char *err, size_t err_size)
{
    char cls[16];
    double start, end;
    int n = 0;

    while (*line == ' ' || *line == '\t')
        line++;
    if (!*line || *line == '\n' || *line == '#')
        return 0;
    memset(f, 0, sizeof(*f));
    if (sscanf(line, "%lf %lf %47s %47s %15s %23s%n", &start, &end, f->stream, f->component, cls,
               f->scenario, &n) != 6) {
        snprintf(err, err_size, "want START END STREAM COMPONENT CLASS SCENARIO");
        return AVERROR(EINVAL);
    }
    if (!(start >= 0 && end >= start && end < 1e7)) {
        snprintf(err, err_size, "START and END: seconds, 0 <= START <= END");
        return AVERROR(EINVAL);
    }
    if (!strcmp(cls, "led"))
        f->cls = EVAL_CLASS_LED;
    else if (!strcmp(cls, "abrupt"))
        f->cls = EVAL_CLASS_ABRUPT;
    else if (!strcmp(cls, "benign"))
        f->cls = EVAL_CLASS_OTHER;
    else {
        snprintf(err, err_size, "CLASS: led, abrupt or benign, not '%s'", cls);
        return AVERROR(EINVAL);
    }
    f->start_us = (int64_t)(start * 1e6);
    f->end_us = (int64_t)(end * 1e6);
    return 1;
}

int eval_faults_load(const char *path, EvalFault **f, int *nb, char *err, size_t err_size)
{
    FILE *in = fopen(path, "r");
    char line[512], why[256];
    int ln = 0, ret = 0;

    if (!in) {
        ret = AVERROR(errno);
        snprintf(err, err_size, "%s: %s", path, av_err2str(ret));
        return ret;
    }
    while (fgets(line, sizeof(line), in)) {
        EvalFault one;
        ln++;
        if ((ret = eval_fault_parse(line, &one, why, sizeof(why))) < 0) {
            snprintf(err, err_size, "%s:%d: %s", path, ln, why);
            break;
        }
        if (ret) {
            EvalFault *a = av_realloc_array(*f, *nb + 1, sizeof(*a));
            if (!a) {
                ret = AVERROR(ENOMEM);
                snprintf(err, err_size, "%s: out of memory", path);
                break;
            }
            *f = a;
            a[(*nb)++] = one;
        }
        ret = 0;
    }
    fclose(in);
    return ret;
}

int eval_fault_class(const EvalFault *f, int nb, const char *stream, const char *component,
                     int64_t t_us)
{
    int best = -1, best_rank = -1;

    for (int i = 0; i < nb; i++) {
        int any_s = !strcmp(f[i].stream, "*"), any_c = !strcmp(f[i].component, "*");
        int rank;
        if ((!any_s && strcmp(f[i].stream, stream)) || (!any_c && strcmp(f[i].component, component)) ||
            t_us < f[i].start_us - EVAL_FAULT_BEFORE_US || t_us > f[i].end_us + EVAL_FAULT_AFTER_US)
            continue;
        rank = !any_s + !any_c;
        if (rank > best_rank || (rank == best_rank && f[i].start_us > f[best].start_us)) {
            best = i;
            best_rank = rank;
        }
    }
    return best < 0 ? EVAL_CLASS_OTHER : f[best].cls;
}

int eval_run_alarms(const EvalSeries *s, int nb, double threshold, double release,
                    int64_t horizon_us, EvalResult *r, EvalAlarmFn on_alarm, void *opaque)
{
    Prep p;
    int ret;

    if (!r || isnan(threshold) || isnan(release) || release > threshold || horizon_us <= 0)
        return AVERROR(EINVAL);
    if ((ret = eval_check_series(s, nb)) < 0)
        return ret;
    if ((ret = prep_init(&p, s, nb)) < 0)
        return ret;
    event_pass(&p, s, nb, threshold, release, horizon_us, r, on_alarm, opaque);
    prep_free(&p);
    return 0;
}

/* ---- the threshold -------------------------------------------------------- */

/* Candidates: every distinct score when there are at most MAX_CANDIDATES,
 * else the scores at MAX_CANDIDATES ranks spaced by the cube of their
 * position from the top, without repeats: alarms live in the top percent
 * of the ticks, and even ranks would leave a step of n/200 ticks there
 * (measured: on 17,000 validation ticks the budget of 1, 2 and 4 false
 * alarms an hour all chose the same threshold). */
static int candidates(const Prep *p, double *c)
{
    size_t n = p->nb_keys, distinct = 0;
    int m = 0;

    for (size_t i = 0; i < n; i++)
        distinct += !i || KEY_GROUP(p->keys[i]) != KEY_GROUP(p->keys[i - 1]);
    for (size_t i = 0; i < n && distinct <= MAX_CANDIDATES; i++)
        if (!i || KEY_GROUP(p->keys[i]) != KEY_GROUP(p->keys[i - 1]))
            c[m++] = key_score(p->keys[i]);
    for (int k = 0; k < MAX_CANDIDATES && distinct > MAX_CANDIDATES; k++) {
        double f = (double)(MAX_CANDIDATES - 1 - k) / (MAX_CANDIDATES - 1);
        double v = key_score(p->keys[n - 1 - (size_t)llround((n - 1) * f * f * f)]);
        if (!m || v != c[m - 1])
            c[m++] = v;
    }
    return m;
}

/* What a threshold is chosen for: the failures caught that could be
 * predicted, i.e. all but those the schedules call abrupt (nothing precedes
 * them; an alarm on before one is chance, and a threshold chosen for such
 * luck is chosen for noise). */
static int caught_predictable(const EvalResult *r)
{
    return r->caught - r->class_caught[EVAL_CLASS_ABRUPT];
}

static int within_budget(const EvalResult *r, double max_fa_per_hour)
{
    /* no stream time: only no false alarm at all is within any budget */
    if (!(r->stream_hours > 0))
        return r->false_alarms == 0;
    return r->false_alarms_per_hour <= max_fa_per_hour;
}

int eval_choose_threshold(const EvalSeries *s, int nb, int64_t horizon_us,
                          double max_fa_per_hour, double release_ratio,
                          double *threshold, EvalResult *r)
{
    double c[MAX_CANDIDATES], best_thr = 0, top;
    EvalResult cur, best = { 0 };
    int nc, found = 0, ret;
    Prep p;

    if (!threshold || !r || horizon_us <= 0 || !(max_fa_per_hour >= 0) ||
        !(release_ratio >= 0 && release_ratio <= 1))
        return AVERROR(EINVAL);
    if ((ret = eval_check_series(s, nb)) < 0)
        return ret;
    if ((ret = prep_init(&p, s, nb)) < 0)
        return ret;

    nc = candidates(&p, c);
    for (int k = 0; k < nc; k++) {
        event_pass(&p, s, nb, c[k], FFMIN(c[k] * release_ratio, c[k]), horizon_us, &cur, NULL, NULL);
        if (!within_budget(&cur, max_fa_per_hour))
            continue;
        /* candidates ascend: ">=" on the last key prefers the higher one */
        if (!found || caught_predictable(&cur) > caught_predictable(&best) ||
            (caught_predictable(&cur) == caught_predictable(&best) &&
             cur.false_alarms <= best.false_alarms)) {
            best = cur;
            best_thr = c[k];
            found = 1;
        }
    }
    if (found) {
        *threshold = best_thr;
        *r = best;
        prep_free(&p);
        return 0;
    }

    /* Above the highest score (1, the top of the range, when none is
     * scored). The epsilon is relative and well above a float's step, so
     * that a threshold stored as a float (the model file) stays above it. */
    top = p.nb_keys ? key_score(p.keys[p.nb_keys - 1]) : 1.0;
    *threshold = top + FFMAX(1e-6, fabs(top) * 1e-6);
    event_pass(&p, s, nb, *threshold, FFMIN(*threshold * release_ratio, *threshold), horizon_us, r,
               NULL, NULL);
    prep_free(&p);
    return AVERROR(ENOENT);
}

/* ---- reports -------------------------------------------------------------- */

/* Prints into the caller's buffer, truncating; bp.len counts what all of it
 * needs, as snprintf's return does. */
static void bp_init(AVBPrint *bp, char *buf, size_t size)
{
    if (!buf || !size)
        av_bprint_init(bp, 0, AV_BPRINT_SIZE_COUNT_ONLY);
    else
        av_bprint_init_for_buffer(bp, buf, size > UINT_MAX ? UINT_MAX : (unsigned)size);
}

static int bp_done(AVBPrint *bp)
{
    return bp->len > INT_MAX ? INT_MAX : (int)bp->len;
}

/* The figures of a detector, in the order both reports give them: the
 * table's row label, the JSON key, and where the value is. The lead time
 * histogram follows them. */
enum { F_DOUBLE, F_INT, F_I64, F_CAUGHT, F_CLASS_CAUGHT };
typedef struct Figure {
    const char *label, *key;
    int type;
    size_t offset;               /* in EvalReportRow */
    int cls;                     /* F_CLASS_CAUGHT: which */
} Figure;

#define FIG(l, k, t, f) { l, k, t, offsetof(EvalReportRow, f), 0 }
#define FIG_CLASS(l, k, c) { l, k, F_CLASS_CAUGHT, offsetof(EvalReportRow, r.class_caught[c]), c }
static const Figure figures[] = {
    FIG("threshold",         "threshold",             F_DOUBLE, threshold),
    FIG("release",           "release",               F_DOUBLE, release),
    FIG("positive ticks",    "positives",             F_I64,    r.positives),
    FIG("negative ticks",    "negatives",             F_I64,    r.negatives),
    FIG("ROC-AUC",           "roc_auc",               F_DOUBLE, r.roc_auc),
    FIG("PR-AUC",            "pr_auc",                F_DOUBLE, r.pr_auc),
    FIG("precision",         "precision",             F_DOUBLE, r.precision),
    FIG("recall",            "recall",                F_DOUBLE, r.recall),
    FIG("failures",          "failures",              F_INT,    r.failures),
    FIG("caught",            "caught",                F_CAUGHT, r.caught),
    FIG("alarms",            "alarms",                F_INT,    r.alarms),
    FIG("false alarms",      "false_alarms",          F_INT,    r.false_alarms),
    FIG("unjudged alarms",   "unjudged_alarms",       F_INT,    r.unjudged_alarms),
    FIG("stream-hours",      "stream_hours",          F_DOUBLE, r.stream_hours),
    FIG("false alarms/hour", "false_alarms_per_hour", F_DOUBLE, r.false_alarms_per_hour),
    FIG("false alarms/day",  "false_alarms_per_day",  F_DOUBLE, r.false_alarms_per_day),
    FIG("lead median (s)",   "lead_median_s",         F_DOUBLE, r.lead_median_s),
    FIG("lead p10 (s)",      "lead_p10_s",            F_DOUBLE, r.lead_p10_s),
    FIG("lead p90 (s)",      "lead_p90_s",            F_DOUBLE, r.lead_p90_s),
    FIG_CLASS("led caught",  "led_caught",            EVAL_CLASS_LED),
    FIG("led lead median (s)", "led_lead_median_s",   F_DOUBLE, r.class_lead_median_s[EVAL_CLASS_LED]),
    FIG_CLASS("abrupt caught", "abrupt_caught",       EVAL_CLASS_ABRUPT),
    FIG("abrupt lead median (s)", "abrupt_lead_median_s", F_DOUBLE, r.class_lead_median_s[EVAL_CLASS_ABRUPT]),
    FIG_CLASS("other caught", "other_caught",         EVAL_CLASS_OTHER),
    FIG("other lead median (s)", "other_lead_median_s", F_DOUBLE, r.class_lead_median_s[EVAL_CLASS_OTHER]),
};

/* One figure as text: %.4g for people, %.6g for the tools that read JSON
 * back; NAN (and infinity, which JSON has not either) as undefined. */
static void figure_text(const Figure *f, const EvalReportRow *row, int json, char *buf, size_t size)
{
    const char *p = (const char *)row + f->offset;
    double v;

    switch (f->type) {
    case F_INT:
        snprintf(buf, size, "%d", *(const int *)p);
        return;
    case F_I64:
        snprintf(buf, size, "%lld", (long long)*(const int64_t *)p);
        return;
    case F_CAUGHT:               /* "3/4" in the table: of how many */
        snprintf(buf, size, json ? "%d" : "%d/%d", row->r.caught, row->r.failures);
        return;
    case F_CLASS_CAUGHT:
        snprintf(buf, size, json ? "%d" : "%d/%d", row->r.class_caught[f->cls],
                 row->r.class_failures[f->cls]);
        return;
    }
    v = *(const double *)p;
    if (json)
        snprintf(buf, size, isfinite(v) ? "%.6g" : "null", v);
    else
        snprintf(buf, size, isnan(v) ? "-" : "%.4g", v);
}

#define LABEL_WIDTH 24
#define COLUMN_WIDTH 12

static const char *detector_name(const EvalReportRow *row)
{
    return row->detector ? row->detector : "?";
}

int eval_report_table(const EvalReportRow *rows, int nb, int64_t horizon_us, char *buf, size_t size)
{
    AVBPrint bp;
    char tmp[64];
    int *width;

    if (nb < 0 || (nb && !rows) || (size && !buf))
        return AVERROR(EINVAL);
    if (!(width = av_malloc_array(FFMAX(nb, 1), sizeof(*width))))
        return AVERROR(ENOMEM);
    bp_init(&bp, buf, size);
    snprintf(tmp, sizeof(tmp), "horizon %.4g s", horizon_us / 1e6);
    av_bprintf(&bp, "%-*s", LABEL_WIDTH, tmp);
    for (int d = 0; d < nb; d++) {
        /* a long name widens its column rather than being cut */
        width[d] = FFMAX(COLUMN_WIDTH, (int)strlen(detector_name(&rows[d])));
        av_bprintf(&bp, " %*s", width[d], detector_name(&rows[d]));
    }
    av_bprintf(&bp, "\n");
    for (size_t i = 0; i < FF_ARRAY_ELEMS(figures); i++) {
        av_bprintf(&bp, "%-*s", LABEL_WIDTH, figures[i].label);
        for (int d = 0; d < nb; d++) {
            figure_text(&figures[i], &rows[d], 0, tmp, sizeof(tmp));
            av_bprintf(&bp, " %*s", width[d], tmp);
        }
        av_bprintf(&bp, "\n");
    }
    for (int b = 0; b < EVAL_LEAD_BUCKETS; b++) {
        if (b < EVAL_LEAD_BUCKETS - 1)
            snprintf(tmp, sizeof(tmp), "lead %g-%g s", eval_lead_bucket_s[b], eval_lead_bucket_s[b + 1]);
        else
            snprintf(tmp, sizeof(tmp), "lead %g+ s", eval_lead_bucket_s[b]);
        av_bprintf(&bp, "%-*s", LABEL_WIDTH, tmp);
        for (int d = 0; d < nb; d++)
            av_bprintf(&bp, " %*d", width[d], rows[d].r.lead_hist[b]);
        av_bprintf(&bp, "\n");
    }
    av_free(width);
    return bp_done(&bp);
}

static void json_string(AVBPrint *bp, const char *s)
{
    if (!s) {
        av_bprintf(bp, "null");
        return;
    }
    av_bprint_chars(bp, '"', 1);
    for (; *s; s++) {
        unsigned char c = *s;
        if (c == '"' || c == '\\')
            av_bprintf(bp, "\\%c", c);
        else if (c < 0x20)
            av_bprintf(bp, "\\u%04x", c);
        else
            av_bprint_chars(bp, c, 1);
    }
    av_bprint_chars(bp, '"', 1);
}

int eval_report_json(const EvalReportRow *rows, int nb, int64_t horizon_us, char *buf, size_t size)
{
    AVBPrint bp;
    char tmp[64];

    if (nb < 0 || (nb && !rows) || (size && !buf))
        return AVERROR(EINVAL);
    bp_init(&bp, buf, size);
    av_bprintf(&bp, "{\"horizon_s\":%.6g,\"lead_buckets_s\":[", horizon_us / 1e6);
    for (int b = 0; b < EVAL_LEAD_BUCKETS; b++)
        av_bprintf(&bp, "%s%g", b ? "," : "", eval_lead_bucket_s[b]);
    av_bprintf(&bp, "],\"detectors\":[");
    for (int d = 0; d < nb; d++) {
        /* a detector a line: diffable, and still one object */
        av_bprintf(&bp, "%s\n{\"detector\":", d ? "," : "");
        json_string(&bp, rows[d].detector);
        for (size_t i = 0; i < FF_ARRAY_ELEMS(figures); i++) {
            figure_text(&figures[i], &rows[d], 1, tmp, sizeof(tmp));
            av_bprintf(&bp, ",\"%s\":%s", figures[i].key, tmp);
        }
        av_bprintf(&bp, ",\"lead_hist\":[");
        for (int b = 0; b < EVAL_LEAD_BUCKETS; b++)
            av_bprintf(&bp, "%s%d", b ? "," : "", rows[d].r.lead_hist[b]);
        av_bprintf(&bp, "],\"led_failures\":%d,\"abrupt_failures\":%d,\"other_failures\":%d}",
                   rows[d].r.class_failures[EVAL_CLASS_LED], rows[d].r.class_failures[EVAL_CLASS_ABRUPT],
                   rows[d].r.class_failures[EVAL_CLASS_OTHER]);
    }
    av_bprintf(&bp, "]}\n");
    return bp_done(&bp);
}
