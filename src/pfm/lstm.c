/*
 * lstm.c: the fixed-size LSTM (see lstm.h): parameter block, seeded
 * initialisation, the per-component step (portable, and AVX2/FMA chosen at
 * run time), training (BPTT, clipping, Adam) and the double-precision twin
 * for the gradient check.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "pfm/lstm.h"

/* the portable step takes inputs four at a time; the AVX2 one works on
 * whole 8-float vectors of the gates, of h and of the forecast */
_Static_assert(LSTM_F % 8 == 0 && LSTM_H % 8 == 0, "F and H must be multiples of 8");
_Static_assert(LSTM_LAYERS == 1, "the code implements one layer");

const LstmTensorInfo lstm_tensors[LSTM_NB_TENSORS] = {
    { "wx", LSTM_F, LSTM_G },
    { "wh", LSTM_H, LSTM_G },
    { "b",  LSTM_G, 1 },
    { "wp", LSTM_H, 1 },
    { "bp", 1, 1 },
    { "wf", LSTM_H, LSTM_F },
    { "bf", LSTM_F, 1 },
};

/* ---- float activations ----------------------------------------------------
 *
 * libm's expf is a call per element and costs more than the whole matrix
 * product of a step. These are branch-free (ternaries become min/max), so gcc
 * vectorises the loops at -O2: e^x = 2^n e^r with n = round(x log2 e),
 * |r| <= ln2/2, e^r by a degree-6 polynomial (relative error below 2e-7),
 * 2^n built in the exponent bits.
 */
static inline float exp_approx(float x)
{
    const float log2e = 1.44269504f, ln2_hi = 0.693145752f, ln2_lo = 1.42860677e-6f;
    const float round_magic = 12582912.0f;   /* 1.5 * 2^23: adds round to integer */
    const int32_t bits_87 = 0x42ae0000;      /* 87.0f */
    union { float f; int32_t i; } u = { .f = x };
    int32_t mag;
    float n, r, p;

    /* |x| <= 87 by comparing bit patterns: a float comparison may trap, so
     * gcc (-ftrapping-math) would not if-convert it, and the loop would stay
     * scalar; an integer min does vectorise. A NaN becomes +-87. */
    mag = u.i & 0x7fffffff;
    mag = mag < bits_87 ? mag : bits_87;
    u.i = mag | (u.i & (int32_t)0x80000000);
    x = u.f;
    n = (x * log2e + round_magic) - round_magic;
    r = x - n * ln2_hi - n * ln2_lo;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 +
        r * (1.0f / 120 + r * (1.0f / 720))))));
    u.i = ((int32_t)n + 127) << 23;
    return p * u.f;
}

static inline __attribute__((always_inline)) void sigmoid_n_f(float *v, int n)
{
    for (int j = 0; j < n; j++)
        v[j] = 1.0f / (1.0f + exp_approx(-v[j]));
}

/* tanh(x) = 1 - 2 / (e^{2x} + 1): exact at 0 and saturates cleanly */
static inline __attribute__((always_inline)) void tanh_n_f(float *v, int n)
{
    for (int j = 0; j < n; j++)
        v[j] = 1.0f - 2.0f / (exp_approx(2.0f * v[j]) + 1.0f);
}

static void sigmoid_n_d(double *v, int n)
{
    for (int j = 0; j < n; j++)
        v[j] = 1.0 / (1.0 + exp(-v[j]));
}

static void tanh_n_d(double *v, int n)
{
    for (int j = 0; j < n; j++)
        v[j] = tanh(v[j]);
}

#define REAL float
#define SFX(name) name##_f
#define SIGMOID_N sigmoid_n_f
#define TANH_N tanh_n_f
#include "pfm/lstm_tmpl.h"
#undef REAL
#undef SFX
#undef SIGMOID_N
#undef TANH_N

