/* Body of _components.h, included once per dtype with REAL (float or double), SFX
 * (_f32 or _f64), EXP / LOG / LOG1P / SQRT and the constants of the vectorisable expm1 (all of which
 * are undefined again at the end). Every function here is the single definition of
 * its math; see _components.h. */
#define FNET_CAT_(a, b) a##b
#define FNET_CAT(a, b) FNET_CAT_(a, b)
#define FN(name) FNET_CAT(fnet_##name, SFX)

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch"
#pragma GCC diagnostic error "-Wswitch-enum"
#endif

/* ---- elementary functions ------------------------------------------------------ */

/* The range reduction both exps below share, in a form the compiler can vectorise
 * (libm's is a call per element):
 *   u = n ln2 + r, |r| <= ln2 / 2 (Cody-Waite split of ln2: n * LN2_HI is exact)
 * returns expm1(r) = r (1 + r/2! + r^2/3! + ...) to the degree where the remainder is
 * below half an ulp, and 2^n in *p2, built exactly from its exponent bits (n must
 * keep it a normal number). The polynomial is summed as its even and odd halves,
 *   q = 1 + (r (1/2! + s/4! + ...) + s (1/3! + s/5! + ...)),  s = r^2,
 * two independent Horner chains of half the length: the exp of a softmax row is on the
 * per-sample loop's critical path, and one chain of multiply-adds took most of it
 * (float64: 13 dependent steps instead of 6). */
FNET_INLINE REAL FN(expm1_reduced)(REAL u, REAL *p2)
{
    /* n = round(u log2 e) without a float-to-int conversion (which the compiler will
     * not vectorise here): adding 1.5 * 2^(mantissa bits) rounds to an integer, which
     * is then also the low bits of the sum. */
    const REAL t = u * FNET_LOG2E + FNET_SHIFTER;
    const REAL n = t - FNET_SHIFTER;
    const REAL r = (u - n * FNET_LN2_HI) - n * FNET_LN2_LO, s = r * r;
    /* the terms 1/k! r^(k-1), k = 2..DEGREE: odd k in qe, even k in qo; the leading 1
     * is added last, to the small rest (so that its rounding stays below an ulp of
     * the sum, as Horner's) */
    REAL qe = (REAL)FNET_INV_FACT[FNET_EXPM1_ODD_TOP], qo = (REAL)FNET_INV_FACT[FNET_EXPM1_EVEN_TOP];
    int k;
    *p2 = FNET_POW2_OF_SHIFTED(t);
    FNET_UNROLL
    for (k = FNET_EXPM1_ODD_TOP - 2; k >= 3; k -= 2)   /* Horner, unrolled: no control flow */
        qe = qe * s + (REAL)FNET_INV_FACT[k];
    FNET_UNROLL
    for (k = FNET_EXPM1_EVEN_TOP - 2; k >= 2; k -= 2)
        qo = qo * s + (REAL)FNET_INV_FACT[k];
    return (1 + (r * qo + s * qe)) * r;
}

/* expm1(u) = exp(u) - 1 for 0 <= u <= 2 * FNET_TANH_SAT, without cancellation near 0:
 *   expm1(u) = 2^n expm1(r) + (2^n - 1) */
FNET_INLINE REAL FN(expm1_pos)(REAL u)
{
    REAL p2;
    const REAL q = FN(expm1_reduced)(u, &p2);
    return p2 * q + (p2 - 1);
}

/* exp(u) for u <= 0 (softmax's exp(z_j - max z)):
 *   exp(u) = 2^n + 2^n expm1(r),  u = n ln2 + r
 * about an ulp from the correctly rounded value (the tests measure it). Below
 * FNET_EXP_MIN = ln of the smallest normal number it is 0 (libm gives a subnormal
 * there, a probability below 1.2e-38 in float, 2.2e-308 in double, either way); at
 * and above it 2^n is a normal number.
 * exp(-inf) = 0; NaN propagates (the comparisons are false for it). */
FNET_INLINE REAL FN(exp_nonpos)(REAL u)
{
    REAL p2;
    const REAL q = FN(expm1_reduced)(u < FNET_EXP_MIN ? FNET_EXP_MIN : u, &p2);
    return u < FNET_EXP_MIN ? 0 : p2 + p2 * q;
}

