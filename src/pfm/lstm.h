/*
 * lstm.h: the fixed-size LSTM of hotspare's failure prediction (PFM), in the
 * manner of llm.c: sizes are compile-time constants, parameters live in one
 * block carved into named tensors (gradients and Adam moments reuse the
 * layout), activations are allocated once, and no function below allocates
 * once the model exists.
 *
 * Sizes (why these):
 *   LSTM_F = 16 inputs per tick: a component's health vector (rates, queue
 *            depths, latency, errors, CPU/GPU load, ...) fits, and the same
 *            width serves a univariate series expanded into features.
 *   LSTM_H = 32 hidden units: the recurrent and input weights are
 *            4H(F+H) = 6144 floats (24 KiB), which stay in L1 while one tick
 *            steps every component through the same model; each component's
 *            state is 2H floats (256 bytes).
 *   LSTM_LAYERS = 1: the inputs are engineered features already; a second
 *            layer would double the cost of every tick for little on
 *            series this short.
 *   LSTM_T_MAX = 64: the longest BPTT window training accepts.
 *
 * Model, per tick t (x: F inputs, h, c: H):
 *   z = b + Wx^T x + Wh^T h[t-1], split into gates i, f, g, o (H each)
 *   i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_g), o = sigmoid(z_o)
 *   c[t] = f c[t-1] + i g,  h[t] = o tanh(c[t])
 * Two heads read h[t]:
 *   failure:  p = sigmoid(wp . h + bp), P(this component fails within the
 *             horizon), trained with a weighted binary cross-entropy
 *             (pos_weight for the rare positive class);
 *   forecast: y = Wf^T h + bf, a forecast of the next input x[t+1],
 *             trained with a (per-feature weighted) squared error.
 *
 * Parameter order (the model file stores them in this order, float32 LE):
 *   wx (F, 4H)  input weights: row k holds input k's weights to the gates,
 *               columns [i(H) f(H) g(H) o(H)]
 *   wh (H, 4H)  recurrent weights, same columns
 *   b  (4H)     gate biases (the forget gate's start at 1)
 *   wp (H)      failure head weights
 *   bp (1)      failure head bias
 *   wf (H, F)   forecast head weights: row j is hidden unit j's weights
 *   bf (F)      forecast head bias
 * Weights are stored input-major so that the step's loops are axpy over the
 * 4H gate outputs: contiguous, and vectorised by gcc at -O2 without
 * reassociating float sums. wx and wh follow each other, so together they
 * are one (F+H, 4H) matrix applied to the input [x h].
 *
 * F and H must be multiples of 8 (checked at compile time): the AVX2 path
 * works on whole 8-float vectors of the gates, of h and of the forecast.
 *
 * Two implementations of the step (lstm_step, lstm_step_batch), chosen once,
 * at the first step (see lstm_simd()):
 *   baseline  the portable C of lstm_tmpl.h, compiled for what the binary
 *             targets (SSE2 on x86-64, plain C elsewhere): separate
 *             multiplies and adds, in a fixed order;
 *   avx2      x86 only, when the CPU has AVX2 and FMA: the gate product as
 *             a register-tiled matrix product with fused multiply-adds,
 *             several components at once in lstm_step_batch.
 * The two differ only in rounding: FMA rounds a*b+c once, the sums run in
 * another order, the AVX2 activations use a cheaper exponential (relative
 * error 6e-7 against 2e-7) and a reciprocal estimate refined by one Newton
 * step. Bound, checked by tests/unit/lstm_test.c over LSTM_SIMD_BOUND_STEPS
 * steps of inputs in [-2, 2], on the seeded model and on one with 2.5x its
 * weights (gates far from their linear range): every output (p_fail,
 * forecast) and the state (h, c) of the two paths agree within
 * LSTM_SIMD_BOUND x max(1, |value|) (p is in (0,1) and |h| < 1: absolute;
 * c may grow: relative). Why it holds: one step's difference is a few ulp
 * of the 48-term gate sums and of the activations (~1e-7 of |z|), and the
 * cell does not compound it: the carried c is scaled by f < 1, the
 * activations' slopes are <= 1, so each step's difference is mostly that
 * step's rounding, and the worst over a run grows only as the largest of
 * many small draws. Measured (avx2 on an AMD EPYC): seeded model 8e-7,
 * 2.5x weights 5e-6 after 2,000 steps and 8e-6 after 20,000, the shipped
 * models/default.hsm 2e-6 after 20,000 (p_fail 2e-7); F = 24 or 32 alike.
 * The bound, 2e-5, leaves room for other compilers and CPUs. It holds for
 * a model whose state does not hinge on rounding: with H = 40 the 2.5x
 * model turns chaotic and the paths drift to 7e-5 within 600 steps, as
 * any two float builds would (a model like that predicts nothing).
 * Within a path, lstm_step_batch gives bit for bit what lstm_step gives.
 */
#ifndef HS_LSTM_H
#define HS_LSTM_H

#include <stddef.h>
#include <stdint.h>

#define LSTM_F       24
#define LSTM_H       32
#define LSTM_LAYERS  1
#define LSTM_T_MAX   64
#define LSTM_G       (4 * LSTM_H)          /* gate rows */

#define LSTM_NUM_PARAMS (LSTM_F * LSTM_G + LSTM_H * LSTM_G + LSTM_G + \
                         LSTM_H + 1 + LSTM_H * LSTM_F + LSTM_F)

/* One tensor of the parameter block, in file order. */
typedef struct LstmTensorInfo {
    const char *name;
    int rows, cols;                        /* cols = 1 for vectors */
} LstmTensorInfo;
#define LSTM_NB_TENSORS 7
extern const LstmTensorInfo lstm_tensors[LSTM_NB_TENSORS];