#define REAL double
#define SFX(name) name##_d
#define SIGMOID_N sigmoid_n_d
#define TANH_N tanh_n_d
#include "pfm/lstm_tmpl.h"
#undef REAL
#undef SFX
#undef SIGMOID_N
#undef TANH_N

/* ---- the model ---------------------------------------------------------------- */

struct Lstm {
    float *mem;                /* params | grads | Adam m | Adam v */
    Params_f p, g, m, v;
    Acts_f *acts;              /* one window's activations */
    long t;                    /* Adam steps taken */
};

/* splitmix64: small, seedable, the same everywhere (rand() is neither) */
static uint64_t prng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1), 24 bits */
static float prng_sym(uint64_t *s)
{
    return (float)((int64_t)(prng_next(s) >> 40) - (1 << 23)) / (float)(1 << 23);
}

void lstm_hyper_default(LstmHyper *hp)
{
    memset(hp, 0, sizeof(*hp));
    hp->lr = 1e-3f;
    hp->beta1 = 0.9f;
    hp->beta2 = 0.999f;
    hp->eps = 1e-8f;
    hp->weight_decay = 0;
    hp->clip = 1.0f;
    hp->w_fail = 1.0f;
    hp->pos_weight = 1.0f;
    hp->w_fc = 1.0f;
    for (int k = 0; k < LSTM_F; k++)
        hp->fc_mask[k] = 1.0f;
}

void lstm_reset_optimizer(Lstm *m)
{
    memset(m->m.wx, 0, 2 * LSTM_NUM_PARAMS * sizeof(float));
    m->t = 0;
}

void lstm_init(Lstm *m, uint64_t seed)
{
    /* PyTorch's default: U(-1/sqrt(H), 1/sqrt(H)) for every weight */
    const float r = 1.0f / sqrtf((float)LSTM_H);
    uint64_t s = seed;

    for (int i = 0; i < LSTM_F * LSTM_G; i++)
        m->p.wx[i] = r * prng_sym(&s);
    for (int i = 0; i < LSTM_H * LSTM_G; i++)
        m->p.wh[i] = r * prng_sym(&s);
    /* forget gate biased open (Jozefowicz et al. 2015): gradients survive
     * the first windows instead of vanishing through f ~ 0.5 */
    for (int j = 0; j < LSTM_G; j++)
        m->p.b[j] = j >= LSTM_H && j < 2 * LSTM_H ? 1.0f : 0.0f;
    for (int k = 0; k < LSTM_H; k++)
        m->p.wp[k] = r * prng_sym(&s);
    m->p.bp[0] = 0;
    for (int i = 0; i < LSTM_H * LSTM_F; i++)
        m->p.wf[i] = r * prng_sym(&s);
    for (int k = 0; k < LSTM_F; k++)
        m->p.bf[k] = 0;
    memset(m->g.wx, 0, LSTM_NUM_PARAMS * sizeof(float));
    lstm_reset_optimizer(m);
}

int lstm_alloc(Lstm **pm, uint64_t seed)
{
    Lstm *m = av_mallocz(sizeof(*m));

    *pm = NULL;
    if (!m)
        return AVERROR(ENOMEM);
    if (!(m->mem = av_calloc(4 * LSTM_NUM_PARAMS, sizeof(float))) ||
        !(m->acts = av_mallocz(sizeof(*m->acts)))) {
        lstm_free(&m);
        return AVERROR(ENOMEM);
    }
    carve_f(m->mem, &m->p);
    carve_f(m->mem + LSTM_NUM_PARAMS, &m->g);
    carve_f(m->mem + 2 * LSTM_NUM_PARAMS, &m->m);
    carve_f(m->mem + 3 * LSTM_NUM_PARAMS, &m->v);
    lstm_init(m, seed);
    *pm = m;
    return 0;
}

void lstm_free(Lstm **pm)
{
    Lstm *m = *pm;

    if (!m)
        return;
    av_freep(&m->mem);
    av_freep(&m->acts);
    av_freep(pm);
}

float *lstm_params(Lstm *m)
{
    return m->p.wx;
}

