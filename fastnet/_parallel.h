/* How many threads OpenMP would give a parallel region here: omp_get_max_threads()
 * (OMP_NUM_THREADS, threadpoolctl's and joblib's limits), or 1 when the extension was
 * built without OpenMP (its prange loops then run serially). */
#ifndef FASTNET_PARALLEL_H
#define FASTNET_PARALLEL_H

#ifdef _OPENMP
#include <omp.h>
static int fnet_openmp_threads(void) { return omp_get_max_threads(); }
#else
static int fnet_openmp_threads(void) { return 1; }
#endif

#endif