/* A component's recurrent state, kept by the caller, one per component. */
typedef struct LstmState {
    float h[LSTM_H];
    float c[LSTM_H];
} LstmState;

/* Training settings. lstm_hyper_default() fills sensible values. */
typedef struct LstmHyper {
    float lr;                  /* Adam step size */
    float beta1, beta2, eps;   /* Adam moments */
    float weight_decay;        /* decoupled (AdamW), 0 = none */
    float clip;                /* global gradient norm clip, 0 = none */
    float w_fail;              /* weight of the failure loss */
    float pos_weight;          /* BCE weight of positive labels (imbalance) */
    float w_fc;                /* weight of the forecast loss */
    float fc_mask[LSTM_F];     /* per-feature weight of the forecast error */
} LstmHyper;

void lstm_hyper_default(LstmHyper *hp);

/* Loss parts of the last training call (means over the batch). */
typedef struct LstmLoss {
    double total, fail, fc;
    double grad_norm;          /* before clipping */
} LstmLoss;

typedef struct Lstm Lstm;

/* Allocates a model initialised from seed (deterministic). Returns 0 or
 * AVERROR(ENOMEM). */
int lstm_alloc(Lstm **pm, uint64_t seed);
/* Frees *pm (NULL is fine) and sets it to NULL. */
void lstm_free(Lstm **pm);

/* Re-initialises the parameters from seed and clears the Adam state. */
void lstm_init(Lstm *m, uint64_t seed);

/* The parameter block (LSTM_NUM_PARAMS floats in the order above). Writing
 * it is how a model file is loaded; lstm_reset_optimizer() then. */
float *lstm_params(Lstm *m);
const float *lstm_params_const(const Lstm *m);
void lstm_reset_optimizer(Lstm *m);

/* Zeroes a state (the start of a component's life). */
void lstm_state_reset(LstmState *s);

/*
 * One tick of one component: advances s with input x (F) and writes the
 * failure probability (*p_fail) and the forecast of the next input (F
 * floats); either output may be NULL. No allocation, no locking: steps of
 * different components may run in parallel on the same model.
 */
void lstm_step(const Lstm *m, LstmState *s, const float *x, float *p_fail, float *forecast);

/*
 * One training step on B windows of T steps (1 <= T <= LSTM_T_MAX):
 *   x      (B, T+1, F): inputs; row t+1 is also the forecast target of step t
 *   label  (B, T) or NULL: 1 = the component failed within the horizon after
 *          step t, 0 = it did not, < 0 = unknown (no failure loss there)
 *   s0     (B) or NULL: the state before each window's first step (zeros when
 *          NULL), so that a window can continue a stream
 * Forward, backward through time (truncated at the window), gradient
 * clipping, one Adam update. loss (may be NULL) gets the loss before the
 * update. Returns 0 or AVERROR(EINVAL) for sizes out of range.
 */
int lstm_train(Lstm *m, const LstmHyper *hp, const float *x, const float *label,
               const LstmState *s0, int B, int T, LstmLoss *loss);

/*
 * The same math in double precision on a caller's parameter block, for the
 * gradient check: the loss of one window and its gradient with respect to
 * every parameter (grad: LSTM_NUM_PARAMS doubles, overwritten). The float
 * code and this one are one source (lstm_tmpl.h) compiled twice; only the
 * activation functions differ (libm here, vectorisable ones in float).
 * A test helper: it allocates its activations on every call and returns NAN
 * when that fails or T is out of range.
 */
double lstm_loss_grad_double(const double *params, const LstmHyper *hp, const double *x,
                             const double *label, int T, double *grad);

/* ---- SIMD dispatch -------------------------------------------------------- */

typedef enum LstmSimd {
    LSTM_SIMD_BASELINE,        /* portable C, as compiled */
    LSTM_SIMD_AVX2,            /* x86 AVX2 + FMA */
    LSTM_SIMD_NB
} LstmSimd;

#define LSTM_SIMD_BOUND        2e-5
#define LSTM_SIMD_BOUND_STEPS  2000

/*
 * The path the step runs. Chosen at the first call: the environment variable
 * HOTSPARE_SIMD (baseline, avx2 or auto; unset is auto, a path the CPU lacks
 * or an unknown name is auto with a warning), auto being the fastest path
 * the CPU has. Thread-safe.
 */
LstmSimd lstm_simd(void);
/* "baseline", "avx2"; NULL for an unknown value */
const char *lstm_simd_name(LstmSimd s);
/* The path named name ("baseline", "avx2", "auto": the best available) into
 * *s; AVERROR(EINVAL) for another name. */
int lstm_simd_parse(const char *name, LstmSimd *s);
/* 1 when this build and this CPU can run s */
int lstm_simd_available(LstmSimd s);
/* Forces a path (tests, benchmarks): returns 0 or AVERROR(ENOSYS) when it is
 * not available (the path in use is kept). Not to be called while other
 * threads step. */
int lstm_simd_set(LstmSimd s);

/*
 * One tick of n components at once: s[i] (n pointers to the components'
 * states, each advanced), x (n, F) their inputs; p_fail (n) and forecast
 * (n, F) get what lstm_step would give each, either may be NULL. The same
 * results as n calls of lstm_step, bit for bit, faster: the AVX2 path loads
 * each weight once for several components. No allocation.
 */
void lstm_step_batch(const Lstm *m, LstmState *const *s, const float *x, int n,
                     float *p_fail, float *forecast);

#endif