const float *lstm_params_const(const Lstm *m)
{
    return m->p.wx;
}

void lstm_state_reset(LstmState *s)
{
    memset(s, 0, sizeof(*s));
}

static void step_baseline(const Lstm *m, LstmState *s, const float *x, float *p_fail,
                          float *forecast)
{
    float gate[LSTM_G], tc[LSTM_H], c[LSTM_H], h[LSTM_H], logit, yhat[LSTM_F];

    cell_forward_f(&m->p, x, s->h, s->c, gate, c, tc, h);
    memcpy(s->c, c, sizeof(c));
    memcpy(s->h, h, sizeof(h));
    if (!p_fail && !forecast)
        return;
    heads_forward_f(&m->p, s->h, &logit, yhat);
    if (p_fail)
        *p_fail = 1.0f / (1.0f + expf(-logit));
    if (forecast)
        memcpy(forecast, yhat, sizeof(yhat));
}

/* ---- the AVX2 + FMA path ------------------------------------------------------
 *
 * x86 only, compiled through target attributes so that the rest of the
 * binary keeps the ISA it was built for; lstm_simd() picks it at run time
 * when the CPU has AVX2 and FMA.
 *
 * The gate product z = b + W^T [x h], W = [wx; wh] (K = F+H rows, G
 * columns), runs as register tiles: nb components times nv 8-float column
 * vectors, nb*nv accumulators; each weight vector is loaded once per tile
 * and used for nb components, each input broadcast once and used for nv
 * vectors. Every accumulator is the one chain acc = b_j, then acc =
 * fma(u_k, w_kj, acc) for k = 0..K-1, whatever the tile's shape: that is
 * why the batched step gives the single step's bits.
 * The shapes: an FMA takes 4 cycles and two start each cycle (Zen, Intel
 * since Haswell), so 8 independent chains keep both units busy, and AVX2
 * has 16 vector registers. One component: 1 x 8 vectors, bound by its
 * K-long chains. A batch: 6 components x 2 vectors, 12 chains (slack over
 * the latency) in 15 registers, fed by 2 weight loads and 6 broadcasts per
 * 12 FMAs, which the load ports outpace. Measured on the gate product
 * alone (activations left out), it runs at the FMA units' peak; what the
 * step loses is the activations, which also need the FMA units: hence the
 * cheaper exponential and reciprocal below.
 */
#if defined(__x86_64__) || defined(__i386__)
#define LSTM_HAVE_AVX2 1
#include <immintrin.h>

#define AVX2_FN  __attribute__((target("avx2,fma")))
#define AVX2_INL static inline __attribute__((always_inline, target("avx2,fma")))
#define LSTM_K   (LSTM_F + LSTM_H)     /* rows of [wx; wh] */
#define TILE_NB  6                     /* components per tile of a batch */
_Static_assert(TILE_NB <= 8, "a tile's probabilities are one vector");

/* e^x on 8 lanes by exp_approx's method, made cheaper for the sigmoid and
 * tanh it serves (FMA units are what the step runs short of):
 * - n = round(x log2 e) by adding 1.5 * 2^23, whose float then holds n in
 *   its low mantissa bits: shifted into the exponent field and added to
 *   the polynomial's bits, no rounding, conversion or multiply;
 * - r = x - n ln2 with one constant: its error, n * 2e-9, matters only for
 *   large |x|, where sigmoid and tanh are saturated;
 * - e^r by a degree-5 polynomial, minimax with e^0 = 1 (relative error
 *   below 5e-7; exp_approx's degree 6 reaches 2e-7).
 * Relative error below 6e-7 for |x| <= 10; part of the stated bound. */
