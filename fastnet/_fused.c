/* Instantiates _fused_impl.h for float32 and float64; see _fused.h. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "_fused.h"

/* Helpers are forced inline so that each clone of an entry point gets its own copy
 * compiled for its instruction set. */
#if defined(__GNUC__)
#define FN_INLINE static inline __attribute__((always_inline))
#else
#define FN_INLINE static inline
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FASTNET_NO_MULTIVERSION)
#define FN_MULTIVERSION \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FN_MULTIVERSION
#endif

/* 1/k!, the Taylor coefficients of exp, for the vectorisable exp and expm1 of
 * _fused_impl.h. */
static const double FN_INV_FACT[18] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0,
    1.0 / 87178291200.0, 1.0 / 1307674368000.0, 1.0 / 20922789888000.0,
    1.0 / 355687428096000.0};

/* 2^n, exactly, from t = n + FN_SHIFTER (n a small non-negative integer held in the
 * low mantissa bits of t): move n into the exponent field. */
FN_INLINE float fn_pow2_of_shifted_f32(float t)
{
    union { float f; int32_t i; } tb, pb;
    tb.f = t;
    pb.i = (tb.i - 0x4B400000 + 127) << 23;          /* 0x4B400000: bits of 1.5 * 2^23 */
    return pb.f;
}

FN_INLINE double fn_pow2_of_shifted_f64(double t)
{
    union { double f; int64_t i; } tb, pb;
    tb.f = t;
    pb.i = (tb.i - 0x4338000000000000LL + 1023) << 52;  /* bits of 1.5 * 2^52 */
    return pb.f;
}

#define REAL float
#define SFX _f32
#define FN_LANES 16
#define EXP expf
#define LOG logf
#define FN_LOG2E 1.44269504f
#define FN_LN2_HI 0.693359375f            /* 355 / 512: n * LN2_HI exact */
#define FN_LN2_LO (-2.12194440e-4f)       /* ln2 - LN2_HI */
#define FN_TANH_SAT 9.0f                  /* tanh(x) rounds to 1 in float beyond ~9 */
/* expm1 on |r| <= ln2/2: degree 8 leaves a remainder below 1e-9 relative (float);
 * degree 14 below 1e-18 (double). */
#define FN_EXPM1_DEGREE 8
#define FN_SHIFTER 12582912.0f            /* 1.5 * 2^23 */
#define FN_POW2_OF_SHIFTED(t) fn_pow2_of_shifted_f32(t)
#include "_fused_impl.h"
#undef REAL
#undef SFX
#undef FN_LANES
#undef EXP
#undef LOG
#undef FN_LOG2E
#undef FN_LN2_HI
#undef FN_LN2_LO
#undef FN_TANH_SAT
#undef FN_EXPM1_DEGREE
#undef FN_SHIFTER
#undef FN_POW2_OF_SHIFTED

#define REAL double
#define SFX _f64
#define FN_LANES 8
#define EXP exp
#define LOG log
#define FN_LOG2E 1.4426950408889634
#define FN_LN2_HI 6.93147180369123816490e-01   /* fdlibm's split: n * LN2_HI exact */
#define FN_LN2_LO 1.90821492927058770002e-10
#define FN_TANH_SAT 20.0                       /* tanh(x) rounds to 1 in double beyond ~19.1 */
#define FN_EXPM1_DEGREE 14
#define FN_SHIFTER 6755399441055744.0     /* 1.5 * 2^52 */
#define FN_POW2_OF_SHIFTED(t) fn_pow2_of_shifted_f64(t)
#include "_fused_impl.h"
