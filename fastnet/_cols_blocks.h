/* Template of the vector part of FN(dense_cols) (_persample_impl.h): its full blocks of
 * FNET_LANES columns, as the function CB_NAME, in GCC vectors of CB_W values (CB_VEC,
 * unaligned loads through CB_UVEC), CB_NP = FNET_LANES / CB_W of them per row of a
 * block. Included twice per dtype by _persample_impl.h:
 *   FN(cols_blocks):      32-byte vectors, two per block row (ymm on AVX2, xmm pairs on
 *                         the baseline);
 *   FN(cols_blocks_wide): 64-byte vectors, one zmm register per block row, compiled for
 *                         AVX-512 (x86-64-v4) and called only on such CPUs.
 * Each lane is one output column, computed lane by lane the same way in both: the same
 * bits. Returns the first column it did not do (h mod FNET_LANES are left). The
 * parameters CB_* are undefined again at the end. */
CB_ATTR fnet_size CB_NAME(REAL *restrict out, REAL *restrict WT, const REAL *restrict in,
                          const REAL *restrict b, fnet_size d, fnet_size h, const int step,
                          REAL *restrict VT, const REAL *restrict prev,
                          const REAL *restrict g, REAL eta, REAL mu, REAL l2,
                          const int has_l2, const int has_momentum, const int nesterov)
{
    const fnet_size d4 = d - d % 4;
    fnet_size j0 = 0, c;
    int q;
    /* Row c + k of the block (w points to row c) added to the sums acc: with the step,
     * each of the row's vectors is stepped in registers (FNET_SGD_STEP, lane by lane
     * the scalar step), stored, and summed from the register (summed back from memory,
     * the loads waited on the stores: A ran no faster than in two passes). */
#define CB_ROW(k, acc)                                                                  \
    do {                                                                                \
        REAL *wk = w + (k) * h;                                                         \
        const REAL xk = in[c + (k)];                                                    \
        _Pragma("GCC unroll 4")                                                         \
        for (q = 0; q < CB_NP; q++) {                                                   \
            CB_VEC wq = *(const CB_UVEC *)(wk + q * CB_W);                              \
            if (step) {                                                                 \
                REAL *vq_at = has_momentum ? VT + (c + (k)) * h + j0 + q * CB_W         \
                                           : wk + q * CB_W;                             \
                CB_VEC vq = *(const CB_UVEC *)vq_at, gq = gb[q] * prev[c + (k)];        \
                FNET_SGD_STEP(wq, vq, gq, eta, mu, l2, has_l2, has_momentum, nesterov); \
                *(CB_UVEC *)(wk + q * CB_W) = wq;                                       \
                if (has_momentum)                                                       \
                    *(CB_UVEC *)vq_at = vq;                                             \
            }                                                                           \
            acc[q] += xk * wq;                                                          \
        }                                                                               \
    } while (0)
    for (; j0 + FNET_LANES <= h; j0 += FNET_LANES) {
        REAL *w = WT + j0;
        CB_VEC a0[CB_NP], a1[CB_NP], a2[CB_NP], a3[CB_NP], gb[CB_NP];
        for (q = 0; q < CB_NP; q++) {
            a0[q] = a1[q] = a2[q] = a3[q] = gb[q] = (CB_VEC){0};
            if (step)
                gb[q] = *(const CB_UVEC *)(g + j0 + q * CB_W);
        }
        for (c = 0; c < d4; c += 4, w += 4 * h) {
            CB_ROW(0, a0);
            CB_ROW(1, a1);
            CB_ROW(2, a2);
            CB_ROW(3, a3);
        }
        for (q = 0; q < CB_NP; q++)
            a0[q] = (a0[q] + a1[q]) + (a2[q] + a3[q]);
        for (c = d4; c < d; c++, w += h)
            CB_ROW(0, a0);
        for (q = 0; q < CB_NP; q++)
            *(CB_UVEC *)(out + j0 + q * CB_W) = a0[q] + *(const CB_UVEC *)(b + j0 + q * CB_W);
    }
#undef CB_ROW
    return j0;
}

#undef CB_NAME
#undef CB_ATTR
#undef CB_VEC
#undef CB_UVEC
#undef CB_W
#undef CB_NP
