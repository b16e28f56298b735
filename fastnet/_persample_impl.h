/* Body of the per-sample kernels, included by _persample.c once per dtype with REAL
 * (float or double), SFX (_f32 or _f64) and FNET_LANES. The math of activations,
 * heads and updates is _components.h's (fnet_*_f32 / _f64). */
#define FNET_CAT_(a, b) a##b
#define FNET_CAT(a, b) FNET_CAT_(a, b)
#define FN(name) FNET_CAT(fnet_##name, SFX)

/* sum_c a[c] b[c]: FNET_LANES partial sums over the full blocks, combined as a fixed
 * tree, then the tail added in order. Every index is a constant or a loop counter,
 * so the partial sums stay in vector registers. */
FNET_INLINE REAL FN(dot)(const REAL *restrict a, const REAL *restrict b, fnet_size n)
{
    REAL acc[FNET_LANES], tail = 0;
    fnet_size c = 0, k;
    if (n < FNET_LANES) {
        for (; c < n; c++)
            tail += a[c] * b[c];
        return tail;
    }
    for (k = 0; k < FNET_LANES; k++)
        acc[k] = a[k] * b[k];
    for (c = FNET_LANES; c + FNET_LANES <= n; c += FNET_LANES)
        for (k = 0; k < FNET_LANES; k++)
            acc[k] += a[c + k] * b[c + k];
    for (; c < n; c++)
        tail += a[c] * b[c];
#if FNET_LANES == 16
    for (k = 0; k < 8; k++)
        acc[k] += acc[k + 8];
#endif
    for (k = 0; k < 4; k++)
        acc[k] += acc[k + 4];
    for (k = 0; k < 2; k++)
        acc[k] += acc[k + 2];
    return (acc[0] + acc[1]) + tail;
}

#if FNET_VECTOR_EXT
/* GCC's generic vectors of FNET_HALF = FNET_LANES / 2 values (32 bytes: one ymm
 * register, two xmm on the baseline; wider vectors were lowered through memory on
 * AVX2), and unaligned loads through them. A row's FNET_LANES partial sums are two of
 * them: lanes 0..HALF-1 and HALF..LANES-1. */
#define FNET_HALF (FNET_LANES / 2)
typedef REAL FN(vec) __attribute__((vector_size(FNET_HALF * sizeof(REAL))));
typedef REAL FN(uvec) __attribute__((vector_size(FNET_HALF * sizeof(REAL)),
                                     aligned(sizeof(REAL)), __may_alias__));
typedef FNET_MASK_INT FN(ivec) __attribute__((vector_size(FNET_HALF * sizeof(REAL))));

/* Lane r of a[0] = the rest of FN(dot)'s tree for the FNET_HALF rows in a, whose first
 * step (lane k += lane k + HALF) is done: a[r] holds row r's HALF sums (a is
 * overwritten; no vector is returned, so no vector-return ABI). Each further step
 * (lane k += lane k + w) is done for two or more rows at once, P and Q's lanes
 * gathered by two shuffles and added. So HALF rows take HALF - 1 vector additions
 * instead of a chain of shuffles and scalar additions each; each row is summed in
 * the same order as FN(dot) sums it. The first step pairs row r with row r + HALF/2
 * (whole 128-bit halves moved); the later ones move values within 128-bit halves
 * only (shufps and unpck, one cycle, where the old order of pairs needed two-source
 * permutes across halves), and the rows come out in order. */