/* tanh(x) = expm1(2|x|) / (expm1(2|x|) + 2), with the sign of x: a few ulp from the
 * correctly rounded value everywhere (the tests measure it against numpy.tanh).
 * NaN propagates: SAT < a is false for a NaN, which is kept, not clamped (and the
 * select is the operand order of x86's min instruction, one instruction a lane).
 * |x| and the sign are bit operations (FABS, COPYSIGN), not selects on x < 0: with
 * those, GCC left the loop over a layer scalar where it is inlined into the
 * per-sample epoch ("control flow in loop"); tanh(-0) is -0, as numpy's. */
FNET_INLINE REAL FN(tanh)(REAL x)
{
    const REAL a = FABS(x);
    const REAL em1 = FN(expm1_pos)(2 * (FNET_TANH_SAT < a ? FNET_TANH_SAT : a));
    return COPYSIGN(em1 / (em1 + 2), x);
}

/* 1 / (1 + exp(-z)) through the exp that cannot overflow (its argument is <= 0). */
FNET_INLINE REAL FN(sigmoid)(REAL z)
{
    REAL e;
    if (z >= 0) {
        e = EXP(-z);
        return 1 / (1 + e);
    }
    e = EXP(z);
    return e / (1 + e);
}

/* ---- activations: in place over m entries ---------------------------------------- */

/* h (m) = g(h): the pre-activations become the layer's outputs. 0, or -1 for an
 * unknown code (h untouched). */
FNET_INLINE int FN(activation_forward)(int code, REAL *restrict h, fnet_size m)
{
    fnet_size i;
    switch ((fnet_activation)code) {
    case FNET_ACT_SIGMOID:
        for (i = 0; i < m; i++)
            h[i] = FN(sigmoid)(h[i]);
        return 0;
    case FNET_ACT_TANH:
        for (i = 0; i < m; i++)
            h[i] = FN(tanh)(h[i]);
        return 0;
    case FNET_ACT_RELU:
        for (i = 0; i < m; i++)
            h[i] = h[i] > 0 ? h[i] : 0;
        return 0;
    case FNET_ACT_IDENTITY:
        return 0;
    }
    return -1;
}

/* dz (m) *= g'(z), written from the saved output h = g(z) (dz holds dL/dh on entry,
 * dL/dz on return). 0, or -1 for an unknown code. */
FNET_INLINE int FN(activation_backward)(int code, REAL *restrict dz, const REAL *restrict h,
                                        fnet_size m)
{
    fnet_size i;
    switch ((fnet_activation)code) {
    case FNET_ACT_SIGMOID:          /* sigma' = sigma (1 - sigma) */
        for (i = 0; i < m; i++)
            dz[i] = dz[i] * (h[i] * (1 - h[i]));
        return 0;
    case FNET_ACT_TANH:             /* tanh' = 1 - tanh^2 */
        for (i = 0; i < m; i++)
            dz[i] = dz[i] * (1 - h[i] * h[i]);
        return 0;
    case FNET_ACT_RELU:
        /* The derivative at 0 is taken as 0; h > 0 exactly when z > 0. Both values
         * are loaded before the choice: a branch-free select that vectorises (a
         * branch on random signs mispredicts half the time). */
        for (i = 0; i < m; i++) {
            const REAL g = dz[i];
            dz[i] = h[i] > 0 ? g : 0;
        }
        return 0;
    case FNET_ACT_IDENTITY:         /* derivative 1 */
        return 0;
    }
    return -1;
}

/* ---- output heads: one row of k outputs ------------------------------------------- */

FNET_INLINE REAL FN(row_max)(const REAL *z, fnet_size k)
{
    REAL mx = z[0];
    fnet_size j;
    for (j = 1; j < k; j++)
        if (z[j] > mx)
            mx = z[j];
    return mx;
}

/* p (k) = exp(z - mx) / s, s = sum_j exp(z_j - mx); returns s. p may alias z.
 * exp(z - max) <= 1: no overflow; exp_nonpos serves. */
