/* Body of the fused per-sample kernels, included by _fused.c once per dtype with
 * REAL (float or double), SFX (_f32 or _f64), FN_LANES, and EXP / LOG / TANH. */
#define FN_CAT_(a, b) a##b
#define FN_CAT(a, b) FN_CAT_(a, b)
#define FN(name) FN_CAT(name, SFX)

/* sum_c a[c] b[c]: FN_LANES partial sums over the full blocks, combined as a fixed
 * tree, then the tail added in order. Every index is a constant or a loop counter,
 * so the partial sums stay in vector registers. */
FN_INLINE REAL FN(dot)(const REAL *restrict a, const REAL *restrict b, Py_ssize_t n)
{
    REAL acc[FN_LANES], tail = 0;
    Py_ssize_t c = 0, k;
    if (n < FN_LANES) {
        for (; c < n; c++)
            tail += a[c] * b[c];
        return tail;
    }
    for (k = 0; k < FN_LANES; k++)
        acc[k] = a[k] * b[k];
    for (c = FN_LANES; c + FN_LANES <= n; c += FN_LANES)
        for (k = 0; k < FN_LANES; k++)
            acc[k] += a[c + k] * b[c + k];
    for (; c < n; c++)
        tail += a[c] * b[c];
#if FN_LANES == 16
    for (k = 0; k < 8; k++)
        acc[k] += acc[k + 8];
#endif
    for (k = 0; k < 4; k++)
        acc[k] += acc[k + 4];
    for (k = 0; k < 2; k++)
        acc[k] += acc[k + 2];
    return (acc[0] + acc[1]) + tail;
}

/* expm1(u) = exp(u) - 1 for 0 <= u <= 2 * FN_TANH_SAT, in a form the compiler can
 * vectorise (libm's is a call per element), without cancellation near 0:
 *   u = n ln2 + r, |r| <= ln2 / 2 (Cody-Waite split of ln2: n * LN2_HI is exact)
 *   expm1(u) = 2^n expm1(r) + (2^n - 1)
 * with expm1(r) = r (1 + r/2! + r^2/3! + ...) to the degree where the remainder is
 * below half an ulp, and 2^n built exactly from its exponent bits. For u < ln2 / 2,
 * n = 0 and the result is the series itself. One formula, no branch. */
FN_INLINE REAL FN(expm1_pos)(REAL u)
{
    /* n = round(u log2 e) without a float-to-int conversion (which the compiler
     * will not vectorise here): adding 1.5 * 2^(mantissa bits) rounds to an integer,
     * which is then also the low bits of the sum. */
    const REAL t = u * FN_LOG2E + FN_SHIFTER;
    const REAL n = t - FN_SHIFTER;
    const REAL r = (u - n * FN_LN2_HI) - n * FN_LN2_LO;
    const REAL p2 = FN_POW2_OF_SHIFTED(t);
    REAL q = (REAL)FN_INV_FACT[FN_EXPM1_DEGREE];
    int k;
#pragma GCC unroll 20
    for (k = FN_EXPM1_DEGREE - 1; k >= 1; k--)   /* Horner, unrolled: no control flow */
        q = q * r + (REAL)FN_INV_FACT[k];
    q = q * r;
    return p2 * q + (p2 - 1);
}

/* tanh(x) = expm1(2|x|) / (expm1(2|x|) + 2), with the sign of x: a few ulp from the
 * correctly rounded value everywhere (the tests measure it against numpy.tanh). */
FN_INLINE REAL FN(tanh_vec)(REAL x)
{
    const REAL a = x < 0 ? -x : x;
    const REAL em1 = FN(expm1_pos)(2 * (a < FN_TANH_SAT ? a : FN_TANH_SAT));
    const REAL t = em1 / (em1 + 2);
    return x < 0 ? -t : t;
}

FN_INLINE void FN(activation_forward)(int code, REAL *restrict h, Py_ssize_t m)
{
    Py_ssize_t i;
    REAL e;
    if (code == ACT_RELU) {
        for (i = 0; i < m; i++)
            h[i] = h[i] > 0 ? h[i] : 0;
    } else if (code == ACT_TANH) {
        for (i = 0; i < m; i++)
            h[i] = FN(tanh_vec)(h[i]);
    } else {
        for (i = 0; i < m; i++) {
            /* the branch whose exp cannot overflow, as in the Cython kernel */
            if (h[i] >= 0) {
                e = EXP(-h[i]);
                h[i] = 1 / (1 + e);
            } else {
                e = EXP(h[i]);
                h[i] = e / (1 + e);
            }
        }
    }
}

/* dz *= g'(z), written from the saved output h = g(z). */
FN_INLINE void FN(activation_backward)(int code, REAL *restrict dz,
                                           const REAL *restrict h, Py_ssize_t m)
{
    Py_ssize_t i;
    if (code == ACT_RELU) {
        for (i = 0; i < m; i++)
            dz[i] = h[i] > 0 ? dz[i] : 0;
    } else if (code == ACT_TANH) {
        for (i = 0; i < m; i++)
            dz[i] = dz[i] * (1 - h[i] * h[i]);
    } else {
        for (i = 0; i < m; i++)
            dz[i] = dz[i] * (h[i] * (1 - h[i]));
    }
}

