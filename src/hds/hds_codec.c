/*
 * hds_codec.c: the blob encoding of the data store; see hds_int.h (the
 * encoding of a metric vector) for the format and why.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "hds/hds_int.h"

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

void hds_bb_free(ByteBuf *b)
{
    av_freep(&b->data);
    b->len = b->alloc = 0;
    b->oom = 0;
}

void hds_put_varint(ByteBuf *b, uint64_t v)
{
    if (bb_reserve(b, 10) < 0)
        return;
    while (v >= 0x80) {
        b->data[b->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (uint8_t)v;
}

uint64_t hds_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

int64_t hds_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

int hds_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
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
void hds_put_values_strided(ByteBuf *b, const double *first, int n, size_t stride)
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
            uint64_t u = hds_zigzag((int64_t)*x);
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

void hds_put_values(ByteBuf *b, const double *v, int n)
{
    hds_put_values_strided(b, v, n, sizeof(*v));
}

int hds_get_values(const uint8_t **pp, const uint8_t *end, double *v, int n)
{
    const uint8_t *tags = *pp, *p = *pp + (n + 3) / 4;

    if (p > end)
        return AVERROR_INVALIDDATA;
    for (int i = 0; i < n; i++) {
        int tag = (tags[i / 4] >> (2 * (i % 4))) & 3;
        if (tag == TAG_INT) {
            uint64_t u;
            if (hds_get_varint(&p, end, &u) < 0)
                return AVERROR_INVALIDDATA;
            v[i] = (double)hds_unzigzag(u);
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

int hds_popcount32(uint32_t x)
{
    return __builtin_popcount(x);
}

uint32_t hds_kind_mask(CompKind kind)
{
    int n = sample_kinds[kind].nb_metrics;
    return n >= 32 ? UINT32_MAX : (UINT32_C(1) << n) - 1;
}

/* One component of a raw row: comp_id, presence, the present values. */
void hds_put_comp(ByteBuf *b, int comp_id, const SampleComp *c)
{
    double v[SAMPLE_MAX_METRICS];
    uint32_t present = c->present & hds_kind_mask(c->kind);
    int n = 0;

    for (uint32_t m = present; m; m &= m - 1)
        v[n++] = c->v[__builtin_ctz(m)];
    hds_put_varint(b, comp_id);
    hds_put_varint(b, present);
    hds_put_values(b, v, n);
}

/* The reverse; c->kind must be set (from comp_id) by the caller first, so
 * it is split: get_comp_id, then get_comp_values. */
int hds_get_comp_values(const uint8_t **pp, const uint8_t *end, SampleComp *c)
{
    double v[SAMPLE_MAX_METRICS];
    uint64_t present;
    int n, ret;

    if ((ret = hds_get_varint(pp, end, &present)) < 0)
        return ret;
    if (present & ~(uint64_t)hds_kind_mask(c->kind))
        return AVERROR_INVALIDDATA;
    n = hds_popcount32((uint32_t)present);
    if ((ret = hds_get_values(pp, end, v, n)) < 0)
        return ret;
    c->present = (uint32_t)present;
    n = 0;
    for (uint32_t m = c->present; m; m &= m - 1)
        c->v[__builtin_ctz(m)] = v[n++];
    return 0;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hds_codec.c stores float32/float64 values in host order: little-endian hosts only"
#endif
