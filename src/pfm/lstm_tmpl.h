/*
 * lstm_tmpl.h: the LSTM's math, written once and compiled twice by lstm.c:
 * in float for the supervisor and in double for the gradient check. Not a
 * public header; include only from lstm.c.
 *
 * Before including, lstm.c defines:
 *   REAL            float or double
 *   SFX(name)       the name with a type suffix (name##_f, name##_d)
 *   SIGMOID_N(v, n) in place, v[0..n)
 *   TANH_N(v, n)    in place, v[0..n)
 *
 * Shapes in the comments: F inputs, H hidden, G = 4H gate rows, T steps.
 * Backward functions accumulate (+=) into the gradient tensors; nothing here
 * allocates.
 */

/* The named tensors of one parameter block (or of its gradient). */
typedef struct SFX(Params) {
    REAL *wx;    /* (F, G) */
    REAL *wh;    /* (H, G) */
    REAL *b;     /* (G) */
    REAL *wp;    /* (H) */
    REAL *bp;    /* (1) */
    REAL *wf;    /* (H, F) */
    REAL *bf;    /* (F) */
} SFX(Params);

/* Activations of one window, kept for backward. */
typedef struct SFX(Acts) {
    REAL h[LSTM_T_MAX + 1][LSTM_H];     /* h[0] = initial state */
    REAL c[LSTM_T_MAX + 1][LSTM_H];
    REAL gate[LSTM_T_MAX][LSTM_G];      /* after their nonlinearity */
    REAL tc[LSTM_T_MAX][LSTM_H];        /* tanh(c[t+1]) */
    REAL logit[LSTM_T_MAX];
    REAL yhat[LSTM_T_MAX][LSTM_F];
} SFX(Acts);

static void SFX(carve)(REAL *block, SFX(Params) *p)
{
    p->wx = block;
    p->wh = p->wx + LSTM_F * LSTM_G;
    p->b  = p->wh + LSTM_H * LSTM_G;
    p->wp = p->b  + LSTM_G;
    p->bp = p->wp + LSTM_H;
    p->wf = p->bp + 1;
    p->bf = p->wf + LSTM_H * LSTM_F;
}

/*
 * One cell step: x (F), h_prev, c_prev (H) -> gate (G, activated), c, tc, h (H).
 * The loops run over the G gate outputs with a scalar input each: gcc
 * vectorises them at -O2 without reordering any sum.
 */
static void SFX(cell_forward)(const SFX(Params) *p, const REAL *restrict x,
                              const REAL *restrict h_prev, const REAL *restrict c_prev,
                              REAL *restrict gate, REAL *restrict c, REAL *restrict tc,
                              REAL *restrict h)
{
    REAL z[LSTM_G];

    /* four inputs per pass over z: a quarter of the loads and stores of
     * the sums, which bound this loop at -O2 (F and H are multiples of 4) */
    for (int j = 0; j < LSTM_G; j++)
        z[j] = p->b[j];
    for (int k = 0; k < LSTM_F; k += 4) {
        const REAL x0 = x[k], x1 = x[k + 1], x2 = x[k + 2], x3 = x[k + 3];
        const REAL *restrict w = p->wx + k * LSTM_G;
        for (int j = 0; j < LSTM_G; j++)
            z[j] += (x0 * w[j] + x1 * w[LSTM_G + j]) + (x2 * w[2 * LSTM_G + j] + x3 * w[3 * LSTM_G + j]);
    }
    for (int k = 0; k < LSTM_H; k += 4) {
        const REAL h0 = h_prev[k], h1 = h_prev[k + 1], h2 = h_prev[k + 2], h3 = h_prev[k + 3];
        const REAL *restrict w = p->wh + k * LSTM_G;
        for (int j = 0; j < LSTM_G; j++)
            z[j] += (h0 * w[j] + h1 * w[LSTM_G + j]) + (h2 * w[2 * LSTM_G + j] + h3 * w[3 * LSTM_G + j]);
    }
    /* i, f: sigmoid; g: tanh; o: sigmoid */
    SIGMOID_N(z, 2 * LSTM_H);
    TANH_N(z + 2 * LSTM_H, LSTM_H);
    SIGMOID_N(z + 3 * LSTM_H, LSTM_H);
    for (int j = 0; j < LSTM_H; j++)
        c[j] = z[LSTM_H + j] * c_prev[j] + z[j] * z[2 * LSTM_H + j];
    for (int j = 0; j < LSTM_H; j++)
        tc[j] = c[j];
    TANH_N(tc, LSTM_H);
    for (int j = 0; j < LSTM_H; j++)
        h[j] = z[3 * LSTM_H + j] * tc[j];
    for (int j = 0; j < LSTM_G; j++)
        gate[j] = z[j];
}