FNET_INLINE REAL FN(softmax_shifted)(REAL *p, const REAL *z, fnet_size k, REAL mx)
{
    REAL s = 0;
    fnet_size j;
    for (j = 0; j < k; j++)      /* vectorised: no libm call per output */
        p[j] = FN(exp_nonpos)(z[j] - mx);
    for (j = 0; j < k; j++)      /* in order */
        s += p[j];
    for (j = 0; j < k; j++)
        p[j] = p[j] / s;
    return s;
}

/* p (k) = softmax(z (k)); p may alias z. */
FNET_INLINE void FN(softmax_row)(REAL *p, const REAL *z, fnet_size k)
{
    FN(softmax_shifted)(p, z, k, FN(row_max)(z, k));
}

/* p (k) = softmax(z (k)) (p may alias z); returns -log p[label] as the stable
 * log-softmax log(sum_j exp(z_j - max)) - (z_label - max). */
FNET_INLINE REAL FN(softmax_xent_row)(REAL *p, const REAL *z, fnet_size label, fnet_size k)
{
    const REAL mx = FN(row_max)(z, k);
    const REAL z_label = z[label] - mx;     /* read before p (maybe z) is written */
    return LOG(FN(softmax_shifted)(p, z, k, mx)) - z_label;
}

/* d(-log p_y)/dz_j = p_j - [j == y]: the softmax Jacobian and the log's 1/p_y cancel,
 * so the gradient needs only the saved probabilities. d (k) = scale * that. */
FNET_INLINE void FN(softmax_xent_delta_row)(REAL *d, const REAL *p, fnet_size label,
                                            fnet_size k, REAL scale)
{
    fnet_size j;
    for (j = 0; j < k; j++)
        d[j] = p[j] * scale;
    d[label] = (p[label] - 1) * scale;
}

/* sum_j (pred_j - target_j)^2, no 1/2 factor (the lecture's convention). */
FNET_INLINE REAL FN(squared_error_row)(const REAL *pred, const REAL *target, fnet_size k)
{
    REAL row = 0, r;
    fnet_size j;
    for (j = 0; j < k; j++) {
        r = pred[j] - target[j];
        row = row + r * r;
    }
    return row;
}

/* d (k) = scale * 2 (pred - target): the gradient of the row's squared error. */
FNET_INLINE void FN(squared_error_delta_row)(REAL *d, const REAL *pred, const REAL *target,
                                             fnet_size k, REAL scale)
{
    fnet_size j;
    for (j = 0; j < k; j++)
        d[j] = (2 * (pred[j] - target[j])) * scale;
}

/* p (k) = sigmoid(z (k)) element-wise (p may alias z); returns the summed binary
 * cross-entropy -(y log p + (1 - y) log(1 - p)) against y (k) in [0, 1], computed from
 * the logits, never from a rounded probability: max(z, 0) - z y + log1p(exp(-|z|)). */
FNET_INLINE REAL FN(logistic_xent_row)(REAL *p, const REAL *z, const REAL *y, fnet_size k)
{
    REAL total = 0;
    fnet_size j;
    for (j = 0; j < k; j++) {
        const REAL zj = z[j], a = zj < 0 ? -zj : zj;
        total += ((zj > 0 ? zj : 0) - zj * y[j]) + LOG1P(EXP(-a));
        p[j] = FN(sigmoid)(zj);
    }
    return total;
}

/* d (k) = scale * (p - y): the gradient of a loss paired with its canonical link, where
 * the output transform's Jacobian and the loss's derivative cancel (the sigmoid with
 * binary cross-entropy; exp with the Poisson deviance, d/dz = exp(z) - y). */
FNET_INLINE void FN(canonical_delta_row)(REAL *d, const REAL *p, const REAL *y,
                                         fnet_size k, REAL scale)
{
    fnet_size j;
    for (j = 0; j < k; j++)
        d[j] = (p[j] - y[j]) * scale;
}

/* p (k) = exp(z (k)) element-wise (p may alias z), the inverse of the log link; returns
 * the summed half Poisson deviance y log(y / p) - y + p against y (k) >= 0, computed
 * from the logits: y log y - y z - y + exp(z), with 0 log 0 = 0 (y = 0 contributes
 * exp(z)). A large z overflows exp to inf, and the loss with it: training reports a
 * non-finite loss as divergence. */