AVX2_INL __m256 exp8(__m256 x)
{
    const __m256 lim = _mm256_set1_ps(87.0f), magic = _mm256_set1_ps(12582912.0f);
    __m256 t, n, r, p;
    __m256i e;

    /* min and max return their second operand for a NaN: NaN -> 87 */
    x = _mm256_max_ps(_mm256_min_ps(x, lim), _mm256_sub_ps(_mm256_setzero_ps(), lim));
    t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504f), magic);
    n = _mm256_sub_ps(t, magic);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693147182f), x);
    p = _mm256_set1_ps(0.00695332512f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.041875273f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.166876554f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.499993742f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.999993742f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* t's bits are 0x4b400000 + n: shifted, all but n drops out, and adding
     * n << 23 to p's bits scales p by 2^n without an FMA unit (exact while
     * the result is normal; below 1e-37 it is a wrong but tiny number,
     * where sigmoid and tanh are saturated anyway) */
    e = _mm256_slli_epi32(_mm256_castps_si256(t), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
}

/* 1/d for 1 <= d <= e^87: the 12-bit estimate and one Newton step (error
 * about 2^-23); a division costs several times as much, and 20 of them per
 * step were a tenth of the step */
AVX2_INL __m256 recip8(__m256 d)
{
    const __m256 r = _mm256_rcp_ps(d);

    return _mm256_fmadd_ps(_mm256_fnmadd_ps(d, r, _mm256_set1_ps(1.0f)), r, r);
}

AVX2_INL __m256 sigmoid8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);

    return recip8(_mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

AVX2_INL __m256 tanh8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);

    return _mm256_fnmadd_ps(two, recip8(_mm256_add_ps(exp8(_mm256_mul_ps(two, x)), one)), one);
}

/* z[b][0..8nv) = bias + sum_k u[b][k] w[k][0..8nv) for b < nb: one register
 * tile (nb and nv are constants once inlined; the loops unroll away) */
AVX2_INL void mm_tile(const float *u, int ldu, const int nb, const float *w, int ldw, int K,
                      const float *bias, float *z, int ldz, const int nv)
{
    __m256 acc[TILE_NB][8], wv[8];

#pragma GCC unroll 8
    for (int b = 0; b < nb; b++)
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            acc[b][v] = _mm256_loadu_ps(bias + 8 * v);
    for (int k = 0; k < K; k++) {
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            wv[v] = _mm256_loadu_ps(w + (size_t)k * ldw + 8 * v);
#pragma GCC unroll 8
        for (int b = 0; b < nb; b++) {
            const __m256 ub = _mm256_broadcast_ss(u + b * ldu + k);
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[b][v] = _mm256_fmadd_ps(ub, wv[v], acc[b][v]);
        }
    }
#pragma GCC unroll 8
    for (int b = 0; b < nb; b++)
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            _mm256_storeu_ps(z + b * ldz + 8 * v, acc[b][v]);
}

/* z (nb, G) = b + W^T u for nb components, u (nb, K) */
AVX2_INL void gates_avx2(const Params_f *p, const float *u, const int nb, float *z)
{
    int j = 0;

    if (nb == 1) {
        for (; j + 64 <= LSTM_G; j += 64)
            mm_tile(u, LSTM_K, 1, p->wx + j, LSTM_G, LSTM_K, p->b + j, z + j, LSTM_G, 8);
        if (j < LSTM_G)        /* G = 4H is a multiple of 32 */
            mm_tile(u, LSTM_K, 1, p->wx + j, LSTM_G, LSTM_K, p->b + j, z + j, LSTM_G, 4);
        return;
    }
    for (; j < LSTM_G; j += 16)
        mm_tile(u, LSTM_K, nb, p->wx + j, LSTM_G, LSTM_K, p->b + j, z + j, LSTM_G, 2);
}

/* y (nb, F) = bf + wf^T h for nb components, h (nb, H) */
AVX2_INL void forecast_avx2(const Params_f *p, const float *h, const int nb, float *y)
{
    const int nvec = LSTM_F / 8;
    int v = 0;

    for (; v + 2 <= nvec; v += 2)
        mm_tile(h, LSTM_H, nb, p->wf + 8 * v, LSTM_F, LSTM_H, p->bf + 8 * v, y + 8 * v, LSTM_F, 2);
    if (v < nvec)
        mm_tile(h, LSTM_H, nb, p->wf + 8 * v, LSTM_F, LSTM_H, p->bf + 8 * v, y + 8 * v, LSTM_F, 1);
}