/* Heads: h (H) -> logit of the failure probability, yhat (F). */
static void SFX(heads_forward)(const SFX(Params) *p, const REAL *restrict h,
                               REAL *logit, REAL *restrict yhat)
{
    REAL a[4] = { 0, 0, 0, 0 };

    /* four partial sums: a serial chain of H dependent adds is slow */
    for (int k = 0; k < LSTM_H; k += 4)
        for (int i = 0; i < 4; i++)
            a[i] += p->wp[k + i] * h[k + i];
    *logit = p->bp[0] + ((a[0] + a[1]) + (a[2] + a[3]));
    for (int j = 0; j < LSTM_F; j++)
        yhat[j] = p->bf[j];
    for (int k = 0; k < LSTM_H; k++) {
        const REAL hk = h[k], *restrict w = p->wf + k * LSTM_F;
        for (int j = 0; j < LSTM_F; j++)
            yhat[j] += hk * w[j];
    }
}

/* log(1 + e^a) without overflow */
static double SFX(softplus)(double a)
{
    return (a > 0 ? a : 0) + log1p(exp(-fabs(a)));
}

/*
 * Forward over one window: x (T+1, F), label (T) or NULL, initial h0, c0 (H)
 * or NULL (zeros). Fills a and returns the window's loss; *l_fail and *l_fc
 * get its parts. The loss is
 *   w_fail * mean over labelled steps of  -(pw y log p + (1-y) log(1-p))
 * + w_fc   * mean over steps of  sum_k m_k (yhat_k - x[t+1]_k)^2 / sum_k m_k
 */
static double SFX(seq_forward)(const SFX(Params) *p, const LstmHyper *hp, const REAL *x,
                               const REAL *label, const REAL *h0, const REAL *c0, int T,
                               SFX(Acts) *a, double *l_fail, double *l_fc)
{
    double lf = 0, lc = 0, msum = 0;
    int nlab = 0;

    for (int j = 0; j < LSTM_H; j++) {
        a->h[0][j] = h0 ? h0[j] : 0;
        a->c[0][j] = c0 ? c0[j] : 0;
    }
    for (int k = 0; k < LSTM_F; k++)
        msum += hp->fc_mask[k];
    for (int t = 0; t < T; t++) {
        const REAL *xt = x + t * LSTM_F, *next = xt + LSTM_F;

        SFX(cell_forward)(p, xt, a->h[t], a->c[t], a->gate[t], a->c[t + 1], a->tc[t], a->h[t + 1]);
        SFX(heads_forward)(p, a->h[t + 1], &a->logit[t], a->yhat[t]);
        if (label && label[t] >= 0) {
            double y = label[t], z = a->logit[t];
            /* -log p = softplus(-z), -log(1-p) = softplus(z) */
            lf += hp->pos_weight * y * SFX(softplus)(-z) + (1 - y) * SFX(softplus)(z);
            nlab++;
        }
        if (msum > 0) {
            double e = 0;
            for (int k = 0; k < LSTM_F; k++) {
                double d = a->yhat[t][k] - next[k];
                e += hp->fc_mask[k] * d * d;
            }
            lc += e / msum;
        }
    }
    *l_fail = nlab ? hp->w_fail * lf / nlab : 0;
    *l_fc = hp->w_fc * lc / T;
    return *l_fail + *l_fc;
}

/*
 * Backward over the window that seq_forward filled a with; accumulates into
 * g, the loss scaled by scale (1/B for a batch mean).
 */
