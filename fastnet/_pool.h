/* A work-sharing pool of one worker thread, for splitting one step's work in parts.
 *
 * fnet_pool_run(fn, ctx, parts) runs fn(ctx, p) for p = 0 .. parts-1 and returns when
 * all are done. The calling thread claims parts itself; the worker (started on first
 * use) claims whatever it can reach while it is awake. A part nobody has claimed when
 * the caller is free is run by the caller, so a descheduled or sleeping worker costs
 * the parallelism, never a wait: the worst case is the serial time. The caller waits
 * only for parts the worker has already started.
 *
 * When the worker keeps finishing late (its core busy with another process), the
 * following jobs run in the caller alone for a while (an exponential back-off), so a
 * busy machine costs about the serial time.
 *
 * One caller at a time uses the worker; a concurrent caller (another thread's fit)
 * runs its parts itself. After fork() the child starts its own worker on first use.
 * Without POSIX threads (Windows builds) every part runs in the caller.
 */
#ifndef FASTNET_POOL_H
#define FASTNET_POOL_H

typedef void (*fnet_part_fn)(void *ctx, int part);

/* parts <= 255 */
void fnet_pool_run(fnet_part_fn fn, void *ctx, int parts);

/* 1 when the worker thread runs or can be started, else 0. */
int fnet_pool_available(void);

#endif