AVX2_INL float logit_avx2(const Params_f *p, const float *h)
{
    __m256 a = _mm256_setzero_ps();
    __m128 q;

    for (int k = 0; k < LSTM_H; k += 8)
        a = _mm256_fmadd_ps(_mm256_loadu_ps(h + k), _mm256_loadu_ps(p->wp + k), a);
    q = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return p->bp[0] + _mm_cvtss_f32(q);
}

/* the activations of z (G) in place, then the new c and h into s. Each
 * activation is a chain of some 20 dependent instructions: the loops hand
 * the core several independent ones at a time (unrolled, and tanh(c) apart
 * from the gates it waits for). */
AVX2_INL void cell_avx2(float *z, LstmState *s)
{
#pragma GCC unroll 4
    for (int j = 0; j < 2 * LSTM_H; j += 8)
        _mm256_storeu_ps(z + j, sigmoid8(_mm256_loadu_ps(z + j)));
#pragma GCC unroll 4
    for (int j = 2 * LSTM_H; j < 3 * LSTM_H; j += 8)
        _mm256_storeu_ps(z + j, tanh8(_mm256_loadu_ps(z + j)));
#pragma GCC unroll 4
    for (int j = 3 * LSTM_H; j < 4 * LSTM_H; j += 8)
        _mm256_storeu_ps(z + j, sigmoid8(_mm256_loadu_ps(z + j)));
#pragma GCC unroll 4
    for (int j = 0; j < LSTM_H; j += 8) {
        __m256 c = _mm256_fmadd_ps(_mm256_loadu_ps(z + LSTM_H + j), _mm256_loadu_ps(s->c + j),
                                   _mm256_mul_ps(_mm256_loadu_ps(z + j),
                                                 _mm256_loadu_ps(z + 2 * LSTM_H + j)));
        _mm256_storeu_ps(s->c + j, c);
        _mm256_storeu_ps(s->h + j, _mm256_mul_ps(_mm256_loadu_ps(z + 3 * LSTM_H + j), tanh8(c)));
    }
}

/* nb components, s[b] with input x + b*F; outputs as lstm_step_batch */
AVX2_INL void step_tile(const Params_f *p, LstmState *const *s, const float *x, const int nb,
                        float *p_fail, float *forecast)
{
    _Alignas(32) float u[TILE_NB][LSTM_K], z[TILE_NB][LSTM_G], hb[TILE_NB][LSTM_H];

    for (int b = 0; b < nb; b++) {
        memcpy(u[b], x + b * LSTM_F, LSTM_F * sizeof(float));
        memcpy(u[b] + LSTM_F, s[b]->h, LSTM_H * sizeof(float));
    }
    gates_avx2(p, u[0], nb, z[0]);
    for (int b = 0; b < nb; b++)
        cell_avx2(z[b], s[b]);
    if (p_fail) {
        /* the tile's probabilities as one vector: a lane's result depends
         * on that lane alone, so the single step gets the same bits */
        float lg[8] = { 0 };
        for (int b = 0; b < nb; b++)
            lg[b] = logit_avx2(p, s[b]->h);
        _mm256_storeu_ps(lg, sigmoid8(_mm256_loadu_ps(lg)));
        for (int b = 0; b < nb; b++)
            p_fail[b] = lg[b];
    }
    if (forecast) {
        for (int b = 0; b < nb; b++)
            memcpy(hb[b], s[b]->h, sizeof(hb[b]));
        forecast_avx2(p, hb[0], nb, forecast);
    }
}

AVX2_FN static void step_avx2(const Lstm *m, LstmState *s, const float *x, float *p_fail,
                              float *forecast)
{
    step_tile(&m->p, &s, x, 1, p_fail, forecast);
}

