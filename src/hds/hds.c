/*
 * hds.c: the historical data store in SQLite; see hds.h for the contract.
 *
 * Schema (version 1)
 * ------------------
 *   meta(key, value)               cursors of the upkeep, creation time
 *   run(id, started_us, version, tick_us)          one row per hds_open()
 *   metric(kind, idx, name, type)  the catalogue the file was written with
 *   stream(id, name)               "" is the host and its GPUs
 *   comp(id, kind, stream_id, name, backup, first_time_us)
 *   tick(seq, run, tick, time_us, nb_comps)        one row per stored tick
 *   raw(id = seq << 20 | stream_id, data)          a tick's components of
 *                                                  one stream, packed
 *   minute(id = minute << 20 | stream_id, data)    per-minute n/mean/min/max
 *   hourly(hour, comp_id, data)    per-hour n/mean/M2/min/max + histogram
 *   baseline(comp_id, metric, hour, ...)           mean, std, p50/p95/p99
 *   event(id, time_us, stream, component, kind, cause, error)
 * (views raw_rows and minute_rows split the packed ids for people using
 * the sqlite3 shell.)
 *
 * Why a row per (tick, stream) with the metric vectors packed in a BLOB.
 * The budget is 10,000 components at one tick per second in <= 10 ms of
 * CPU per tick for sampling and storage together, so the number of B-tree
 * inserts per tick decides. Measured with tests/bench/hds_bench --layouts
 * (SQLite 3.40, WAL, synchronous=NORMAL, 10,000 components of the bench's
 * mix, 60 ticks, thread CPU of the inserting thread, this blob encoding,
 * a 2-vCPU AMD EPYC virtual machine):
 *
 *   layout                                   CPU/tick   bytes/sample
 *   row per (tick, component), columns        8.4 ms       74.0
 *   row per (tick, component), packed BLOB    5.2 ms       67.6
 *   same, WITHOUT ROWID (tick, comp) key      8.5 ms       72.3
 *   row per (tick, stream), packed BLOB       2.5 ms       58.2
 *   row per tick, one BLOB                    1.7 ms       53.3
 *
 * A row per component costs most of the budget in SQLite alone, and a
 * column per metric adds a NULL per absent metric and a type byte per
 * value. One row per tick is cheapest but makes every read of one stream
 * decode every component and puts 500 kB in overflow pages. A row per
 * (tick, stream) keeps a stream's components together (export --stream
 * reads one row per tick; a row stays within a page at our ~10 components
 * per stream) for little more CPU, and the minute rollup reads a stream's
 * minute as 60 point lookups. The row id packs (seq, stream_id), so a
 * tick's rows are appended at the end of the rowid B-tree: no index, no
 * page splits in the middle.
 *
 * Encoding of a metric vector (raw, and the statistics of rollups): the
 * presence mask as a varint, then for the present values a 2-bit tag each
 * (packed 4 to a byte) and the values: tag 0 an integer (zigzag varint:
 * counters, up, queue depths: 1 to 5 bytes), 1 a float that float32 holds
 * exactly (4 bytes), 2 a float64. Lossless: a counter of bytes keeps every
 * byte, a latency every bit, and export gives back what was put.
 *
 * Rollups and baselines. Raw ticks stay for the raw window (default 24 h);
 * each completed minute is read back from raw once and rolled up into
 * n/mean/min/max per component and metric (the minute table, kept for the
 * retention, default 7 d). The same pass feeds per-hour accumulators
 * (Welford n/mean/M2, min, max, and a histogram of log-spaced buckets, 64
 * per octave, each with its count and sum) that are written to the hourly
 * table when the hour ends. Baselines merge hourly rows exactly: mean and
 * standard deviation by Chan's formula, histograms bucket by bucket;
 * quantiles are nearest-rank on the merged histogram, each bucket valued at
 * the mean of its samples, clamped to [min, max]: exact when a bucket holds
 * one distinct value (integers below 128, a constant series), otherwise
 * within the bucket's width (1/64 of the value, 1.6 %). Counters are
 * baselined as rates per second (their raw values only grow); gauges as
 * they are. Baselines (table baseline):
 *   hour 24   rolling: the last 24 hourly rows, once they hold half an
 *             hour of ticks;
 *   hour h    hour of day h (UTC), from the same hour of every day in the
 *             retention, once HDS_BASELINE_MIN_DAYS days each hold at least
 *             half an hour's ticks in that hour.
 * They are recomputed when an hour ends, HDS_BASELINE_SLICE components per
 * tick, so that no tick's transaction grows by more than a slice.
 *
 * Cost (tests/bench/bench_hds.sh, TICKS=3720, 10,009 components, same
 * machine): the writer thread spends 3.6 ms on a tick that only stores it
 * (p50 1.5 ms; the mean carries the WAL checkpoints), 190 ms on a tick
 * that also rolls up the minute before (3.2 ms a tick amortized), 0.95 s
 * on the tick that closes an hour (65 MB of hourly rows), then 14 ms on
 * each of the 40 ticks that recompute baselines; 7.0 ms a tick over the
 * run. The producer spends 0.15 ms in hds_put_sample. Bursts wait in the
 * queue (HDS_DEFAULT_QUEUE_TICKS) and are caught up on the next ticks.
 * Bytes on disk per component-tick: 58.8 for the raw ticks, 64.3 for the
 * whole file. Memory: the queue (a Sample per slot), the hour's
 * accumulators (16 bytes per histogram bucket, 58 buckets per series on
 * average on the bench's data) and SQLite's 16 MB cache: 242 MB peak RSS
 * for the benchmark process at 10,000 components.
 *
 * Crash safety. Each tick's transaction holds the tick, the events that
 * came with it and the upkeep it triggered, cursors included; the per-hour
 * accumulators live in memory and are rebuilt on open from the raw ticks of
 * the hour not yet closed (raw rows of an open hour are never deleted).
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/time.h>

#include "config.h"
#include "hds/hds.h"
#include "core/log.h"

#define US_PER_MIN   INT64_C(60000000)
#define US_PER_HOUR  INT64_C(3600000000)
#define ID_SHIFT     20                  /* raw and minute ids: x << 20 | stream_id */
#define MAX_STREAMS  (1 << ID_SHIFT)
#define HIST_SUB     64                  /* histogram buckets per octave */
#define EVENT_QUEUE  256                 /* events that may wait for the writer */
#define MINUTES_PER_TICK 2               /* minute rollups one tick may do (catch-up) */
#define HDS_BASELINE_SLICE 256           /* components per tick when baselines are due */
#define DROP_LOG_US  (10 * INT64_C(1000000))

/* ---- byte buffers, varints, value vectors ------------------------------ */

typedef struct ByteBuf {
    uint8_t *data;
    size_t len, alloc;
    int oom;
} ByteBuf;

static int bb_reserve(ByteBuf *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->len + more > b->alloc) {
        size_t n = FFMAX(b->alloc * 2, b->len + more + 64);
        uint8_t *d = av_realloc(b->data, n);
        if (!d) {
            b->oom = 1;
            return -1;
        }
        b->data = d;
        b->alloc = n;
    }
    return 0;
}

static void bb_free(ByteBuf *b)
{
    av_freep(&b->data);
    b->len = b->alloc = 0;
    b->oom = 0;
}

static void put_varint(ByteBuf *b, uint64_t v)
{
    if (bb_reserve(b, 10) < 0)
        return;
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t r = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end)
            return AVERROR_INVALIDDATA;
        r |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p++ & 0x80)) {
            *pp = p;
            *v = r;
            return 0;
        }
    }
    return AVERROR_INVALIDDATA;
}

enum { TAG_INT, TAG_F32, TAG_F64 };

static int value_tag(double x)
{
    /* 2^53: every integer up to it is exact in a double; NaN fails both */
    if (x >= -9007199254740992.0 && x <= 9007199254740992.0 &&
        x == (double)(int64_t)x && !(x == 0 && signbit(x)))
        return TAG_INT;
    if (isinf(x) || (fabs(x) <= FLT_MAX && (double)(float)x == x))
        return TAG_F32;
    return TAG_F64;
}

/* n values, stride bytes apart: ceil(n / 4) tag bytes, then each value in
 * its tag's form */
static void put_values_strided(ByteBuf *b, const double *first, int n, size_t stride)
{
    size_t tags;

    if (bb_reserve(b, (n + 3) / 4 + (size_t)n * 10) < 0)
        return;
    tags = b->len;
    memset(b->data + tags, 0, (n + 3) / 4);
    b->len += (n + 3) / 4;
    for (int i = 0; i < n; i++) {
        const double *x = (const double *)((const uint8_t *)first + i * stride);
        int tag = value_tag(*x);
        b->data[tags + i / 4] |= tag << (2 * (i % 4));
        if (tag == TAG_INT) {
            uint64_t u = zigzag((int64_t)*x);
            while (u >= 0x80) {
                b->data[b->len++] = (uint8_t)(u | 0x80);
                u >>= 7;
            }
            b->data[b->len++] = (uint8_t)u;
        } else if (tag == TAG_F32) {
            float f = (float)*x;
            memcpy(b->data + b->len, &f, 4);   /* little-endian hosts only: */
            b->len += 4;                       /* see the check in hds_open */
        } else {
            memcpy(b->data + b->len, x, 8);
            b->len += 8;
        }
    }
}

static void put_values(ByteBuf *b, const double *v, int n)
{
    put_values_strided(b, v, n, sizeof(*v));
}

static int get_values(const uint8_t **pp, const uint8_t *end, double *v, int n)
{
    const uint8_t *tags = *pp, *p = *pp + (n + 3) / 4;

    if (p > end)
        return AVERROR_INVALIDDATA;
    for (int i = 0; i < n; i++) {
        int tag = (tags[i / 4] >> (2 * (i % 4))) & 3;
        if (tag == TAG_INT) {
            uint64_t u;
            if (get_varint(&p, end, &u) < 0)
                return AVERROR_INVALIDDATA;
            v[i] = (double)unzigzag(u);
        } else if (tag == TAG_F32) {
            float f;
            if (end - p < 4)
                return AVERROR_INVALIDDATA;
            memcpy(&f, p, 4);
            p += 4;
            v[i] = f;
        } else if (tag == TAG_F64) {
            if (end - p < 8)
                return AVERROR_INVALIDDATA;
            memcpy(&v[i], p, 8);
            p += 8;
        } else {
            return AVERROR_INVALIDDATA;
        }
    }
    *pp = p;
    return 0;
}

static int popcount32(uint32_t x)
{
    return __builtin_popcount(x);
}

static uint32_t kind_mask(CompKind kind)
{
    int n = sample_kinds[kind].nb_metrics;
    return n >= 32 ? UINT32_MAX : (UINT32_C(1) << n) - 1;
}

/* One component of a raw row: comp_id, presence, the present values. */
static void put_comp(ByteBuf *b, int comp_id, const SampleComp *c)
{
    double v[SAMPLE_MAX_METRICS];
    uint32_t present = c->present & kind_mask(c->kind);
    int n = 0;

    for (uint32_t m = present; m; m &= m - 1)
        v[n++] = c->v[__builtin_ctz(m)];
    put_varint(b, comp_id);
    put_varint(b, present);
    put_values(b, v, n);
}

/* The reverse; c->kind must be set (from comp_id) by the caller first, so
 * it is split: get_comp_id, then get_comp_values. */
static int get_comp_values(const uint8_t **pp, const uint8_t *end, SampleComp *c)
{
    double v[SAMPLE_MAX_METRICS];
    uint64_t present;
    int n, ret;

    if ((ret = get_varint(pp, end, &present)) < 0)
        return ret;
    if (present & ~(uint64_t)kind_mask(c->kind))
        return AVERROR_INVALIDDATA;
    n = popcount32((uint32_t)present);
    if ((ret = get_values(pp, end, v, n)) < 0)
        return ret;
    c->present = (uint32_t)present;
    n = 0;
    for (uint32_t m = c->present; m; m &= m - 1)
        c->v[__builtin_ctz(m)] = v[n++];
    return 0;
}

/* ---- statistics: Welford accumulators and log-bucket histograms -------- */

