/*
 * lstm.c: the fixed-size LSTM (see lstm.h): parameter block, seeded
 * initialisation, the per-component step, training (BPTT, clipping, Adam)
 * and the double-precision twin for the gradient check.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "pfm/lstm.h"

/* the step's loops take inputs four at a time and gates in whole vectors */
_Static_assert(LSTM_F % 4 == 0 && LSTM_H % 4 == 0, "F and H must be multiples of 4");
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

void lstm_step(const Lstm *m, LstmState *s, const float *x, float *p_fail, float *forecast)
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
