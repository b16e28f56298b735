/* Instantiates _fused_impl.h for float32 and float64; see _fused.h. */
#include <math.h>
#include <stddef.h>

#include "_fused.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FASTNET_NO_MULTIVERSION)
#define FN_MULTIVERSION \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FN_MULTIVERSION
#endif

#define REAL float
#define SFX _f32
#define FN_LANES 16
#define EXP expf
#define LOG logf
#define TANH tanhf
#include "_fused_impl.h"
#undef REAL
#undef SFX
#undef FN_LANES
#undef EXP
#undef LOG
#undef TANH

#define REAL double
#define SFX _f64
#define FN_LANES 8
#define EXP exp
#define LOG log
#define TANH tanh
#include "_fused_impl.h"