#define FNET_TREE_STEP(P, Q, LO, HI) (__builtin_shuffle(P, Q, LO) + __builtin_shuffle(P, Q, HI))
FNET_INLINE void FN(sum_rows)(FN(vec) *a)
{
#if FNET_LANES == 16
    /* rows r and r + 4 -> [row r's 4 sums | row r + 4's]: lane k += lane k + 4 */
    const FN(ivec) lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    /* lane k += lane k + 2 within each half: [r: 2 | r + 1: 2 | r + 4: 2 | r + 5: 2] */
    const FN(ivec) lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    /* lane k += lane k + 1: [rows 0..3 | rows 4..7] */
    const FN(ivec) lo1 = {0, 2, 8, 10, 4, 6, 12, 14}, hi1 = {1, 3, 9, 11, 5, 7, 13, 15};
    const FN(vec) t0 = FNET_TREE_STEP(a[0], a[4], lo4, hi4);
    const FN(vec) t1 = FNET_TREE_STEP(a[1], a[5], lo4, hi4);
    const FN(vec) t2 = FNET_TREE_STEP(a[2], a[6], lo4, hi4);
    const FN(vec) t3 = FNET_TREE_STEP(a[3], a[7], lo4, hi4);
    const FN(vec) u0 = FNET_TREE_STEP(t0, t1, lo2, hi2);
    const FN(vec) u1 = FNET_TREE_STEP(t2, t3, lo2, hi2);
    a[0] = FNET_TREE_STEP(u0, u1, lo1, hi1);
#elif FNET_LANES == 8
    /* rows r and r + 2 -> [row r's 2 sums | row r + 2's]: lane k += lane k + 2 */
    const FN(ivec) lo2 = {0, 1, 4, 5}, hi2 = {2, 3, 6, 7};
    /* lane k += lane k + 1 within each half: [rows 0, 1 | rows 2, 3] */
    const FN(ivec) lo1 = {0, 4, 2, 6}, hi1 = {1, 5, 3, 7};
    const FN(vec) t0 = FNET_TREE_STEP(a[0], a[2], lo2, hi2);
    const FN(vec) t1 = FNET_TREE_STEP(a[1], a[3], lo2, hi2);
    a[0] = FNET_TREE_STEP(t0, t1, lo1, hi1);
#else
#error "FNET_LANES must be 8 or 16"
#endif
}
#undef FNET_TREE_STEP
#endif

/* out (h) = W (h, d) in (d) + b (h), every row's dot product summed exactly as FN(dot)
 * sums it (so every path and instruction set gets the same bits). With GCC's vector
 * extensions, FNET_HALF rows are summed together by FN(sum_rows); the last block
 * pads with zero rows (never read from W). Within a block, rows go four at a time:
 * each vector of `in` is loaded once for the four, and their eight partial sums are
 * eight independent chains (one row at a time was one chain of two, latency-bound);
 * each row's lanes still add their products in order of c. The tail products (d mod
 * FNET_LANES of them) are summed only when there are any (else the tail is 0, added
 * as before), and a full block's outputs are stored as one vector (the same two
 * additions per lane). */
FNET_INLINE void FN(dense_rows)(REAL *restrict out, const REAL *restrict W,
                                const REAL *restrict in, const REAL *restrict b,
                                fnet_size d, fnet_size h)
{
    fnet_size j = 0;
#if FNET_VECTOR_EXT
#define FNET_LD(p) (*(const FN(uvec) *)(p))
    if (d >= FNET_LANES) {
        const fnet_size full = d - d % FNET_LANES;
        for (; j < h; j += FNET_HALF) {
            const fnet_size rows = h - j < FNET_HALF ? h - j : FNET_HALF;
            const REAL *restrict wj = W + j * d;
            FN(vec) acc[FNET_HALF];
            REAL tail[FNET_HALF];
            fnet_size r = 0, c, i;
            for (; r + 4 <= rows; r += 4) {
                const REAL *w0 = wj + r * d, *w1 = w0 + d, *w2 = w1 + d, *w3 = w2 + d;
                FN(vec) x0 = FNET_LD(in), x1 = FNET_LD(in + FNET_HALF);
                FN(vec) lo0 = FNET_LD(w0) * x0, hi0 = FNET_LD(w0 + FNET_HALF) * x1;
                FN(vec) lo1 = FNET_LD(w1) * x0, hi1 = FNET_LD(w1 + FNET_HALF) * x1;
                FN(vec) lo2 = FNET_LD(w2) * x0, hi2 = FNET_LD(w2 + FNET_HALF) * x1;
                FN(vec) lo3 = FNET_LD(w3) * x0, hi3 = FNET_LD(w3 + FNET_HALF) * x1;
                for (c = FNET_LANES; c < full; c += FNET_LANES) {
                    x0 = FNET_LD(in + c);
                    x1 = FNET_LD(in + c + FNET_HALF);
                    lo0 += FNET_LD(w0 + c) * x0;
                    hi0 += FNET_LD(w0 + c + FNET_HALF) * x1;
                    lo1 += FNET_LD(w1 + c) * x0;
                    hi1 += FNET_LD(w1 + c + FNET_HALF) * x1;
                    lo2 += FNET_LD(w2 + c) * x0;
                    hi2 += FNET_LD(w2 + c + FNET_HALF) * x1;
                    lo3 += FNET_LD(w3 + c) * x0;
                    hi3 += FNET_LD(w3 + c + FNET_HALF) * x1;
                }
                acc[r] = lo0 + hi0;        /* the tree's first step */
                acc[r + 1] = lo1 + hi1;
                acc[r + 2] = lo2 + hi2;
                acc[r + 3] = lo3 + hi3;
            }
            for (; r < rows; r++) {
                const REAL *w = wj + r * d;
                FN(vec) lo = FNET_LD(w) * FNET_LD(in);
                FN(vec) hi = FNET_LD(w + FNET_HALF) * FNET_LD(in + FNET_HALF);
                for (c = FNET_LANES; c < full; c += FNET_LANES) {
                    lo += FNET_LD(w + c) * FNET_LD(in + c);
                    hi += FNET_LD(w + c + FNET_HALF) * FNET_LD(in + c + FNET_HALF);
                }
                acc[r] = lo + hi;
            }
            if (rows < FNET_HALF)   /* all of them: a constant count, no call to memset */
                for (i = 0; i < FNET_HALF; i++)
                    if (i >= rows)
                        acc[i] = (FN(vec)){0};
            for (i = 0; i < FNET_HALF; i++)
                tail[i] = 0;
            if (full < d)           /* the last d mod FNET_LANES products, in order */
                for (r = 0; r < rows; r++) {
                    const REAL *w = wj + r * d;
                    REAL t = 0;
                    for (c = full; c < d; c++)
                        t += w[c] * in[c];
                    tail[r] = t;
                }
            FN(sum_rows)(acc);
            if (rows == FNET_HALF)  /* the same additions, lane by lane */
                *(FN(uvec) *)(out + j) = (acc[0] + FNET_LD(tail)) + FNET_LD(b + j);
            else
                for (r = 0; r < rows; r++)
                    out[j + r] = (acc[0][r] + tail[r]) + b[j + r];
        }
        return;
    }
#undef FNET_LD
#endif
    for (; j < h; j++)
        out[j] = FN(dot)(W + j * d, in, d) + b[j];
}