FNET_INLINE REAL FN(poisson_deviance_row)(REAL *p, const REAL *z, const REAL *y, fnet_size k)
{
    REAL total = 0;
    fnet_size j;
    for (j = 0; j < k; j++) {
        const REAL zj = z[j], yj = y[j], e = EXP(zj);
        const REAL ylogy = yj > 0 ? yj * LOG(yj) : 0;
        total += ((ylogy - yj * zj) - yj) + e;
        p[j] = e;
    }
    return total;
}

/* The head's output transform, in place on one row of k pre-activations (inference).
 * 0, or -1 for an unknown code. */
FNET_INLINE int FN(head_output_row)(int code, REAL *z, fnet_size k)
{
    switch ((fnet_output)code) {
    case FNET_OUT_SOFTMAX:
        FN(softmax_row)(z, z, k);
        return 0;
    case FNET_OUT_LINEAR:
        return 0;
    case FNET_OUT_LOGISTIC: {
        fnet_size j;
        for (j = 0; j < k; j++)
            z[j] = FN(sigmoid)(z[j]);
        return 0;
    }
    case FNET_OUT_POISSON: {
        fnet_size j;
        for (j = 0; j < k; j++)
            z[j] = EXP(z[j]);
        return 0;
    }
    }
    return -1;
}

/* The head's loss of one row: transforms the row of k pre-activations z in place
 * into the head's outputs and returns the row's loss against its truth (label for
 * single-label classification heads, target (k) for the others; the other is unused).
 * *status is set to -1 for an unknown code (and NaN returned). */
FNET_INLINE REAL FN(head_loss_row)(int code, REAL *z, fnet_size label, const REAL *target,
                                   fnet_size k, int *status)
{
    switch ((fnet_output)code) {
    case FNET_OUT_SOFTMAX:
        return FN(softmax_xent_row)(z, z, label, k);
    case FNET_OUT_LINEAR:
        return FN(squared_error_row)(z, target, k);
    case FNET_OUT_LOGISTIC:
        return FN(logistic_xent_row)(z, z, target, k);
    case FNET_OUT_POISSON:
        return FN(poisson_deviance_row)(z, z, target, k);
    }
    *status = -1;
    return (REAL)NAN;
}

/* d (k) = scale * d(row loss)/d(pre-activation), from the transformed outputs out.
 * scale == 0 (a sample of weight 0) gives d = 0 exactly, even where the row's outputs
 * overflowed (0 * inf would be NaN): such a row contributes nothing.
 * 0, or -1 for an unknown code. */
FNET_INLINE int FN(head_delta_row)(int code, REAL *d, const REAL *out, fnet_size label,
                                   const REAL *target, fnet_size k, REAL scale)
{
    int status = -1;
    fnet_size j;
    switch ((fnet_output)code) {
    case FNET_OUT_SOFTMAX:
        FN(softmax_xent_delta_row)(d, out, label, k, scale);
        status = 0;
        break;
    case FNET_OUT_LINEAR:
        FN(squared_error_delta_row)(d, out, target, k, scale);
        status = 0;
        break;
    case FNET_OUT_LOGISTIC:
        FN(canonical_delta_row)(d, out, target, k, scale);
        status = 0;
        break;
    case FNET_OUT_POISSON:
        FN(canonical_delta_row)(d, out, target, k, scale);
        status = 0;
        break;
    }
    if (status == 0 && scale == 0)
        for (j = 0; j < k; j++)
            d[j] = 0;
    return status;
}

/* w * the row's loss, 0 where w == 0: a sample of weight 0 contributes nothing, even
 * when its loss overflowed (0 * inf would be NaN). */
FNET_INLINE REAL FN(weighted_loss)(REAL row, REAL w)
{
    return w != 0 ? row * w : 0;
}

/* x log y, 0 where x == 0 (scipy's xlogy). */
FNET_INLINE REAL FN(xlogy)(REAL x, REAL y)
{
    return x == 0 ? 0 : x * LOG(y);
}

FNET_INLINE REAL FN(clip)(REAL p, REAL eps)
{
    return p < eps ? eps : (p > 1 - eps ? 1 - eps : p);
}

