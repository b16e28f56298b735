/* The one-worker pool of _pool.h. See there for what it promises.
 *
 * Protocol. A job is published as one atomic word: generation (32 bits), number of
 * parts (8 bits), next unclaimed part (24 bits). Both threads claim a part by a
 * compare-and-swap that increments "next" only while the generation is the one they
 * saw and parts remain, so a late worker can never claim a part of another job. The
 * job's function and context are written before the word is published and read only
 * after a successful claim; the caller does not start another job before every
 * claimed part is done, so they cannot change under a running part.
 *
 * The worker spins for a while (about 50 us) on the word after each job, then sleeps
 * on a condition variable; the caller signals it when it sleeps. The sleep decision
 * is the classic store-then-load pair on both sides (word then "sleeping" for the
 * caller, "sleeping" then word for the worker, all sequentially consistent, the
 * worker holding the mutex), so a wake-up is never lost.
 */
#include "_pool.h"

#if defined(_WIN32) || defined(__STDC_NO_ATOMICS__)

void fnet_pool_run(fnet_part_fn fn, void *ctx, int parts)
{
    int p;
    for (p = 0; p < parts; p++)
        fn(ctx, p);
}

int fnet_pool_available(void) { return 0; }

#else

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#define FNET_PAUSE() __builtin_ia32_pause()
#else
#define FNET_PAUSE() ((void)0)
#endif

/* spins of the worker before it sleeps (each a pause: tens of ns) */
#define FNET_SPINS 2000

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static _Atomic uint64_t pool_word;   /* generation << 32 | parts << 24 | next */
static _Atomic int pool_done;        /* parts finished in the current job */
static _Atomic int pool_sleeping;    /* the worker waits on pool_cv */
static _Atomic int pool_busy;        /* a caller holds the pool */
static fnet_part_fn pool_fn;
static void *pool_ctx;
static uint32_t pool_generation;     /* the caller's count of jobs (under pool_busy) */
static _Atomic int pool_state;       /* 0 not started, 1 running, -1 cannot start */

static uint32_t word_generation(uint64_t w) { return (uint32_t)(w >> 32); }

/* A part of job `generation`, or -1 when none is left (or another job is out). */
static int claim(uint32_t generation)
{
    uint64_t w = atomic_load(&pool_word);
    for (;;) {
        const uint32_t next = (uint32_t)(w & 0xFFFFFF), parts = (uint32_t)((w >> 24) & 0xFF);
        if (word_generation(w) != generation || next >= parts)
            return -1;
        if (atomic_compare_exchange_weak(&pool_word, &w, w + 1))
            return (int)next;
    }
}

static void run_claimed(uint32_t generation)
{
    int p;
    while ((p = claim(generation)) >= 0) {
        pool_fn(pool_ctx, p);
        atomic_fetch_add(&pool_done, 1);
    }
}

static void *worker(void *unused)
{
    uint32_t seen = word_generation(atomic_load(&pool_word));
    (void)unused;
    for (;;) {
        int spins = 0;
        while (word_generation(atomic_load(&pool_word)) == seen && spins < FNET_SPINS) {
            FNET_PAUSE();
            spins++;
        }
        if (word_generation(atomic_load(&pool_word)) == seen) {
            pthread_mutex_lock(&pool_mu);
            atomic_store(&pool_sleeping, 1);
            while (word_generation(atomic_load(&pool_word)) == seen)
                pthread_cond_wait(&pool_cv, &pool_mu);
            atomic_store(&pool_sleeping, 0);
            pthread_mutex_unlock(&pool_mu);
        }
        seen = word_generation(atomic_load(&pool_word));
        run_claimed(seen);
    }
    return NULL;
}

/* In a child after fork() the worker thread does not exist: start afresh. */
static void after_fork_in_child(void)
{
    pthread_mutex_init(&pool_mu, NULL);
    pthread_cond_init(&pool_cv, NULL);
    atomic_store(&pool_sleeping, 0);
    atomic_store(&pool_busy, 0);
    atomic_store(&pool_state, 0);
}

static void start_worker(void)      /* with pool_busy held */
{
    pthread_t thread;
    pthread_attr_t attr;
    static int fork_handler;
    int started = 0;
    if (!fork_handler) {
        if (pthread_atfork(NULL, NULL, after_fork_in_child) != 0) {
            atomic_store(&pool_state, -1);
            return;
        }
        fork_handler = 1;
    }
    if (pthread_attr_init(&attr) == 0) {
        started = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0
                  && pthread_create(&thread, &attr, worker, NULL) == 0;
        pthread_attr_destroy(&attr);
    }
    atomic_store(&pool_state, started ? 1 : -1);
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

/* Back-off when the worker is late: a worker that shares its core with another busy
 * process finishes its part long after the caller, and the caller's wait can last a
 * scheduler time slice (milliseconds). Each late job makes the next pool_backoff jobs
 * run in the caller alone (doubling up to FNET_MAX_BACKOFF while it stays late), so a
 * busy machine costs about the serial time; a job on time halves the back-off. */
#define FNET_MAX_BACKOFF 4096
static int pool_skip, pool_backoff;

void fnet_pool_run(fnet_part_fn fn, void *ctx, int parts)
{
    int p;
    double t0, t1, t2;
    if (parts < 1)
        return;
    if (parts > 255 || atomic_exchange(&pool_busy, 1)) {
        for (p = 0; p < parts; p++)     /* another caller holds the worker */
            fn(ctx, p);
        return;
    }
    if (atomic_load(&pool_state) == 0)
        start_worker();
    if (pool_skip > 0 || atomic_load(&pool_state) < 0) {
        pool_skip -= pool_skip > 0;
        for (p = 0; p < parts; p++)
            fn(ctx, p);
        atomic_store(&pool_busy, 0);
        return;
    }
    t0 = now_us();
    pool_fn = fn;
    pool_ctx = ctx;
    atomic_store(&pool_done, 0);
    pool_generation++;
    atomic_store(&pool_word, ((uint64_t)pool_generation << 32) | ((uint64_t)parts << 24));
    if (atomic_load(&pool_sleeping)) {
        pthread_mutex_lock(&pool_mu);
        pthread_cond_signal(&pool_cv);
        pthread_mutex_unlock(&pool_mu);
    }
    run_claimed(pool_generation);
    t1 = now_us();
    /* only parts the worker started are left; if it shares this core (the other one
     * busy), spinning would keep it from running: yield after a short spin */
    for (p = 0; atomic_load(&pool_done) < parts; p++) {
        if (p < FNET_SPINS)
            FNET_PAUSE();
        else
            sched_yield();
    }
    t2 = now_us();
    if (t2 - t1 > (t1 - t0) + 20) {     /* waited longer than our own share took */
        pool_backoff = pool_backoff ? pool_backoff * 2 : 16;
        if (pool_backoff > FNET_MAX_BACKOFF)
            pool_backoff = FNET_MAX_BACKOFF;
        pool_skip = pool_backoff;
    } else {
        pool_backoff /= 2;
    }
    atomic_store(&pool_busy, 0);
}

int fnet_pool_available(void)
{
    return atomic_load(&pool_state) >= 0;
}

#endif