/* The step of FNET_LANES weights of one row of a first layer kept transposed, w[j] =
 * WT[c, j0 + j] (velocity v), gradient gb[j] x_c: each weight exactly as
 * FN(dense_sgd_step) steps it, vectorised across j. */
FNET_INLINE void FN(cols_row_step)(REAL *restrict w, REAL *restrict v, const REAL *gb,
                                   REAL x_c, REAL eta, REAL mu, REAL l2, const int has_l2,
                                   const int has_momentum, const int nesterov)
{
    fnet_size j;
    v = has_momentum ? v : w;   /* unused without momentum */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 1   /* vectorised as a loop: GCC's unrolled form stayed scalar for float */
#endif
    for (j = 0; j < FNET_LANES; j++)
        FN(sgd_step)(w + j, v + j, gb[j] * x_c, eta, mu, l2, has_l2, has_momentum, nesterov);
}

/* The step of the columns j0..h-1 of a first layer kept transposed (the last h mod
 * FNET_LANES, none when j0 == h), row by row, each weight as FN(cols_row_step) steps it. */
FNET_INLINE void FN(cols_tail_step)(REAL *restrict WT, REAL *restrict VT,
                                    const REAL *restrict in, const REAL *restrict g,
                                    REAL eta, REAL mu, REAL l2, fnet_size d, fnet_size h,
                                    fnet_size j0, const int has_l2, const int has_momentum,
                                    const int nesterov)
{
    fnet_size c, j;
    if (j0 < h)
        for (c = 0; c < d; c++) {
            REAL *restrict w = WT + c * h;
            REAL *restrict v = has_momentum ? VT + c * h : w;
            for (j = j0; j < h; j++)
                FN(sgd_step)(w + j, v + j, g[j] * in[c], eta, mu, l2, has_l2, has_momentum,
                             nesterov);
        }
}

#if FNET_VECTOR_EXT
#define CB_NAME FN(cols_blocks)
#define CB_ATTR FNET_INLINE
#define CB_VEC FN(vec)
#define CB_UVEC FN(uvec)
#define CB_W FNET_HALF
#define CB_NP 2
#include "_cols_blocks.h"
#if FNET_WIDE_COLS
typedef REAL FN(wvec) __attribute__((vector_size(FNET_LANES * sizeof(REAL))));
typedef REAL FN(wuvec) __attribute__((vector_size(FNET_LANES * sizeof(REAL)),
                                      aligned(sizeof(REAL)), __may_alias__));