/* The row's loss from the head's outputs out (k), the way scikit-learn's MLP reports
 * it: log losses of probabilities clipped to [eps, 1 - eps] (a confidently wrong row
 * costs at most -log eps: in float32 that cap is reached early in training), the
 * squared error as head_loss_row, the Poisson deviance from p (y log(y / p) - y + p).
 * Only a reported value (fastnet.sklearn's loss_curve_): gradients never clip.
 * *status = -1 for an unknown code (and NaN returned). */
FNET_INLINE REAL FN(head_clipped_loss_row)(int code, const REAL *out, fnet_size label,
                                           const REAL *target, fnet_size k, REAL eps,
                                           int *status)
{
    REAL total = 0;
    fnet_size j;
    switch ((fnet_output)code) {
    case FNET_OUT_SOFTMAX:
        return -LOG(FN(clip)(out[label], eps));
    case FNET_OUT_LINEAR:
        return FN(squared_error_row)(out, target, k);
    case FNET_OUT_LOGISTIC:
        for (j = 0; j < k; j++) {
            const REAL p = FN(clip)(out[j], eps);
            total += FN(xlogy)(target[j], p) + FN(xlogy)(1 - target[j], 1 - p);
        }
        return -total;
    case FNET_OUT_POISSON:
        for (j = 0; j < k; j++)
            total += (FN(xlogy)(target[j], target[j] / out[j]) - target[j]) + out[j];
        return total;
    }
    *status = -1;
    return (REAL)NAN;
}

/* ---- optimizers --------------------------------------------------------------------- */

/* SGD on one parameter w with gradient g (its state v: the velocity):
 *   g += l2 w (has_l2);  v = mu v - eta g;
 *   w += v, or with Nesterov's momentum w += mu v - eta g (scikit-learn's form: the
 *   step looks ahead along the new velocity);  without momentum w -= eta g.
 * has_l2 / has_momentum / nesterov are constants at every call site, so each variant
 * compiles to a branch-free vector loop. FNET_SGD_STEP is the one definition: W, V and
 * G are lvalues (G is changed by l2), scalars here, or GCC vectors of parameters in
 * the per-sample loop's first layer (each lane computes exactly the scalar step). */
#ifndef FNET_SGD_STEP
#define FNET_SGD_STEP(W, V, G, eta, mu, l2, has_l2, has_momentum, nesterov)        \
    do {                                                                           \
        if (has_l2)                                                                \
            (G) = (G) + (l2) * (W);                                                \
        if (has_momentum) {                                                        \
            (V) = (mu) * (V) - (eta) * (G);                                        \
            (W) = (W) + ((nesterov) ? (mu) * (V) - (eta) * (G) : (V));             \
        } else {                                                                   \
            (W) = (W) - (eta) * (G);                                               \
        }                                                                          \
    } while (0)
#endif

FNET_INLINE void FN(sgd_step)(REAL *w, REAL *v, REAL g, REAL eta, REAL mu, REAL l2,
                              const int has_l2, const int has_momentum, const int nesterov)
{
    FNET_SGD_STEP(*w, *v, g, eta, mu, l2, has_l2, has_momentum, nesterov);
}

FNET_INLINE void FN(sgd_range)(REAL *restrict w, REAL *restrict v, const REAL *restrict g,
                               fnet_size m, REAL eta, REAL mu, REAL l2,
                               const int has_l2, const int has_momentum, const int nesterov)
{
    fnet_size i;
    if (has_momentum)
        for (i = 0; i < m; i++)
            FN(sgd_step)(w + i, v + i, g[i], eta, mu, l2, has_l2, 1, nesterov);
    else    /* v may be NULL: the velocity is not used */
        for (i = 0; i < m; i++)
            FN(sgd_step)(w + i, w + i, g[i], eta, mu, l2, has_l2, 0, 0);
}