typedef struct HistBin {
    int32_t key;
    uint32_t count;
    double sum;                  /* of the samples in the bucket */
} HistBin;

typedef struct Hist {
    HistBin *bins;               /* ascending key = ascending value */
    int nb, alloc;
} Hist;

typedef struct Acc {
    int64_t n;
    double mean, m2, min, max;
    Hist h;
} Acc;

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

static void acc_reset(Acc *a)
{
    Hist h = a->h;
    h.nb = 0;
    *a = (Acc){ .h = h };
}

static void acc_free(Acc *a)
{
    av_freep(&a->h.bins);
    *a = (Acc){ 0 };
}

/* a += b (Chan et al.): exact for n, mean, M2, min, max and the buckets */
static int acc_merge(Acc *a, const Acc *b, Hist *tmp)
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
static int acc_add_values(Acc *a, const double *v, int n, HistBin *scratch, Hist *tmp)
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

static double acc_std(const Acc *a)
{
    return a->n ? sqrt(FFMAX(a->m2, 0) / a->n) : 0;
}

/* nearest rank: the smallest sample with at least q * n samples at or below */
static double acc_quantile(const Acc *a, double q)
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
static void put_acc(ByteBuf *b, const Acc *a)
{
    double v[4] = { a->mean, a->m2, a->min, a->max };

    put_varint(b, a->n);
    put_values(b, v, 4);
    put_varint(b, a->h.nb);
    for (int i = 0; i < a->h.nb; i++)
        put_varint(b, i ? (uint64_t)((int64_t)a->h.bins[i].key - a->h.bins[i - 1].key)
                        : zigzag(a->h.bins[i].key));
    for (int i = 0; i < a->h.nb; i++)
        put_varint(b, a->h.bins[i].count);
    put_values_strided(b, a->h.nb ? &a->h.bins[0].sum : NULL, a->h.nb, sizeof(*a->h.bins));
}

/* Decodes one put_acc() into t, reusing t's bucket array. */
static int decode_acc(const uint8_t **pp, const uint8_t *end, Acc *t)
{
    double v[4], *sums;
    uint64_t n, nb, k;
    int64_t key = 0;
    int ret;

    if ((ret = get_varint(pp, end, &n)) < 0 || (ret = get_values(pp, end, v, 4)) < 0 ||
        (ret = get_varint(pp, end, &nb)) < 0)
        return ret;
    if (nb > (uint64_t)(end - *pp) || n > INT64_MAX)
        return AVERROR_INVALIDDATA;
    acc_reset(t);
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
        if ((ret = get_varint(pp, end, &k)) < 0)
            return ret;
        /* strictly ascending keys: merges rely on it */
        if (i && (!k || k > INT32_MAX))
            return AVERROR_INVALIDDATA;
        key = i ? key + (int64_t)k : unzigzag(k);
        if (key < -INT32_MAX || key > INT32_MAX)
            return AVERROR_INVALIDDATA;
        t->h.bins[i].key = (int32_t)key;
    }
    for (uint64_t i = 0; i < nb; i++) {
        if ((ret = get_varint(pp, end, &k)) < 0)
            return ret;
        t->h.bins[i].count = (uint32_t)k;
    }
    if (!(sums = av_malloc_array(FFMAX(nb, 1), sizeof(*sums))))
        return AVERROR(ENOMEM);
    if ((ret = get_values(pp, end, sums, (int)nb)) >= 0)
        for (uint64_t i = 0; i < nb; i++)
            t->h.bins[i].sum = sums[i];
    av_free(sums);
    t->h.nb = (int)nb;
    return ret;
}

/* ---- the file: schema, checks, pragmas --------------------------------- */