#define CB_NAME FN(cols_blocks_wide_body)
#define CB_ATTR FNET_INLINE FNET_WIDE_TARGET
#define CB_VEC FN(wvec)
#define CB_UVEC FN(wuvec)
#define CB_W FNET_LANES
#define CB_NP 1
#include "_cols_blocks.h"
/* FN(cols_blocks_wide_body) with step and the step's variant as constants, as each
 * inlined call of FN(cols_blocks) has them. It is compiled for x86-64-v4 alone, so
 * the clones call it (one call per layer pass) rather than inline it. */
static FNET_WIDE_TARGET fnet_size FN(cols_blocks_wide)(
        REAL *restrict out, REAL *restrict WT, const REAL *restrict in,
        const REAL *restrict b, fnet_size d, fnet_size h, const int step, REAL *restrict VT,
        const REAL *restrict prev, const REAL *restrict g, REAL eta, REAL mu, REAL l2,
        const int has_l2, const int has_momentum, const int nesterov)
{
#define FNET_WIDE_CALL(S, L2, M, N) \
    FN(cols_blocks_wide_body)(out, WT, in, b, d, h, S, VT, prev, g, eta, mu, l2, L2, M, N)
    if (!step)
        return FNET_WIDE_CALL(0, 0, 0, 0);
    if (has_momentum && nesterov)
        return has_l2 ? FNET_WIDE_CALL(1, 1, 1, 1) : FNET_WIDE_CALL(1, 0, 1, 1);
    if (has_momentum)
        return has_l2 ? FNET_WIDE_CALL(1, 1, 1, 0) : FNET_WIDE_CALL(1, 0, 1, 0);
    return has_l2 ? FNET_WIDE_CALL(1, 1, 0, 0) : FNET_WIDE_CALL(1, 0, 0, 0);
#undef FNET_WIDE_CALL
}
#endif
#endif

/* The SGD step of a first layer kept transposed (no input gradient), if any, then its
 * forward pass for the next row, in one pass over WT (d, h):
 *   (step: WT[c, j] <- sgd_step(WT[c, j], gradient g[j] prev[c]))
 *   out (h) = WT (d, h)^T in (d) + b (h), with the stepped weights
 * The forward pass is a sweep over the inputs c, each adding in[c] times row c of WT to
 * FNET_LANES outputs at once, so no horizontal sums; each output sums its products in
 * four partial sums (c mod 4, each in order of c) combined as (s0 + s1) + (s2 + s3),
 * then the last d mod 4 products in order, then the bias: a fixed order, the same on
 * every instruction set (each lane is one output) and with or without the step. With
 * the step, each row of WT is stepped just before it is read, so the weights are loaded
 * and stored once per sample instead of twice (step, then the next forward pass). */