/* One SGD step over a range of m parameters, the variant picked once. */
FNET_INLINE void FN(sgd_update)(const fnet_optim *cfg, REAL *w, REAL *v, const REAL *g,
                                fnet_size m, REAL eta, REAL l2)
{
    const REAL mu = (REAL)cfg->momentum;
    if (mu != 0 && cfg->nesterov) {
        if (l2 != 0)
            FN(sgd_range)(w, v, g, m, eta, mu, l2, 1, 1, 1);
        else
            FN(sgd_range)(w, v, g, m, eta, mu, l2, 0, 1, 1);
    } else if (mu != 0) {
        if (l2 != 0)
            FN(sgd_range)(w, v, g, m, eta, mu, l2, 1, 1, 0);
        else
            FN(sgd_range)(w, v, g, m, eta, mu, l2, 0, 1, 0);
    } else if (l2 != 0) {
        FN(sgd_range)(w, NULL, g, m, eta, mu, l2, 1, 0, 0);
    } else {
        FN(sgd_range)(w, NULL, g, m, eta, mu, l2, 0, 0, 0);
    }
}

/* Adam over a range of m parameters (scikit-learn's arithmetic), update number
 * `step` (1-based) with step size eta:
 *   g += l2 w;  m1 = b1 m1 + (1 - b1) g;  m2 = b2 m2 + (1 - b2) g^2;
 *   w += -eta_t m1 / (sqrt(m2) + eps),  eta_t = eta sqrt(1 - b2^step) / (1 - b1^step)
 * (the bias corrections folded into the step size, as scikit-learn and the paper's
 * efficient form do). */
FNET_INLINE void FN(adam_update)(const fnet_optim *cfg, REAL *restrict w, REAL *restrict m1,
                                 REAL *restrict m2, const REAL *restrict g, fnet_size m,
                                 double eta, fnet_size step, REAL l2)
{
    const REAL b1 = (REAL)cfg->beta_1, b2 = (REAL)cfg->beta_2, eps = (REAL)cfg->epsilon;
    const REAL eta_t = (REAL)(eta * sqrt(1 - pow(cfg->beta_2, (double)step))
                              / (1 - pow(cfg->beta_1, (double)step)));
    fnet_size i;
    for (i = 0; i < m; i++) {
        const REAL gi = l2 != 0 ? g[i] + l2 * w[i] : g[i];
        m1[i] = b1 * m1[i] + (1 - b1) * gi;
        m2[i] = b2 * m2[i] + (1 - b2) * (gi * gi);
        w[i] = w[i] + ((-eta_t) * m1[i]) / (SQRT(m2[i]) + eps);
    }
}

/* One optimizer step over the flat buffers: params (m) updated from grads (m), the
 * first n_weights entries being weights (they take l2), state the optimizer's
 * buffers (fnet_optimizer_n_state of them, each (m)). eta is this update's step size
 * and step its 1-based number. 0, or -1 for an unknown code. */
FNET_INLINE int FN(optimizer_update)(const fnet_optim *cfg, REAL *params, const REAL *grads,
                                     REAL *const *state, fnet_size m, fnet_size n_weights,
                                     double eta, fnet_size step)
{
    const REAL l2 = (REAL)cfg->l2;
    switch ((fnet_optimizer)cfg->code) {
    case FNET_OPT_SGD:      /* with momentum 0 the velocity is not touched */
        FN(sgd_update)(cfg, params, state[0], grads, n_weights, (REAL)eta, l2);
        FN(sgd_update)(cfg, params + n_weights, state[0] + n_weights, grads + n_weights,
                       m - n_weights, (REAL)eta, 0);
        return 0;
    case FNET_OPT_ADAM:
        FN(adam_update)(cfg, params, state[0], state[1], grads, n_weights, eta, step, l2);
        FN(adam_update)(cfg, params + n_weights, state[0] + n_weights, state[1] + n_weights,
                        grads + n_weights, m - n_weights, eta, step, 0);
        return 0;
    }
    return -1;
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#undef FN
#undef FNET_CAT
#undef FNET_CAT_
#undef REAL
#undef SFX
#undef EXP
#undef LOG
#undef LOG1P
#undef SQRT
#undef FABS
#undef COPYSIGN
#undef FNET_LOG2E
#undef FNET_LN2_HI
#undef FNET_LN2_LO
#undef FNET_TANH_SAT
#undef FNET_EXPM1_DEGREE
#undef FNET_EXP_MIN
#undef FNET_SHIFTER
#undef FNET_POW2_OF_SHIFTED
