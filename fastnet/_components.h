/* fastnet's components, defined once: the per-element math of every activation,
 * output head and optimizer, and the enums that name them.
 *
 * One source for every compiled path: the Cython kernels (_kernels.pyx), the
 * per-sample C loop (_persample_impl.h) and the C that export_c writes (it copies
 * this file and _components_impl.h into the generated source), so the three cannot
 * drift. The NumPy twin is fastnet/reference/kernels.py; the Python registry that
 * names these codes is fastnet/components.py (a test checks the two agree).
 *
 * Every dispatch is an exhaustive switch over its enum, compiled as an error when a
 * case is missing (-Wswitch and -Wswitch-enum made errors below, for GCC and Clang);
 * an unknown code is reported (a -1 status or a NULL name), never computed as
 * something else. Since a code that has a name has every case (or the build fails),
 * the compiled paths check the codes once, by name, when a layout is made
 * (fnet_layout_check) rather than at every call.
 *
 * Plain C99 and libm; the functions are static inline, templated per dtype by
 * including _components_impl.h twice (float: suffix _f32, double: _f64).
 */
#ifndef FASTNET_COMPONENTS_H
#define FASTNET_COMPONENTS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define FNET_INLINE static inline __attribute__((always_inline))
#else
#define FNET_INLINE static inline
#endif

/* Full unrolling of the short fixed-length polynomial loops (no control flow left). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#define FNET_UNROLL _Pragma("GCC unroll 20")
#elif defined(__clang__)
#define FNET_UNROLL _Pragma("unroll")
#else
#define FNET_UNROLL
#endif

typedef ptrdiff_t fnet_size;    /* the same type as Py_ssize_t */

/* Hidden activations h = g(z). The codes are fastnet.components.ACTIVATIONS'. */
typedef enum {
    FNET_ACT_SIGMOID = 0,
    FNET_ACT_TANH = 1,
    FNET_ACT_RELU = 2,
    FNET_ACT_IDENTITY = 3
} fnet_activation;

/* Output heads: the output transform and its loss. Every head here is canonical for
 * its loss (softmax + cross-entropy, identity + squared error, element-wise sigmoid +
 * binary cross-entropy, exp + Poisson deviance), so the delta at the
 * output pre-activation is written from the transformed output alone. */
typedef enum {
    FNET_OUT_SOFTMAX = 0,
    FNET_OUT_LINEAR = 1,
    FNET_OUT_LOGISTIC = 2,
    FNET_OUT_POISSON = 3
} fnet_output;

/* Optimizers: the update rule applied to the flat parameter buffer. */
typedef enum {
    FNET_OPT_SGD = 0,
    FNET_OPT_ADAM = 1
} fnet_optimizer;

/* One optimizer's configuration, carried from fit to C as one struct (the fields an
 * optimizer does not use are 0). The step size of update t (0-based, counted since
 * the model took up this optimizer) is learning_rate / (1 + lr_decay * t); l2 adds
 * l2 * W to the gradient of the weights (not the biases). */
typedef struct {
    int code;                   /* fnet_optimizer */
    double learning_rate, lr_decay, l2;
    double momentum;            /* sgd: velocity decay mu in [0, 1) */
    int nesterov;               /* sgd: Nesterov's momentum (scikit-learn's form) */
    double beta_1, beta_2, epsilon;   /* adam */
} fnet_optim;

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch"
#pragma GCC diagnostic error "-Wswitch-enum"
#endif

/* The names of the codes (those of the Python registry), NULL for an unknown code:
 * what the tests use to check that every registry entry is wired into C. */
static inline const char *fnet_activation_name(int code)
{
    switch ((fnet_activation)code) {
    case FNET_ACT_SIGMOID: return "sigmoid";
    case FNET_ACT_TANH: return "tanh";
    case FNET_ACT_RELU: return "relu";
    case FNET_ACT_IDENTITY: return "identity";
    }
    return NULL;
}

static inline const char *fnet_output_name(int code)
{
    switch ((fnet_output)code) {
    case FNET_OUT_SOFTMAX: return "softmax";
    case FNET_OUT_LINEAR: return "linear";
    case FNET_OUT_LOGISTIC: return "logistic";
    case FNET_OUT_POISSON: return "poisson";
    }
    return NULL;
}