FNET_INLINE void FN(dense_cols)(REAL *restrict out, REAL *restrict WT,
                                const REAL *restrict in, const REAL *restrict b,
                                fnet_size d, fnet_size h, const int step,
                                REAL *restrict VT, const REAL *restrict prev,
                                const REAL *restrict g, REAL eta, REAL mu, REAL l2,
                                const int has_l2, const int has_momentum, const int nesterov,
                                const int wide)
{
    const fnet_size d4 = d - d % 4;
    fnet_size j0 = 0, j, c;
    (void)wide;   /* unused without the 64-byte path */
    /* row c + k of the block (w points to row c): stepped through w itself, which the
     * sums then read (so no restrict on w) */
#define FNET_ROW_STEP(k)                                                                   \
    if (step)                                                                              \
        FN(cols_row_step)(w + (k) * h, has_momentum ? VT + (c + (k)) * h + j0 : NULL, gb, \
                          prev[c + (k)], eta, mu, l2, has_l2, has_momentum, nesterov)
#if FNET_VECTOR_EXT   /* the same sums in GCC's vectors (_cols_blocks.h) */
#if FNET_WIDE_COLS
    if (wide)
        j0 = FN(cols_blocks_wide)(out, WT, in, b, d, h, step, VT, prev, g, eta, mu, l2,
                                  has_l2, has_momentum, nesterov);
    else
#endif
        j0 = FN(cols_blocks)(out, WT, in, b, d, h, step, VT, prev, g, eta, mu, l2, has_l2,
                             has_momentum, nesterov);
#endif
    for (; j0 + FNET_LANES <= h; j0 += FNET_LANES) {
        /* a constant width: the partial sums stay in registers */
        REAL s0[FNET_LANES], s1[FNET_LANES], s2[FNET_LANES], s3[FNET_LANES], gb[FNET_LANES];
        REAL *w = WT + j0;
        for (j = 0; j < FNET_LANES; j++) {
            s0[j] = s1[j] = s2[j] = s3[j] = 0;
            gb[j] = step ? g[j0 + j] : 0;
        }
        for (c = 0; c < d4; c += 4, w += 4 * h) {
            const REAL x0 = in[c], x1 = in[c + 1], x2 = in[c + 2], x3 = in[c + 3];
            FNET_ROW_STEP(0);
            FNET_ROW_STEP(1);
            FNET_ROW_STEP(2);
            FNET_ROW_STEP(3);
            for (j = 0; j < FNET_LANES; j++) {
                s0[j] += x0 * w[j];
                s1[j] += x1 * w[h + j];
                s2[j] += x2 * w[2 * h + j];
                s3[j] += x3 * w[3 * h + j];
            }
        }
        for (j = 0; j < FNET_LANES; j++)
            s0[j] = (s0[j] + s1[j]) + (s2[j] + s3[j]);
        for (c = d4; c < d; c++, w += h) {
            FNET_ROW_STEP(0);
            for (j = 0; j < FNET_LANES; j++)
                s0[j] += in[c] * w[j];
        }
        for (j = 0; j < FNET_LANES; j++)
            out[j0 + j] = s0[j] + b[j0 + j];
    }
#undef FNET_ROW_STEP
    if (step)   /* the last h mod FNET_LANES columns: step them all first */
        FN(cols_tail_step)(WT, VT, prev, g, eta, mu, l2, d, h, j0, has_l2, has_momentum,
                           nesterov);
    for (j = j0; j < h; j++) {       /* then their sums, in the same order */
        REAL t0 = 0, t1 = 0, t2 = 0, t3 = 0, t;
        for (c = 0; c < d4; c += 4) {
            t0 += in[c] * WT[c * h + j];
            t1 += in[c + 1] * WT[(c + 1) * h + j];
            t2 += in[c + 2] * WT[(c + 2) * h + j];
            t3 += in[c + 3] * WT[(c + 3) * h + j];
        }
        t = (t0 + t1) + (t2 + t3);
        for (c = d4; c < d; c++)
            t += in[c] * WT[c * h + j];
        out[j] = t + b[j];
    }
}

/* The SGD step of a first layer kept transposed, WT (d, h) (no input gradient):
 * WT[c, j] <- sgd_step(WT[c, j], gradient g[j] in[c]), each weight exactly as
 * FN(dense_sgd_step) steps it, vectorised across j. (With a next row to run forward,
 * FN(dense_cols) does this step in its own pass.) */
FNET_INLINE void FN(dense_cols_sgd_step)(REAL *restrict WT, REAL *restrict VT,
                                         const REAL *restrict in, const REAL *restrict g,
                                         REAL eta, REAL mu, REAL l2, fnet_size d, fnet_size h,
                                         const int has_l2, const int has_momentum,
                                         const int nesterov)
{
    fnet_size c, j, j0 = 0;
    /* blocks of FNET_LANES columns down all rows: a constant width the compiler maps
     * onto vectors, with the block's g in registers */
    for (; j0 + FNET_LANES <= h; j0 += FNET_LANES) {
        REAL gb[FNET_LANES];
        for (j = 0; j < FNET_LANES; j++)
            gb[j] = g[j0 + j];
        for (c = 0; c < d; c++)
            FN(cols_row_step)(WT + c * h + j0, has_momentum ? VT + c * h + j0 : NULL, gb,
                              in[c], eta, mu, l2, has_l2, has_momentum, nesterov);
    }
    FN(cols_tail_step)(WT, VT, in, g, eta, mu, l2, d, h, j0, has_l2, has_momentum, nesterov);
}

/* dst (cols, rows) = src (rows, cols) transposed */
FNET_INLINE void FN(transpose)(REAL *restrict dst, const REAL *restrict src, fnet_size rows,
                               fnet_size cols)
{
    fnet_size r, c;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++)
            dst[c * rows + r] = src[r * cols + c];
}

/* Forward pass of one row; leaves the output layer as pre-activations (the head's
 * transform is the caller's). WT0: the first layer's weights transposed, or NULL;
 * first_done: the first layer's pre-activations are already in their slot (computed
 * by the previous sample's step, FN(weights_sgd_step)). */
