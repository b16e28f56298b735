/* Instantiates _persample_impl.h for float32 and float64; see _persample.h. */
#include <stdlib.h>

#include "_persample.h"

/* Every switch over a component enum names every case (see _components.h). */
#if defined(__GNUC__)
#pragma GCC diagnostic error "-Wswitch"
#pragma GCC diagnostic error "-Wswitch-enum"
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(FASTNET_NO_MULTIVERSION)
#define FNET_MULTIVERSION \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FNET_MULTIVERSION
#endif

/* GCC's generic vector extensions (vector_size, __builtin_shuffle) for the sums of
 * many dot products at once (_persample_impl.h); other compilers sum row by row, in
 * the same order. */
#if defined(__GNUC__) && !defined(__clang__) && !defined(FASTNET_NO_VECTOR_EXT)
#define FNET_VECTOR_EXT 1
#else
#define FNET_VECTOR_EXT 0
#endif

/* A first layer kept transposed (FN(dense_cols)) is swept in 64-byte vectors, one zmm
 * register per row of a block of FNET_LANES columns, on CPUs with AVX-512 (x86-64-v4):
 * config A ran about 10% faster than with two 32-byte halves (Zen 4, both dtypes).
 * Not in the AVX2 or baseline clones, which lower 64-byte vectors through memory (A 3x
 * slower): the wide function is compiled for x86-64-v4 alone and chosen at run time
 * by the same test the clones' resolver makes, so on a v4 CPU it runs from the v4 clone
 * (where it is inlined). Each lane computes the same: the bits do not change. */
#if FNET_VECTOR_EXT && defined(__x86_64__) && !defined(FASTNET_NO_WIDE_COLS)
#define FNET_WIDE_COLS 1
#define FNET_WIDE_TARGET __attribute__((target("arch=x86-64-v4")))
/* x86-64-v4's features (GCC 11 knows the level as a target, not as a name here) */
#define FNET_WIDE_COLS_HERE                                                              \
    (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")            \
     && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq")        \
     && __builtin_cpu_supports("avx512vl"))
#else
#define FNET_WIDE_COLS 0
#define FNET_WIDE_COLS_HERE 0
#endif

/* The largest first layer (weights) the per-sample loop keeps transposed for an epoch
 * call (see FN(persample_epoch)): 64 KB of float, 128 KB of double. */
#define FNET_COLS_MAX 16384

/* The helpers (here and in _components.h) are forced inline, so that each clone of
 * an entry point gets its own copy compiled for its instruction set. */
#define REAL float
#define SFX _f32
#define FNET_LANES 16
#define FNET_MASK_INT int32_t
#include "_persample_impl.h"
#undef REAL
#undef SFX
#undef FNET_LANES
#undef FNET_MASK_INT

#define REAL double
#define SFX _f64
#define FNET_LANES 8
#define FNET_MASK_INT int64_t
#include "_persample_impl.h"

#undef REAL
#undef SFX
#undef FNET_LANES
#undef FNET_MASK_INT

/* fnet_finite_* inlined into each clone (see _persample.h) */
FNET_MULTIVERSION
int fnet_all_finite_f32(const float *x, fnet_size n)
{
    return fnet_finite_f32(x, n);
}

FNET_MULTIVERSION
int fnet_all_finite_f64(const double *x, fnet_size n)
{
    return fnet_finite_f64(x, n);
}