static void SFX(seq_backward)(const SFX(Params) *p, SFX(Params) *g, const LstmHyper *hp,
                              const REAL *x, const REAL *label, int T, const SFX(Acts) *a,
                              double scale)
{
    REAL dh[LSTM_H], dc[LSTM_H], dz[LSTM_G], dy[LSTM_F];
    double msum = 0, fc_scale;
    int nlab = 0;

    for (int k = 0; k < LSTM_F; k++)
        msum += hp->fc_mask[k];
    if (label)
        for (int t = 0; t < T; t++)
            nlab += label[t] >= 0;
    fc_scale = msum > 0 ? scale * hp->w_fc / T * 2.0 / msum : 0;
    for (int j = 0; j < LSTM_H; j++)
        dh[j] = dc[j] = 0;

    for (int t = T - 1; t >= 0; t--) {
        const REAL *xt = x + t * LSTM_F, *next = xt + LSTM_F;
        const REAL *h = a->h[t + 1], *h_prev = a->h[t], *c_prev = a->c[t];
        const REAL *ig = a->gate[t], *fg = ig + LSTM_H, *gg = ig + 2 * LSTM_H, *og = ig + 3 * LSTM_H;
        const REAL *tc = a->tc[t];
        REAL da = 0;

        /* failure head */
        if (label && label[t] >= 0) {
            double y = label[t], pr = 1.0 / (1.0 + exp(-(double)a->logit[t]));
            /* d/dz of pw y softplus(-z) + (1-y) softplus(z) */
            da = scale * hp->w_fail / nlab * (-hp->pos_weight * y * (1 - pr) + (1 - y) * pr);
        }
        g->bp[0] += da;
        for (int k = 0; k < LSTM_H; k++) {
            g->wp[k] += da * h[k];
            dh[k] += da * p->wp[k];
        }
        /* forecast head */
        for (int k = 0; k < LSTM_F; k++)
            dy[k] = fc_scale * hp->fc_mask[k] * (a->yhat[t][k] - next[k]);
        for (int k = 0; k < LSTM_F; k++)
            g->bf[k] += dy[k];
        for (int j = 0; j < LSTM_H; j++) {
            REAL *restrict gw = g->wf + j * LSTM_F;
            const REAL *restrict w = p->wf + j * LSTM_F;
            REAL s = 0;
            for (int k = 0; k < LSTM_F; k++) {
                gw[k] += h[j] * dy[k];
                s += w[k] * dy[k];
            }
            dh[j] += s;
        }
        /* cell: h = o tanh(c), c = f c_prev + i g */
        for (int j = 0; j < LSTM_H; j++) {
            REAL dcj = dc[j] + dh[j] * og[j] * (1 - tc[j] * tc[j]);
            dz[j]              = dcj * gg[j] * ig[j] * (1 - ig[j]);
            dz[LSTM_H + j]     = dcj * c_prev[j] * fg[j] * (1 - fg[j]);
            dz[2 * LSTM_H + j] = dcj * ig[j] * (1 - gg[j] * gg[j]);
            dz[3 * LSTM_H + j] = dh[j] * tc[j] * og[j] * (1 - og[j]);
            dc[j] = dcj * fg[j];
        }
        for (int j = 0; j < LSTM_G; j++)
            g->b[j] += dz[j];
        for (int k = 0; k < LSTM_F; k++) {
            const REAL xk = xt[k];
            REAL *restrict gw = g->wx + k * LSTM_G;
            for (int j = 0; j < LSTM_G; j++)
                gw[j] += xk * dz[j];
        }
        for (int k = 0; k < LSTM_H; k++) {
            const REAL hk = h_prev[k], *restrict w = p->wh + k * LSTM_G;
            REAL *restrict gw = g->wh + k * LSTM_G;
            REAL s = 0;
            for (int j = 0; j < LSTM_G; j++) {
                gw[j] += hk * dz[j];
                s += w[j] * dz[j];
            }
            dh[k] = s;          /* flows into step t-1 */
        }
    }
}
