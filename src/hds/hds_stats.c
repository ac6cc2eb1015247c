/*
 * hds_stats.c: the data store's statistics: Welford accumulators and
 * histograms of log-spaced buckets, merged exactly, and their quantiles;
 * see hds_int.h (rollups and baselines) for why these.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "hds/hds_int.h"

/*
 * The bucket of a value: 0 for zero, otherwise its octave and the top 6
 * bits of its mantissa (1/64 of an octave, relative width <= 1.6 %), signed
 * like the value, so that keys sort as values do. For a positive double
 * those are the top 17 bits after the sign: no frexp, no branches beyond
 * the sign. Infinities and NaN (never added) get the ends.
 */
static int32_t hist_key(double x)
{
    uint64_t bits;
    int32_t k;

    memcpy(&bits, &x, sizeof(bits));
    k = (int32_t)((bits >> 46) & 0x1ffff);   /* 11 exponent + 6 mantissa bits */
    return bits >> 63 ? -k : k;
}

/* dst += src (n bins), both sorted by key; tmp is scratch that persists
 * between calls, so that merging allocates only when arrays grow */
static int hist_merge(Hist *dst, const HistBin *src, int n, Hist *tmp)
{
    int i = 0, j = 0, k = 0;

    if (tmp->alloc < dst->nb + n) {
        int na = FFMAX(dst->nb + n, tmp->alloc * 2);
        HistBin *b = av_realloc_array(tmp->bins, na, sizeof(*b));
        if (!b)
            return AVERROR(ENOMEM);
        tmp->bins = b;
        tmp->alloc = na;
    }
    while (i < dst->nb || j < n) {
        if (j == n || (i < dst->nb && dst->bins[i].key < src[j].key)) {
            tmp->bins[k++] = dst->bins[i++];
        } else if (i == dst->nb || src[j].key < dst->bins[i].key) {
            tmp->bins[k++] = src[j++];
        } else {
            tmp->bins[k] = dst->bins[i++];
            tmp->bins[k].count += src[j].count;
            tmp->bins[k++].sum += src[j++].sum;
        }
    }
    if (dst->alloc < k) {
        int na = FFMAX(k, dst->alloc * 2);
        HistBin *b = av_realloc_array(dst->bins, na, sizeof(*b));
        if (!b)
            return AVERROR(ENOMEM);
        dst->bins = b;
        dst->alloc = na;
    }
    memcpy(dst->bins, tmp->bins, k * sizeof(*dst->bins));
    dst->nb = k;
    return 0;
}

/* the index of key in h's bins, or -1 (branch-light lower bound: a
 * series' buckets are few and hot in cache) */
static int hist_find(const Hist *h, int32_t key)
{
    const HistBin *b = h->bins;
    int n = h->nb;

    if (!n)
        return -1;
    while (n > 1) {
        int half = n / 2;
        b = b[half].key <= key ? b + half : b;
        n -= half;
    }
    return b->key == key ? (int)(b - h->bins) : -1;
}

void hds_acc_reset(Acc *a)
{
    Hist h = a->h;
    h.nb = 0;
    *a = (Acc){ .h = h };
}

void hds_acc_free(Acc *a)
{
    av_freep(&a->h.bins);
    *a = (Acc){ 0 };
}

/* a += b (Chan et al.): exact for n, mean, M2, min, max and the buckets */
int hds_acc_merge(Acc *a, const Acc *b, Hist *tmp)
{
    int64_t n;
    double d;

    if (!b->n)
        return 0;
    if (!a->n || b->min < a->min)
        a->min = b->min;
    if (!a->n || b->max > a->max)
        a->max = b->max;
    n = a->n + b->n;
    d = b->mean - a->mean;
    a->mean += d * b->n / n;
    a->m2 += b->m2 + d * d * ((double)a->n * b->n / n);
    a->n = n;
    return hist_merge(&a->h, b->h.bins, b->h.nb, tmp);
}