AVX2_FN static void step_batch_avx2(const Lstm *m, LstmState *const *s, const float *x, int n,
                                    float *p_fail, float *forecast)
{
    int i = 0;

    for (; i + TILE_NB <= n; i += TILE_NB)
        step_tile(&m->p, s + i, x + (size_t)i * LSTM_F, TILE_NB, p_fail ? p_fail + i : NULL,
                  forecast ? forecast + (size_t)i * LSTM_F : NULL);
    for (; i < n; i++)
        step_tile(&m->p, s + i, x + (size_t)i * LSTM_F, 1, p_fail ? p_fail + i : NULL,
                  forecast ? forecast + (size_t)i * LSTM_F : NULL);
}
#endif

/* ---- dispatch ---------------------------------------------------------------- */

static const char *const simd_names[LSTM_SIMD_NB] = { "baseline", "avx2" };

/* the path in use, -1 until the first step chooses it */
static atomic_int simd_path = -1;

int lstm_simd_available(LstmSimd s)
{
    switch (s) {
    case LSTM_SIMD_BASELINE:
        return 1;
    case LSTM_SIMD_AVX2:
#ifdef LSTM_HAVE_AVX2
        /* libgcc also checks that the OS saves the AVX registers */
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
        return 0;
#endif
    default:
        return 0;
    }
}

const char *lstm_simd_name(LstmSimd s)
{
    return (unsigned)s < LSTM_SIMD_NB ? simd_names[s] : NULL;
}

static LstmSimd simd_best(void)
{
    return lstm_simd_available(LSTM_SIMD_AVX2) ? LSTM_SIMD_AVX2 : LSTM_SIMD_BASELINE;
}

int lstm_simd_parse(const char *name, LstmSimd *s)
{
    if (!strcmp(name, "auto")) {
        *s = simd_best();
        return 0;
    }
    for (int i = 0; i < LSTM_SIMD_NB; i++)
        if (!strcmp(name, simd_names[i])) {
            *s = (LstmSimd)i;
            return 0;
        }
    return AVERROR(EINVAL);
}

/* HOTSPARE_SIMD's path when this CPU can run it, else the best one */
static LstmSimd simd_from_env(void)
{
    const char *env = getenv("HOTSPARE_SIMD");
    LstmSimd s;

    if (!env || !*env)
        return simd_best();
    if (lstm_simd_parse(env, &s) < 0) {
        av_log(NULL, AV_LOG_WARNING, "lstm: HOTSPARE_SIMD=%s is not a path (baseline, avx2, "
               "auto); using auto\n", env);
        return simd_best();
    }
    if (!lstm_simd_available(s)) {
        av_log(NULL, AV_LOG_WARNING, "lstm: HOTSPARE_SIMD=%s: this CPU or build cannot run it; "
               "using auto\n", env);
        return simd_best();
    }
    return s;
}

LstmSimd lstm_simd(void)
{
    int s = atomic_load_explicit(&simd_path, memory_order_relaxed);

    if (s < 0) {
        /* threads racing here compute the same value */
        s = simd_from_env();
        atomic_store_explicit(&simd_path, s, memory_order_relaxed);
    }
    return (LstmSimd)s;
}

int lstm_simd_set(LstmSimd s)
{
    if (!lstm_simd_available(s))
        return AVERROR(ENOSYS);
    atomic_store(&simd_path, (int)s);
    return 0;
}

void lstm_step(const Lstm *m, LstmState *s, const float *x, float *p_fail, float *forecast)
{
#ifdef LSTM_HAVE_AVX2
    if (lstm_simd() == LSTM_SIMD_AVX2) {
        step_avx2(m, s, x, p_fail, forecast);
        return;
    }
#endif
    step_baseline(m, s, x, p_fail, forecast);
}