FNET_INLINE void FN(forward_one)(const fnet_layout *net, const REAL *params, REAL *acts,
                                 const REAL *x, REAL *WT0, const int first_done,
                                 const int wide)
{
    fnet_size l, j, L = net->n_layers;
    for (l = 0; l < L; l++) {
        const fnet_size d = net->sizes[l], h = net->sizes[l + 1];
        const REAL *in = l == 0 ? x : acts + net->cum[l];
        const REAL *W = params + net->w_off[l], *b = params + net->b_off[l];
        REAL *out = acts + net->cum[l + 1];
        if (l == 0 && first_done) {
            /* nothing to compute */
        } else if (l == 0 && WT0 != NULL) {
            FN(dense_cols)(out, WT0, in, b, d, h, 0, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0,
                           wide);
        } else if (d == 1) {
            /* one input: a column of weights, vectorised across rows (dot(w, x) of
             * length 1 is exactly w * x) */
            const REAL x0 = in[0];
            for (j = 0; j < h; j++)
                out[j] = W[j] * x0 + b[j];
        } else {
            FN(dense_rows)(out, W, in, b, d, h);
        }
        if (l < L - 1)   /* the codes were checked when the layout was made */
            (void)FN(activation_forward)(net->act[l], out, h);
    }
}

/* Backward and SGD step of one dense layer, fused into one pass over W (h, d):
 *   dx[c] = sum_j g[j] W[j, c]   with the OLD weights (dx may be NULL)
 *   W[j, c] <- sgd_step(W[j, c], gradient g[j] in[c])
 * Rows go four at a time: each group adds its four contributions into dx at once
 * (a quarter of the dx loads and stores) and is then updated, so W is read once.
 * has_l2 / has_momentum / nesterov are constants at each call site, so each variant
 * compiles to a branch-free vector loop. */
FNET_INLINE void FN(dense_sgd_step)(REAL *restrict W, REAL *restrict V, REAL *restrict dx,
                                    const REAL *restrict in, const REAL *restrict g,
                                    REAL eta, REAL mu, REAL l2, fnet_size d, fnet_size h,
                                    const int has_l2, const int has_momentum,
                                    const int nesterov)
{
    fnet_size c, j = 0;
    if (d == 1 && dx == NULL) {
        /* One input (1-D regression, the lecture's zig-zag): W is a column, contiguous
         * across rows, so vectorise across rows instead. Same arithmetic per weight. */
        const REAL x0 = in[0];
        REAL *restrict v = has_momentum ? V : W;
        for (j = 0; j < h; j++)
            FN(sgd_step)(W + j, v + j, g[j] * x0, eta, mu, l2, has_l2, has_momentum,
                         nesterov);
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
            FN(sgd_step)(w0 + c, v0 + c, g0 * x_c, eta, mu, l2, has_l2, has_momentum,
                         nesterov);
            FN(sgd_step)(w1 + c, v1 + c, g1 * x_c, eta, mu, l2, has_l2, has_momentum,
                         nesterov);
            FN(sgd_step)(w2 + c, v2 + c, g2 * x_c, eta, mu, l2, has_l2, has_momentum,
                         nesterov);
            FN(sgd_step)(w3 + c, v3 + c, g3 * x_c, eta, mu, l2, has_l2, has_momentum,
                         nesterov);
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
            FN(sgd_step)(w + c, v + c, gj * in[c], eta, mu, l2, has_l2, has_momentum,
                         nesterov);
    }
}

/* The step of a layer's weights in the layout the epoch keeps them in: transposed,
 * (d, h), for the first layer when cols (no input gradient), else (h, d). A transposed
 * first layer with a next row (next != NULL) also runs that row forward in the same
 * pass, into next_out, with the (already stepped) biases b. */
FNET_INLINE void FN(weights_sgd_step)(const int cols, REAL *W, REAL *V, REAL *dx,
                                      const REAL *in, const REAL *g, REAL eta, REAL mu,
                                      REAL l2, fnet_size d, fnet_size h, const int has_l2,
                                      const int has_momentum, const int nesterov,
                                      const REAL *next, REAL *next_out, const REAL *b,
                                      const int wide)
{
    if (cols && next != NULL)
        FN(dense_cols)(next_out, W, next, b, d, h, 1, V, in, g, eta, mu, l2, has_l2,
                       has_momentum, nesterov, wide);
    else if (cols)
        FN(dense_cols_sgd_step)(W, V, in, g, eta, mu, l2, d, h, has_l2, has_momentum,
                                nesterov);
    else
        FN(dense_sgd_step)(W, V, dx, in, g, eta, mu, l2, d, h, has_l2, has_momentum,
                           nesterov);
}