static void sort_bins(HistBin *v, int n)
{
    /* a minute's new buckets: a few dozen at most at 1 s ticks, where an
     * insertion sort beats qsort's indirect calls */
    for (int i = 1; i < n; i++) {
        HistBin x = v[i];
        int j = i;
        for (; j > 0 && v[j - 1].key > x.key; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/*
 * a += the n values of v (no NaN): their mean and M2 in two passes, merged
 * by Chan's formula; each value into its bucket when a has it, the others
 * sorted and merged in one pass. After an hour's first minutes most values
 * find their bucket. scratch: n bins at least; tmp as for hist_merge.
 */
int hds_acc_add_values(Acc *a, const double *v, int n, HistBin *scratch, Hist *tmp)
{
    double mean = 0, m2 = 0, lo = v[0], hi = v[0], d;
    int64_t total;
    int miss = 0, nb = 0;

    if (!n)
        return 0;
    for (int i = 0; i < n; i++) {
        mean += v[i];
        lo = FFMIN(lo, v[i]);
        hi = FFMAX(hi, v[i]);
    }
    mean /= n;
    for (int i = 0; i < n; i++)
        m2 += (v[i] - mean) * (v[i] - mean);
    if (!a->n || lo < a->min)
        a->min = lo;
    if (!a->n || hi > a->max)
        a->max = hi;
    total = a->n + n;
    d = mean - a->mean;
    a->mean += d * n / total;
    a->m2 += m2 + d * d * ((double)a->n * n / total);
    a->n = total;

    /* the buckets were last touched a minute ago: ask for all of them at
     * once rather than miss the cache at every step of every search */
    for (int i = 0; i < a->h.nb; i += 64 / sizeof(*a->h.bins))
        __builtin_prefetch(&a->h.bins[i]);
    for (int i = 0; i < n; i++) {
        int32_t key = hist_key(v[i]);
        int at = hist_find(&a->h, key);
        if (at >= 0) {
            a->h.bins[at].count++;
            a->h.bins[at].sum += v[i];
        } else {
            scratch[miss++] = (HistBin){ key, 1, v[i] };
        }
    }
    if (!miss)
        return 0;
    sort_bins(scratch, miss);
    for (int i = 0; i < miss; i++) {
        if (nb && scratch[nb - 1].key == scratch[i].key) {
            scratch[nb - 1].count++;
            scratch[nb - 1].sum += scratch[i].sum;
        } else {
            scratch[nb++] = scratch[i];
        }
    }
    return hist_merge(&a->h, scratch, nb, tmp);
}

double hds_acc_std(const Acc *a)
{
    return a->n ? sqrt(FFMAX(a->m2, 0) / a->n) : 0;
}

/* nearest rank: the smallest sample with at least q * n samples at or below */
double hds_acc_quantile(const Acc *a, double q)
{
    int64_t rank = (int64_t)ceil(q * a->n), seen = 0;

    if (!a->n)
        return NAN;
    if (rank < 1)
        rank = 1;
    for (int i = 0; i < a->h.nb; i++) {
        seen += a->h.bins[i].count;
        if (seen >= rank) {
            double v = a->h.bins[i].sum / a->h.bins[i].count;
            return av_clipd(v, a->min, a->max);
        }
    }
    return a->max;
}

/* hourly blob, per present metric: n, [mean, M2, min, max], the buckets:
 * count, first key (zigzag), key deltas, counts, then the sums as values */
void hds_put_acc(ByteBuf *b, const Acc *a)
{
    double v[4] = { a->mean, a->m2, a->min, a->max };

    hds_put_varint(b, a->n);
    hds_put_values(b, v, 4);
    hds_put_varint(b, a->h.nb);
    for (int i = 0; i < a->h.nb; i++)
        hds_put_varint(b, i ? (uint64_t)((int64_t)a->h.bins[i].key - a->h.bins[i - 1].key)
                        : hds_zigzag(a->h.bins[i].key));
    for (int i = 0; i < a->h.nb; i++)
        hds_put_varint(b, a->h.bins[i].count);
    hds_put_values_strided(b, a->h.nb ? &a->h.bins[0].sum : NULL, a->h.nb, sizeof(*a->h.bins));
}

/* Decodes one hds_put_acc() into t, reusing t's bucket array. */
int hds_decode_acc(const uint8_t **pp, const uint8_t *end, Acc *t)
{
    double v[4], *sums;
    uint64_t n, nb, k;
    int64_t key = 0;
    int ret;

    if ((ret = hds_get_varint(pp, end, &n)) < 0 || (ret = hds_get_values(pp, end, v, 4)) < 0 ||
        (ret = hds_get_varint(pp, end, &nb)) < 0)
        return ret;
    if (nb > (uint64_t)(end - *pp) || n > INT64_MAX)
        return AVERROR_INVALIDDATA;
    hds_acc_reset(t);
    t->n = (int64_t)n;
    t->mean = v[0], t->m2 = v[1], t->min = v[2], t->max = v[3];
    if (t->h.alloc < (int)nb) {
        HistBin *b = av_realloc_array(t->h.bins, nb, sizeof(*b));
        if (!b)
            return AVERROR(ENOMEM);
        t->h.bins = b;
        t->h.alloc = (int)nb;
    }
    for (uint64_t i = 0; i < nb; i++) {
        if ((ret = hds_get_varint(pp, end, &k)) < 0)
            return ret;
        /* strictly ascending keys: merges rely on it */
        if (i && (!k || k > INT32_MAX))
            return AVERROR_INVALIDDATA;
        key = i ? key + (int64_t)k : hds_unzigzag(k);
        if (key < -INT32_MAX || key > INT32_MAX)
            return AVERROR_INVALIDDATA;
        t->h.bins[i].key = (int32_t)key;
    }
    for (uint64_t i = 0; i < nb; i++) {
        if ((ret = hds_get_varint(pp, end, &k)) < 0)
            return ret;
        t->h.bins[i].count = (uint32_t)k;
    }
    if (!(sums = av_malloc_array(FFMAX(nb, 1), sizeof(*sums))))
        return AVERROR(ENOMEM);
    if ((ret = hds_get_values(pp, end, sums, (int)nb)) >= 0)
        for (uint64_t i = 0; i < nb; i++)
            t->h.bins[i].sum = sums[i];
    av_free(sums);
    t->h.nb = (int)nb;
    return ret;
}