void lstm_step_batch(const Lstm *m, LstmState *const *s, const float *x, int n,
                     float *p_fail, float *forecast)
{
#ifdef LSTM_HAVE_AVX2
    if (lstm_simd() == LSTM_SIMD_AVX2) {
        step_batch_avx2(m, s, x, n, p_fail, forecast);
        return;
    }
#endif
    for (int i = 0; i < n; i++)
        step_baseline(m, s[i], x + (size_t)i * LSTM_F, p_fail ? p_fail + i : NULL,
                      forecast ? forecast + (size_t)i * LSTM_F : NULL);
}

/* forward (+ backward into m->g when grad) over a batch; returns 0 or EINVAL */
static int run_batch(Lstm *m, const LstmHyper *hp, const float *x, const float *label,
                     const LstmState *s0, int B, int T, int grad, LstmLoss *loss)
{
    LstmLoss l = { 0 };

    if (B < 1 || T < 1 || T > LSTM_T_MAX || !x)
        return AVERROR(EINVAL);
    if (grad)
        memset(m->g.wx, 0, LSTM_NUM_PARAMS * sizeof(float));
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * (T + 1) * LSTM_F;
        const float *lb = label ? label + (size_t)b * T : NULL;
        double lf, lc;

        l.total += seq_forward_f(&m->p, hp, xb, lb, s0 ? s0[b].h : NULL, s0 ? s0[b].c : NULL,
                                 T, m->acts, &lf, &lc) / B;
        l.fail += lf / B;
        l.fc += lc / B;
        if (grad)
            seq_backward_f(&m->p, &m->g, hp, xb, lb, T, m->acts, 1.0 / B);
    }
    if (loss)
        *loss = l;
    return 0;
}

int lstm_train(Lstm *m, const LstmHyper *hp, const float *x, const float *label,
               const LstmState *s0, int B, int T, LstmLoss *loss)
{
    float *restrict p = m->p.wx, *restrict g = m->g.wx, *restrict mm = m->m.wx, *restrict v = m->v.wx;
    double norm2 = 0;
    float scale = 1.0f, bc1, bc2;
    int ret;

    if ((ret = run_batch(m, hp, x, label, s0, B, T, 1, loss)) < 0)
        return ret;
    for (int i = 0; i < LSTM_NUM_PARAMS; i++)
        norm2 += (double)g[i] * g[i];
    if (loss)
        loss->grad_norm = sqrt(norm2);
    if (hp->clip > 0 && sqrt(norm2) > hp->clip)
        scale = hp->clip / sqrt(norm2);
    m->t++;
    bc1 = 1.0f - powf(hp->beta1, (float)m->t);
    bc2 = 1.0f - powf(hp->beta2, (float)m->t);
    for (int i = 0; i < LSTM_NUM_PARAMS; i++) {
        float gi = g[i] * scale;
        mm[i] = hp->beta1 * mm[i] + (1 - hp->beta1) * gi;
        v[i] = hp->beta2 * v[i] + (1 - hp->beta2) * gi * gi;
        p[i] -= hp->lr * ((mm[i] / bc1) / (sqrtf(v[i] / bc2) + hp->eps) + hp->weight_decay * p[i]);
    }
    return 0;
}

/* ---- double twin ---------------------------------------------------------------- */

double lstm_loss_grad_double(const double *params, const LstmHyper *hp, const double *x,
                             const double *label, int T, double *grad)
{
    Params_d p, g;
    Acts_d *a;
    double lf, lc, loss;

    if (T < 1 || T > LSTM_T_MAX || !(a = av_mallocz(sizeof(*a))))
        return NAN;
    /* the template never writes through p */
    carve_d((double *)params, &p);
    carve_d(grad, &g);
    memset(grad, 0, LSTM_NUM_PARAMS * sizeof(double));
    loss = seq_forward_d(&p, hp, x, label, NULL, NULL, T, a, &lf, &lc);
    seq_backward_d(&p, &g, hp, x, label, T, a, 1.0);
    av_free(a);
    return loss;
}