/* Forward pass of one row; leaves the output layer as logits (softmax) or outputs. */
FN_INLINE void FN(forward_one)(const fn_layout *net, const REAL *params, REAL *acts,
                                   const REAL *x)
{
    Py_ssize_t l, j, L = net->n_layers;
    for (l = 0; l < L; l++) {
        const Py_ssize_t d = net->sizes[l], h = net->sizes[l + 1];
        const REAL *in = l == 0 ? x : acts + net->cum[l];
        const REAL *W = params + net->w_off[l], *b = params + net->b_off[l];
        REAL *out = acts + net->cum[l + 1];
        if (d == 1) {
            /* one input: a column of weights, vectorised across rows (dot(w, x) of
             * length 1 is exactly w * x) */
            const REAL x0 = in[0];
            for (j = 0; j < h; j++)
                out[j] = W[j] * x0 + b[j];
        } else {
            for (j = 0; j < h; j++)
                out[j] = FN(dot)(W + j * d, in, d) + b[j];
        }
        if (l < L - 1)
            FN(activation_forward)(net->act[l], out, h);
    }
}

/* In place: logits z (k) -> probabilities; returns -log p_label, computed stably. */
FN_INLINE REAL FN(softmax_xent)(REAL *z, Py_ssize_t k, Py_ssize_t label)
{
    Py_ssize_t j;
    REAL mx = z[0], s = 0, z_label;
    for (j = 1; j < k; j++)
        if (z[j] > mx)
            mx = z[j];
    z_label = z[label] - mx;
    for (j = 0; j < k; j++) {
        z[j] = EXP(z[j] - mx);
        s += z[j];
    }
    for (j = 0; j < k; j++)
        z[j] = z[j] / s;
    return LOG(s) - z_label;
}

/* The SGD step of one weight w with gradient g_in (+ l2 w): plain, or momentum. */
#define FN_STEP(w, v, g_in)                                   \
    do {                                                      \
        REAL gw_ = (g_in);                                    \
        if (has_l2)                                           \
            gw_ = gw_ + l2 * (w);                             \
        if (has_momentum) {                                   \
            (v) = mu * (v) - eta * gw_;                       \
            (w) = (w) + (v);                                  \
        } else {                                              \
            (w) = (w) - eta * gw_;                            \
        }                                                     \
    } while (0)

/* Backward and SGD step of one dense layer, fused into one pass over W (h, d):
 *   dx[c] = sum_j g[j] W[j, c]   with the OLD weights (dx may be NULL)
 *   W[j, c] -= eta * (g[j] in[c] (+ l2 W[j, c]))   or the momentum form
 * Rows go four at a time: each group adds its four contributions into dx at once
 * (a quarter of the dx loads and stores) and is then updated, so W is read once.
 * has_l2 / has_momentum are constants at each call site, so each variant compiles
 * to a branch-free vector loop. */
FN_INLINE void FN(dense_step)(REAL *restrict W, REAL *restrict V, REAL *restrict dx,
                              const REAL *restrict in, const REAL *restrict g,
                              REAL eta, REAL mu, REAL l2, Py_ssize_t d, Py_ssize_t h,
                              const int has_l2, const int has_momentum)
{
    Py_ssize_t c, j = 0;
    if (d == 1 && dx == NULL) {
        /* One input (1-D regression, the lecture's zig-zag): W is a column, contiguous
         * across rows, so vectorise across rows instead. Same arithmetic per weight. */
        const REAL x0 = in[0];
        REAL *restrict v = has_momentum ? V : W;
        for (j = 0; j < h; j++)
            FN_STEP(W[j], v[j], g[j] * x0);
        return;
    }
    if (dx != NULL)
        for (c = 0; c < d; c++)
            dx[c] = 0;
    for (; j + 4 <= h; j += 4) {
        REAL *restrict w0 = W + j * d, *restrict w1 = w0 + d, *restrict w2 = w1 + d,
             *restrict w3 = w2 + d;
        /* v rows are unused (and aliased to w) without momentum */
        REAL *restrict v0 = has_momentum ? V + j * d : w0;
        REAL *restrict v1 = has_momentum ? v0 + d : w1;
        REAL *restrict v2 = has_momentum ? v1 + d : w2;
        REAL *restrict v3 = has_momentum ? v2 + d : w3;
        const REAL g0 = g[j], g1 = g[j + 1], g2 = g[j + 2], g3 = g[j + 3];
        if (dx != NULL)
            for (c = 0; c < d; c++)
                dx[c] += (g0 * w0[c] + g1 * w1[c]) + (g2 * w2[c] + g3 * w3[c]);
        for (c = 0; c < d; c++) {
            const REAL x_c = in[c];
            FN_STEP(w0[c], v0[c], g0 * x_c);
            FN_STEP(w1[c], v1[c], g1 * x_c);
            FN_STEP(w2[c], v2[c], g2 * x_c);
            FN_STEP(w3[c], v3[c], g3 * x_c);
        }
    }
    for (; j < h; j++) {
        REAL *restrict w = W + j * d;
        REAL *restrict v = has_momentum ? V + j * d : w;
        const REAL gj = g[j];
        if (dx != NULL)
            for (c = 0; c < d; c++)
                dx[c] += gj * w[c];
        for (c = 0; c < d; c++)
            FN_STEP(w[c], v[c], gj * in[c]);
    }
}