/* Biases take no l2. */
FNET_INLINE void FN(bias_sgd_step)(const fnet_optim *cfg, REAL *restrict b, REAL *restrict v,
                                   const REAL *restrict g, REAL eta, fnet_size h)
{
    FN(sgd_update)(cfg, b, v, g, h, eta, 0);
}

/* Ask for the cache lines of a row of X about to be used: the rows come in shuffled
 * order, so from a data set larger than the caches each would otherwise cost a miss
 * (about a fifth of a config-A step at 20,000 rows). No effect on any value. */
FNET_INLINE void FN(prefetch_row)(const REAL *row, fnet_size d)
{
#if defined(__GNUC__)
    fnet_size c;
    for (c = 0; c < d; c += 64 / (fnet_size)sizeof(REAL))
        __builtin_prefetch(row + c);
    __builtin_prefetch(row + d - 1);
#else
    (void)row;
    (void)d;
#endif
}

FNET_MULTIVERSION
int FN(persample_epoch)(const fnet_layout *net, const fnet_optim *cfg, REAL *params,
                        REAL *const *state, REAL *work, const REAL *X,
                        const fnet_truth *truth, const fnet_size *order, fnet_size n,
                        fnet_size t0, fnet_epoch *result)
{
    const fnet_size L = net->n_layers, d0 = net->sizes[0], k = net->sizes[L];
    REAL *acts = work, *deltas = work + net->cum[L + 1];
    const REAL *targets = (const REAL *)truth->targets;
    const REAL *weights = (const REAL *)truth->weights;
    const REAL mu = (REAL)cfg->momentum, l2 = (REAL)cfg->l2;
    REAL *velocity = NULL, *WT0 = NULL, *VT0 = NULL;
    void *block = NULL;                 /* holds WT0 and VT0 */
    double total = 0, eta_d = cfg->learning_rate;
    fnet_size i, l;
    int status = 0, first_done = 0;   /* first_done: see FN(forward_one) */
    const int wide = FNET_WIDE_COLS_HERE;   /* the transposed first layer in 64-byte vectors */

    switch ((fnet_optimizer)cfg->code) {   /* the optimizers this loop implements */
    case FNET_OPT_SGD:
        velocity = state[0];
        break;
    case FNET_OPT_ADAM:   /* not fused: the registry gives it no "persample" path */
        break;
    }
    if (velocity == NULL)   /* an optimizer (or an unknown code) this loop does not run */
        return -1;
    if (fnet_layout_check(net) != 0)
        return -1;
    /* The first layer is kept transposed, (d0, h1), for the call (its forward pass is
     * then FNET_LANES outputs per instruction instead of one dot product per output;
     * it needs no input gradient, which the (out, in) layout would serve better),
     * when it fills one to four vectors across and holds at most FNET_COLS_MAX weights:
     * wider, the column sweeps stride through memory by whole rows and lose ([64, 1024]
     * per-sample SGD took 3x as long, [64, 256] 1.3x), and larger, copying it in and
     * out costs a one-row fit more than the pass gains. Decided by the shapes alone,
     * so chunking an epoch into calls never changes the bits. */
    if (L >= 1 && d0 > 1 && net->sizes[1] >= FNET_LANES && net->sizes[1] <= 4 * FNET_LANES
            && d0 * net->sizes[1] <= FNET_COLS_MAX) {
        const fnet_size m0 = d0 * net->sizes[1];
        /* on a 64-byte boundary, as the model's own buffers (fastnet/_params.py) */
        block = malloc((mu != 0 ? 2 : 1) * m0 * sizeof(REAL) + 64);
        if (block == NULL)
            return -2;      /* nothing changed; the other layout would round otherwise */
        WT0 = (REAL *)((char *)block + (64 - (uintptr_t)block % 64) % 64);
        FN(transpose)(WT0, params + net->w_off[0], net->sizes[1], d0);
        if (mu != 0) {
            VT0 = WT0 + m0;
            FN(transpose)(VT0, velocity + net->w_off[0], net->sizes[1], d0);
        }
    }
    for (i = 0; i < n; i++) {
        const fnet_size r = order[i];
        const fnet_size label = truth->labels != NULL ? truth->labels[r] : 0;
        const REAL *target = targets != NULL ? targets + r * k : NULL;
        const REAL *x = X + r * d0;
        REAL *out = acts + net->cum[L], *dout = deltas + net->cum[L];
        const REAL w = weights != NULL ? weights[r] : 1;   /* 1: bitwise unweighted */
        REAL step_loss;

        if (i + 1 < n)   /* the next sample's row, while this one is computed */
            FN(prefetch_row)(X + order[i + 1] * d0, d0);
        FN(forward_one)(net, params, acts, x, WT0, first_done, wide);
        step_loss = FN(head_loss_row)(net->output, out, label, target, k, &status);
        /* what the total takes: the weighted loss (finite weights can overflow a finite
         * loss; a weight of 0 makes any loss nothing) */
        if (weights != NULL)
            step_loss = FN(weighted_loss)(step_loss, w);
        if (!isfinite(step_loss))
            break;        /* diverged: stop before this step; the caller decides */
        (void)FN(head_delta_row)(net->output, dout, out, label, target, k, w);
        total += step_loss;

        eta_d = cfg->learning_rate / (1.0 + cfg->lr_decay * (double)(t0 + i));
        const REAL eta = (REAL)eta_d;
        for (l = L - 1; l >= 0; l--) {
            const fnet_size d = net->sizes[l], h = net->sizes[l + 1];
            const REAL *in = l == 0 ? x : acts + net->cum[l];
            /* the first layer may be kept transposed for the call (WT0, VT0) */
            const int cols = l == 0 && WT0 != NULL;
            REAL *W = cols ? WT0 : params + net->w_off[l];
            REAL *V = cols ? VT0 : velocity + net->w_off[l];
            REAL *g = deltas + net->cum[l + 1];
            REAL *dx = l > 0 ? deltas + net->cum[l] : NULL;
            REAL *b = params + net->b_off[l];
            /* A transposed first layer runs the next row forward in its step's pass
             * (into its slot, free by now: the layer above has taken its step), with
             * the stepped biases: the biases go first (they touch nothing else). */
            const REAL *next = cols && i + 1 < n ? X + order[i + 1] * d0 : NULL;
            FN(bias_sgd_step)(cfg, b, velocity + net->b_off[l], g, eta, h);
            /* The weights of layer l are read (for dx) before they are updated, and
             * layers above were already updated: their dx came from old weights. */
            if (mu != 0 && cfg->nesterov)
                FN(weights_sgd_step)(cols, W, V, dx, in, g, eta, mu, l2, d, h, 1, 1, 1, next,
                                     acts + net->cum[1], b, wide);
            else if (mu != 0)
                FN(weights_sgd_step)(cols, W, V, dx, in, g, eta, mu, l2, d, h, 1, 1, 0, next,
                                     acts + net->cum[1], b, wide);
            else if (l2 != 0)
                FN(weights_sgd_step)(cols, W, NULL, dx, in, g, eta, mu, l2, d, h, 1, 0, 0,
                                     next, acts + net->cum[1], b, wide);
            else
                FN(weights_sgd_step)(cols, W, NULL, dx, in, g, eta, mu, l2, d, h, 0, 0, 0,
                                     next, acts + net->cum[1], b, wide);
            if (cols)
                first_done = next != NULL;
            if (dx != NULL)
                (void)FN(activation_backward)(net->act[l - 1], dx, acts + net->cum[l], d);
        }
    }
    if (WT0 != NULL) {
        FN(transpose)(params + net->w_off[0], WT0, d0, net->sizes[1]);
        if (VT0 != NULL)
            FN(transpose)(velocity + net->w_off[0], VT0, d0, net->sizes[1]);
        free(block);
    }
    result->loss = total;
    result->last_eta = eta_d;
    result->updates = i;
    return status;
}

FNET_MULTIVERSION
int FN(forward_row)(const fnet_layout *net, const REAL *params, REAL *work, const REAL *x,
                    REAL *out)
{
    const fnet_size L = net->n_layers, k = net->sizes[L];
    REAL *z = work + net->cum[L];
    fnet_size j;
    if (fnet_layout_check(net) != 0)
        return -1;
    FN(forward_one)(net, params, work, x, NULL, 0, 0);
    (void)FN(head_output_row)(net->output, z, k);
    for (j = 0; j < k; j++)
        out[j] = z[j];
    return 0;
}

#undef FNET_HALF
#undef FN
#undef FNET_CAT
#undef FNET_CAT_