static const char *const schema_sql =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE run(id INTEGER PRIMARY KEY, started_us INTEGER NOT NULL,"
    " version TEXT NOT NULL, tick_us INTEGER NOT NULL);"
    "CREATE TABLE metric(kind INTEGER NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,"
    " type TEXT NOT NULL, PRIMARY KEY(kind, idx)) WITHOUT ROWID;"
    "CREATE TABLE stream(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE comp(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
    " stream_id INTEGER NOT NULL, name TEXT NOT NULL, backup INTEGER NOT NULL,"
    " first_time_us INTEGER NOT NULL, UNIQUE(kind, stream_id, name, backup));"
    "CREATE TABLE tick(seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, tick INTEGER NOT NULL,"
    " time_us INTEGER NOT NULL, nb_comps INTEGER NOT NULL);"
    "CREATE INDEX tick_time ON tick(time_us);"
    "CREATE TABLE raw(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TABLE minute(id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TABLE hourly(hour INTEGER NOT NULL, comp_id INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY(hour, comp_id)) WITHOUT ROWID;"
    "CREATE TABLE baseline(comp_id INTEGER NOT NULL, metric INTEGER NOT NULL,"
    " hour INTEGER NOT NULL, rate INTEGER NOT NULL, days INTEGER NOT NULL, n INTEGER NOT NULL,"
    " mean REAL, std REAL, min REAL, max REAL, p50 REAL, p95 REAL, p99 REAL,"
    " updated_hour INTEGER NOT NULL, PRIMARY KEY(comp_id, metric, hour)) WITHOUT ROWID;"
    "CREATE TABLE event(id INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, stream TEXT NOT NULL,"
    " component TEXT NOT NULL, kind TEXT NOT NULL, cause TEXT NOT NULL, error INTEGER NOT NULL);"
    "CREATE INDEX event_time ON event(time_us);"
    "CREATE VIEW raw_rows AS SELECT id >> 20 AS seq, id & 1048575 AS stream_id, data FROM raw;"
    "CREATE VIEW minute_rows AS SELECT id >> 20 AS minute, id & 1048575 AS stream_id, data FROM minute;";

static const char *const table_names[] = {
    "run", "metric", "stream", "comp", "tick", "raw", "minute", "hourly", "baseline", "event", "meta",
};

static int64_t db_int(sqlite3 *db, const char *sql, int64_t dflt)
{
    sqlite3_stmt *st;
    int64_t v = dflt;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return dflt;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/*
 * What the file is: 1 an HDS this build reads (version in *version), 0 an
 * empty database (no tables: may become one), or a negative AVERROR with
 * the reason in err.
 */
static int check_file(sqlite3 *db, int *version, char *err, size_t err_size)
{
    sqlite3_stmt *st;
    int rc, app_id, tables;

    rc = sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        app_id = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_NOTADB || (rc != SQLITE_OK && rc != SQLITE_ROW)) {
        snprintf(err, err_size, "not an HDS file (%s)",
                 rc == SQLITE_NOTADB ? "not an SQLite database" : sqlite3_errmsg(db));
        return rc == SQLITE_NOTADB ? AVERROR(EINVAL) : AVERROR(EIO);
    }
    *version = (int)db_int(db, "PRAGMA user_version", 0);
    tables = (int)db_int(db, "SELECT count(*) FROM sqlite_schema", 0);
    if (app_id != HDS_APPLICATION_ID) {
        if (!tables && !*version && !app_id)
            return 0;
        snprintf(err, err_size, "not an HDS file (an SQLite database of another "
                 "application: application_id 0x%08x)", (unsigned)app_id);
        return AVERROR(EINVAL);
    }
    if (*version > HDS_SCHEMA_VERSION) {
        snprintf(err, err_size, "HDS schema version %d is newer than this hotspare "
                 "reads (%d): use a newer hotspare", *version, HDS_SCHEMA_VERSION);
        return AVERROR(ENOSYS);
    }
    if (*version < 1) {
        snprintf(err, err_size, "not an HDS file (schema version %d)", *version);
        return AVERROR(EINVAL);
    }
    return 1;
}

/* The file's catalogue must agree with ours on every index both know:
 * indices are what the blobs store. */
static int check_catalogue(sqlite3 *db, char *err, size_t err_size)
{
    sqlite3_stmt *st;
    int ret = 0;

    if (sqlite3_prepare_v2(db, "SELECT kind, idx, name FROM metric", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "not an HDS file (%s)", sqlite3_errmsg(db));
        return AVERROR(EINVAL);
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        int kind = sqlite3_column_int(st, 0), idx = sqlite3_column_int(st, 1);
        const char *name = (const char *)sqlite3_column_text(st, 2);
        const MetricDef *def = sample_metric(kind, idx);
        if (def && name && strcmp(def->name, name)) {
            snprintf(err, err_size, "the file's metric %d of kind %d is %s, this hotspare's "
                     "is %s: the catalogue changed without a schema version", idx, kind,
                     name, def->name);
            ret = AVERROR(EINVAL);
            break;
        }
    }
    sqlite3_finalize(st);
    return ret;
}

/* ---- the writer's state -------------------------------------------------- */

typedef struct Series {
    Acc hour;                    /* this hour: the gauge, or the counter's rate */
    double prev_v;               /* counters: last value, its time and run */
    int64_t prev_t;              /* 0: none yet */
    int64_t prev_run;
} Series;

typedef struct CompInfo {
    CompKind kind;
    int stream_id;
    int backup;
    char stream[sizeof(((SampleComp *)0)->stream)];
    char name[sizeof(((SampleComp *)0)->name)];
    int hash_next;               /* next id in the hash chain, 0: end */
    Series *series;              /* [nb_metrics], NULL until it has data */
    int scan_slot;               /* its slot in the stream being scanned, -1 */
    int hour_touched;
} CompInfo;

typedef struct EvItem {
    uint64_t gen;
    int64_t time_us;
    char stream[48];
    char component[64];
    char kind[24];
    char cause[1024];
    int error;
} EvItem;

struct Hds {
    LogCtx log;
    HdsConfig cfg;
    char *path;
    int lock_fd;                 /* flock'd: one writer per file */

    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond_work;    /* the writer waits: a tick, an event, stop */
    pthread_cond_t cond_done;    /* flushers wait: an item was written or dropped */
    /* protected by lock: */
    Sample *ring;                /* cfg.queue_ticks slots, their memory reused */
    uint64_t *ring_gen;
    int ring_head, ring_count;
    EvItem *evring;
    int ev_head, ev_count;
    int stop;
    uint64_t next_gen;           /* given to the next item put */
    uint64_t busy_gen;           /* the oldest item the writer holds, 0: none */
    HdsStats stats;
    int64_t last_drop_log;
    int64_t drops_since_log;

    /* the writer thread's own (and hds_open's before it starts): */
    sqlite3 *db;
    int64_t run_id;
    int64_t last_seq;
    Sample cur;
    EvItem *evbatch;
    CompInfo *comps;             /* [1..nb_comps], by comp id */
    int nb_comps, alloc_comps;
    int *hash;                   /* buckets of comp ids */
    int hash_size;
    char **streams;              /* [1..nb_streams], by stream id */
    int nb_streams, alloc_streams;
    int *pos_ids;                /* comp id of each position of the last tick */
    int nb_pos;
    ByteBuf *sbuf;               /* per stream id: the row being built */
    int alloc_sbuf;
    int *touched;                /* stream ids with a row this tick [alloc_streams] */
    int nb_touched;
    ByteBuf blob;
    int64_t rollup_next;         /* minutes before it are rolled up (persisted) */
    int64_t scan_next;           /* minutes before it are in the hour accumulators */
    int64_t acc_hour;            /* the hour the accumulators hold, -1: none */
    int64_t hour_closed;         /* hourly rows written up to it (persisted), -1 */
    /* the minute being scanned: its ticks, and per stream the values of
     * each component (slot) and metric, in tick order */
    int64_t *mt_seq, *mt_run, *mt_time;
    int nb_mt, alloc_mt;
    uint8_t *stream_seen;        /* [alloc_streams] */
    int *slot_comp;              /* comp id of each slot */
    int nb_slots, alloc_slots;
    double *vbuf, *rbuf;         /* [slot][metric][tick]: values, counter rates */
    int *vcnt, *rcnt;            /* [slot][metric] */
    size_t alloc_vbuf;
    HistBin *scratch_bins;
    int alloc_scratch;
    Hist tmp_hist;
    Acc tmp_acc;                 /* an hourly row's metric, decoded */
    int need_prime;              /* counters' last values not read yet (after load_state) */
    int64_t bl_hour;             /* baselines being recomputed for it, -1: none */
    int bl_cursor;               /* next comp id of that job */
    int64_t retention_minute;    /* retention last ran at this minute */
    int64_t last_error_log;
    sqlite3_stmt *st_tick, *st_raw, *st_comp, *st_stream, *st_event, *st_meta;
    sqlite3_stmt *st_mticks, *st_raw_get, *st_raw_ids, *st_next_min, *st_minute, *st_hourly, *st_hour_read;
    sqlite3_stmt *st_bl_put, *st_bl_del;
};

static void hds_log_sqlite(Hds *h, int level, const char *what)
{
    av_log(h, level, "%s: %s\n", what, sqlite3_errmsg(h->db));
}

static int exec_sql(Hds *h, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(h->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        av_log(h, AV_LOG_ERROR, "%s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return AVERROR(EIO);
    }
    return 0;
}

static int step_done(Hds *h, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        hds_log_sqlite(h, AV_LOG_ERROR, what);
        return AVERROR(EIO);
    }
    return 0;
}

static int meta_put(Hds *h, const char *key, int64_t v)
{
    sqlite3_bind_text(h->st_meta, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(h->st_meta, 2, v);
    return step_done(h, h->st_meta, "meta");
}

static int64_t meta_get(Hds *h, const char *key, int64_t dflt)
{
    sqlite3_stmt *st;
    int64_t v = dflt;

    if (sqlite3_prepare_v2(h->db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
        return dflt;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static uint32_t comp_hash(CompKind kind, const char *stream, const char *name, int backup)
{
    uint32_t x = 2166136261u ^ (uint32_t)kind ^ ((uint32_t)backup << 8);

    for (const char *s = stream; *s; s++)
        x = (x ^ (uint8_t)*s) * 16777619u;
    x = (x ^ 0xff) * 16777619u;              /* ("a", "bc") != ("ab", "c") */
    for (const char *s = name; *s; s++)
        x = (x ^ (uint8_t)*s) * 16777619u;
    return x;
}

static int comp_same(const CompInfo *ci, const SampleComp *c)
{
    return ci->kind == c->kind && ci->backup == c->backup &&
           !strcmp(ci->name, c->name) && !strcmp(ci->stream, c->stream);
}

static int rehash(Hds *h, int size)
{
    int *t = av_calloc(size, sizeof(*t));

    if (!t)
        return AVERROR(ENOMEM);
    av_free(h->hash);
    h->hash = t;
    h->hash_size = size;
    for (int id = 1; id <= h->nb_comps; id++) {
        CompInfo *ci = &h->comps[id];
        uint32_t b = comp_hash(ci->kind, ci->stream, ci->name, ci->backup) % size;
        ci->hash_next = t[b];
        t[b] = id;
    }
    return 0;
}

/* Registers a component known to the file or new; ids are dense from 1. */
static int add_comp_info(Hds *h, int id, CompKind kind, int stream_id, const char *name, int backup)
{
    CompInfo *ci;
    uint32_t b;

    if (id != h->nb_comps + 1)
        return AVERROR_INVALIDDATA;
    if (id >= h->alloc_comps) {
        int n = FFMAX(64, h->alloc_comps * 2);
        CompInfo *c = av_realloc_array(h->comps, n, sizeof(*c));
        if (!c)
            return AVERROR(ENOMEM);
        memset(c + h->alloc_comps, 0, (n - h->alloc_comps) * sizeof(*c));
        h->comps = c;
        h->alloc_comps = n;
    }
    ci = &h->comps[id];
    *ci = (CompInfo){ .kind = kind, .stream_id = stream_id, .backup = backup, .scan_slot = -1 };
    av_strlcpy(ci->stream, h->streams[stream_id], sizeof(ci->stream));
    av_strlcpy(ci->name, name, sizeof(ci->name));
    h->nb_comps = id;
    if (h->nb_comps * 2 > h->hash_size)
        return rehash(h, FFMAX(1024, h->hash_size * 4));
    b = comp_hash(kind, ci->stream, ci->name, backup) % h->hash_size;
    ci->hash_next = h->hash[b];
    h->hash[b] = id;
    return 0;
}

static int add_stream_name(Hds *h, int id, const char *name)
{
    if (id != h->nb_streams + 1 || id >= MAX_STREAMS)
        return AVERROR_INVALIDDATA;
    if (id >= h->alloc_streams) {
        int n = FFMAX(64, h->alloc_streams * 2);
        char **s = av_realloc_array(h->streams, n, sizeof(*s));
        ByteBuf *bb = av_realloc_array(h->sbuf, n, sizeof(*bb));
        int *t = av_realloc_array(h->touched, n, sizeof(*t));
        uint8_t *seen = av_realloc(h->stream_seen, n);
        if (s)
            h->streams = s;
        if (bb)
            h->sbuf = bb;
        if (t)
            h->touched = t;
        if (seen)
            h->stream_seen = seen;
        if (!s || !bb || !t || !seen)
            return AVERROR(ENOMEM);
        memset(h->sbuf + h->alloc_streams, 0, (n - h->alloc_streams) * sizeof(*bb));
        h->alloc_streams = n;
    }
    if (!(h->streams[id] = av_strdup(name)))
        return AVERROR(ENOMEM);
    h->nb_streams = id;
    return 0;
}

static int find_stream(Hds *h, const char *name, int *id)
{
    int ret;

    for (int i = 1; i <= h->nb_streams; i++)
        if (!strcmp(h->streams[i], name)) {
            *id = i;
            return 0;
        }
    if ((ret = add_stream_name(h, h->nb_streams + 1, name)) < 0)
        return ret;
    sqlite3_bind_int(h->st_stream, 1, h->nb_streams);
    sqlite3_bind_text(h->st_stream, 2, name, -1, SQLITE_STATIC);
    if ((ret = step_done(h, h->st_stream, "insert stream")) < 0)
        return ret;
    *id = h->nb_streams;
    return 0;
}

/* The id of a sample's component, registering it on first sight. */
static int comp_id_of(Hds *h, const SampleComp *c, int64_t time_us)
{
    uint32_t b = comp_hash(c->kind, c->stream, c->name, c->backup) % h->hash_size;
    int id, sid, ret;

    for (id = h->hash[b]; id; id = h->comps[id].hash_next)
        if (comp_same(&h->comps[id], c))
            return id;
    if ((ret = find_stream(h, c->stream, &sid)) < 0)
        return ret;
    id = h->nb_comps + 1;
    sqlite3_bind_int(h->st_comp, 1, id);
    sqlite3_bind_int(h->st_comp, 2, c->kind);
    sqlite3_bind_int(h->st_comp, 3, sid);
    sqlite3_bind_text(h->st_comp, 4, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(h->st_comp, 5, c->backup);
    sqlite3_bind_int64(h->st_comp, 6, time_us);
    if ((ret = step_done(h, h->st_comp, "insert component")) < 0)
        return ret;
    if ((ret = add_comp_info(h, id, c->kind, sid, c->name, c->backup)) < 0)
        return ret;
    return id;
}

static void free_comp_state(Hds *h)
{
    for (int id = 1; id <= h->nb_comps; id++) {
        CompInfo *ci = &h->comps[id];
        if (ci->series)
            for (int m = 0; m < sample_kinds[ci->kind].nb_metrics; m++)
                acc_free(&ci->series[m].hour);
        av_freep(&ci->series);
    }
    for (int i = 1; i <= h->nb_streams; i++)
        av_freep(&h->streams[i]);
    h->nb_comps = h->nb_streams = 0;
    h->nb_pos = 0;
}

/* Everything the writer keeps in memory, from the file: at open, and after
 * a transaction failed (memory may have run ahead of what was committed). */
static int load_state(Hds *h)
{
    sqlite3_stmt *st;
    int ret = 0;

    free_comp_state(h);
    if ((ret = rehash(h, 1024)) < 0)
        return ret;
    if (sqlite3_prepare_v2(h->db, "SELECT id, name FROM stream ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW)
        ret = add_stream_name(h, sqlite3_column_int(st, 0), (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    if (ret < 0)
        return ret;
    if (sqlite3_prepare_v2(h->db, "SELECT id, kind, stream_id, name, backup FROM comp ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        int kind = sqlite3_column_int(st, 1), sid = sqlite3_column_int(st, 2);
        if ((unsigned)kind >= COMP_NB_KINDS || sid < 1 || sid > h->nb_streams)
            ret = AVERROR_INVALIDDATA;
        else
            ret = add_comp_info(h, sqlite3_column_int(st, 0), kind, sid,
                                (const char *)sqlite3_column_text(st, 3), sqlite3_column_int(st, 4));
    }
    sqlite3_finalize(st);
    if (ret < 0)
        return ret;
    h->last_seq = db_int(h->db, "SELECT max(seq) FROM tick", 0);
    h->rollup_next = meta_get(h, "rollup_next_minute", 0);
    h->hour_closed = meta_get(h, "hour_closed", -1);
    /* the hour not closed yet is rebuilt from its raw ticks */
    h->scan_next = h->hour_closed >= 0 ? (h->hour_closed + 1) * 60 : 0;
    h->acc_hour = -1;
    h->need_prime = 1;
    h->bl_hour = meta_get(h, "baseline_hour", -1) < h->hour_closed ? h->hour_closed : -1;
    h->bl_cursor = 1;
    h->retention_minute = -1;
    return 0;
}

/* ---- the writer: one tick -------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Rows are built per stream: the buffer a component's record goes to, the
 * stream noted for flush_stream_rows(). */
static ByteBuf *stream_buf(Hds *h, int stream_id)
{
    ByteBuf *b = &h->sbuf[stream_id];

    if (!b->len)
        h->touched[h->nb_touched++] = stream_id;
    return b;
}

/* One row per stream noted, id key << 20 | stream_id, in ascending stream
 * ids: every row lands at the end of the B-tree. Empties the buffers. */
static int flush_stream_rows(Hds *h, sqlite3_stmt *st, int64_t key, const char *what)
{
    int ret = 0;

    qsort(h->touched, h->nb_touched, sizeof(*h->touched), cmp_int);
    for (int i = 0; i < h->nb_touched; i++) {
        ByteBuf *b = &h->sbuf[h->touched[i]];
        if (ret >= 0 && b->oom)
            ret = AVERROR(ENOMEM);
        if (ret >= 0) {
            sqlite3_bind_int64(st, 1, key << ID_SHIFT | h->touched[i]);
            sqlite3_bind_blob(st, 2, b->data, (int)b->len, SQLITE_STATIC);
            ret = step_done(h, st, what);
        }
        b->len = 0;
        b->oom = 0;
    }
    h->nb_touched = 0;
    return ret;
}

static int store_tick(Hds *h, const Sample *s)
{
    int ret;

    if (s->nb_comps > h->nb_pos) {
        int *p = av_realloc_array(h->pos_ids, s->nb_comps, sizeof(*p));
        if (!p)
            return AVERROR(ENOMEM);
        memset(p + h->nb_pos, 0, (s->nb_comps - h->nb_pos) * sizeof(*p));
        h->pos_ids = p;
        h->nb_pos = s->nb_comps;
    }
    sqlite3_bind_int64(h->st_tick, 1, h->last_seq + 1);
    sqlite3_bind_int64(h->st_tick, 2, h->run_id);
    sqlite3_bind_int64(h->st_tick, 3, s->tick);
    sqlite3_bind_int64(h->st_tick, 4, s->time_us);
    sqlite3_bind_int(h->st_tick, 5, s->nb_comps);
    if ((ret = step_done(h, h->st_tick, "insert tick")) < 0)
        return ret;
    h->last_seq++;

    for (int i = 0; i < s->nb_comps; i++) {
        const SampleComp *c = &s->comps[i];
        int id = h->pos_ids[i];

        if ((unsigned)c->kind >= COMP_NB_KINDS)
            continue;
        /* components come in the same order tick after tick */
        if (!id || id > h->nb_comps || !comp_same(&h->comps[id], c)) {
            if ((id = comp_id_of(h, c, s->time_us)) < 0)
                return id;
            h->pos_ids[i] = id;
        }
        put_comp(stream_buf(h, h->comps[id].stream_id), id, c);
    }
    return flush_stream_rows(h, h->st_raw, h->last_seq, "insert raw");
}

/* ---- the writer: upkeep (rollups, hours, baselines, retention) ---------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

static int ensure_series(CompInfo *ci)
{
    if (!ci->series && !(ci->series = av_calloc(sample_kinds[ci->kind].nb_metrics, sizeof(*ci->series))))
        return AVERROR(ENOMEM);
    return 0;
}

static int close_hour(Hds *h)
{
    int ret = 0;

    for (int id = 1; id <= h->nb_comps && ret >= 0; id++) {
        CompInfo *ci = &h->comps[id];
        int nm = sample_kinds[ci->kind].nb_metrics;
        uint32_t present = 0;

        if (!ci->hour_touched)
            continue;
        ci->hour_touched = 0;
        for (int m = 0; m < nm; m++)
            if (ci->series[m].hour.n)
                present |= UINT32_C(1) << m;
        h->blob.len = 0;
        put_varint(&h->blob, present);
        for (int m = 0; m < nm; m++)
            if (ci->series[m].hour.n)
                put_acc(&h->blob, &ci->series[m].hour);
        for (int m = 0; m < nm; m++)
            acc_reset(&ci->series[m].hour);
        if (!present)
            continue;
        if (h->blob.oom) {
            ret = AVERROR(ENOMEM);
            break;
        }
        sqlite3_bind_int64(h->st_hourly, 1, h->acc_hour);
        sqlite3_bind_int(h->st_hourly, 2, id);
        sqlite3_bind_blob(h->st_hourly, 3, h->blob.data, (int)h->blob.len, SQLITE_STATIC);
        ret = step_done(h, h->st_hourly, "insert hourly");
    }
    if (ret < 0)
        return ret;
    if ((ret = meta_put(h, "hour_closed", h->acc_hour)) < 0)
        return ret;
    h->hour_closed = h->acc_hour;
    h->bl_hour = h->acc_hour;
    h->bl_cursor = 1;
    h->acc_hour = -1;
    return 0;
}

/* The minute's ticks, in seq order. */
static int minute_ticks(Hds *h, int64_t m)
{
    sqlite3_stmt *st = h->st_mticks;
    int ret = 0;

    h->nb_mt = 0;
    sqlite3_bind_int64(st, 1, m * US_PER_MIN);
    sqlite3_bind_int64(st, 2, (m + 1) * US_PER_MIN);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (h->nb_mt == h->alloc_mt) {
            int n = FFMAX(64, h->alloc_mt * 2);
            int64_t *a = av_realloc_array(h->mt_seq, n, sizeof(*a));
            int64_t *b = av_realloc_array(h->mt_run, n, sizeof(*b));
            int64_t *c = av_realloc_array(h->mt_time, n, sizeof(*c));
            if (a)
                h->mt_seq = a;
            if (b)
                h->mt_run = b;
            if (c)
                h->mt_time = c;
            if (!a || !b || !c) {
                ret = AVERROR(ENOMEM);
                break;
            }
            h->alloc_mt = n;
        }
        h->mt_seq[h->nb_mt] = sqlite3_column_int64(st, 0);
        h->mt_run[h->nb_mt] = sqlite3_column_int64(st, 1);
        h->mt_time[h->nb_mt++] = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return ret;
}

/* Which streams have rows in the minute (a scan of its row ids). */
static int minute_streams(Hds *h)
{
    sqlite3_stmt *st = h->st_raw_ids;

    memset(h->stream_seen, 0, h->nb_streams + 1);
    if (!h->nb_mt)
        return 0;
    sqlite3_bind_int64(st, 1, h->mt_seq[0] << ID_SHIFT);
    sqlite3_bind_int64(st, 2, (h->mt_seq[h->nb_mt - 1] + 1) << ID_SHIFT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t sid = sqlite3_column_int64(st, 0) & (MAX_STREAMS - 1);
        if (sid >= 1 && sid <= h->nb_streams)
            h->stream_seen[sid] = 1;
    }
    sqlite3_reset(st);
    return 0;
}

/* A slot for component id in the stream being scanned. */
static int scan_slot(Hds *h, int id)
{
    CompInfo *ci = &h->comps[id];
    size_t per_slot = (size_t)SAMPLE_MAX_METRICS * h->nb_mt;

    if (ci->scan_slot >= 0)
        return ci->scan_slot;
    if (h->nb_slots == h->alloc_slots) {
        int n = FFMAX(16, h->alloc_slots * 2);
        int *sc = av_realloc_array(h->slot_comp, n, sizeof(*sc));
        int *vc = av_realloc_array(h->vcnt, (size_t)n * SAMPLE_MAX_METRICS, sizeof(*vc));
        int *rc = av_realloc_array(h->rcnt, (size_t)n * SAMPLE_MAX_METRICS, sizeof(*rc));
        if (sc)
            h->slot_comp = sc;
        if (vc)
            h->vcnt = vc;
        if (rc)
            h->rcnt = rc;
        if (!sc || !vc || !rc)
            return AVERROR(ENOMEM);
        h->alloc_slots = n;
    }
    if ((h->nb_slots + 1) * per_slot > h->alloc_vbuf) {
        size_t n = FFMAX((h->nb_slots + 1) * per_slot, h->alloc_vbuf * 2);
        double *v = av_realloc_array(h->vbuf, n, sizeof(*v));
        double *r = av_realloc_array(h->rbuf, n, sizeof(*r));
        if (v)
            h->vbuf = v;
        if (r)
            h->rbuf = r;
        if (!v || !r)
            return AVERROR(ENOMEM);
        h->alloc_vbuf = n;
    }
    memset(h->vcnt + h->nb_slots * SAMPLE_MAX_METRICS, 0, SAMPLE_MAX_METRICS * sizeof(*h->vcnt));
    memset(h->rcnt + h->nb_slots * SAMPLE_MAX_METRICS, 0, SAMPLE_MAX_METRICS * sizeof(*h->rcnt));
    h->slot_comp[h->nb_slots] = id;
    return ci->scan_slot = h->nb_slots++;
}

/* The values of one stream's rows over the minute, by slot and metric. */
static int gather_stream(Hds *h, int sid)
{
    sqlite3_stmt *st = h->st_raw_get;
    int ret = 0;

    h->nb_slots = 0;
    for (int k = 0; k < h->nb_mt && ret >= 0; k++) {
        const uint8_t *p, *end;

        sqlite3_bind_int64(st, 1, h->mt_seq[k] << ID_SHIFT | sid);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_reset(st);
            continue;
        }
        p = sqlite3_column_blob(st, 0);
        end = p + sqlite3_column_bytes(st, 0);
        while (p && p < end) {
            SampleComp c;
            uint64_t id;
            CompInfo *ci;
            int slot;

            if ((ret = get_varint(&p, end, &id)) < 0)
                break;
            if (!id || id > (uint64_t)h->nb_comps) {
                ret = AVERROR_INVALIDDATA;
                break;
            }
            ci = &h->comps[id];
            c.kind = ci->kind;
            if ((ret = get_comp_values(&p, end, &c)) < 0 || (ret = ensure_series(ci)) < 0 ||
                (ret = slot = scan_slot(h, (int)id)) < 0)
                break;
            for (uint32_t bits = c.present; bits; bits &= bits - 1) {
                int mm = __builtin_ctz(bits), b = slot * SAMPLE_MAX_METRICS + mm;
                double x = c.v[mm];
                Series *se = &ci->series[mm];

                if (isnan(x))
                    continue;            /* no order, no mean: not a sample */
                h->vbuf[(size_t)b * h->nb_mt + h->vcnt[b]++] = x;
                if (sample_kinds[ci->kind].metrics[mm].type != METRIC_COUNTER)
                    continue;
                /* a counter's rate, within a run (counters restart with one) */
                if (se->prev_t && se->prev_run == h->mt_run[k] && h->mt_time[k] > se->prev_t &&
                    x >= se->prev_v)
                    h->rbuf[(size_t)b * h->nb_mt + h->rcnt[b]++] =
                        (x - se->prev_v) * 1e6 / (h->mt_time[k] - se->prev_t);
                se->prev_v = x;
                se->prev_t = h->mt_time[k];
                se->prev_run = h->mt_run[k];
            }
        }
        sqlite3_reset(st);
    }
    return ret;
}

/* The gathered values into the hour's accumulators and, when write, into
 * the stream's minute row (comp_id, presence, the n of each metric, then
 * mean/min/max of each: means are summed in tick order). */
static int fold_stream(Hds *h, int write)
{
    ByteBuf *b = &h->blob;
    int ret = 0;

    b->len = 0;
    if (h->alloc_scratch < h->nb_mt) {
        HistBin *sb = av_realloc_array(h->scratch_bins, h->nb_mt, sizeof(*sb));
        if (!sb)
            return AVERROR(ENOMEM);
        h->scratch_bins = sb;
        h->alloc_scratch = h->nb_mt;
    }
    for (int slot = 0; slot < h->nb_slots; slot++) {
        int id = h->slot_comp[slot];
        CompInfo *ci = &h->comps[id];
        int nm = sample_kinds[ci->kind].nb_metrics, k = 0;
        double st[3 * SAMPLE_MAX_METRICS];
        uint32_t present = 0;

        ci->scan_slot = -1;
        ci->hour_touched = 1;
        for (int mm = 0; mm < nm && ret >= 0; mm++) {
            int bi = slot * SAMPLE_MAX_METRICS + mm, n = h->vcnt[bi];
            double *v = h->vbuf + (size_t)bi * h->nb_mt, sum = 0, lo, hi;
            int counter = sample_kinds[ci->kind].metrics[mm].type == METRIC_COUNTER;

            if (!n)
                continue;
            present |= UINT32_C(1) << mm;
            lo = hi = v[0];
            for (int i = 0; i < n; i++) {
                sum += v[i];
                lo = FFMIN(lo, v[i]);
                hi = FFMAX(hi, v[i]);
            }
            st[k++] = sum / n;
            st[k++] = lo;
            st[k++] = hi;
            if (counter)
                ret = acc_add_values(&ci->series[mm].hour, h->rbuf + (size_t)bi * h->nb_mt,
                                     h->rcnt[bi], h->scratch_bins, &h->tmp_hist);
            else
                ret = acc_add_values(&ci->series[mm].hour, v, n, h->scratch_bins, &h->tmp_hist);
        }
        if (ret < 0 || !write || !present)
            continue;
        put_varint(b, id);
        put_varint(b, present);
        for (int mm = 0; mm < nm; mm++)
            if (present >> mm & 1)
                put_varint(b, h->vcnt[slot * SAMPLE_MAX_METRICS + mm]);
        put_values(b, st, k);
    }
    for (int slot = 0; slot < h->nb_slots; slot++)
        h->comps[h->slot_comp[slot]].scan_slot = -1;
    if (ret >= 0 && b->oom)
        ret = AVERROR(ENOMEM);
    return ret;
}

/* After load_state: each counter's value at the last tick before minute
 * m, so that the first rate of the rebuilt hour is there as it was. */
static int prime_counters(Hds *h, int64_t m)
{
    sqlite3_stmt *st;
    int64_t seq = 0, run = 0, t = 0;
    int ret = 0;

    if (sqlite3_prepare_v2(h->db, "SELECT seq, run, time_us FROM tick WHERE time_us < ?"
                           " ORDER BY time_us DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    sqlite3_bind_int64(st, 1, m * US_PER_MIN);
    if (sqlite3_step(st) == SQLITE_ROW) {
        seq = sqlite3_column_int64(st, 0);
        run = sqlite3_column_int64(st, 1);
        t = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (!seq)
        return 0;                /* the raw tick is gone, or there was none */
    if (sqlite3_prepare_v2(h->db, "SELECT data FROM raw WHERE id >= ? AND id < ?", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    sqlite3_bind_int64(st, 1, seq << ID_SHIFT);
    sqlite3_bind_int64(st, 2, (seq + 1) << ID_SHIFT);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        const uint8_t *p = sqlite3_column_blob(st, 0), *end = p + sqlite3_column_bytes(st, 0);
        while (p && p < end) {
            SampleComp c;
            uint64_t id;
            CompInfo *ci;

            if ((ret = get_varint(&p, end, &id)) < 0 || !id || id > (uint64_t)h->nb_comps) {
                ret = AVERROR_INVALIDDATA;
                break;
            }
            ci = &h->comps[id];
            c.kind = ci->kind;
            if ((ret = get_comp_values(&p, end, &c)) < 0 || (ret = ensure_series(ci)) < 0)
                break;
            for (uint32_t bits = c.present; bits; bits &= bits - 1) {
                int mm = __builtin_ctz(bits);
                if (sample_kinds[ci->kind].metrics[mm].type == METRIC_COUNTER && !isnan(c.v[mm])) {
                    ci->series[mm].prev_v = c.v[mm];
                    ci->series[mm].prev_t = t;
                    ci->series[mm].prev_run = run;
                }
            }
        }
    }
    sqlite3_finalize(st);
    /* without them the hour only lacks its first rates: not a reason to stop */
    return ret == AVERROR_INVALIDDATA ? 0 : ret;
}

/*
 * Reads minute m back from raw, one stream at a time: the minute's rollup
 * (when write) and the hour's accumulators (always). Stream by stream, so
 * that each series' values of the minute are at hand together: sorted once,
 * they join the hour's histogram in one merge instead of a search each.
 */
static int scan_minute(Hds *h, int64_t m, int write)
{
    int64_t hour = floor_div(m, 60);
    int ret;

    if (h->acc_hour >= 0 && hour != h->acc_hour && (ret = close_hour(h)) < 0)
        return ret;
    h->acc_hour = hour;
    if ((ret = minute_ticks(h, m)) < 0 || (ret = minute_streams(h)) < 0)
        return ret;
    for (int sid = 1; sid <= h->nb_streams; sid++) {
        if (!h->stream_seen[sid])
            continue;
        ret = gather_stream(h, sid);
        if (ret >= 0)
            ret = fold_stream(h, write);
        if (ret == AVERROR_INVALIDDATA) {
            av_log(h, AV_LOG_ERROR, "a raw row of minute %"PRId64", stream %d does not decode: "
                   "the stream's minute is skipped\n", m, sid);
            for (int slot = 0; slot < h->nb_slots; slot++)
                h->comps[h->slot_comp[slot]].scan_slot = -1;
            continue;
        }
        if (ret < 0)
            return ret;
        if (write && h->blob.len) {
            sqlite3_bind_int64(h->st_minute, 1, m << ID_SHIFT | sid);
            sqlite3_bind_blob(h->st_minute, 2, h->blob.data, (int)h->blob.len, SQLITE_STATIC);
            if ((ret = step_done(h, h->st_minute, "insert minute")) < 0)
                return ret;
        }
    }
    return 0;
}

/* hourly rows of one hour for comps [first, last]; each metric's Acc goes
 * to roll (when non-NULL) and slot (when non-NULL), counting full days */
typedef struct BlSlot {
    Acc roll, slot;
    int days;
} BlSlot;

static int read_hour(Hds *h, int64_t hour, int first, int last, BlSlot *bs,
                     int to_roll, int to_slot, int64_t half)
{
    sqlite3_stmt *st = h->st_hour_read;
    int rc, ret = 0;

    sqlite3_bind_int64(st, 1, hour);
    sqlite3_bind_int(st, 2, first);
    sqlite3_bind_int(st, 3, last);
    while (ret >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0);
        const uint8_t *p = sqlite3_column_blob(st, 1);
        const uint8_t *end = p + sqlite3_column_bytes(st, 1);
        uint64_t present;

        if (id < first || id > last || !p || (ret = get_varint(&p, end, &present)) < 0 ||
            (present & ~(uint64_t)kind_mask(h->comps[id].kind))) {
            ret = AVERROR_INVALIDDATA;
            break;
        }
        for (uint32_t bits = (uint32_t)present; bits && ret >= 0; bits &= bits - 1) {
            BlSlot *b = &bs[(id - first) * SAMPLE_MAX_METRICS + __builtin_ctz(bits)];
            Acc *t = &h->tmp_acc;
            if ((ret = decode_acc(&p, end, t)) >= 0) {
                if (to_roll)
                    ret = acc_merge(&b->roll, t, &h->tmp_hist);
                if (ret >= 0 && to_slot) {
                    ret = acc_merge(&b->slot, t, &h->tmp_hist);
                    b->days += t->n >= half;
                }
            }
        }
    }
    sqlite3_reset(st);
    return ret;
}

static int put_baseline(Hds *h, int id, int metric, int hour, int days, const Acc *a)
{
    sqlite3_stmt *st = h->st_bl_put;

    sqlite3_bind_int(st, 1, id);
    sqlite3_bind_int(st, 2, metric);
    sqlite3_bind_int(st, 3, hour);
    sqlite3_bind_int(st, 4, sample_kinds[h->comps[id].kind].metrics[metric].type == METRIC_COUNTER);
    sqlite3_bind_int(st, 5, days);
    sqlite3_bind_int64(st, 6, a->n);
    sqlite3_bind_double(st, 7, a->mean);
    sqlite3_bind_double(st, 8, acc_std(a));
    sqlite3_bind_double(st, 9, a->min);
    sqlite3_bind_double(st, 10, a->max);
    sqlite3_bind_double(st, 11, acc_quantile(a, 0.50));
    sqlite3_bind_double(st, 12, acc_quantile(a, 0.95));
    sqlite3_bind_double(st, 13, acc_quantile(a, 0.99));
    sqlite3_bind_int64(st, 14, h->bl_hour);
    return step_done(h, st, "insert baseline");
}

/* One slice of the baselines due since bl_hour closed. */
static int baseline_step(Hds *h)
{
    int64_t H = h->bl_hour;
    int64_t per_hour = FFMAX(US_PER_HOUR / h->cfg.tick_us, 1);
    int64_t half = FFMAX(per_hour / 2, 1);
    int64_t max_days = h->cfg.retention_us / (24 * US_PER_HOUR);
    int first = h->bl_cursor, last = FFMIN(first + HDS_BASELINE_SLICE - 1, h->nb_comps);
    int nb = last - first + 1, ret = 0;
    BlSlot *bs;

    if (nb <= 0)
        goto done;
    bs = av_calloc((size_t)nb * SAMPLE_MAX_METRICS, sizeof(*bs));
    if (!bs)
        return AVERROR(ENOMEM);
    for (int k = 0; k < 24 && ret >= 0; k++)
        ret = read_hour(h, H - k, first, last, bs, 1, k == 0, half);
    for (int64_t d = 1; d <= max_days && ret >= 0; d++)
        ret = read_hour(h, H - 24 * d, first, last, bs, 0, 1, half);
    for (int id = first; id <= last && ret >= 0; id++) {
        for (int m = 0; m < sample_kinds[h->comps[id].kind].nb_metrics && ret >= 0; m++) {
            BlSlot *b = &bs[(id - first) * SAMPLE_MAX_METRICS + m];
            if (b->roll.n >= half)
                ret = put_baseline(h, id, m, HDS_BASELINE_ALL_HOURS, 0, &b->roll);
            if (ret >= 0 && b->days >= HDS_BASELINE_MIN_DAYS) {
                ret = put_baseline(h, id, m, (int)(((H % 24) + 24) % 24), b->days, &b->slot);
            } else if (ret >= 0 && b->slot.n) {
                sqlite3_bind_int(h->st_bl_del, 1, id);
                sqlite3_bind_int(h->st_bl_del, 2, m);
                sqlite3_bind_int(h->st_bl_del, 3, (int)(((H % 24) + 24) % 24));
                ret = step_done(h, h->st_bl_del, "delete baseline");
            }
        }
    }
    for (int i = 0; i < nb * SAMPLE_MAX_METRICS; i++) {
        acc_free(&bs[i].roll);
        acc_free(&bs[i].slot);
    }
    av_free(bs);
    if (ret == AVERROR_INVALIDDATA) {
        av_log(h, AV_LOG_ERROR, "an hourly row of hour %"PRId64" does not decode: "
               "baselines of components %d-%d skipped\n", H, first, last);
        ret = 0;
    }
    if (ret < 0)
        return ret;
    h->bl_cursor = last + 1;
    if (h->bl_cursor <= h->nb_comps)
        return 0;
done:
    h->bl_hour = -1;
    return meta_put(h, "baseline_hour", H);
}

static int exec_bound(Hds *h, const char *sql, int64_t v)
{
    sqlite3_stmt *st;
    int ret;

    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK) {
        hds_log_sqlite(h, AV_LOG_ERROR, sql);
        return AVERROR(EIO);
    }
    sqlite3_bind_int64(st, 1, v);
    ret = step_done(h, st, sql);
    sqlite3_finalize(st);
    return ret;
}

static int retention(Hds *h, int64_t now_us)
{
    int64_t cut = now_us - h->cfg.raw_window_us;
    int64_t keep = FFMIN(h->scan_next, h->rollup_next) * US_PER_MIN;
    int64_t seq, old = now_us - h->cfg.retention_us;
    sqlite3_stmt *st;
    int ret;

    /* raw ticks go once rolled up, and never while their hour is open */
    if (h->acc_hour >= 0)
        keep = FFMIN(keep, h->acc_hour * US_PER_HOUR);
    cut = FFMIN(cut, keep);
    if (sqlite3_prepare_v2(h->db, "SELECT max(seq) FROM tick WHERE time_us < ?", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    sqlite3_bind_int64(st, 1, cut);
    seq = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (seq > 0) {
        if ((ret = exec_bound(h, "DELETE FROM raw WHERE id < ?", (seq + 1) << ID_SHIFT)) < 0 ||
            (ret = exec_bound(h, "DELETE FROM tick WHERE seq <= ?", seq)) < 0)
            return ret;
    }
    if ((ret = exec_bound(h, "DELETE FROM minute WHERE id < ?",
                          floor_div(old, US_PER_MIN) << ID_SHIFT)) < 0 ||
        (ret = exec_bound(h, "DELETE FROM hourly WHERE hour < ?", floor_div(old, US_PER_HOUR))) < 0 ||
        (ret = exec_bound(h, "DELETE FROM event WHERE time_us < ?", old)) < 0)
        return ret;
    return 0;
}

static int upkeep(Hds *h, int64_t now_us)
{
    int64_t cur_min = floor_div(now_us, US_PER_MIN);
    int ret;

    for (int steps = 0; h->scan_next < cur_min && steps < MINUTES_PER_TICK; steps++) {
        sqlite3_stmt *st = h->st_next_min;
        int64_t t = -1, m;
        int write;

        /* the next minute that has ticks: gaps (the supervisor was off) are
         * jumped, not walked */
        sqlite3_bind_int64(st, 1, h->scan_next * US_PER_MIN);
        sqlite3_bind_int64(st, 2, cur_min * US_PER_MIN);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            t = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (t < 0) {
            h->scan_next = cur_min;
            break;
        }
        m = floor_div(t, US_PER_MIN);
        write = m >= h->rollup_next;
        if (h->need_prime) {
            if ((ret = prime_counters(h, m)) < 0)
                return ret;
            h->need_prime = 0;
        }
        if ((ret = scan_minute(h, m, write)) < 0)
            return ret;
        h->scan_next = m + 1;
    }
    if (h->scan_next > h->rollup_next) {
        h->rollup_next = h->scan_next;
        if ((ret = meta_put(h, "rollup_next_minute", h->rollup_next)) < 0)
            return ret;
    }
    /* every minute of the hour is in: write it out */
    if (h->acc_hour >= 0 && h->scan_next >= (h->acc_hour + 1) * 60 && (ret = close_hour(h)) < 0)
        return ret;
    if (h->bl_hour >= 0 && (ret = baseline_step(h)) < 0)
        return ret;
    if (cur_min != h->retention_minute) {
        if ((ret = retention(h, now_us)) < 0)
            return ret;
        h->retention_minute = cur_min;
    }
    return 0;
}

/* ---- the writer thread ---------------------------------------------------- */

static int insert_events(Hds *h, int nb)
{
    for (int i = 0; i < nb; i++) {
        const EvItem *e = &h->evbatch[i];
        int ret;
        sqlite3_bind_int64(h->st_event, 1, e->time_us);
        sqlite3_bind_text(h->st_event, 2, e->stream, -1, SQLITE_STATIC);
        sqlite3_bind_text(h->st_event, 3, e->component, -1, SQLITE_STATIC);
        sqlite3_bind_text(h->st_event, 4, e->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(h->st_event, 5, e->cause, -1, SQLITE_STATIC);
        sqlite3_bind_int(h->st_event, 6, e->error);
        if ((ret = step_done(h, h->st_event, "insert event")) < 0)
            return ret;
    }
    return 0;
}

/* One transaction: the events, the tick, the upkeep it made due. */
static int write_batch(Hds *h, int nb_ev, int have_tick)
{
    int ret;

    if ((ret = exec_sql(h, "BEGIN")) < 0)
        return ret;
    ret = insert_events(h, nb_ev);
    if (ret >= 0 && have_tick)
        ret = store_tick(h, &h->cur);
    if (ret >= 0 && have_tick)
        ret = upkeep(h, h->cur.time_us);
    if (ret >= 0)
        ret = exec_sql(h, "COMMIT");
    if (ret < 0) {
        int64_t now = av_gettime_relative();
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        /* what memory holds ran ahead of the file: read it again */
        if (load_state(h) < 0)
            av_log(h, AV_LOG_ERROR, "cannot reload the store's state\n");
        if (now - h->last_error_log >= DROP_LOG_US) {
            av_log(h, AV_LOG_ERROR, "a tick could not be written (%s); the store goes on "
                   "with the next\n", av_err2str(ret));
            h->last_error_log = now;
        }
    }
    return ret;
}

static uint64_t oldest_pending(Hds *h)
{
    uint64_t g = h->busy_gen ? h->busy_gen : UINT64_MAX;

    if (h->ring_count)
        g = FFMIN(g, h->ring_gen[h->ring_head]);
    if (h->ev_count)
        g = FFMIN(g, h->evring[h->ev_head].gen);
    return g;
}

static void *writer_thread(void *arg)
{
    Hds *h = arg;

    log_set_component("hds");
    pthread_mutex_lock(&h->lock);
    for (;;) {
        int nb_ev = 0, have_tick = 0, ret;
        struct timespec cpu;

        while (!h->stop && !h->ring_count && !h->ev_count)
            pthread_cond_wait(&h->cond_work, &h->lock);
        if (!h->ring_count && !h->ev_count)
            break;                           /* stopped, and drained */
        h->busy_gen = oldest_pending(h);
        while (h->ev_count) {
            h->evbatch[nb_ev++] = h->evring[h->ev_head];
            h->ev_head = (h->ev_head + 1) % EVENT_QUEUE;
            h->ev_count--;
        }
        if (h->ring_count) {
            /* the slot's memory becomes the writer's, ours goes back */
            Sample t = h->ring[h->ring_head];
            h->ring[h->ring_head] = h->cur;
            h->cur = t;
            h->ring_head = (h->ring_head + 1) % h->cfg.queue_ticks;
            h->ring_count--;
            have_tick = 1;
        }
        pthread_mutex_unlock(&h->lock);

        ret = write_batch(h, nb_ev, have_tick);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);

        pthread_mutex_lock(&h->lock);
        h->busy_gen = 0;
        h->stats.writer_cpu_us = cpu.tv_sec * INT64_C(1000000) + cpu.tv_nsec / 1000;
        if (ret < 0) {
            h->stats.last_error = ret;
            h->stats.ticks_failed += have_tick;
            h->stats.events_dropped += nb_ev;
        } else {
            h->stats.events_written += nb_ev;
            if (have_tick) {
                h->stats.ticks_written++;
                h->stats.last_tick = h->cur.tick;
                h->stats.last_time_us = h->cur.time_us;
            }
        }
        pthread_cond_broadcast(&h->cond_done);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* ---- the writer's API ------------------------------------------------------ */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hds.c stores float32/float64 values in host order: little-endian hosts only"
#endif

void hds_config_init(HdsConfig *cfg)
{
    *cfg = (HdsConfig){
        .raw_window_us = HDS_DEFAULT_RAW_WINDOW_US,
        .retention_us  = HDS_DEFAULT_RETENTION_US,
        .tick_us       = HDS_DEFAULT_TICK_US,
        .queue_ticks   = HDS_DEFAULT_QUEUE_TICKS,
    };
}

static int create_schema(Hds *h)
{
    sqlite3_stmt *st;
    char sql[128];
    int ret;

    if ((ret = exec_sql(h, "BEGIN")) < 0)
        return ret;
    snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
             HDS_APPLICATION_ID, HDS_SCHEMA_VERSION);
    if ((ret = exec_sql(h, sql)) < 0 || (ret = exec_sql(h, schema_sql)) < 0)
        goto fail;
    if (sqlite3_prepare_v2(h->db, "INSERT INTO meta VALUES('created_us', ?)", -1, &st, NULL) != SQLITE_OK) {
        ret = AVERROR(EIO);
        goto fail;
    }
    sqlite3_bind_int64(st, 1, av_gettime());
    ret = step_done(h, st, "meta");
    sqlite3_finalize(st);
    if (ret < 0)
        goto fail;
    return exec_sql(h, "COMMIT");
fail:
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

/* the catalogue of this build, appended to the file's (new metrics) */
static int store_catalogue(Hds *h)
{
    sqlite3_stmt *st;
    int ret = 0;

    if (sqlite3_prepare_v2(h->db, "INSERT OR IGNORE INTO metric VALUES(?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    for (int k = 0; k < COMP_NB_KINDS && ret >= 0; k++)
        for (int m = 0; m < sample_kinds[k].nb_metrics && ret >= 0; m++) {
            const MetricDef *d = &sample_kinds[k].metrics[m];
            sqlite3_bind_int(st, 1, k);
            sqlite3_bind_int(st, 2, m);
            sqlite3_bind_text(st, 3, d->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, d->type == METRIC_COUNTER ? "counter" : "gauge", -1, SQLITE_STATIC);
            ret = step_done(h, st, "insert metric");
        }
    sqlite3_finalize(st);
    return ret;
}

static int prepare(Hds *h, sqlite3_stmt **st, const char *sql)
{
    if (sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        hds_log_sqlite(h, AV_LOG_ERROR, sql);
        return AVERROR(EIO);
    }
    return 0;
}

static int open_db(Hds *h)
{
    char err[256], sql[128];
    sqlite3_stmt *st;
    int ret, version, is_hds;

    if (sqlite3_open_v2(h->path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        av_log(h, AV_LOG_ERROR, "%s: %s\n", h->path, h->db ? sqlite3_errmsg(h->db) : "out of memory");
        return AVERROR(EIO);
    }
    sqlite3_busy_timeout(h->db, 5000);
    is_hds = ret = check_file(h->db, &version, err, sizeof(err));
    if (ret < 0 || (is_hds && (ret = check_catalogue(h->db, err, sizeof(err))) < 0)) {
        av_log(h, AV_LOG_ERROR, "%s: %s\n", h->path, err);
        return ret;
    }
    /* WAL: a commit appends to the log, readers (hotspare hds export) go on
     * reading meanwhile. synchronous=NORMAL: no fsync per commit; the
     * checkpoint syncs. A process kill loses nothing committed. */
    if ((ret = exec_sql(h, "PRAGMA journal_mode = WAL")) < 0 ||
        (ret = exec_sql(h, "PRAGMA synchronous = NORMAL; PRAGMA secure_delete = OFF;"
                           "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384;"
                           "PRAGMA journal_size_limit = 67108864")) < 0)
        return ret;
    if (db_int(h->db, "PRAGMA synchronous", -1) != 1) {
        av_log(h, AV_LOG_ERROR, "%s: cannot set synchronous=NORMAL\n", h->path);
        return AVERROR(EIO);
    }
    if (!is_hds && (ret = create_schema(h)) < 0)
        return ret;
    if ((ret = store_catalogue(h)) < 0)
        return ret;
    snprintf(sql, sizeof(sql), "INSERT INTO run(started_us, version, tick_us) VALUES(?, ?, %"PRId64")",
             h->cfg.tick_us);
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    sqlite3_bind_int64(st, 1, av_gettime());
    sqlite3_bind_text(st, 2, HS_VERSION, -1, SQLITE_STATIC);
    ret = step_done(h, st, "insert run");
    sqlite3_finalize(st);
    if (ret < 0)
        return ret;
    h->run_id = sqlite3_last_insert_rowid(h->db);

    if ((ret = prepare(h, &h->st_tick, "INSERT INTO tick VALUES(?, ?, ?, ?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_raw, "INSERT INTO raw VALUES(?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_comp, "INSERT INTO comp VALUES(?, ?, ?, ?, ?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_stream, "INSERT INTO stream VALUES(?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_event, "INSERT INTO event(time_us, stream, component, kind, "
                                        "cause, error) VALUES(?, ?, ?, ?, ?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_meta, "INSERT OR REPLACE INTO meta VALUES(?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_mticks, "SELECT seq, run, time_us FROM tick"
                                         " WHERE time_us >= ? AND time_us < ? ORDER BY seq")) < 0 ||
        (ret = prepare(h, &h->st_raw_get, "SELECT data FROM raw WHERE id = ?")) < 0 ||
        (ret = prepare(h, &h->st_raw_ids, "SELECT id FROM raw WHERE id >= ? AND id < ?")) < 0 ||
        (ret = prepare(h, &h->st_next_min, "SELECT min(time_us) FROM tick"
                                           " WHERE time_us >= ? AND time_us < ?")) < 0 ||
        (ret = prepare(h, &h->st_minute, "INSERT OR REPLACE INTO minute VALUES(?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_hourly, "INSERT OR REPLACE INTO hourly VALUES(?, ?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_hour_read, "SELECT comp_id, data FROM hourly"
                                            " WHERE hour = ? AND comp_id BETWEEN ? AND ?")) < 0 ||
        (ret = prepare(h, &h->st_bl_put, "INSERT OR REPLACE INTO baseline VALUES(?, ?, ?, ?, ?, ?,"
                                         " ?, ?, ?, ?, ?, ?, ?, ?)")) < 0 ||
        (ret = prepare(h, &h->st_bl_del, "DELETE FROM baseline WHERE comp_id = ? AND metric = ?"
                                         " AND hour = ?")) < 0)
        return ret;
    return load_state(h);
}

int hds_open(Hds **ph, const HdsConfig *cfg)
{
    pthread_condattr_t ca;
    Hds *h;
    int ret;

    *ph = NULL;
    if (!cfg->path || cfg->raw_window_us < 0 || cfg->retention_us < cfg->raw_window_us ||
        cfg->tick_us <= 0 || cfg->queue_ticks < 1)
        return AVERROR(EINVAL);
    if (!(h = av_mallocz(sizeof(*h))))
        return AVERROR(ENOMEM);
    logctx_init(&h->log, "hds");
    h->cfg = *cfg;
    h->lock_fd = -1;
    h->stats.last_tick = -1;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond_work, NULL);
    pthread_cond_init(&h->cond_done, &ca);
    pthread_condattr_destroy(&ca);
    h->next_gen = 1;
    h->path = av_strdup(cfg->path);
    h->ring = av_calloc(cfg->queue_ticks, sizeof(*h->ring));
    h->ring_gen = av_calloc(cfg->queue_ticks, sizeof(*h->ring_gen));
    h->evring = av_calloc(EVENT_QUEUE, sizeof(*h->evring));
    h->evbatch = av_calloc(EVENT_QUEUE, sizeof(*h->evbatch));
    if (!h->path || !h->ring || !h->ring_gen || !h->evring || !h->evbatch) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    h->cfg.path = h->path;

    /* one writer per file: a second supervisor would interleave its ticks
     * (flock locks are apart from SQLite's fcntl locks on Linux) */
    h->lock_fd = open(h->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (h->lock_fd < 0) {
        ret = AVERROR(errno);
        av_log(h, AV_LOG_ERROR, "%s: %s\n", h->path, av_err2str(ret));
        goto fail;
    }
    if (flock(h->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        ret = errno == EWOULDBLOCK ? AVERROR(EBUSY) : AVERROR(errno);
        av_log(h, AV_LOG_ERROR, "%s: %s\n", h->path, ret == AVERROR(EBUSY) ?
               "another process writes this HDS" : av_err2str(ret));
        goto fail;
    }
    if ((ret = open_db(h)) < 0)
        goto fail;
    if ((ret = pthread_create(&h->thread, NULL, writer_thread, h))) {
        ret = AVERROR(ret);
        goto fail;
    }
    h->thread_started = 1;
    av_log(h, AV_LOG_VERBOSE, "%s: run %"PRId64", %d components known, raw %"PRId64" s, "
           "retention %"PRId64" s\n", h->path, h->run_id, h->nb_comps,
           h->cfg.raw_window_us / 1000000, h->cfg.retention_us / 1000000);
    *ph = h;
    return 0;
fail:
    hds_close(&h);
    return ret;
}

void hds_close(Hds **ph)
{
    Hds *h = *ph;

    if (!h)
        return;
    if (h->thread_started) {
        pthread_mutex_lock(&h->lock);
        h->stop = 1;
        pthread_cond_signal(&h->cond_work);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
        if (h->stats.ticks_dropped || h->stats.ticks_failed)
            av_log(h, AV_LOG_WARNING, "%"PRId64" ticks written, %"PRId64" dropped (writer behind), "
                   "%"PRId64" failed\n", h->stats.ticks_written, h->stats.ticks_dropped,
                   h->stats.ticks_failed);
    }
    {
        sqlite3_stmt *sts[] = {
            h->st_tick, h->st_raw, h->st_comp, h->st_stream, h->st_event, h->st_meta,
            h->st_mticks, h->st_raw_get, h->st_raw_ids, h->st_next_min, h->st_minute, h->st_hourly, h->st_hour_read,
            h->st_bl_put, h->st_bl_del,
        };
        for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
            sqlite3_finalize(sts[i]);
    }
    if (h->db && sqlite3_close(h->db) != SQLITE_OK)
        av_log(h, AV_LOG_ERROR, "%s: close: %s\n", h->path, sqlite3_errmsg(h->db));
    if (h->lock_fd >= 0)
        close(h->lock_fd);
    free_comp_state(h);
    av_freep(&h->comps);
    av_freep(&h->streams);
    av_freep(&h->hash);
    av_freep(&h->pos_ids);
    av_freep(&h->touched);
    av_freep(&h->stream_seen);
    av_freep(&h->mt_seq);
    av_freep(&h->mt_run);
    av_freep(&h->mt_time);
    av_freep(&h->slot_comp);
    av_freep(&h->vbuf);
    av_freep(&h->rbuf);
    av_freep(&h->vcnt);
    av_freep(&h->rcnt);
    av_freep(&h->scratch_bins);
    av_freep(&h->tmp_hist.bins);
    acc_free(&h->tmp_acc);
    for (int i = 0; i < h->alloc_streams; i++)
        bb_free(&h->sbuf[i]);
    av_freep(&h->sbuf);
    bb_free(&h->blob);
    if (h->ring)
        for (int i = 0; i < h->cfg.queue_ticks; i++)
            sample_free(&h->ring[i]);
    sample_free(&h->cur);
    av_freep(&h->ring);
    av_freep(&h->ring_gen);
    av_freep(&h->evring);
    av_freep(&h->evbatch);
    av_freep(&h->path);
    pthread_cond_destroy(&h->cond_work);
    pthread_cond_destroy(&h->cond_done);
    pthread_mutex_destroy(&h->lock);
    av_freep(ph);
}

int hds_put_sample(Hds *h, const Sample *s)
{
    int64_t now, dropped = 0, slot;
    Sample *d;

    pthread_mutex_lock(&h->lock);
    if (h->ring_count == h->cfg.queue_ticks) {
        /* the writer is behind: the oldest unwritten tick goes */
        h->ring_head = (h->ring_head + 1) % h->cfg.queue_ticks;
        h->ring_count--;
        h->stats.ticks_dropped++;
        h->drops_since_log++;
        now = av_gettime_relative();
        if (now - h->last_drop_log >= DROP_LOG_US) {
            dropped = h->drops_since_log;
            h->drops_since_log = 0;
            h->last_drop_log = now;
        }
        pthread_cond_broadcast(&h->cond_done);
    }
    slot = (h->ring_head + h->ring_count) % h->cfg.queue_ticks;
    d = &h->ring[slot];
    if (d->nb_alloc < s->nb_comps) {
        SampleComp *c = av_realloc_array(d->comps, s->nb_comps, sizeof(*c));
        if (!c) {
            pthread_mutex_unlock(&h->lock);
            return AVERROR(ENOMEM);
        }
        d->comps = c;
        d->nb_alloc = s->nb_comps;
    }
    d->time_us = s->time_us;
    d->tick = s->tick;
    d->nb_comps = s->nb_comps;
    memcpy(d->comps, s->comps, s->nb_comps * sizeof(*s->comps));
    h->ring_gen[slot] = h->next_gen++;
    h->ring_count++;
    h->stats.ticks_put++;
    pthread_cond_signal(&h->cond_work);
    pthread_mutex_unlock(&h->lock);
    if (dropped)
        av_log(h, AV_LOG_WARNING, "the writer is behind: %"PRId64" tick(s) dropped "
               "(queue of %d full)\n", dropped, h->cfg.queue_ticks);
    return 0;
}

int hds_put_event(Hds *h, const Event *ev)
{
    EvItem *e;

    pthread_mutex_lock(&h->lock);
    if (h->ev_count == EVENT_QUEUE) {
        h->ev_head = (h->ev_head + 1) % EVENT_QUEUE;
        h->ev_count--;
        h->stats.events_dropped++;
    }
    e = &h->evring[(h->ev_head + h->ev_count) % EVENT_QUEUE];
    e->gen = h->next_gen++;
    e->time_us = ev->time_us;
    av_strlcpy(e->stream, ev->stream ? ev->stream : "", sizeof(e->stream));
    av_strlcpy(e->component, ev->component ? ev->component : "", sizeof(e->component));
    av_strlcpy(e->kind, evlog_kind_name(ev->kind), sizeof(e->kind));
    av_strlcpy(e->cause, ev->cause ? ev->cause : "", sizeof(e->cause));
    e->error = ev->error;
    h->ev_count++;
    pthread_cond_signal(&h->cond_work);
    pthread_mutex_unlock(&h->lock);
    return 0;
}

void hds_event_sink(void *opaque, const Event *ev)
{
    hds_put_event(opaque, ev);
}

int hds_flush(Hds *h, int64_t timeout_us)
{
    struct timespec ts;
    uint64_t target;
    int ret = 0;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_us >= 0) {
        int64_t ns = ts.tv_nsec + timeout_us % 1000000 * 1000;
        ts.tv_sec += timeout_us / 1000000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
    }
    pthread_mutex_lock(&h->lock);
    target = h->next_gen;
    while (oldest_pending(h) < target) {
        if (timeout_us < 0) {
            pthread_cond_wait(&h->cond_done, &h->lock);
        } else if (pthread_cond_timedwait(&h->cond_done, &h->lock, &ts) == ETIMEDOUT) {
            ret = AVERROR(ETIMEDOUT);
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return ret;
}

void hds_get_stats(Hds *h, HdsStats *st)
{
    pthread_mutex_lock(&h->lock);
    *st = h->stats;
    st->queue_depth = h->ring_count;
    pthread_mutex_unlock(&h->lock);
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct ReaderComp {
    CompKind kind;
    int stream_id;
    int backup;
    char *name;
} ReaderComp;

struct HdsReader {
    sqlite3 *db;
    char *path;
    int version;
    ReaderComp *comps;           /* [1..nb_comps] */
    int nb_comps;
    char **streams;              /* [1..nb_streams] */
    int nb_streams;
};

void hds_reader_close(HdsReader **pr)
{
    HdsReader *r = *pr;

    if (!r)
        return;
    if (r->db)
        sqlite3_close(r->db);
    for (int i = 1; i <= r->nb_comps; i++)
        av_free(r->comps[i].name);
    for (int i = 1; i <= r->nb_streams; i++)
        av_free(r->streams[i]);
    av_free(r->comps);
    av_free(r->streams);
    av_free(r->path);
    av_freep(pr);
}

static int reader_load(HdsReader *r)
{
    sqlite3_stmt *st;
    int n, ret = 0;

    n = (int)db_int(r->db, "SELECT max(id) FROM stream", 0);
    if (n < 0 || n >= MAX_STREAMS || !(r->streams = av_calloc(n + 1, sizeof(*r->streams))))
        return AVERROR(ENOMEM);
    r->nb_streams = n;
    if (sqlite3_prepare_v2(r->db, "SELECT id, name FROM stream", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0);
        if (id >= 1 && id <= n && !(r->streams[id] = av_strdup((const char *)sqlite3_column_text(st, 1))))
            ret = AVERROR(ENOMEM);
    }
    sqlite3_finalize(st);
    for (int i = 1; i <= n && ret >= 0; i++)
        if (!r->streams[i] && !(r->streams[i] = av_strdup("?")))
            ret = AVERROR(ENOMEM);
    if (ret < 0)
        return ret;

    n = (int)db_int(r->db, "SELECT max(id) FROM comp", 0);
    if (n < 0 || !(r->comps = av_calloc(n + 1, sizeof(*r->comps))))
        return AVERROR(ENOMEM);
    r->nb_comps = n;
    if (sqlite3_prepare_v2(r->db, "SELECT id, kind, stream_id, name, backup FROM comp", -1, &st, NULL) != SQLITE_OK)
        return AVERROR(EIO);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0), kind = sqlite3_column_int(st, 1);
        int sid = sqlite3_column_int(st, 2);
        ReaderComp *c;
        if (id < 1 || id > n || (unsigned)kind >= COMP_NB_KINDS || sid < 1 || sid > r->nb_streams) {
            ret = AVERROR_INVALIDDATA;
            break;
        }
        c = &r->comps[id];
        c->kind = kind;
        c->stream_id = sid;
        c->backup = sqlite3_column_int(st, 4);
        if (!(c->name = av_strdup((const char *)sqlite3_column_text(st, 3))))
            ret = AVERROR(ENOMEM);
    }
    sqlite3_finalize(st);
    return ret;
}

int hds_reader_open(HdsReader **pr, const char *path, char *err, size_t err_size)
{
    HdsReader *r;
    struct stat sb;
    int ret;

    *pr = NULL;
    if (stat(path, &sb) < 0) {
        ret = AVERROR(errno);
        snprintf(err, err_size, "%s", errno == ENOENT ? "no such file" : av_err2str(ret));
        return ret;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, err_size, "not an HDS file (not a regular file)");
        return AVERROR(EINVAL);
    }
    if (!(r = av_mallocz(sizeof(*r))) || !(r->path = av_strdup(path))) {
        av_free(r);
        snprintf(err, err_size, "out of memory");
        return AVERROR(ENOMEM);
    }
    /* read-only; a WAL left by a killed writer is read as it is, and the
     * shared-memory index is rebuilt where the directory allows */
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "%s", r->db ? sqlite3_errmsg(r->db) : "out of memory");
        ret = AVERROR(EIO);
        goto fail;
    }
    sqlite3_busy_timeout(r->db, 5000);
    ret = check_file(r->db, &r->version, err, err_size);
    if (ret == 0) {
        snprintf(err, err_size, "not an HDS file (%s)", sb.st_size ? "an empty SQLite database" : "empty");
        ret = AVERROR(EINVAL);
    }
    if (ret < 0 || (ret = check_catalogue(r->db, err, err_size)) < 0)
        goto fail;
    if ((ret = reader_load(r)) < 0) {
        snprintf(err, err_size, "cannot read its components: %s", av_err2str(ret));
        goto fail;
    }
    *pr = r;
    return 0;
fail:
    hds_reader_close(&r);
    return ret;
}

static int64_t file_size(const char *path, const char *suffix)
{
    char p[4096];
    struct stat sb;

    snprintf(p, sizeof(p), "%s%s", path, suffix);
    return stat(p, &sb) < 0 ? 0 : sb.st_size;
}

int hds_reader_stats(HdsReader *r, HdsFileStats *st)
{
    sqlite3_stmt *q;
    int64_t lo, hi;

    memset(st, 0, sizeof(*st));
    st->schema_version = r->version;
    st->runs = db_int(r->db, "SELECT count(*) FROM run", 0);
    st->ticks = db_int(r->db, "SELECT count(*) FROM tick", 0);
    st->first_time_us = db_int(r->db, "SELECT min(time_us) FROM tick", 0);
    st->last_time_us = db_int(r->db, "SELECT max(time_us) FROM tick", 0);
    st->minutes = db_int(r->db, "SELECT count(DISTINCT id >> 20) FROM minute", 0);
    lo = db_int(r->db, "SELECT min(id) >> 20 FROM minute", -1);
    hi = db_int(r->db, "SELECT max(id) >> 20 FROM minute", -1);
    if (lo >= 0) {
        st->first_minute_us = lo * US_PER_MIN;
        st->last_minute_us = hi * US_PER_MIN;
    }
    st->hours = db_int(r->db, "SELECT count(DISTINCT hour) FROM hourly", 0);
    st->components = db_int(r->db, "SELECT count(*) FROM comp", 0);
    st->streams = db_int(r->db, "SELECT count(*) FROM stream WHERE name != ''", 0);
    st->baselines = db_int(r->db, "SELECT count(*) FROM baseline", 0);
    if (sqlite3_prepare_v2(r->db, "SELECT kind, count(*) FROM event GROUP BY kind ORDER BY kind",
                           -1, &q, NULL) == SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW && st->nb_event_kinds < HDS_MAX_EVENT_KINDS) {
            av_strlcpy(st->events[st->nb_event_kinds].kind, (const char *)sqlite3_column_text(q, 0),
                       sizeof(st->events[0].kind));
            st->events[st->nb_event_kinds++].count = sqlite3_column_int64(q, 1);
        }
        sqlite3_finalize(q);
    }
    st->file_bytes = file_size(r->path, "");
    st->wal_bytes = file_size(r->path, "-wal");
    for (size_t i = 0; i < sizeof(table_names) / sizeof(table_names[0]) && i < HDS_MAX_TABLES; i++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table_names[i]);
        st->tables[st->nb_tables].table = table_names[i];
        st->tables[st->nb_tables++].rows = db_int(r->db, sql, 0);
    }
    return 0;
}

static int reader_stream_id(HdsReader *r, const char *name)
{
    for (int i = 1; i <= r->nb_streams; i++)
        if (!strcmp(r->streams[i], name))
            return i;
    return 0;
}

static int reader_sql_error(HdsReader *r)
{
    av_log(NULL, AV_LOG_ERROR, "%s: %s\n", r->path, sqlite3_errmsg(r->db));
    return AVERROR(EIO);
}

/* the component of a decoded record, filled in c; 0, 1 to skip it (filter),
 * or AVERROR_INVALIDDATA */
static int reader_comp(HdsReader *r, const HdsFilter *f, const uint8_t **p, const uint8_t *end,
                       SampleComp *c, ReaderComp **prc)
{
    uint64_t id;
    ReaderComp *rc;

    if (get_varint(p, end, &id) < 0 || !id || id > (uint64_t)r->nb_comps || !r->comps[id].name)
        return AVERROR_INVALIDDATA;
    rc = *prc = &r->comps[id];
    c->kind = rc->kind;
    av_strlcpy(c->stream, r->streams[rc->stream_id], sizeof(c->stream));
    av_strlcpy(c->name, rc->name, sizeof(c->name));
    c->backup = rc->backup;
    return f->component && strcmp(f->component, rc->name);
}

int hds_reader_samples(HdsReader *r, const HdsFilter *f, HdsSampleFn fn, void *opaque)
{
    sqlite3_stmt *ticks = NULL, *rows = NULL;
    int sid = 0, ret = 0, rc;

    if (f->stream && !(sid = reader_stream_id(r, f->stream)))
        return 0;                /* no such stream: nothing */
    if (sqlite3_prepare_v2(r->db, "SELECT seq, run, tick, time_us FROM tick"
                           " WHERE time_us >= ? AND time_us <= ? ORDER BY seq", -1, &ticks, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db, "SELECT id, data FROM raw WHERE id >= ? AND id <= ? ORDER BY id",
                           -1, &rows, NULL) != SQLITE_OK) {
        ret = reader_sql_error(r);
        goto end;
    }
    sqlite3_bind_int64(ticks, 1, f->has_from ? f->from_us : INT64_MIN);
    sqlite3_bind_int64(ticks, 2, f->has_to ? f->to_us : INT64_MAX);
    while (ret >= 0 && (rc = sqlite3_step(ticks)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(ticks, 0);
        HdsTick t = {
            .run = sqlite3_column_int64(ticks, 1),
            .tick = sqlite3_column_int64(ticks, 2),
            .time_us = sqlite3_column_int64(ticks, 3),
        };

        sqlite3_bind_int64(rows, 1, seq << ID_SHIFT | (sid ? sid : 0));
        sqlite3_bind_int64(rows, 2, seq << ID_SHIFT | (sid ? sid : MAX_STREAMS - 1));
        while (ret >= 0 && sqlite3_step(rows) == SQLITE_ROW) {
            const uint8_t *p = sqlite3_column_blob(rows, 1);
            const uint8_t *end = p + sqlite3_column_bytes(rows, 1);

            while (p && p < end && ret >= 0) {
                SampleComp c;
                ReaderComp *rc_;
                int skip;

                if ((skip = ret = reader_comp(r, f, &p, end, &c, &rc_)) < 0 ||
                    (ret = get_comp_values(&p, end, &c)) < 0)
                    break;
                if (!skip)
                    ret = fn(opaque, &t, &c);
            }
        }
        sqlite3_reset(rows);
    }
    if (ret == AVERROR_INVALIDDATA)
        av_log(NULL, AV_LOG_ERROR, "%s: a raw row does not decode\n", r->path);
end:
    sqlite3_finalize(ticks);
    sqlite3_finalize(rows);
    return ret;
}

int hds_reader_minutes(HdsReader *r, const HdsFilter *f, HdsMinuteFn fn, void *opaque)
{
    sqlite3_stmt *st;
    int sid = 0, ret = 0;

    if (f->stream && !(sid = reader_stream_id(r, f->stream)))
        return 0;
    if (sqlite3_prepare_v2(r->db, "SELECT id, data FROM minute WHERE id >= ? AND id <= ?"
                           " ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return reader_sql_error(r);
    /* a minute counts when it starts within [from, to] */
    sqlite3_bind_int64(st, 1, f->has_from ? floor_div(f->from_us + US_PER_MIN - 1, US_PER_MIN) << ID_SHIFT : 0);
    sqlite3_bind_int64(st, 2, f->has_to ? floor_div(f->to_us, US_PER_MIN) << ID_SHIFT | (MAX_STREAMS - 1)
                                        : INT64_MAX);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const uint8_t *p = sqlite3_column_blob(st, 1);
        const uint8_t *end = p + sqlite3_column_bytes(st, 1);

        if (sid && (id & (MAX_STREAMS - 1)) != sid)
            continue;
        while (p && p < end && ret >= 0) {
            HdsMinuteStat ms[SAMPLE_MAX_METRICS] = { { 0 } };
            double v[3 * SAMPLE_MAX_METRICS];
            SampleComp c;
            ReaderComp *rc;
            uint64_t present, n;
            int skip, k = 0, nb;

            if ((skip = ret = reader_comp(r, f, &p, end, &c, &rc)) < 0 ||
                (ret = get_varint(&p, end, &present)) < 0)
                break;
            if (present & ~(uint64_t)kind_mask(c.kind)) {
                ret = AVERROR_INVALIDDATA;
                break;
            }
            c.present = (uint32_t)present;
            nb = popcount32(c.present);
            for (uint32_t bits = c.present; bits && ret >= 0; bits &= bits - 1) {
                ret = get_varint(&p, end, &n);
                ms[__builtin_ctz(bits)].n = n;
            }
            if (ret < 0 || (ret = get_values(&p, end, v, 3 * nb)) < 0)
                break;
            for (uint32_t bits = c.present; bits; bits &= bits - 1) {
                HdsMinuteStat *m = &ms[__builtin_ctz(bits)];
                m->mean = v[k++];
                m->min = v[k++];
                m->max = v[k++];
            }
            if (!skip)
                ret = fn(opaque, (id >> ID_SHIFT) * US_PER_MIN, &c, ms);
        }
    }
    if (ret == AVERROR_INVALIDDATA)
        av_log(NULL, AV_LOG_ERROR, "%s: a minute row does not decode\n", r->path);
    sqlite3_finalize(st);
    return ret;
}

int hds_reader_events(HdsReader *r, const HdsFilter *f, HdsEventFn fn, void *opaque)
{
    sqlite3_stmt *st;
    int ret = 0;

    if (sqlite3_prepare_v2(r->db, "SELECT time_us, stream, component, kind, cause, error FROM event"
                           " WHERE time_us >= ? AND time_us <= ? AND (?3 IS NULL OR stream = ?3)"
                           " ORDER BY time_us, id", -1, &st, NULL) != SQLITE_OK)
        return reader_sql_error(r);
    sqlite3_bind_int64(st, 1, f->has_from ? f->from_us : INT64_MIN);
    sqlite3_bind_int64(st, 2, f->has_to ? f->to_us : INT64_MAX);
    if (f->stream)
        sqlite3_bind_text(st, 3, f->stream, -1, SQLITE_STATIC);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        HdsEvent e = {
            .time_us   = sqlite3_column_int64(st, 0),
            .stream    = (const char *)sqlite3_column_text(st, 1),
            .component = (const char *)sqlite3_column_text(st, 2),
            .kind      = (const char *)sqlite3_column_text(st, 3),
            .cause     = (const char *)sqlite3_column_text(st, 4),
            .error     = sqlite3_column_int(st, 5),
        };
        ret = fn(opaque, &e);
    }
    sqlite3_finalize(st);
    return ret;
}

int hds_reader_baselines(HdsReader *r, const HdsFilter *f, HdsBaselineFn fn, void *opaque)
{
    sqlite3_stmt *st;
    int ret = 0;

    if (sqlite3_prepare_v2(r->db, "SELECT comp_id, metric, hour, rate, days, n, mean, std, min, max,"
                           " p50, p95, p99, updated_hour FROM baseline"
                           " ORDER BY comp_id, metric, hour = 24 DESC, hour", -1, &st, NULL) != SQLITE_OK)
        return reader_sql_error(r);
    while (ret >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        int id = sqlite3_column_int(st, 0);
        ReaderComp *c;
        HdsBaseline b;

        if (id < 1 || id > r->nb_comps || !r->comps[id].name)
            continue;
        c = &r->comps[id];
        if ((f->stream && strcmp(f->stream, r->streams[c->stream_id])) ||
            (f->component && strcmp(f->component, c->name)))
            continue;
        b = (HdsBaseline){
            .kind = c->kind, .stream = r->streams[c->stream_id], .name = c->name,
            .backup = c->backup,
            .metric = sqlite3_column_int(st, 1), .hour = sqlite3_column_int(st, 2),
            .is_rate = sqlite3_column_int(st, 3), .days = sqlite3_column_int(st, 4),
            .n = sqlite3_column_int64(st, 5),
            .mean = sqlite3_column_double(st, 6), .std = sqlite3_column_double(st, 7),
            .min = sqlite3_column_double(st, 8), .max = sqlite3_column_double(st, 9),
            .p50 = sqlite3_column_double(st, 10), .p95 = sqlite3_column_double(st, 11),
            .p99 = sqlite3_column_double(st, 12), .updated_hour = sqlite3_column_int64(st, 13),
        };
        if (!sample_metric(b.kind, b.metric))
            continue;            /* a metric of a newer catalogue */
        ret = fn(opaque, &b);
    }
    sqlite3_finalize(st);
    return ret;
}