#undef FN_STEP

FN_INLINE void FN(bias_step)(REAL *restrict b, REAL *restrict v,
                                 const REAL *restrict g, REAL eta, REAL mu, Py_ssize_t h)
{
    Py_ssize_t j;
    if (mu != 0) {
        for (j = 0; j < h; j++) {
            v[j] = mu * v[j] - eta * g[j];
            b[j] = b[j] + v[j];
        }
    } else {
        for (j = 0; j < h; j++)
            b[j] = b[j] - eta * g[j];
    }
}

FN_MULTIVERSION
double FN(fn_sgd_epoch_single)(const fn_layout *net, REAL *params, REAL *velocity,
                               REAL *work, const REAL *X, const Py_ssize_t *labels,
                               const REAL *targets, const REAL *weights,
                               const Py_ssize_t *order,
                               Py_ssize_t n, const fn_sgd *cfg, double *last_eta,
                               Py_ssize_t *updates)
{
    const Py_ssize_t L = net->n_layers, d0 = net->sizes[0], k = net->sizes[L];
    REAL *acts = work, *deltas = work + net->cum[L + 1];
    const REAL mu = (REAL)cfg->momentum, l2 = (REAL)cfg->l2;
    double total = 0, eta_d = cfg->learning_rate;
    Py_ssize_t i, j, l;

    for (i = 0; i < n; i++) {
        const Py_ssize_t r = order[i];
        const REAL *x = X + r * d0;
        REAL *out = acts + net->cum[L], *dout = deltas + net->cum[L];

        REAL step_loss;
        const REAL w = weights != NULL ? weights[r] : 1;   /* 1: bitwise unweighted */
        FN(forward_one)(net, params, acts, x);
        if (net->output == OUT_SOFTMAX) {
            step_loss = FN(softmax_xent)(out, k, labels[r]);
            /* d(-log p_y)/dz = p - onehot(y): see _kernels.pyx */
            for (j = 0; j < k; j++)
                dout[j] = out[j] * w;
            dout[labels[r]] = (out[labels[r]] - 1) * w;
        } else {
            const REAL *t = targets + r * k;
            REAL res;
            step_loss = 0;
            for (j = 0; j < k; j++) {
                res = out[j] - t[j];
                step_loss += res * res;
                dout[j] = (2 * res) * w;
            }
        }
        if (!isfinite(step_loss))
            break;        /* diverged: stop before this step; the caller decides */
        total += weights != NULL ? step_loss * w : step_loss;

        eta_d = cfg->learning_rate / (1.0 + cfg->lr_decay * (double)(cfg->t0 + i));
        const REAL eta = (REAL)eta_d;
        for (l = L - 1; l >= 0; l--) {
            const Py_ssize_t d = net->sizes[l], h = net->sizes[l + 1];
            const REAL *in = l == 0 ? x : acts + net->cum[l];
            REAL *W = params + net->w_off[l], *V = velocity + net->w_off[l];
            REAL *g = deltas + net->cum[l + 1];
            REAL *dx = l > 0 ? deltas + net->cum[l] : NULL;
            /* The weights of layer l are read (for dx) before they are updated, and
             * layers above were already updated: their dx came from old weights. */
            if (mu != 0)
                FN(dense_step)(W, V, dx, in, g, eta, mu, l2, d, h, 1, 1);
            else if (l2 != 0)
                FN(dense_step)(W, NULL, dx, in, g, eta, mu, l2, d, h, 1, 0);
            else
                FN(dense_step)(W, NULL, dx, in, g, eta, mu, l2, d, h, 0, 0);
            FN(bias_step)(params + net->b_off[l], velocity + net->b_off[l], g, eta, mu, h);
            if (dx != NULL)
                FN(activation_backward)(net->act[l - 1], dx, acts + net->cum[l], d);
        }
    }
    *last_eta = eta_d;
    *updates = i;
    return total;
}

FN_MULTIVERSION
void FN(fn_forward_single)(const fn_layout *net, const REAL *params, REAL *work,
                           const REAL *x, REAL *out)
{
    const Py_ssize_t L = net->n_layers, k = net->sizes[L];
    REAL *z = work + net->cum[L];
    Py_ssize_t j;
    FN(forward_one)(net, params, work, x);
    if (net->output == OUT_SOFTMAX)
        FN(softmax_xent)(z, k, 0);
    for (j = 0; j < k; j++)
        out[j] = z[j];
}

#undef FN
#undef FN_CAT
#undef FN_CAT_