static inline const char *fnet_optimizer_name(int code)
{
    switch ((fnet_optimizer)code) {
    case FNET_OPT_SGD: return "sgd";
    case FNET_OPT_ADAM: return "adam";
    }
    return NULL;
}

/* Parameter-shaped state buffers each optimizer keeps (momentum's velocity, ...);
 * -1 for an unknown code. */
static inline int fnet_optimizer_n_state(int code)
{
    switch ((fnet_optimizer)code) {
    case FNET_OPT_SGD: return 1;    /* velocity (used only with momentum) */
    case FNET_OPT_ADAM: return 2;   /* first and second moment estimates */
    }
    return -1;
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* 1/k!, the Taylor coefficients of exp, for the vectorisable expm1 below. */
static const double FNET_INV_FACT[18] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0,
    1.0 / 87178291200.0, 1.0 / 1307674368000.0, 1.0 / 20922789888000.0,
    1.0 / 355687428096000.0};

/* The largest odd and even k <= FNET_EXPM1_DEGREE (the tops of expm1's two chains). */
#define FNET_EXPM1_ODD_TOP (FNET_EXPM1_DEGREE - 1 + FNET_EXPM1_DEGREE % 2)
#define FNET_EXPM1_EVEN_TOP (FNET_EXPM1_DEGREE - FNET_EXPM1_DEGREE % 2)

/* 2^n, exactly, from t = n + shifter (n a small non-negative integer held in the low
 * mantissa bits of t): move n into the exponent field. */
FNET_INLINE float fnet_pow2_of_shifted_f32(float t)
{
    /* unsigned arithmetic: for a NaN t (which then propagates through the caller's
     * other terms) the bits are anything, and a signed shift of them would be
     * undefined behaviour */
    union { float f; uint32_t u; } tb, pb;
    tb.f = t;
    pb.u = (tb.u - 0x4B400000u + 127u) << 23;        /* 0x4B400000: bits of 1.5 * 2^23 */
    return pb.f;
}

FNET_INLINE double fnet_pow2_of_shifted_f64(double t)
{
    union { double f; uint64_t u; } tb, pb;
    tb.f = t;
    pb.u = (tb.u - 0x4338000000000000ULL + 1023u) << 52;  /* bits of 1.5 * 2^52 */
    return pb.f;
}

#define REAL float
#define SFX _f32
#define EXP expf
#define LOG logf
#define LOG1P log1pf
#define SQRT sqrtf
#define FABS fabsf
#define COPYSIGN copysignf
#define FNET_LOG2E 1.44269504f
#define FNET_LN2_HI 0.693359375f            /* 355 / 512: n * LN2_HI exact */
#define FNET_LN2_LO (-2.12194440e-4f)       /* ln2 - LN2_HI */
#define FNET_TANH_SAT 9.0f                  /* tanh(x) rounds to 1 in float beyond ~9 */
/* expm1 on |r| <= ln2/2: degree 8 leaves a remainder below 1e-9 relative (float);
 * degree 14 below 1e-18 (double). */
#define FNET_EXPM1_DEGREE 8
#define FNET_SHIFTER 12582912.0f            /* 1.5 * 2^23 */
#define FNET_POW2_OF_SHIFTED(t) fnet_pow2_of_shifted_f32(t)
#define FNET_EXP_MIN (-87.3365448f)         /* -126 ln 2: exp = FLT_MIN, 2^n still normal */
#include "_components_impl.h"

#define REAL double
#define SFX _f64
#define EXP exp
#define LOG log
#define LOG1P log1p
#define SQRT sqrt
#define FABS fabs
#define COPYSIGN copysign
#define FNET_LOG2E 1.4426950408889634
#define FNET_LN2_HI 6.93147180369123816490e-01   /* fdlibm's split: n * LN2_HI exact */
#define FNET_LN2_LO 1.90821492927058770002e-10
#define FNET_TANH_SAT 20.0                       /* tanh(x) rounds to 1 in double beyond ~19.1 */
#define FNET_EXPM1_DEGREE 14
#define FNET_SHIFTER 6755399441055744.0          /* 1.5 * 2^52 */
#define FNET_POW2_OF_SHIFTED(t) fnet_pow2_of_shifted_f64(t)
#define FNET_EXP_MIN (-708.39641853226408)      /* -1022 ln 2: exp = DBL_MIN */
#include "_components_impl.h"

#endif
